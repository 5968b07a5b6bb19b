#!/usr/bin/env python3
"""UDP echo server for the end-to-end tests: every datagram goes back verbatim to its sender.

usage: udp_echo.py --listen HOST:PORT [--listen HOST:PORT ...]   (port 0 = ephemeral)
Logs "udp echo listening on HOST:PORT" per socket; stops on SIGTERM/SIGINT (exit 0) and then
prints how many datagrams it echoed. Standard library only.
"""
import argparse
import selectors
import signal
import socket
import sys


def split(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", action="append", required=True)
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    for a in args.listen:
        host, port = split(a)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind((host, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        h, p = s.getsockname()[:2]
        print(f"udp echo listening on {'[' + h + ']' if ':' in h else h}:{p}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    echoed = 0
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            for _ in range(64):
                try:
                    data, peer = key.fileobj.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # e.g. ICMP port unreachable reported on the socket
                try:
                    key.fileobj.sendto(data, peer)
                    echoed += 1
                except OSError:
                    pass
    print(f"udp echo: {echoed} datagrams echoed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
