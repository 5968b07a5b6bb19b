#!/usr/bin/env python3
"""E2E soak: mixed load with faults for a set duration (`make soak`; 60 s in `make test`).

Duration: SOAK_SECONDS, else SOAK_MINUTES x 60, else SOAK_SECS (older name), else 60 s.

Topology: nginx and a UDP echo on loopback; proxy-server A listening on a range of 4 UDP ports
(port hopping), proxy-server B on one port (failover); socks5d with a `paniq-ctl create-profile`
profile (encrypted) whose `servers` is [A's range, B] and whose `hop_interval` scales with the
duration (5 s-10 s for a minute, at most 60 s-120 s).

Load, all at once for the whole duration: bulk downloads (100 KB .. 4 MB, SHA-256 checked),
many short requests (raw SOCKS CONNECT + HTTP/1.0 of a 3-byte file; curl of 1-10 KB files),
UDP ASSOCIATE sessions of 20 echoed datagrams, a worker with random idle gaps of 1-5 s between
downloads, refused-port requests (reply 05), and global idle gaps in which every worker
pauses (socks5d and the servers see no traffic for a while: keepalives, hop timers).

Faults, at fixed fractions of the duration:
  restart-A  (25 %)  SIGKILL proxy-server A, start it again at once on the same ports;
  restart-B  (45 %)  the same for B (brings the client back to A if the first fault moved it
                     to B: A is the first server and no longer backing off);
  failover   (62 %)  SIGKILL A, keep it down for max(5 s, 8 % of the duration), start it again.
                     The client must be on B afterwards and socks5d's `server_changes` must
                     have grown.
Fault window: from the moment the fault starts to GRACE_S (10 s) after it ends (the server is
listening again). GRACE covers what a fault legitimately breaks: streams of the killed server
(cut at once by the ICMP fast path or after the liveness bound, <= 15 s, which is why an
operation that merely overlaps the window counts), a handshake to a server still backing off
and carried to the other. An operation that fails is "explained" when its [start, end]
interval overlaps a fault window; any other failure fails the test. A completed transfer that
is not byte-exact fails the test even inside a window (corruption is never explained).

Checks: at least one port hop (socks5d control socket `hops`); the failover grew
`server_changes` and moved the client from A to B (the server in use comes from the control
socket's `servers[i].in_use`, or socks5d's last "using server" log line when the stats carry no
`servers`); every worker succeeded before the first fault and again after each fault ended
(progress); RSS and fd counts flat, per process, sampled every second: socks5d over the whole
run, and each proxy-server process over the samples in which it was the one in use (a server
carrying no traffic, or a fresh one after a restart, is not comparable); each series leaves
out its first WARMUP_S (5 s), then compares the mean of its first 10 % of samples with the
mean of its last 10 %: RSS may grow by 15 % + 4 MB, fds by 8. A series shorter than
MIN_SERIES (10) samples is printed, not checked (in the 60 s run: the servers between two
faults). Every daemon alive and exiting 0 on SIGTERM at the end. Prints the figures: events,
failures per fault window, per-worker operations / failures / explained / corrupt / MB, the
flatness table, hops and server changes, and (at most ~40) samples. Exits non-zero when a
check fails.
"""
import json
import os
import random
import re
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, curl_fetch, http_get, relay_address, socks_open, udp_header  # noqa: E402
from test_servers import free_udp_range  # noqa: E402

BULK_SIZES = [100_000, 1 << 20, 4 << 20]
SHORT_SIZES = [1000, 10_000]
GRACE_S = 10.0          # s after a fault ends during which failures are explained
WARMUP_S = 5.0          # s of samples left out of the flatness comparison
RSS_TOL = (1.15, 4096)  # last-10 % mean <= first-10 % mean x 1.15 + 4 MB
MIN_SERIES = 10         # samples a series needs (after its warm-up) to be checked
FD_TOL = 8              # last-10 % mean <= first-10 % mean + 8
HOP_PORTS = 4


