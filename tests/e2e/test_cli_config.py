#!/usr/bin/env python3
"""E2E: command lines, daemon config files and connection limits (issue #5 items 5-6).

  * paniq-ctl headergen: the reference's output format, four sorted non-overlapping ranges of
    the asked width with distinct most significant bytes inside [min, max], its errors, and a
    profile whose h1..h4 come from it carrying a tunnel;
  * proxy-server max_connections: with 2, two CONNECTs held open through socks5d to a target
    that never answers, the third gets SOCKS reply 01 at once (and is logged); after one closes
    (its control socket's active_connections back to 1), a new one is served, and the held
    target's next connection is its third: the refused stream was never dialled;
  * socks5d config file: credentials (no-auth refused, the configured pair accepted),
    max_connections (the third connection closed at once, served again once the others are
    gone: waits on socks5d's "(N being served)" debug lines), accept_timeout (a silent client
    closed after ~1 s);
  * errors: an unknown flag (exit 2, one line), a missing profile, a bad profile field, a bad
    config value (exit 1 naming the path / field), UDP and TCP ports in use (exit 1), a missing
    config file (defaults); --help and --version of the three programs (exit 0).

No nginx: the HTTP origin is clients.PyHttpOrigin. Exits non-zero when a check fails.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port, write_random_file  # noqa: E402
from clients import (PyHttpOrigin, atyp_ipv4, closed_by_peer, curl_fetch, http_get,  # noqa: E402
                     recv_exact, socks_open)

HEADER_LINE = re.compile(r'^      "h([1-4])": "(\d+)-(\d+)",$')
PLAIN_LINE = re.compile(r"^h([1-4])=(\d+)-(\d+)$")


def run(h, prog, *args, timeout=20):
    return subprocess.run([h.prog(prog), *args], capture_output=True, text=True, timeout=timeout)


def short(*texts, limit=240):
    """Output for a check's detail: whitespace collapsed, at most `limit` characters."""
    text = " ".join(" ".join(t.split()) for t in texts if t)
    return text if len(text) <= limit else text[:limit] + "..."


class HeldTarget:
    """A 127.0.0.1 TCP listener that accepts every connection and holds it: it reads and
    discards until the peer closes (or 60 s pass), then closes its side. .accepted counts."""

    def __init__(self):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(64)
        self.lst.settimeout(0.2)
        self.port = self.lst.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.lst.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    @staticmethod
    def _hold(conn):
        conn.settimeout(60)
        with conn:
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.lst.close()


# ------------------------------------------------------------------------------------------------
# paniq-ctl headergen


def parse_ranges(text, rx):
    """The four (start, end) of headergen output in `rx`'s line format, or None."""
    lines = text.splitlines()
    if len(lines) != 4:
        return None
    out = []
    for i, line in enumerate(lines):
        m = rx.match(line)
        if not m or int(m.group(1)) != i + 1:
            return None
        out.append((int(m.group(2)), int(m.group(3))))
    return out


def ranges_ok(ranges, width, lo, hi):
    """Sorted, each exactly `width` wide, inside [lo, hi], non-overlapping, one MSB each."""
    if ranges is None:
        return False
    starts = [s for s, _ in ranges]
    return (starts == sorted(starts)
            and all(e - s == width and lo <= s and e <= hi for s, e in ranges)
            and all(ranges[i][1] < ranges[i + 1][0] for i in range(3))
            and len({s >> 24 for s, _ in ranges}) == 4
            and all(s >> 24 == e >> 24 for s, e in ranges))


