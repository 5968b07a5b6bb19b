#!/usr/bin/env python3
"""E2E: proxy-server killed and restarted under a running socks5d (issue #5 item 6).

Three rounds on the same UDP port: (1) SIGKILL in the middle of a rate-limited download,
(2) SIGKILL while idle, (3) SIGTERM while idle. After each restart the next request through the
same socks5d must succeed within 3 s (counted from the new server's "listening" line), and a
download that was in flight when the server died must end (error) instead of hanging.
Exits non-zero when a check fails. Needs PANIQ_BIN_DIR, nginx and curl.
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402

NEXT_REQUEST_BOUND = 3.0   # s, issue #5
IN_FLIGHT_END_BOUND = 25.0  # s: liveness bound (<= 15 s) plus margin


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
                bg = subprocess.Popen(["curl", "-sS", "--socks5-hostname", f"127.0.0.1:{client.port}",
                                       "--limit-rate", "4M", "--max-time", "60", "-o", os.devnull,
                                       web.url("big.bin")], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
                time.sleep(1.5)
                h.check(f"round {n}: download in flight before the kill", bg.poll() is None)
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
        for p in (client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
