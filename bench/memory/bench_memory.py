#!/usr/bin/env python3
"""Memory of the two daemons (issue 12 item 2): private (Anonymous) and resident (Rss) memory
from /proc/PID/smaps_rollup, for socks5d and proxy-server on loopback:

  idle            after start and one request, then 5 s without traffic (the daemons' memory
                  trim runs on a 2 s tick: relay buffers unused for 2 s, freed heap, clean
                  file pages; app/common.hpp)
  N held          N idle CONNECT streams open through the tunnel (default 1000)
  after close     10 s after those streams were closed

Per idle stream = (held - idle) / N. Prints a table and writes JSON next to it when --out is
given. Loopback only; every process it starts is stopped by PID.

With --smaps-dir DIR, each state also writes DIR/<daemon>-<state>.txt: Rss and Anonymous kB
per mapping (from /proc/PID/smaps, largest first), to see where the memory is (heap, stacks,
each shared library).

usage: bench/memory/bench_memory.py --bin-dir build/src/app [--streams 1000] [--out FILE]
                                    [--smaps-dir DIR] [--heap-walk]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import Harness  # noqa: E402
from clients import atyp_ipv4, curl_fetch, socks_open  # noqa: E402


def smaps(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("Rss:", "Anonymous:"):
                out[parts[0][:-1]] = int(parts[1])  # kB
    return out


def smaps_by_mapping(pid):
    """{mapping name: {"Rss": kB, "Anonymous": kB}} from /proc/PID/smaps; an anonymous mapping
    without a name is listed on its own as "[anon ADDRESS-RANGE]"."""
    out = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if not parts[0].endswith(":") or "-" in parts[0]:  # a mapping's header line
                name = parts[5] if len(parts) > 5 else f"[anon {parts[0]}]"
                out.setdefault(name, {"Rss": 0, "Anonymous": 0})
            elif parts[0] in ("Rss:", "Anonymous:") and name is not None:
                out[name][parts[0][:-1]] += int(parts[1])
    return out


def dump_mappings(directory, state, procs):
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    tag = state.split(" (")[0].replace(" ", "-")
    for daemon, pid in procs.items():
        rows = sorted(smaps_by_mapping(pid).items(), key=lambda kv: -kv[1]["Rss"])
        with open(os.path.join(directory, f"{daemon}-{tag}.txt"), "w") as f:
            f.write(f"{'Rss kB':>8} {'Anon kB':>8}  mapping\n")
            for name, v in rows:
                if v["Rss"] > 0:
                    f.write(f"{v['Rss']:>8} {v['Anonymous']:>8}  {name}\n")


class Sink:
    """A TCP listener that accepts and holds connections (the streams' targets)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.t.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


def heap_walk(enabled, state, procs, dump=None):
    """heap_walk.py's view of each daemon's heap in this state (--heap-walk; --heap-dump SIZE
    adds the start of every in-use chunk of that size)."""
    if not enabled:
        return
    walker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heap_walk.py")
    for daemon, pid in procs.items():
        print(f"--- {daemon} heap, {state} ---", flush=True)
        extra = ["--dump", str(dump)] if dump else []
        subprocess.run([sys.executable, walker, str(pid)] + extra, check=False, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--out")
    ap.add_argument("--smaps-dir", help="write per-mapping Rss/Anonymous for each state here")
    ap.add_argument("--heap-walk", action="store_true",
                    help="when idle and after close, print heap_walk.py's view of each daemon's heap")
    ap.add_argument("--heap-dump", type=int, metavar="SIZE",
                    help="with --heap-walk: the start of every in-use heap chunk of SIZE bytes")
    args = ap.parse_args()
    os.environ["PANIQ_BIN_DIR"] = os.path.abspath(args.bin_dir)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = {}
    with Harness("memory") as h:
        web = h.start_nginx({"small.bin": 10_000}, ipv6=False)
        sink = Sink()
        big = {"max_connections": args.streams + 100}
        server, client = h.start_tunnel(profile_edits={"kcp": {"max_streams": args.streams + 100}},
                                        server_config=big, client_config=big)
        rc, _, _, err = curl_fetch(client.port, web.url("small.bin"), max_time=10)
        if rc != 0:
            print(f"request failed: {err}")
            return 1
        time.sleep(5)
        procs = {"socks5d": client.pid, "proxy-server": server.pid}
        rows["idle"] = {n: smaps(p) for n, p in procs.items()}
        dump_mappings(args.smaps_dir, "idle", procs)
        heap_walk(args.heap_walk, "idle", procs, args.heap_dump)
        held = []
        for i in range(args.streams):
            s, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), sink.port, timeout=30)
            if reply[1] != 0:
                print(f"stream {i}: SOCKS reply {reply[1]}")
                break
            held.append(s)
        time.sleep(1)
        rows[f"{len(held)} held"] = {n: smaps(p) for n, p in procs.items()}
        dump_mappings(args.smaps_dir, "held", procs)
        for s in held:
            s.close()
        sink.close()
        time.sleep(10)
        rows["after close (10 s)"] = {n: smaps(p) for n, p in procs.items()}
        dump_mappings(args.smaps_dir, "after close", procs)
        heap_walk(args.heap_walk, "after close", procs, args.heap_dump)
        n = max(1, len(held))
    print(f"\n{'state':<22}" + "".join(f"{d + ' ' + k:>26}" for d in ("socks5d", "proxy-server")
                                      for k in ("Anonymous kB", "Rss kB")))
    for state, v in rows.items():
        print(f"{state:<22}" + "".join(f"{v[d][k]:>26}" for d in ("socks5d", "proxy-server")
                                       for k in ("Anonymous", "Rss")))
    keys = list(rows)
    per = {d: round((rows[keys[1]][d]["Anonymous"] - rows[keys[0]][d]["Anonymous"]) * 1024 / n)
           for d in ("socks5d", "proxy-server")}
    print(f"private bytes per idle stream: {per}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"streams": n, "rows": rows, "per_stream_bytes": per}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