def headergen_checks(h):
    """Runs headergen; returns one default set of ranges for the tunnel check."""
    first = None
    bad = []
    for i in range(20):
        r = run(h, "paniq-ctl", "headergen")
        ranges = parse_ranges(r.stdout, HEADER_LINE)
        if r.returncode != 0 or not ranges_ok(ranges, 1024, 1, 2**32 - 1):
            bad.append(r.stdout + r.stderr)
        first = first or ranges
    h.check("headergen (defaults): 20 runs, each 4 lines `      \"hN\": \"A-B\",` sorted, width "
            "1024, disjoint, distinct MSB", not bad, short(*bad[:1]))
    r = run(h, "paniq-ctl", "headergen")
    body = "{" + r.stdout.strip().rstrip(",") + "}"
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    h.check("headergen output pasted into braces is a JSON object h1..h4",
            isinstance(obj, dict) and sorted(obj) == ["h1", "h2", "h3", "h4"], short(body))
    r = run(h, "paniq-ctl", "headergen", "--json", "--distinct-msb")
    h.check("headergen --json --distinct-msb (the reference's always-on flags)",
            r.returncode == 0 and ranges_ok(parse_ranges(r.stdout, HEADER_LINE), 1024, 1, 2**32 - 1),
            short(r.stdout, r.stderr))
    lo, hi = 3 << 24, (9 << 24) + 5
    results = [run(h, "paniq-ctl", "headergen", "--width", "70000", "--min", str(lo), "--max", str(hi))
               for _ in range(10)]
    h.check("headergen --width 70000 --min 3<<24 --max (9<<24)+5: inside [min, max], 10 runs",
            all(x.returncode == 0 and ranges_ok(parse_ranges(x.stdout, HEADER_LINE), 70000, lo, hi)
                for x in results), short(results[0].stdout, results[0].stderr))
    r = run(h, "paniq-ctl", "headergen", "--json=false", "--width", "0")
    h.check("headergen --json=false --width 0: `hN=A-A` lines",
            r.returncode == 0 and ranges_ok(parse_ranges(r.stdout, PLAIN_LINE), 0, 1, 2**32 - 1),
            short(r.stdout, r.stderr))
    r = run(h, "paniq-ctl", "headergen", "--min", "1", "--max", str(4 << 24), "--width", str((1 << 24) - 2))
    h.check("headergen: the widest width that fits four buckets",
            r.returncode == 0 and ranges_ok(parse_ranges(r.stdout, HEADER_LINE), (1 << 24) - 2, 1, 4 << 24),
            short(r.stdout, r.stderr))
    for label, args, needle in [
            ("max < min + width", ["--min", "100", "--max", "1000"], "max must be >= min + width"),
            ("width >= 2^24", ["--width", str(1 << 24)], "width must be < 2^24"),
            ("fewer than 4 buckets in [min, max]", ["--max", str(3 << 24)], "fewer than 4")]:
        r = run(h, "paniq-ctl", "headergen", *args)
        h.check(f"headergen error: {label} -> exit 1, one clear line",
                r.returncode == 1 and r.stdout == "" and needle in r.stderr
                and r.stderr.count("\n") == 1, r.stderr.strip())
    r = run(h, "paniq-ctl", "headergen", "--distinct-msb=false")
    h.check("headergen --distinct-msb=false refused (exit 2)",
            r.returncode == 2 and "distinct-msb" in r.stderr, r.stderr.strip())
    r = run(h, "paniq-ctl", "headergen", "--max", "4294967296")
    h.check("headergen --max 2^32 -> usage error (exit 2)", r.returncode == 2, r.stderr.strip())
    r = run(h, "paniq-ctl", "headergen", "--help")
    h.check("headergen --help names every flag and the output format",
            r.returncode == 0 and all(f in r.stdout for f in ("--width", "--min", "--max", "--distinct-msb",
                                                              "--json", "\"h1\"")), short(r.stderr))
    return first


# ------------------------------------------------------------------------------------------------
# proxy-server max_connections


def connect_via(socks_port, target_port):
    return socks_open(socks_port, 1, atyp_ipv4("127.0.0.1"), target_port, timeout=15)


def proxy_limit_checks(h, server, socks_port, origin, held):
    """proxy-server max_connections=2 (server.control: its control socket)."""
    held_socks = []
    for i in range(2):
        s, reply = connect_via(socks_port, held.port)
        held_socks.append(s)
        h.check(f"proxy max_connections=2: CONNECT {i + 1} to a held target succeeds",
                reply[:2] == b"\x05\x00", reply.hex())
    mark = server.log_mark()
    t = time.monotonic()
    s, reply = connect_via(socks_port, held.port)
    took = time.monotonic() - t
    with s:
        h.check("proxy max_connections=2: the third CONNECT gets 05 01 at once, then a close",
                reply[:2] == b"\x05\x01" and took < 2.0 and closed_by_peer(s, 3),
                f"reply={reply.hex()} {took:.2f}s")
    h.check("proxy max_connections=2: proxy-server logged the refusal",
            "max_connections (2) reached: refusing stream" in server.read_log()[mark:])
    held_socks.pop(0).close()
    # The close has to cross the tunnel: wait until proxy-server serves one stream only.
    st = h.wait_stats(server.control, lambda st: st["active_connections"] == 1,
                      what="active_connections == 1")
    s, reply = connect_via(socks_port, origin.port)
    with s:
        body = http_get(s, "small.txt")[1] if reply[:2] == b"\x05\x00" else b""
    h.check("proxy max_connections=2: after one closes (active_connections 1), a new CONNECT is served",
            body == b"ok\n", f"reply {reply.hex()}, stats active {st['active_connections']}")
    h.wait_stats(server.control, lambda st: st["active_connections"] == 1, what="active_connections == 1")
    # A CONNECT to the held target now: the target accepts in arrival order, so when this one is
    # its third connection, the refused stream above was never dialled.
    s, reply = connect_via(socks_port, held.port)
    held_socks.append(s)
    deadline = time.monotonic() + 5
    while held.accepted < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    h.check("proxy max_connections=2: the refused stream was never dialled (the next one is the "
            "held target's third connection)", reply[:2] == b"\x05\x00" and held.accepted == 3,
            f"reply {reply.hex()}, held target accepted {held.accepted}")
    for s in held_socks:
        s.close()


