#!/usr/bin/env python3
"""A UDP relay that plays a NAT for the roaming tests (issue: encrypted transport, roaming).

socks5d sends to --listen; the relay forwards each datagram to --upstream from its current
upstream socket and sends the answers back to the client. Commands arrive as single UDP
datagrams on --control (replies are JSON):

  rebind-port   a new upstream socket on the same address (the NAT's port changes); datagrams the
                server still sends to the old port are lost, as at a NAT that forgot the mapping
  rebind-addr   a new upstream socket on --alt-addr (e.g. 127.0.0.2: Wi-Fi to mobile)
  replay N      sends the N-th recorded client datagram to the server once more, from a third
                address (--replay-addr): an attacker replaying a captured datagram
  drop on|off   drop every datagram both ways (a network outage) or stop dropping
  stats         counters and the upstream address in use

--record FILE keeps the first --record-count client->server datagrams (length-prefixed) for the
statistics test. Standard library only; stops on SIGTERM.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--alt-addr", default="127.0.0.2")
    ap.add_argument("--replay-addr", default="127.0.0.3")
    ap.add_argument("--record")
    ap.add_argument("--record-count", type=int, default=10000)
    ap.add_argument("--record-direction", choices=("up", "down"), default="up",
                    help="record client->server (up) or server->client (down) datagrams")
    args = ap.parse_args()

    upstream = addr(args.upstream)
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(addr(args.listen))
    control = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    control.bind(addr(args.control))
    sel = selectors.DefaultSelector()
    sel.register(front, selectors.EVENT_READ, "front")
    sel.register(control, selectors.EVENT_READ, "control")

    state = {"up": None, "client": None, "rebinds": 0, "up_datagrams": 0, "down_datagrams": 0,
             "stale_dropped": 0, "replayed": 0, "dropping": False, "outage_dropped": 0}
    recorded = []

    def keep(data):
        if rec_file and len(recorded_file) < args.record_count:
            recorded_file.append(len(data))
            rec_file.write(struct.pack(">H", len(data)) + data)
            if len(recorded_file) == args.record_count:
                rec_file.flush()

    recorded_file = []

    def new_upstream(host):
        if state["up"] is not None:
            sel.unregister(state["up"])
            state["up"].close()  # the old mapping is gone: the server's datagrams to it are lost
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((host, 0))
        sel.register(s, selectors.EVENT_READ, "up")
        state["up"] = s

    new_upstream("127.0.0.1")
    front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rec_file = open(args.record, "wb") if args.record else None

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    print(f"listening on {front.getsockname()[0]}:{front.getsockname()[1]} "
          f"control {control.getsockname()[1]}", flush=True)
    while not stop["now"]:
        for key, _ in sel.select(timeout=0.2):
            sock = key.fileobj
            try:
                data, src = sock.recvfrom(65535)
            except OSError:
                continue
            if key.data in ("front", "up") and state["dropping"]:
                state["outage_dropped"] += 1
                continue
            if key.data == "front":
                state["client"] = src
                state["up_datagrams"] += 1
                if len(recorded) < 1000:
                    recorded.append(data)  # for replays
                if args.record_direction == "up":
                    keep(data)
                try:
                    state["up"].sendto(data, upstream)
                except OSError:
                    pass
            elif key.data == "up":
                state["down_datagrams"] += 1
                if args.record_direction == "down":
                    keep(data)
                if state["client"]:
                    front.sendto(data, state["client"])
            else:
                cmd = data.decode(errors="replace").split()
                reply = {"ok": True}
                if cmd and cmd[0] == "rebind-port":
                    new_upstream(state["up"].getsockname()[0])
                    state["rebinds"] += 1
                elif cmd and cmd[0] == "rebind-addr":
                    new_upstream(args.alt_addr)
                    state["rebinds"] += 1
                elif cmd and cmd[0] == "drop":
                    state["dropping"] = len(cmd) > 1 and cmd[1] == "on"
                elif cmd and cmd[0] == "replay":
                    n = int(cmd[1]) if len(cmd) > 1 else 0
                    if n < len(recorded):
                        r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        r.bind((args.replay_addr, 0))
                        r.sendto(recorded[n], upstream)
                        r.close()
                        state["replayed"] += 1
                    else:
                        reply = {"ok": False, "error": "not recorded"}
                reply.update({k: v for k, v in state.items() if k not in ("up", "client")})
                reply["upstream_source"] = "%s:%d" % state["up"].getsockname()
                reply["recorded"] = len(recorded_file)
                control.sendto(json.dumps(reply).encode(), src)
    if rec_file:
        rec_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