def duration_s():
    if os.environ.get("SOAK_SECONDS"):
        return float(os.environ["SOAK_SECONDS"])
    if os.environ.get("SOAK_MINUTES"):
        return float(os.environ["SOAK_MINUTES"]) * 60
    if os.environ.get("SOAK_SECS"):
        return float(os.environ["SOAK_SECS"])
    return 60.0


class Op:
    __slots__ = ("worker", "t0", "t1", "ok", "corrupt", "err", "nbytes")

    def __init__(self, worker, t0, t1, ok, corrupt, err, nbytes):
        self.worker, self.t0, self.t1, self.ok = worker, t0, t1, ok
        self.corrupt, self.err, self.nbytes = corrupt, err, nbytes


class Worker(threading.Thread):
    """Runs `step()` until stopped, pausing while `quiet` is set. A step returns
    (ok, corrupt, error text, bytes moved); an Op records a call with its time span."""

    def __init__(self, name, step, stop, quiet, clock):
        super().__init__(name=name, daemon=True)
        self.step, self.stop_ev, self.quiet, self.clock = step, stop, quiet, clock
        # Every failed operation; of the successes only one per 0.5 s (an hour-long run makes
        # about a million operations): enough for the progress checks. Totals in n_ok / nbytes.
        self.ops = []
        self.n_ok, self.nbytes, self._last_ok = 0, 0, -1.0

    def run(self):
        while not self.stop_ev.is_set():
            if self.quiet.is_set():
                time.sleep(0.1)
                continue
            t0 = self.clock()
            try:
                ok, corrupt, err, n = self.step()
            except Exception as e:  # noqa: BLE001 - any exception is a failed operation
                ok, corrupt, err, n = False, False, f"{type(e).__name__}: {e}", 0
            t1 = self.clock()
            self.nbytes += n
            if ok:
                self.n_ok += 1
                if t0 - self._last_ok < 0.5:
                    continue
                self._last_ok = t0
            self.ops.append(Op(self.name, t0, t1, ok, corrupt, err, n))


