#!/usr/bin/env python3
"""E2E soak: 30 s (SOAK_SECS) of continuous mixed traffic through socks5d -> proxy-server while
the RSS and open file descriptors of both daemons are sampled every second (issue #5 item 6).

Traffic, all at once: curl downloads of random files (1 KB .. 4 MB, SHA-256 checked); bursts
of 20 parallel downloads; raw SOCKS CONNECTs with one small HTTP request each (connection
churn); UDP ASSOCIATE sessions with echoed datagrams; failing requests (refused port, BIND) and
garbage connections. Checks: every operation had the expected outcome; RSS after warm-up stays
flat (last samples vs. samples after warm-up: growth <= 10 % + 4 MB); after the traffic stops
the fd counts return to the idle baseline. Exits non-zero when a check fails.
"""
import os
import random
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port, sha256_file  # noqa: E402
from clients import (atyp_ipv4, closed_by_peer, curl_fetch, curl_parallel, http_get,  # noqa: E402
                     relay_address, socks_open, udp_header)

SIZES = [1000, 10_000, 100_000, 1 << 20, 4 << 20]
WARMUP_S = 5


class Worker(threading.Thread):
    """Runs `step()` until stopped; counts successes and keeps the first failures."""

    def __init__(self, name, step, stop):
        super().__init__(name=name, daemon=True)
        self.step, self.stop_ev = step, stop
        self.ok, self.errors = 0, []

    def run(self):
        while not self.stop_ev.is_set():
            try:
                err = self.step()
            except Exception as e:  # noqa: BLE001 - any exception is a failed operation
                err = f"{type(e).__name__}: {e}"
            if err:
                self.errors.append(err)
            else:
                self.ok += 1


def make_steps(h, web, echo, socks_port, seed):
    rng = random.Random(seed)
    lock = threading.Lock()

    def pick():
        with lock:
            return rng.choice(list(web.sha256))

    def download():
        name = pick()
        rc, _, digest, err = curl_fetch(socks_port, web.url(name), max_time=30)
        return None if rc == 0 and digest == web.sha256[name] else f"download {name}: rc={rc} {err}"

    def burst():
        names = [f"f{SIZES[2]}-{i}.bin" for i in range(20)]
        outs = [h.path(f"burst-{threading.get_ident()}-{i}") for i in range(20)]
        rc, _, err = curl_parallel(socks_port, [web.url(n) for n in names], outs, max_time=30)
        bad = [n for n, o in zip(names, outs) if sha256_file(o) != web.sha256[n]]
        for o in outs:
            os.remove(o)
        time.sleep(1.0)
        return None if rc == 0 and not bad else f"burst: rc={rc} bad={bad[:3]} {err[-200:]}"

    def churn():
        s, reply = socks_open(socks_port, 1, atyp_ipv4("127.0.0.1"), web.port4, timeout=10)
        with s:
            if reply[:2] != b"\x05\x00":
                return f"churn CONNECT reply {reply.hex()}"
            status, body = http_get(s, "small.txt")
        return None if status == 200 and body == b"ok\n" else f"churn GET status {status}"

    def udp():
        ctrl, reply = socks_open(socks_port, 3, atyp_ipv4("0.0.0.0"), 0, timeout=10)
        with ctrl, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            if reply[:2] != b"\x05\x00":
                return f"ASSOCIATE reply {reply.hex()}"
            u.bind(("127.0.0.1", 0))
            u.settimeout(1.0)
            relay = relay_address(reply)
            hdr = udp_header(atyp_ipv4("127.0.0.1"), echo.port)
            lost = 0
            for i in range(20):
                msg = hdr + os.urandom(64 + 67 * i)
                u.sendto(msg, relay)
                try:
                    got, _ = u.recvfrom(65535)
                    lost += got != msg
                except socket.timeout:
                    lost += 1
        return None if lost <= 2 else f"UDP: {lost}/20 datagrams not echoed"

    def failures():
        closed_port = free_port()
        s, reply = socks_open(socks_port, 1, atyp_ipv4("127.0.0.1"), closed_port, timeout=10)
        s.close()
        if reply[:2] != b"\x05\x05":
            return f"refused: reply {reply.hex()}"
        s, reply = socks_open(socks_port, 2, atyp_ipv4("127.0.0.1"), 80, timeout=10)
        s.close()
        if reply[:2] != b"\x05\x07":
            return f"BIND: reply {reply.hex()}"
        with socket.create_connection(("127.0.0.1", socks_port), timeout=5) as g:
            g.sendall(os.urandom(300))
            if not closed_by_peer(g, 3.0):
                return "garbage connection not closed"
        time.sleep(0.05)
        return None

    return {"download": download, "burst": burst, "churn": churn, "udp": udp, "failures": failures}