def headergen_tunnel_check(h, ranges, origin, digest):
    """A fresh tunnel whose profile's h1..h4 come from headergen carries a download."""
    edits = {"obfuscation": {f"h{i + 1}": f"{s}-{e}" for i, (s, e) in enumerate(ranges)}}
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, edits=edits, name="profile-headergen.json")
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name="proxy-server-headergen")
    client = h.start_socks5d(profile, name="socks5d-headergen")
    rc, _, got, err = curl_fetch(client.port, origin.url("blob.bin"), max_time=30)
    h.check("a profile with headergen's h1..h4 carries a 1 MiB download", rc == 0 and got == digest, err)
    for p in (client, server):
        p.stop()


# ------------------------------------------------------------------------------------------------
# socks5d config file policies


def socks5d_config_checks(h, profile, origin):
    d = h.start_socks5d(profile, name="socks5d-config",
                        config={"username": "bob", "password": "pw", "max_connections": 2,
                                "accept_timeout": "1s", "log_level": "debug"})
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        sel = recv_exact(s, 2)
        h.check("config credentials: a client offering only no-auth gets 05 FF and a close",
                sel == b"\x05\xff" and closed_by_peer(s, 3), sel.hex())
    s, reply = socks_open(d.port, 1, atyp_ipv4("127.0.0.1"), origin.port, auth=(b"bob", b"pw"))
    with s:
        ok = reply[:2] == b"\x05\x00" and http_get(s, "small.txt")[1] == b"ok\n"
    h.check("config credentials: bob/pw accepted and served", ok, reply.hex())
    s, status = socks_open(d.port, 1, atyp_ipv4("127.0.0.1"), origin.port, auth=(b"bob", b"nope"))
    with s:
        h.check("config credentials: a wrong password is rejected",
                status[:1] == b"\x01" and status[1:2] != b"\x00", status.hex())

    # log_level debug: socks5d logs "(N being served)" at every accept and close.
    d.wait_served(0)  # the connections above are released
    idle = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(2)]
    t_idle = time.monotonic()
    d.wait_served(2)
    mark = d.log_mark()
    t = time.monotonic()
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as third:
        closed = closed_by_peer(third, 0.6)
    took = time.monotonic() - t
    logged = "max_connections (2) reached: closing connection" in d.read_log()[mark:]
    h.check("socks5d max_connections=2: a third connection is closed at once (before "
            "accept_timeout), logged", closed and took < 0.6 and logged, f"{took:.2f}s logged={logged}")
    closed = closed_by_peer(idle[0], 5)
    waited = time.monotonic() - t_idle
    h.check("accept_timeout 1s: a silent client is closed after ~1 s", closed and 0.5 <= waited < 3,
            f"{waited:.2f}s after connecting")
    for c in idle:
        c.close()
    d.wait_served(0)
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(b"\x05\x01\x02")
        try:
            served = recv_exact(s, 2) == b"\x05\x02"
        except (OSError, ConnectionError):
            served = False
    h.check("socks5d max_connections=2: connections are served again once the others are gone", served)
    h.check("socks5d-config exits 0 on SIGTERM", d.stop() == 0, f"rc={d.returncode}")


# ------------------------------------------------------------------------------------------------
# Command-line and start-up errors


def one_line(r):
    return r.stderr.count("\n") == 1


