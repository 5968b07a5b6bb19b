#!/usr/bin/env python3
"""E2E: `"server_select": "spread"` (profile `servers`), real binaries on loopback.

Two proxy-servers A and B; socks5d's profile lists both with server_select "spread".
1. 40 short downloads (SHA-256 checked) land on both servers: each server's control-socket
   streams_accepted > 0 and neither has more than 3/4 of them; socks5d's control socket shows
   a session on each server (servers[].sessions / in_use) and `paniq-ctl status` lists both
   sessions with their server addresses.
2. A UDP ASSOCIATE echo works (one stream, so one server).
3. A is killed (SIGKILL): within 3 s every request is served by B (B's streams_accepted
   counts them); at most the one request socks5d had assigned to A before it learnt that A
   is gone fails; no download is corrupted; the control socket says A failed and why.
4. A comes back on the same port: after its backoff, new streams reach A again.
Exits non-zero when a check fails.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402
from test_udp_associate import associate, exchange  # noqa: E402
from clients import atyp_ipv4, udp_header  # noqa: E402

DOWNLOADS = 40


def accepted(h, sock):
    return h.ctl_stats(sock).get("streams_accepted", 0)


def fetch_ok(client, web, max_time=10):
    """One download; (served, corrupted): corrupted = curl succeeded with the wrong bytes."""
    rc, code, digest, _ = curl_fetch(client.port, web.url("small.bin"), max_time=max_time)
    good = rc == 0 and code == 200 and digest == web.sha256["small.bin"]
    return good, rc == 0 and code == 200 and digest != web.sha256["small.bin"]


def main():
    with Harness("spread") as h:
        web = h.start_nginx({"small.bin": 50_000}, ipv6=False)
        echo = h.start_udp_echo()
        pa, pb = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(pa, edits={"servers": [f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"],
                                              "server_select": "spread"},
                                   name="profile-spread.json")
        sa, sb = h.path("ctl-a.sock"), h.path("ctl-b.sock")
        a = h.start_proxy_server(profile, f"127.0.0.1:{pa}", config={"control_socket": sa},
                                 name="proxy-server-a")
        b = h.start_proxy_server(profile, f"127.0.0.1:{pb}", config={"control_socket": sb},
                                 name="proxy-server-b")
        csock = h.path("ctl-client.sock")
        client = h.start_socks5d(profile, config={"control_socket": csock, "log_level": "debug"},
                                 name="socks5d-spread")

        # 1. Spreading.
        bad = corrupted = 0
        for _ in range(DOWNLOADS):
            ok, corrupt = fetch_ok(client, web)
            bad += not ok
            corrupted += corrupt
        h.check(f"{DOWNLOADS} downloads byte-exact", bad == 0 and corrupted == 0,
                f"{bad} failed, {corrupted} corrupted")
        na, nb = accepted(h, sa), accepted(h, sb)
        h.check("the downloads land on both servers, neither more than 3/4",
                na > 0 and nb > 0 and max(na, nb) <= DOWNLOADS * 3 // 4 and na + nb >= DOWNLOADS,
                f"A {na}, B {nb} streams")
        st = h.ctl_stats(csock)
        servers = st.get("servers", [])
        h.check("control socket: a session on each server (sessions, streams, in_use)",
                len(servers) == 2 and all(s.get("sessions") == 1 and s.get("in_use") and "streams" in s
                                          for s in servers) and st.get("sessions_active") == 2,
                json.dumps(servers))
        r = subprocess.run([h.prog("paniq-ctl"), "status", "-s", csock, "--json"], capture_output=True,
                           text=True, timeout=20)
        status = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout else {}
        peers = sorted(s.get("peer", "") for s in status.get("sessions", []))
        h.check("GetStatus lists both sessions with their servers",
                peers == sorted([f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"]) and
                status.get("totals", {}).get("sessions") == 2,
                f"rc {r.returncode} peers {peers} {r.stderr.strip()}")
        r = subprocess.run([h.prog("paniq-ctl"), "status", "-s", csock], capture_output=True,
                           text=True, timeout=20)
        h.check("paniq-ctl status shows both sessions",
                r.returncode == 0 and f"127.0.0.1:{pa}" in r.stdout and f"127.0.0.1:{pb}" in r.stdout
                and r.stdout.count("\nsession ") == 2, r.stdout + r.stderr)
        lines = [ln for ln in client.read_log().splitlines() if " of session " in ln and "-> server " in ln]
        h.check("which server each stream went to is logged, at debug level only",
                len(lines) >= DOWNLOADS and all(" debug " in ln for ln in lines),
                f"{len(lines)} lines" + (f", e.g. {lines[0]}" if lines else ""))

        # 2. UDP ASSOCIATE: one stream on one server.
        ctrl, u, relay, _ = associate(client.port)
        hdr = udp_header(atyp_ipv4("127.0.0.1"), echo.port)
        bad_udp = 0
        for i in range(10):
            payload = os.urandom(200 + i)
            bad_udp += exchange(u, relay, hdr, payload) != hdr + payload
        h.check("UDP ASSOCIATE echo: 10 datagrams byte for byte", bad_udp == 0, f"{bad_udp} bad")
        u.close()
        ctrl.close()

        # 3. A dies. socks5d learns it when it next sends to A (ICMP port unreachable on the
        # stream assigned there, or its handshake timing out): that one request may fail; from
        # then on every request goes to B. Round robin sends one of the first two to A.
        before_b = accepted(h, sb)
        os.kill(a.pid, signal.SIGKILL)
        killed = time.monotonic()
        results = []  # (ok, finished at)
        for _ in range(12):  # each bounded
            ok, corrupt = fetch_ok(client, web, max_time=4)
            corrupted += corrupt
            results.append((ok, time.monotonic() - killed))
        failed = [t for ok, t in results if not ok]
        last_fail = max(failed) if failed else 0.0
        after = [t for ok, t in results if ok and t > last_fail]
        served_from = min(after) if after else None
        h.check("after A dies, requests are all served by B within 3 s (at most one fails)",
                len(failed) <= 1 and served_from is not None and served_from <= 3.0 and len(after) >= 10,
                f"{len(failed)} failed (last at {last_fail:.2f} s), served from "
                f"{served_from if served_from is None else round(served_from, 2)} s, {len(after)} ok after")
        after_b = accepted(h, sb)
        h.check("B served every successful request after the kill, no corrupted data",
                corrupted == 0 and after_b - before_b >= sum(ok for ok, _ in results),
                f"{corrupted} corrupted, B accepted {after_b - before_b}, {sum(ok for ok, _ in results)} ok")
        st = h.ctl_stats(csock)
        servers = st.get("servers", [])
        h.check("control socket: A down and why, B in use",
                len(servers) == 2 and not servers[0]["in_use"] and servers[0]["failures"] >= 1 and
                servers[0]["last_failure"] and servers[1]["in_use"] and servers[0].get("sessions") == 0
                and st.get("server_changes", 0) >= 1,
                json.dumps(servers))

        # 4. A back: after its backoff (5 s after the first failure), streams reach A again.
        sa2 = h.path("ctl-a2.sock")
        a2 = h.start_proxy_server(profile, f"127.0.0.1:{pa}", config={"control_socket": sa2},
                                  name="proxy-server-a2")
        back = None
        start = time.monotonic()
        bad_back = 0
        for _ in range(80):  # at most ~80 x (request + 0.25 s); A's backoff is 5-10 s
            ok, corrupt = fetch_ok(client, web)
            bad_back += not ok
            corrupted += corrupt
            if accepted(h, sa2) > 0:
                back = time.monotonic() - start
                break
            time.sleep(0.25)
        h.check("A back: after its backoff new streams reach A again",
                back is not None and corrupted == 0, f"after {back:.1f} s" if back else "never")
        h.check("no request failed while A came back", bad_back == 0, f"{bad_back} failed")
        ok_a = ok_b = 0
        na0, nb0 = accepted(h, sa2), accepted(h, sb)
        for _ in range(10):
            ok, corrupt = fetch_ok(client, web)
            ok_a += ok
            corrupted += corrupt
        na1, nb1 = accepted(h, sa2), accepted(h, sb)
        h.check("then both servers share the requests again",
                ok_a == 10 and corrupted == 0 and na1 > na0 and nb1 > nb0,
                f"{ok_a}/10 ok, A +{na1 - na0}, B +{nb1 - nb0}")
        for p in (client, a2, b):
            p.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