def sample(procs):
    return [(p.rss_kb(), p.fd_count()) for p in procs]


def main():
    secs = float(os.environ.get("SOAK_SECS", "30"))
    with Harness("soak") as h:
        files = {f"f{s}-{i}.bin": s for s in SIZES for i in range(20 if s == SIZES[2] else 3)}
        web = h.start_nginx(files, ipv6=False)
        with open(os.path.join(web.root, "small.txt")) as f:
            assert f.read() == "ok\n"
        echo = h.start_udp_echo()
        # Under AddressSanitizer the freed-memory quarantine (256 MB) would read as growth; a
        # small one keeps the RSS check meaningful there (other builds ignore ASAN_OPTIONS).
        asan = ":".join(x for x in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16") if x)
        server, client = h.start_tunnel(client_config={"max_connections": 512},
                                        env=dict(os.environ, ASAN_OPTIONS=asan))
        procs = [client, server]
        rc, _, _, err = curl_fetch(client.port, web.url("small.txt"))
        if not h.check("warm-up request", rc == 0, err):
            return h.exit_code
        time.sleep(0.5)
        base = sample(procs)
        print(f"idle baseline: socks5d rss {base[0][0]} kB fds {base[0][1]}; "
              f"proxy-server rss {base[1][0]} kB fds {base[1][1]}")

        stop = threading.Event()
        steps = make_steps(h, web, echo, client.port, seed=7)
        workers = [Worker(n, steps[n], stop) for n in
                   ("download", "download", "burst", "churn", "churn", "udp", "failures")]
        for w in workers:
            w.start()
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < secs:
            time.sleep(1.0)
            if not (client.alive() and server.alive()):
                break
            samples.append((time.monotonic() - t0, sample(procs)))
        stop.set()
        for w in workers:
            w.join(60)
        for t, s in samples:
            print(f"t={t:5.1f}s socks5d rss {s[0][0]:7d} kB fds {s[0][1]:4d} | "
                  f"proxy-server rss {s[1][0]:7d} kB fds {s[1][1]:4d}")
        h.check("both daemons alive through the soak", client.alive() and server.alive())
        for w in workers:
            h.check(f"worker {w.name}: every operation as expected", w.ok > 0 and not w.errors,
                    f"{w.ok} ok, {len(w.errors)} failed {w.errors[:3]}")

        later = [s for t, s in samples if t >= WARMUP_S]
        if len(later) >= 10:
            for i, p in enumerate(procs):
                early = statistics.median(s[i][0] for s in later[:5])
                late = statistics.median(s[i][0] for s in later[-5:])
                peak = max(s[i][0] for s in later)
                h.check(f"{p.name}: RSS flat after warm-up", late <= early * 1.10 + 4096,
                        f"{early} kB -> {late} kB (peak {peak} kB)")
        else:
            h.check("enough RSS samples", False, f"{len(later)} after warm-up")

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = sample(procs)
            if all(now[i][1] <= base[i][1] for i in range(2)):
                break
            time.sleep(0.2)
        for i, p in enumerate(procs):
            peak = max((s[i][1] for _, s in samples), default=0)
            h.check(f"{p.name}: fds back to the idle baseline after the soak", now[i][1] <= base[i][1],
                    f"baseline {base[i][1]}, peak {peak}, after {now[i][1]}")
        for p in (client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
