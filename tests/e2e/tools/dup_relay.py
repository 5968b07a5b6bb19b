#!/usr/bin/env python3
"""UDP duplicating relay for the transport-replay test (tests/e2e/test_probe.py; loopback only).

Sits between socks5d and proxy-server: socks5d's --proxy-addr points here; every client address
(socks5d's UDP socket) gets its own upstream socket connected to --upstream, and the answers go
back to that client address. Every datagram is forwarded at once. Once the server has answered a
client (its Response ended the handshake), every later datagram of that client is sent a second
time, byte for byte, --delay-ms later: these are all transport datagrams, so the server's replay
window (transport_replay) must refuse each copy. With --both the server's datagrams after its
first one are duplicated towards the client the same way.

usage: dup_relay.py --listen HOST:PORT --upstream HOST:PORT [--delay-ms 3] [--both]
                    [--stats FILE]
Logs "dup relay listening on HOST:PORT"; writes its counters as JSON to --stats every second and
at exit ({"up": {...}, "down": {...}}, "dup" = copies sent); stops on SIGTERM/SIGINT (exit 0).
Standard library only; at most 64 clients and 65536 copies waiting.
"""
import argparse
import heapq
import json
import os
import selectors
import signal
import socket
import sys
import time

MAX_CLIENTS = 64
MAX_HELD = 65536
BATCH = 64


def split(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class Relay:
    def __init__(self, args):
        self.args = args
        self.delay = args.delay_ms / 1000.0
        self.sel = selectors.DefaultSelector()
        self.listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.listen.bind(split(args.listen))
        self.listen.setblocking(False)
        self.sel.register(self.listen, selectors.EVENT_READ, None)
        self.upstream = split(args.upstream)
        self.clients = {}  # client addr -> [upstream socket, answered?]
        self.held = []  # heap of (due, seq, sock, data, dest)
        self.seq = 0
        self.stats = {d: {"in": 0, "sent": 0, "dup": 0, "dup_skipped": 0, "send_errors": 0}
                      for d in ("up", "down")}

    def send(self, direction, sock, data, dest):
        try:
            if dest is None:
                sock.send(data)
            else:
                sock.sendto(data, dest)
            self.stats[direction]["sent"] += 1
            return True
        except OSError:
            self.stats[direction]["send_errors"] += 1
            return False

    def hold(self, direction, sock, data, dest, now):
        if len(self.held) >= MAX_HELD:
            self.stats[direction]["dup_skipped"] += 1
            return
        self.seq += 1
        heapq.heappush(self.held, (now + self.delay, self.seq, direction, sock, data, dest))

    def release(self, now):
        while self.held and self.held[0][0] <= now:
            _, _, direction, sock, data, dest = heapq.heappop(self.held)
            if self.send(direction, sock, data, dest):
                self.stats[direction]["dup"] += 1

    def client_for(self, addr):
        entry = self.clients.get(addr)
        if entry is None:
            if len(self.clients) >= MAX_CLIENTS:
                return None
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.connect(self.upstream)
            up.setblocking(False)
            entry = [up, False]
            self.clients[addr] = entry
            self.sel.register(up, selectors.EVENT_READ, addr)
        return entry

    def on_listen(self, now):
        for _ in range(BATCH):
            try:
                data, addr = self.listen.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            self.stats["up"]["in"] += 1
            entry = self.client_for(addr)
            if entry is None:
                continue
            self.send("up", entry[0], data, None)
            if entry[1]:
                self.hold("up", entry[0], data, None, now)

    def on_upstream(self, addr, now):
        entry = self.clients[addr]
        for _ in range(BATCH):
            try:
                data = entry[0].recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP port unreachable from an earlier send
                continue
            self.stats["down"]["in"] += 1
            self.send("down", self.listen, data, addr)
            if entry[1] and self.args.both:
                self.hold("down", self.listen, data, addr, now)
            entry[1] = True

    def write_stats(self):
        if not self.args.stats:
            return
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.stats, f)
        os.replace(tmp, self.args.stats)

    def run(self):
        print(f"dup relay listening on {self.listen.getsockname()[0]}:{self.listen.getsockname()[1]}",
              flush=True)
        next_stats = time.monotonic() + 1.0
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, lambda *_: stop.append(1))
        while not stop:
            now = time.monotonic()
            timeout = 0.2 if not self.held else max(0.0, min(0.2, self.held[0][0] - now))
            for key, _ in self.sel.select(timeout):
                now = time.monotonic()
                if key.data is None:
                    self.on_listen(now)
                else:
                    self.on_upstream(key.data, now)
            now = time.monotonic()
            self.release(now)
            if now >= next_stats:
                self.write_stats()
                next_stats = now + 1.0
        self.release(float("inf"))
        self.write_stats()
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay-ms", type=float, default=3.0)
    ap.add_argument("--both", action="store_true")
    ap.add_argument("--stats")
    return Relay(ap.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
