#!/usr/bin/env python3
"""Loopback tunnel benchmark (issue #5 item 7), run by bench/bench-tunnel.sh.

nginx serves a 200 MiB random file, 100 x 1 MiB files and a tiny one. For each path -- direct
(no tunnel), paniq-cpp (curl -> socks5d -> UDP -> proxy-server -> nginx) and, when Debian's
kcptun is installed, kcptun (curl -> kcptun-client -> UDP -> kcptun-server -> nginx; fast3, no
compression, no crypt, no FEC, windows 2048) -- it measures:

  bulk       download throughput of the 200 MiB file, median of --runs runs (MB/s, 10^6 B)
  cpu        CPU seconds (user+sys, /proc/<pid>/stat) of the two tunnel processes per GB
             (10^9 B) moved by the bulk runs
  new conn   time per request for --conns sequential new connections (connect, SOCKS5 for
             paniq, HTTP/1.0 GET of a 3-byte file, close), median and mean in ms
  parallel   wall time of 100 parallel 1 MiB downloads (one curl --parallel), median of runs
  peak RSS   VmHWM of the two tunnel processes at the end

Prints one table and writes --out (JSON). Loopback only; every process stopped by PID.
--perf additionally records `perf record -g` of both daemons (encrypted pair, then plain pair)
during one extra bulk run each and writes `perf report` summaries (by object, then by symbol)
next to the JSON.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, http_get, socks_open  # noqa: E402

MIB = 1 << 20
TARGETS = {"bulk_mb_s": 150.0, "cpu_s_per_gb": 8.0, "new_conn_ms": 0.3, "parallel_s": 0.5}
KCPTUN_FLAGS = ["--mode", "fast3", "--nocomp", "--crypt", "none", "--datashard", "0",
                "--parityshard", "0", "--sndwnd", "2048", "--rcvwnd", "2048", "--quiet"]


def curl_bulk(url, size, socks_port=None):
    """One download to /dev/null; returns MB/s (raises when the size is wrong)."""
    argv = ["curl", "-sS", "--max-time", "300", "-o", os.devnull, "-w",
            "%{size_download} %{time_total}", url]
    if socks_port:
        argv[1:1] = ["--socks5-hostname", f"127.0.0.1:{socks_port}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=330)
    got, took = r.stdout.split()
    if r.returncode != 0 or int(got) != size:
        raise RuntimeError(f"bulk download failed: rc={r.returncode} size={got} {r.stderr}")
    return size / float(took) / 1e6


def new_conn_times(n, port, socks=False, web_port=None):
    """n sequential requests, each on a new connection; returns the times in ms."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        if socks:
            s, reply = socks_open(port, 1, atyp_ipv4("127.0.0.1"), web_port, timeout=10)
            if reply[:2] != b"\x05\x00":
                raise RuntimeError(f"SOCKS reply {reply.hex()}")
        else:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with s:
            status, body = http_get(s, "small.txt")
        times.append((time.perf_counter() - t) * 1000)
        if status != 200 or body != b"ok\n":
            raise RuntimeError(f"new-connection request failed: {status}")
    return times


def parallel_wall(urls, socks_port=None):
    argv = ["curl", "-sS", "--no-progress-meter", "--parallel", "--parallel-immediate",
            "--parallel-max", "100", "--max-time", "60"]
    if socks_port:
        argv += ["--socks5-hostname", f"127.0.0.1:{socks_port}"]
    for u in urls:
        argv += ["-o", os.devnull, u]
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    wall = time.monotonic() - t
    if r.returncode != 0:
        raise RuntimeError(f"parallel downloads failed: rc={r.returncode} {r.stderr[-300:]}")
    return wall


