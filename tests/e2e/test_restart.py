#!/usr/bin/env python3
"""E2E: proxy-server killed and restarted under a running socks5d (issue #5 item 6).

Three rounds on the same UDP port: (1) SIGKILL in the middle of a rate-limited download (the
kill comes once 1 MiB of it has arrived), (2) SIGKILL while idle, (3) SIGTERM while idle. After
each restart the next request through the same socks5d must succeed within 3 s (counted from
the new server's "listening" line), and a download that was in flight when the server died must
end (error) instead of hanging.

Then (4) the fast path of a server that is gone and not restarted: SIGKILL, and a request
through a socks5d whose session was live. Its datagrams now meet a closed port, the kernel
answers ICMP port unreachable, and socks5d must end the session on that at once (log "proxy
port unreachable (ICMP)", the session closed for that reason, not by the liveness bound, which
is at least 1.5 s) and answer the SOCKS client 01 (at once, or after a retry on a new session
whose handshake fails: 1 s, 1 attempt in that socks5d's profile). The rounds above pass
through the liveness path instead: the restarted server is listening when the request is
sent, so no ICMP comes back.
Exits non-zero when a check fails. Needs PANIQ_BIN_DIR, nginx and curl.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, curl_fetch, socks_open  # noqa: E402

NEXT_REQUEST_BOUND = 3.0   # s, issue #5
IN_FLIGHT_END_BOUND = 25.0  # s: liveness bound (<= 15 s) plus margin
IN_FLIGHT_BYTES = 1 << 20  # the download counts as in flight once this much has arrived
LIVENESS_MIN = 1.5         # s, the liveness bound's floor (docs/tunnel.md "Liveness")
ICMP_WAIT = 5.0            # s: how long the log is watched for the session's end


def wait_file_size(path, size, proc, timeout=20.0):
    """True once the file at `path` holds `size` bytes (False when `proc` ends first or after
    `timeout` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if os.path.exists(path) and os.path.getsize(path) >= size:
            return True
        time.sleep(0.02)
    return False


def port_unreachable_checks(h, web, server, profile, port):
    """Round 4: the server killed and not restarted; the session ends on ICMP at once."""
    with open(profile) as f:
        prof = json.load(f)
    prof.update({"handshake_timeout": "1s", "handshake_attempts": 1})
    fast_profile = h.path("profile-fast.json")
    with open(fast_profile, "w") as f:
        json.dump(prof, f)
    client = h.start_socks5d(fast_profile, name="socks5d-icmp")
    rc, _, digest, err = curl_fetch(client.port, web.url("one.bin"), max_time=20)
    h.check("round 4: socks5d-icmp's session is up", rc == 0 and digest == web.sha256["one.bin"], err)
    server.kill()
    mark = client.log_mark()
    t0 = time.monotonic()
    s, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), web.port4, timeout=15)
    replied = time.monotonic() - t0
    s.close()
    try:
        m = client.wait_log(r"tunnel session (\d+) closed: ([^\n]*)", timeout=ICMP_WAIT, start=mark)
        closed_at = time.monotonic() - t0
    except RuntimeError:
        m, closed_at = None, None
    log = client.read_log()[mark:]
    icmp = re.search(r"tunnel session (\d+): proxy port unreachable \(ICMP\)", log)
    first = log[:m.start()] if m else log
    h.check("round 4 (SIGKILL, not restarted): the request ends the session on ICMP port unreachable",
            m is not None and icmp is not None and icmp.group(1) == m.group(1)
            and icmp.start() < m.start() and "server silent" not in first,
            f"closed: {m.group(2) if m else None!r}, ICMP line: {bool(icmp)}"
            + ("" if m and icmp else f"; log: {log.strip()[-800:]}"))
    h.check(f"round 4: ... at once, before the liveness bound could ({LIVENESS_MIN} s)",
            closed_at is not None and closed_at < LIVENESS_MIN,
            f"session closed {closed_at if closed_at is None else round(closed_at, 3)} s after the request")
    h.check("round 4: the SOCKS client gets 01 (no hang)",
            reply[:2] == b"\x05\x01" and replied < 8, f"reply {reply.hex()} after {replied:.2f} s")
    return client


def main():
    with Harness("restart") as h:
        web = h.start_nginx({"big.bin": 40 << 20, "one.bin": 1 << 20}, ipv6=False)
        port = free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(port)
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}")
        client = h.start_socks5d(profile)
        rc, _, digest, err = curl_fetch(client.port, web.url("one.bin"))
        h.check("request before any restart", rc == 0 and digest == web.sha256["one.bin"], err)

        rounds = [("SIGKILL mid-transfer", signal.SIGKILL, True),
                  ("SIGKILL while idle", signal.SIGKILL, False),
                  ("SIGTERM while idle", signal.SIGTERM, False)]
        for n, (label, sig, in_flight) in enumerate(rounds, 1):
            # A live session on the current server first, so that the restart leaves it stale.
            rc, _, digest, err = curl_fetch(client.port, web.url("one.bin"), max_time=20)
            h.check(f"round {n}: request on the current server", rc == 0 and digest == web.sha256["one.bin"], err)
            bg = None
            if in_flight:
                partial = h.path(f"in-flight-{n}.bin")
                bg = subprocess.Popen(["curl", "-sS", "--socks5-hostname", f"127.0.0.1:{client.port}",
                                       "--limit-rate", "4M", "--max-time", "60", "-o", partial,
                                       web.url("big.bin")], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
                arrived = wait_file_size(partial, IN_FLIGHT_BYTES, bg)
                h.check(f"round {n}: download in flight before the kill (1 MiB of it arrived, "
                        "still running)", arrived and bg.poll() is None,
                        f"{os.path.getsize(partial) if os.path.exists(partial) else 0} bytes")
            killed_at = time.monotonic()
            server.stop(sig=sig)
            server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name=f"proxy-server-{n}")
            ready = time.monotonic()
            rc, _, digest, err = curl_fetch(client.port, web.url("one.bin"), max_time=20)
            took = time.monotonic() - ready
            h.check(f"round {n} ({label}): next request succeeds within {NEXT_REQUEST_BOUND:.0f} s",
                    rc == 0 and digest == web.sha256["one.bin"] and took <= NEXT_REQUEST_BOUND,
                    f"rc={rc} took {took:.2f} s {err}")
            if bg is not None:
                try:
                    bg.wait(max(0.1, IN_FLIGHT_END_BOUND - (time.monotonic() - killed_at)))
                    ended = time.monotonic() - killed_at
                    h.check(f"round {n}: the in-flight download ended (not hung) after the kill",
                            bg.returncode != 0, f"curl rc={bg.returncode} after {ended:.1f} s")
                except subprocess.TimeoutExpired:
                    bg.kill()
                    bg.wait()
                    h.check(f"round {n}: the in-flight download ended (not hung) after the kill", False,
                            f"still running {IN_FLIGHT_END_BOUND:.0f} s after the kill")
                bg.stderr.close()

        h.check("socks5d kept running through the restarts", client.alive())
        icmp_client = port_unreachable_checks(h, web, server, profile, port)
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name="proxy-server-5")
        rc, _, digest, err = curl_fetch(icmp_client.port, web.url("one.bin"), max_time=20)
        h.check("round 4: after a restart the next request through socks5d-icmp succeeds",
                rc == 0 and digest == web.sha256["one.bin"], err)
        for p in (icmp_client, client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