def make_steps(web, echo, socks_port, seed):
    rng = random.Random(seed)
    lock = threading.Lock()

    def choose(seq):
        with lock:
            return rng.choice(seq)

    bulk = [n for n in web.sha256 if n.startswith("bulk-")]
    short = [n for n in web.sha256 if n.startswith("short-")]

    def fetch(name, max_time):
        rc, code, digest, err = curl_fetch(socks_port, web.url(name), max_time=max_time)
        if rc == 0 and code == 200:
            good = digest == web.sha256[name]
            return good, not good, None if good else f"{name}: SHA-256 mismatch", web.size[name]
        return False, False, f"{name}: curl rc={rc} http={code} {err[-160:]}", 0

    def download():
        return fetch(choose(bulk), 60)

    def short_curl():
        return fetch(choose(short), 20)

    def short_raw():
        s, reply = socks_open(socks_port, 1, atyp_ipv4("127.0.0.1"), web.port4, timeout=15)
        with s:
            if reply[:2] != b"\x05\x00":
                return False, False, f"CONNECT reply {reply.hex()}", 0
            s.settimeout(15)
            status, body = http_get(s, "small.txt")
        if status == 200 and len(body) == 3:
            return body == b"ok\n", body != b"ok\n", None if body == b"ok\n" else f"body {body!r}", 3
        return False, False, f"GET small.txt: status {status}, {len(body)} bytes", 0

    def idle_gaps():
        with lock:
            gap = rng.uniform(1.0, 5.0)
        time.sleep(gap)
        return fetch(choose(bulk[:len(bulk) // 2] or bulk), 60)

    def udp():
        ctrl, reply = socks_open(socks_port, 3, atyp_ipv4("0.0.0.0"), 0, timeout=15)
        with ctrl, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            if reply[:2] != b"\x05\x00":
                return False, False, f"ASSOCIATE reply {reply.hex()}", 0
            u.bind(("127.0.0.1", 0))
            u.settimeout(1.0)
            relay = relay_address(reply)
            hdr = udp_header(atyp_ipv4("127.0.0.1"), echo.port)
            sent, lost, alien, moved = set(), 0, 0, 0
            for i in range(20):
                msg = hdr + i.to_bytes(2, "big") + os.urandom(64 + 67 * i)
                sent.add(msg)
                u.sendto(msg, relay)
                try:
                    got, _ = u.recvfrom(65535)
                    if got in sent:
                        moved += len(got)
                        lost += got != msg  # a late echo of an earlier one: this one is late
                    else:
                        alien += 1
                except socket.timeout:
                    lost += 1
                    if lost > 2:
                        break  # the association is broken (a fault): fail now, not in 20 s
        if alien:
            return False, True, f"UDP: {alien} echoed datagram(s) not among those sent", moved
        return lost <= 2, False, None if lost <= 2 else f"UDP: {lost}/20 datagrams not echoed", moved

    def refused():
        closed_port = free_port()
        s, reply = socks_open(socks_port, 1, atyp_ipv4("127.0.0.1"), closed_port, timeout=15)
        s.close()
        time.sleep(0.2)
        ok = reply[:2] == b"\x05\x05"
        return ok, False, None if ok else f"refused port: reply {reply.hex()}", 0

    return {"bulk-1": download, "bulk-2": download, "short-raw": short_raw,
            "short-curl": short_curl, "udp": udp, "idle-gaps": idle_gaps, "refused": refused}


class Fault:
    def __init__(self, name, at, server, down):
        self.name, self.at, self.server, self.down = name, at, server, down
        self.t0 = self.t1 = None  # started, ended (server listening again)
        self.before = self.after = None  # socks5d control stats before, first sample after
        self.before_on = None  # the server in use when it started

    def window(self):
        return (self.t0, self.t1 + GRACE_S) if self.t0 is not None else None


def in_use(stats, client=None, ports=()):
    """Index of the server socks5d uses: by its control socket (`servers[i].in_use`); when the
    stats carry no `servers`, by socks5d's last "using server ADDR" log line (none yet: the
    first server). None when neither says."""
    servers = stats.get("servers")
    if servers:
        return next((i for i, s in enumerate(servers) if s.get("in_use")), None)
    if client is None:
        return None
    found = re.findall(r"using server [0-9.]+:(\d+)", client.read_log())
    if not found:
        return 0
    port = int(found[-1])  # a server with a port range is logged with the port it starts on
    return next((i for i, (lo, hi) in enumerate(ports) if lo <= port <= hi), None)


def mean(xs):
    return statistics.fmean(xs) if xs else float("nan")


def main():
    secs = duration_s()
    with Harness("soak") as h:
        files = {f"bulk-{s}-{i}.bin": s for s in BULK_SIZES for i in range(3)}
        files.update({f"short-{s}-{i}.bin": s for s in SHORT_SIZES for i in range(3)})
        web = h.start_nginx(files, ipv6=False)
        web.size = files
        echo = h.start_udp_echo()

        base = free_udp_range(HOP_PORTS)
        span_a = f"127.0.0.1:{base}-{base + HOP_PORTS - 1}"
        port_b = free_port(socket.SOCK_DGRAM)
        hop_min = int(min(60, max(5, secs / 12)))
        profile = h.create_profile(base, edits={"servers": [span_a, f"127.0.0.1:{port_b}"],
                                                "hop_interval": f"{hop_min}s-{2 * hop_min}s"})
        with open(profile) as f:
            enc = json.load(f).get("obfuscation", {}).get("encryption", "?")
        # Under AddressSanitizer the freed-memory quarantine (256 MB) would read as growth; a
        # small one keeps the RSS check meaningful there (other builds ignore ASAN_OPTIONS).
        asan = ":".join(x for x in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16") if x)
        env = dict(os.environ, ASAN_OPTIONS=asan)
        listen = {0: span_a, 1: f"127.0.0.1:{port_b}"}
        addrs = ((base, base + HOP_PORTS - 1), (port_b, port_b))  # each server's ports
        gen = {0: 0, 1: 0}

        def start_server(i):
            gen[i] += 1
            return h.start_proxy_server(profile, listen[i], name=f"proxy-server-{'AB'[i]}{gen[i]}", env=env)

        servers = [start_server(0), start_server(1)]
        sock = h.path("socks5d-ctl.sock")
        client = h.start_socks5d(profile, config={"max_connections": 512, "control_socket": sock},
                                 env=env)
        print(f"soak: {secs:.0f} s; encryption {enc}; A {span_a}, B 127.0.0.1:{port_b}; "
              f"hop_interval {hop_min}s-{2 * hop_min}s", flush=True)
        rc, _, _, err = curl_fetch(client.port, web.url("small.txt"), max_time=20)
        if not h.check("warm-up request", rc == 0, err):
            return h.exit_code
        where = lambda st: in_use(st, client, addrs)  # noqa: E731
        h.check("the client starts on A", where(h.ctl_stats(sock)) == 0, "")

        down = max(5.0, 0.08 * secs)
        faults = [Fault("restart-A", 0.25 * secs, 0, 0.0), Fault("restart-B", 0.45 * secs, 1, 0.0),
                  Fault("failover", 0.62 * secs, 0, down)]
        quiet_gaps = [(0.15 * secs, min(5.0, 0.03 * secs + 2)), (0.85 * secs, min(5.0, 0.03 * secs + 2))]

        t_start = time.monotonic()
        clock = lambda: time.monotonic() - t_start  # noqa: E731
        stop, quiet = threading.Event(), threading.Event()
        steps = make_steps(web, echo, client.port, seed=int(os.environ.get("PANIQ_E2E_SEED", "7")))
        workers = [Worker(n, s, stop, quiet, clock) for n, s in steps.items()]
        for w in workers:
            w.start()

        samples = []  # (t, socks5d rss, fds, serving index, serving rss, serving fds)
        events = []
        pending = sorted([(f.at, "fault", f) for f in faults] +
                         [(t, "quiet", d) for t, d in quiet_gaps], key=lambda e: e[0])
        next_sample = 0.0
        last_stats = {}
        while clock() < secs and client.alive():
            now = clock()
            if pending and now >= pending[0][0]:
                _, kind, what = pending.pop(0)
                if kind == "quiet":
                    quiet.set()
                    events.append((now, f"idle gap of {what:.1f} s (workers pause after their current operation)"))
                    pending.append((now + what, "resume", None))
                    pending.sort(key=lambda e: e[0])
                elif kind == "resume":
                    quiet.clear()
                    events.append((now, "idle gap over"))
                else:
                    f = what
                    f.before = h.ctl_stats(sock)
                    f.before_on = where(f.before)
                    f.t0 = clock()
                    servers[f.server].kill()
                    events.append((f.t0, f"{f.name}: proxy-server {'AB'[f.server]} SIGKILLed"))
                    if f.down:
                        time.sleep(f.down)
                    servers[f.server] = start_server(f.server)
                    f.t1 = clock()
                    events.append((f.t1, f"{f.name}: proxy-server {'AB'[f.server]} listening again"))
                continue
            if now >= next_sample:
                next_sample = now + 1.0
                try:
                    last_stats = h.ctl_stats(sock)
                    idx = where(last_stats)
                    srv = servers[idx] if idx is not None and servers[idx].alive() else None
                    samples.append((now, client.rss_kb(), client.fd_count(), idx,
                                    srv.rss_kb() if srv else None, srv.fd_count() if srv else None,
                                    srv.name if srv else None))
                except (OSError, RuntimeError) as e:
                    events.append((now, f"sample failed: {e}"))
            time.sleep(0.05)
        t_end = clock()
        stop.set()
        quiet.clear()
        for w in workers:
            w.join(90)
        final = h.ctl_stats(sock) if client.alive() else last_stats
        for f in faults:
            if f.t1 is not None:
                # the first stats sample taken after the window
                f.after = next((s for s in samples if s[0] >= f.t1 + GRACE_S), None)

        # ---- figures -------------------------------------------------------------------------
        ops = [op for w in workers for op in w.ops]
        windows = [(f, f.window()) for f in faults if f.t0 is not None]

        def fault_of(op):
            for f, (a, b) in windows:
                if op.t0 <= b and op.t1 >= a:
                    return f.name
            return None

        print("\nevents:")
        for t, e in events:
            print(f"  t={t:7.1f}s {e}")
        print("\nfault windows (fault start .. server listening again + "
              f"{GRACE_S:.0f} s):")
        for f, (a, b) in windows:
            errs = [op for op in ops if not op.ok and fault_of(op) == f.name]
            print(f"  {f.name:10s} {a:7.1f} .. {b:7.1f} s: {len(errs)} failed operation(s)")
        print(f"\n{'worker':12s} {'ok':>7s} {'failed':>7s} {'explained':>9s} {'corrupt':>7s} {'MB':>9s}")
        for w in workers:
            bad = [op for op in w.ops if not op.ok]
            print(f"{w.name:12s} {w.n_ok:7d} {len(bad):7d} "
                  f"{sum(fault_of(op) is not None for op in bad):9d} {sum(op.corrupt for op in w.ops):7d} "
                  f"{w.nbytes / 1e6:9.1f}")
        print(f"{'total':12s} {sum(w.n_ok for w in workers):7d} {sum(not op.ok for op in ops):7d} "
              f"{sum(1 for op in ops if not op.ok and fault_of(op)):9d} {sum(op.corrupt for op in ops):7d} "
              f"{sum(w.nbytes for w in workers) / 1e6:9.1f}")

        # Flatness series: socks5d over the whole run; each proxy-server process over the samples
        # in which it was the serving one (a fresh process after a restart is a new series; a
        # server carrying no traffic says nothing). Each after its own warm-up; a series with
        # fewer than MIN_SERIES samples is printed, not checked.
        groups = [("socks5d", [(s[0], s[1], s[2]) for s in samples if s[0] >= WARMUP_S])]
        for name in dict.fromkeys(s[6] for s in samples if s[6]):
            mine = [s for s in samples if s[6] == name]
            groups.append((f"{name} (serving)", [(s[0], s[4], s[5]) for s in mine if s[0] >= mine[0][0] + WARMUP_S]))
        print(f"\n{len(samples)} samples (1 s); per series: warm-up {WARMUP_S:.0f} s left out, then mean of "
              f"the first 10 % vs the last 10 %; limits RSS x{RSS_TOL[0]} + {RSS_TOL[1]} kB, fds +{FD_TOL}")
        print(f"{'series':28s} {'span s':>13s} {'n':>5s} {'RSS first':>10s} {'RSS last':>10s} {'RSS peak':>9s} "
              f"{'fds first':>9s} {'fds last':>9s} {'fds peak':>8s}")
        flat = []
        for name, rows in groups:
            if not rows:
                print(f"{name:28s} (no samples after warm-up)")
                continue
            k = max(1, len(rows) // 10)
            a, b = rows[:k], rows[-k:]
            r0, r1 = mean([r[1] for r in a]), mean([r[1] for r in b])
            f0, f1 = mean([r[2] for r in a]), mean([r[2] for r in b])
            span = f"{rows[0][0]:.0f}-{rows[-1][0]:.0f}"
            print(f"{name:28s} {span:>13s} {len(rows):5d} {r0:10.0f} {r1:10.0f} {max(r[1] for r in rows):9d} "
                  f"{f0:9.1f} {f1:9.1f} {max(r[2] for r in rows):8d}"
                  + ("" if len(rows) >= MIN_SERIES else "  (short: not checked)"))
            if len(rows) >= MIN_SERIES:
                flat.append((f"{name}: RSS flat", r1 <= r0 * RSS_TOL[0] + RSS_TOL[1], r0, r1))
                flat.append((f"{name}: fds flat", f1 <= f0 + FD_TOL, f0, f1))
        print(f"\nsocks5d: hops {final.get('hops')}, server_changes {final.get('server_changes')}, "
              f"sessions {final.get('sessions_created')}; servers "
              + json.dumps([{k2: s.get(k2) for k2 in ('in_use', 'failures', 'last_failure')}
                            for s in final.get('servers', [])]))
        step = max(1, len(samples) // 40)
        print("\nsamples (every %d):" % step)
        for s in samples[::step]:
            print(f"  t={s[0]:7.1f}s socks5d rss {s[1]:7d} kB fds {s[2]:4d} | serving "
                  f"{'AB'[s[3]] if s[3] is not None else '-'} rss {s[4] or 0:7d} kB fds {s[5] or 0:4d}")
        print(flush=True)

        # ---- checks --------------------------------------------------------------------------
        h.check("the soak ran its full duration with socks5d alive", client.alive() and t_end >= secs - 1,
                f"{t_end:.1f} of {secs:.0f} s")
        h.check("every fault was carried out", all(f.t1 is not None for f in faults), "")
        corrupt = [op for op in ops if op.corrupt]
        h.check("every completed transfer byte-exact", not corrupt,
                f"{len(corrupt)} corrupt: {[(op.worker, round(op.t0, 1), op.err) for op in corrupt[:3]]}")
        unexplained = [op for op in ops if not op.ok and not op.corrupt and fault_of(op) is None]
        h.check("no failure outside the fault windows", not unexplained,
                f"{len(unexplained)}: {[(op.worker, round(op.t0, 1), round(op.t1, 1), op.err) for op in unexplained[:4]]}")
        for w in workers:
            h.check(f"worker {w.name}: succeeded before the first fault",
                    any(op.ok and op.t1 < faults[0].at for op in w.ops), f"{w.n_ok} succeeded in all")
            for f in faults:
                if f.t1 is None:
                    continue
                h.check(f"worker {w.name}: progress after {f.name}",
                        any(op.ok and op.t0 >= f.t1 for op in w.ops),
                        f"first success {next((round(op.t1 - f.t1, 1) for op in w.ops if op.ok and op.t0 >= f.t1), None)} s after it ended")
        h.check("at least one port hop (socks5d `hops`)", final.get("hops", 0) >= 1, f"hops {final.get('hops')}")
        fo = faults[2]
        if fo.before is not None:
            h.check("failover: server_changes grew and the client moved to B",
                    fo.after is not None and final.get("server_changes", 0) > fo.before.get("server_changes", 0)
                    and fo.before_on == 0 and fo.after[3] == 1,
                    f"before: on {fo.before_on}, changes {fo.before.get('server_changes')}; "
                    f"after: on {fo.after[3] if fo.after else None}, changes {final.get('server_changes')}")
        h.check("socks5d and at least one proxy-server checked for flatness",
                any(n.startswith("socks5d") for n, *_ in flat) and any(n.startswith("proxy") for n, *_ in flat), "")
        for name, ok, first_mean, last_mean in flat:
            h.check(f"{name} (first vs last 10 % after warm-up)", ok, f"{first_mean:.1f} -> {last_mean:.1f}")
        for p in [client, *servers]:
            h.check(f"{p.name} alive and exits 0 on SIGTERM", p.alive() and p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