def measure(label, web, args, procs, port=None, socks=False):
    """Runs every measurement through `port` (SOCKS port when `socks`, else a plain TCP port
    forwarding to nginx; None = nginx directly)."""
    sp = port if socks else None
    base_url = f"http://127.0.0.1:{web.port4 if (socks or port is None) else port}"
    size = args.size_mib * MIB
    res = {"label": label}
    print(f"[{label}] bulk {args.runs} x {args.size_mib} MiB ...", flush=True)
    cpu0 = [p.cpu_seconds() for p in procs]
    rates = [curl_bulk(f"{base_url}/big.bin", size, sp) for _ in range(args.runs)]
    cpu1 = [p.cpu_seconds() for p in procs]
    res["bulk_mb_s_runs"] = [round(r, 1) for r in rates]
    res["bulk_mb_s"] = round(statistics.median(rates), 1)
    if procs:
        gb = args.runs * size / 1e9
        per = [(b - a) / gb for a, b in zip(cpu0, cpu1)]
        res["cpu_s_per_gb_each"] = {p.name: round(x, 2) for p, x in zip(procs, per)}
        res["cpu_s_per_gb"] = round(sum(per), 2)
    print(f"[{label}] {args.conns} new connections ...", flush=True)
    if socks:
        times = new_conn_times(args.conns, port, socks=True, web_port=web.port4)
    else:
        times = new_conn_times(args.conns, port or web.port4)
    res["new_conn_ms_median"] = round(statistics.median(times), 3)
    res["new_conn_ms_mean"] = round(statistics.mean(times), 3)
    res["new_conn_ms_p90"] = round(sorted(times)[int(len(times) * 0.9)], 3)
    print(f"[{label}] 100 parallel x 1 MiB ...", flush=True)
    urls = [f"{base_url}/p{i:03d}.bin" for i in range(100)]
    walls = [parallel_wall(urls, sp) for _ in range(args.runs)]
    res["parallel_s_runs"] = [round(w, 3) for w in walls]
    res["parallel_s"] = round(statistics.median(walls), 3)
    if procs:
        res["peak_rss_mb"] = {p.name: round(p.peak_rss_kb() / 1024, 1) for p in procs}
    return res


