#!/usr/bin/env python3
"""Seeded UDP impairment relay for the end-to-end tests (loopback only).

Sits between socks5d and proxy-server: socks5d's --proxy-addr points here; every client
address (socks5d's UDP socket) gets its own upstream socket connected to --upstream, and the
answers go back to that client address. Both directions are impaired with the same settings:

  --loss P           drop each datagram with probability P
  --reorder P        hold a datagram back with probability P and release it after
                     1..--reorder-depth later datagrams of the same direction, or after
                     --reorder-delay-ms, whichever comes first
  --queue N          at most N datagrams held per direction (a full queue forwards at once)
  --seed S           seeds the per-direction random streams

usage: impair_relay.py --listen HOST:PORT --upstream HOST:PORT [options] [--stats FILE]
Logs "impair relay listening on HOST:PORT"; writes its counters as JSON to --stats every second
and at exit; stops on SIGTERM/SIGINT (exit 0). Standard library only.
"""
import argparse
import json
import os
import random
import selectors
import signal
import socket
import sys
import time

MAX_CLIENTS = 64
BATCH = 64


def split(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class Direction:
    """Impairment state of one direction."""

    def __init__(self, args, seed):
        self.rng = random.Random(seed)
        self.loss, self.reorder = args.loss, args.reorder
        self.depth, self.delay = args.reorder_depth, args.reorder_delay_ms / 1000.0
        self.cap = args.queue
        self.held = []  # [countdown, deadline, sock, data, dest]
        self.stats = {"in": 0, "sent": 0, "dropped": 0, "reordered": 0, "send_errors": 0}

    def send(self, sock, data, dest):
        try:
            if dest is None:
                sock.send(data)
            else:
                sock.sendto(data, dest)
            self.stats["sent"] += 1
        except OSError:
            self.stats["send_errors"] += 1

    def handle(self, sock, data, dest, now):
        self.stats["in"] += 1
        if self.rng.random() < self.loss:
            self.stats["dropped"] += 1
            return
        if self.rng.random() < self.reorder and len(self.held) < self.cap:
            self.stats["reordered"] += 1
            self.held.append([self.rng.randint(1, self.depth), now + self.delay, sock, data, dest])
            return
        self.send(sock, data, dest)
        self.release(now, count=True)

    def release(self, now, count=False):
        keep = []
        for h in self.held:
            if count:
                h[0] -= 1
            if h[0] <= 0 or h[1] <= now:
                self.send(h[2], h[3], h[4])
            else:
                keep.append(h)
        self.held = keep

    def next_deadline(self):
        return min((h[1] for h in self.held), default=None)


def write_stats(path, up, down, clients):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"up": up.stats, "down": down.stats, "clients": clients}, f)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--reorder-depth", type=int, default=3)
    ap.add_argument("--reorder-delay-ms", type=float, default=30.0)
    ap.add_argument("--queue", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats")
    args = ap.parse_args()

    host, port = split(args.listen)
    upstream = split(args.upstream)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    front = socket.socket(fam, socket.SOCK_DGRAM)
    front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    front.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 23)
    front.bind((host, port))
    front.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(front, selectors.EVENT_READ, None)
    up, down = Direction(args, args.seed * 2 + 1), Direction(args, args.seed * 2 + 2)
    clients = {}  # client address -> upstream socket (insertion order = age)

    def upstream_for(addr):
        s = clients.get(addr)
        if s is None:
            if len(clients) >= MAX_CLIENTS:
                old_addr = next(iter(clients))
                old = clients.pop(old_addr)
                sel.unregister(old)
                old.close()
            s = socket.socket(socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET,
                              socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 23)
            s.connect(upstream)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, addr)
            clients[addr] = s
        return s

    h, p = front.getsockname()[:2]
    print(f"impair relay listening on {'[' + h + ']' if ':' in h else h}:{p} -> "
          f"{args.upstream} loss={args.loss} reorder={args.reorder} seed={args.seed}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    next_stats = time.monotonic() + 1.0
    while not stop:
        now = time.monotonic()
        deadlines = [d for d in (up.next_deadline(), down.next_deadline(), next_stats) if d]
        timeout = max(0.0, min(deadlines) - now)
        for key, _ in sel.select(timeout=min(timeout, 0.2)):
            sock, client = key.fileobj, key.data
            for _ in range(BATCH):
                try:
                    data, addr = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # ICMP error queued on a connected socket
                now = time.monotonic()
                if client is None:
                    up.handle(upstream_for(addr), data, None, now)
                else:
                    down.handle(front, data, client, now)
        now = time.monotonic()
        up.release(now)
        down.release(now)
        if now >= next_stats:
            write_stats(args.stats, up, down, len(clients))
            next_stats = now + 1.0
    write_stats(args.stats, up, down, len(clients))
    print(f"impair relay: up {up.stats} down {down.stats}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