def cli_error_checks(h, profile, server, client):
    r = run(h, "socks5d", "--bogus", "-p", profile)
    h.check("socks5d --bogus -> exit 2, one line naming the flag",
            r.returncode == 2 and "--bogus" in r.stderr and one_line(r), r.stderr.strip())
    r = run(h, "proxy-server", "-l", "127.0.0.1:0")
    h.check("proxy-server without -p -> exit 2", r.returncode == 2 and "profile" in r.stderr and one_line(r),
            r.stderr.strip())
    r = run(h, "paniq-ctl")
    h.check("paniq-ctl without a subcommand -> exit 2", r.returncode == 2 and one_line(r), r.stderr.strip())
    r = run(h, "socks5d", "-p", h.path("missing.json"))
    h.check("socks5d: missing profile -> exit 1 naming the file",
            r.returncode == 1 and "missing.json" in r.stderr and one_line(r), r.stderr.strip())
    with open(profile) as f:
        bad = json.load(f)
    bad["obfuscation"]["h2"] = "9-3"
    bad_path = h.path("bad-profile.json")
    with open(bad_path, "w") as f:
        json.dump(bad, f)
    r = run(h, "proxy-server", "-l", "127.0.0.1:0", "-p", bad_path)
    h.check("proxy-server: bad profile field -> exit 1 naming obfuscation.h2",
            r.returncode == 1 and "obfuscation.h2" in r.stderr and "9-3" in r.stderr, r.stderr.strip())
    cfg = h.write_config("bad-config.json", {"workers": 0})
    r = run(h, "socks5d", "-l", "127.0.0.1:0", "-p", profile, "-c", cfg)
    h.check("socks5d: config workers 0 -> exit 1 naming the field",
            r.returncode == 1 and "workers" in r.stderr, r.stderr.strip())
    cfg = h.write_config("bad-duration.json", {"dial_timeout": "5h"})
    r = run(h, "proxy-server", "-l", "127.0.0.1:0", "-p", profile, "-c", cfg)
    h.check("proxy-server: config dial_timeout \"5h\" -> exit 1 naming the field",
            r.returncode == 1 and "dial_timeout" in r.stderr, r.stderr.strip())
    r = run(h, "proxy-server", "-l", f"127.0.0.1:{server.port}", "-p", profile)
    h.check("proxy-server: UDP port in use -> exit 1", r.returncode == 1 and "in use" in r.stderr,
            r.stderr.strip())
    r = run(h, "socks5d", "-l", f"127.0.0.1:{client.port}", "-p", profile)
    h.check("socks5d: TCP port in use -> exit 1", r.returncode == 1 and "in use" in r.stderr,
            r.stderr.strip())
    d_missing = h.start(
        "socks5d-missingcfg",
        [h.prog("socks5d"), "-l", "127.0.0.1:0", "-p", profile, "-c", h.path("no-such-config.json")],
        ready=r"SOCKS5 daemon listening")
    h.check("socks5d: a missing config file means defaults (starts, exits 0 on SIGTERM)",
            d_missing.alive() and d_missing.stop() == 0)
    for prog in ("socks5d", "proxy-server", "paniq-ctl"):
        r = run(h, prog, "--version")
        h.check(f"{prog} --version -> exit 0, paniq-cpp", r.returncode == 0 and "paniq-cpp" in r.stdout,
                r.stdout.strip())
        r = run(h, prog, "--help")
        h.check(f"{prog} --help -> exit 0, usage on stdout",
                r.returncode == 0 and "Usage" in r.stdout and r.stderr == "", r.stderr.strip())
    r = run(h, "paniq-ctl", "--help")
    h.check("paniq-ctl --help lists every subcommand",
            all(c in r.stdout for c in ("keygen", "headergen", "create-profile", "profile-cbor", "ping",
                                        "stats")), short(r.stderr))


def main():
    with Harness("cli_config") as h:
        root = h.path("www")
        os.makedirs(root)
        digest = write_random_file(os.path.join(root, "blob.bin"), 1 << 20)
        with open(os.path.join(root, "small.txt"), "w") as f:
            f.write("ok\n")
        origin = PyHttpOrigin(root)
        held = HeldTarget()
        try:
            ranges = headergen_checks(h)
            if ranges:
                headergen_tunnel_check(h, ranges, origin, digest)
            server, client = h.start_tunnel(server_config={"max_connections": 2,
                                                           "control_socket": h.path("proxy.sock")})
            server.control = h.path("proxy.sock")
            proxy_limit_checks(h, server, client.port, origin, held)
            socks5d_config_checks(h, h.profile, origin)
            cli_error_checks(h, h.profile, server, client)
            h.check("both daemons still running", server.alive() and client.alive())
            for p in (client, server):
                h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
        finally:
            held.stop()
            origin.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