def perf_profile(h, procs, url, size, socks_port, out_prefix):
    """perf record -g on each process during one bulk run; writes <out_prefix>-<name>.txt."""
    if not shutil.which("perf"):
        print("perf not installed: no profile")
        return []
    recs = []
    for p in procs:
        data = h.path(f"perf-{p.name}.data")
        recs.append((p, data, subprocess.Popen(["perf", "record", "-g", "-o", data, "-p", str(p.pid)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    time.sleep(0.3)
    curl_bulk(url, size, socks_port)
    written = []
    for p, data, rec in recs:
        rec.send_signal(2)
        rec.wait(30)
        out = f"{out_prefix}-perf-{p.name}.txt"
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            # Where the time goes by object (kernel, libcrypto, libc, the daemon), then the
            # symbols above 0.3 %.
            for sort in (["--sort", "dso"], ["--percent-limit", "0.3"]):
                subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                "-g", "none", *sort], stdout=f,
                               stderr=subprocess.DEVNULL, timeout=120)
                f.flush()
        written.append(out)
    return written


def start_kcptun(h, web):
    srv_port, cli_port = free_port(socket.SOCK_DGRAM), free_port()
    server = h.start("kcptun-server", ["kcptun-server", "-t", f"127.0.0.1:{web.port4}",
                                        "-l", f"127.0.0.1:{srv_port}", *KCPTUN_FLAGS])
    client = h.start("kcptun-client", ["kcptun-client", "-r", f"127.0.0.1:{srv_port}",
                                        "-l", f"127.0.0.1:{cli_port}", *KCPTUN_FLAGS])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", cli_port), timeout=0.5).close()
            return server, client, cli_port
        except OSError:
            if not (server.alive() and client.alive()):
                break
            time.sleep(0.1)
    raise RuntimeError("kcptun did not start:\n" + server.read_log()[-500:] + client.read_log()[-500:])


def fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def print_table(results):
    cols = [r["label"] for r in results]
    rows = [("bulk MB/s (median)", "bulk_mb_s", 1, f">= {TARGETS['bulk_mb_s']:.0f}"),
            ("CPU s/GB (both procs)", "cpu_s_per_gb", 2, f"<= {TARGETS['cpu_s_per_gb']:.0f}"),
            ("new conn ms (median)", "new_conn_ms_median", 3, f"<= {TARGETS['new_conn_ms']}"),
            ("new conn ms (mean)", "new_conn_ms_mean", 3, ""),
            ("  with fast_connect", "new_conn_fast_ms_median", 3, f"<= {TARGETS['new_conn_ms']}"),
            ("100 x 1 MiB wall s", "parallel_s", 3, f"<= {TARGETS['parallel_s']}")]
    width = 24
    colw = max(14, max(len(c) for c in cols) + 2)
    print("\n" + "metric".ljust(width) + "".join(c.rjust(colw) for c in cols) + "target (paniq)".rjust(18))
    for title, key, digits, target in rows:
        print(title.ljust(width) + "".join(fmt(r.get(key), digits).rjust(colw) for r in results)
              + target.rjust(18))
    by = {r["label"]: r for r in results}
    enc, plain = by.get("paniq-cpp"), by.get("paniq-cpp plain")
    if enc and plain and enc.get("bulk_mb_s") and plain.get("bulk_mb_s"):
        ratio = enc["bulk_mb_s"] / plain["bulk_mb_s"]
        extra = enc["cpu_s_per_gb"] - plain["cpu_s_per_gb"]
        print(f"encrypted / plain: bulk {ratio * 100:.0f} % (target >= 85 %), "
              f"CPU {extra:+.2f} s/GB (target <= +1.5)")
    for r in results:
        if "cpu_s_per_gb_each" in r:
            each = ", ".join(f"{k} {v}" for k, v in r["cpu_s_per_gb_each"].items())
            rss = ", ".join(f"{k} {v} MB" for k, v in r["peak_rss_mb"].items())
            print(f"  {r['label']}: CPU s/GB {each}; peak RSS {rss}")


def host_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            model = m.group(1) if m else ""
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(), "commit": commit,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--no-kcptun", action="store_true")
    ap.add_argument("--perf", action="store_true")
    args = ap.parse_args()
    os.environ["PANIQ_BIN_DIR"] = os.path.abspath(args.bin_dir)

    results = []
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs" +
          (" -- the machine is busy, figures will be low" if load > 0.5 * os.cpu_count() else ""))
    with Harness("bench") as h:
        files = {"big.bin": args.size_mib * MIB}
        files.update({f"p{i:03d}.bin": MIB for i in range(100)})
        print(f"generating {args.size_mib} MiB + 100 MiB of random files ...", flush=True)
        web = h.start_nginx(files, ipv6=False)
        results.append(measure("direct", web, args, []))
        server, client = h.start_tunnel()
        results.append(measure("paniq-cpp", web, args, [client, server], client.port, socks=True))
        # The same server through a second socks5d with the fast_connect extension (success
        # reply at once, one tunnel round trip less per connection).
        fast = h.start_socks5d(h.profile, config={"fast_connect": True}, name="socks5d-fast")
        print(f"[paniq-cpp] {args.conns} new connections with fast_connect ...", flush=True)
        times = new_conn_times(args.conns, fast.port, socks=True, web_port=web.port4)
        results[-1]["new_conn_fast_ms_median"] = round(statistics.median(times), 3)
        results[-1]["new_conn_fast_ms_p90"] = round(sorted(times)[int(len(times) * 0.9)], 3)
        fast.stop()
        perf_files = []
        if args.perf:
            perf_files = perf_profile(h, [client, server], f"http://127.0.0.1:{web.port4}/big.bin",
                                      args.size_mib * MIB, client.port, os.path.splitext(args.out)[0])
        client.stop()
        server.stop()
        # The same with the reference's plain transport (encryption off): the cost of the
        # encrypted mode (docs/protocol.md 7) is the difference between the two rows.
        port = free_port(socket.SOCK_DGRAM)
        plain = h.create_profile(port, edits={"obfuscation": {"encryption": "off"}},
                                 name="profile-plain.json")
        server = h.start_proxy_server(plain, f"127.0.0.1:{port}", name="proxy-server-plain")
        client = h.start_socks5d(plain, name="socks5d-plain")
        results.append(measure("paniq-cpp plain", web, args, [client, server], client.port, socks=True))
        if args.perf:  # the same profile of the plain pair, to compare object by object
            perf_files += perf_profile(h, [client, server], f"http://127.0.0.1:{web.port4}/big.bin",
                                       args.size_mib * MIB, client.port, os.path.splitext(args.out)[0])
        client.stop()
        server.stop()
        if not args.no_kcptun and shutil.which("kcptun-client") and shutil.which("kcptun-server"):
            ks, kc, kport = start_kcptun(h, web)
            results.append(measure("kcptun", web, args, [kc, ks], kport))
            kc.stop()
            ks.stop()
        elif args.no_kcptun:
            print("kcptun skipped (--no-kcptun)")
        else:
            print("kcptun not installed (apt-get install kcptun): no comparison")
    if h.failed:
        return 1
    print_table(results)
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host": host_info(), "params": {"runs": args.runs, "size_mib": args.size_mib,
                                           "conns": args.conns, "kcptun_flags": KCPTUN_FLAGS},
           "targets": TARGETS, "results": results, "perf_reports": perf_files}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
