#!/usr/bin/env python3
"""E2E: a 30 s network outage (PANIQ_OUTAGE_S) between socks5d and proxy-server.

tools/roam_relay.py drops every datagram both ways for the outage. Before it, a keep-alive HTTP
connection through the tunnel is left idle; during it a request is made (it may fail). After the
network returns, a request must succeed within 5 s (the tunnel comes back by itself), and the
idle connection must either carry a correct second response or be closed (EOF or reset) -- never
deliver corrupted data. Exits non-zero when a check fails.
"""
import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, curl_fetch, socks_open  # noqa: E402
from test_encryption import relay_cmd, start_roam_relay  # noqa: E402

OUTAGE_S = float(os.environ.get("PANIQ_OUTAGE_S", "30"))


def read_response(s, timeout):
    """One HTTP/1.1 response with Content-Length; returns (status, body) or raises on EOF."""
    s.settimeout(timeout)
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("closed")
        head += c
    head, _, body = head.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("closed mid-body")
        body += c
    return int(head.split()[1]), body


def main():
    with Harness("outage") as h:
        web = h.start_nginx({"small.bin": 200_000}, ipv6=False)
        port = free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(port)
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}")
        relay = start_roam_relay(h, port, "relay-outage")
        client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{relay.port}")
        rc, _, digest, err = curl_fetch(client.port, web.url("small.bin"), max_time=10)
        h.check("a request before the outage", rc == 0 and digest == web.sha256["small.bin"], err)

        idle, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), web.port4)
        req = f"GET /small.bin HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        idle.sendall(req)
        status, body = read_response(idle, 10)
        h.check("an idle keep-alive connection is open through the tunnel",
                reply[1] == 0 and status == 200 and hashlib.sha256(body).hexdigest() == web.sha256["small.bin"], "")

        relay_cmd(relay, "drop on")
        start = time.monotonic()
        rc_during, _, _, _ = curl_fetch(client.port, web.url("small.bin"), max_time=8)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - start)))  # the outage itself
        st = relay_cmd(relay, "drop off")
        back = time.monotonic()
        print(f"outage of {back - start:.1f} s: {st['outage_dropped']} datagrams dropped; "
              f"request during it: rc={rc_during}")

        served = None
        for _ in range(20):
            rc, _, digest, _ = curl_fetch(client.port, web.url("small.bin"), max_time=5)
            if rc == 0 and digest == web.sha256["small.bin"]:
                served = time.monotonic() - back
                break
        h.check("the tunnel comes back by itself within 5 s of the network returning",
                served is not None and served <= 5.0, f"{served:.2f} s" if served is not None else "never")

        outcome = "?"
        try:
            idle.sendall(req)
            status, body = read_response(idle, 10)
            ok = status == 200 and hashlib.sha256(body).hexdigest() == web.sha256["small.bin"]
            outcome = "served" if ok else f"CORRUPT (status {status}, {len(body)} bytes)"
        except (ConnectionError, OSError) as e:
            ok = True
            outcome = f"closed ({type(e).__name__})"
        h.check("the idle connection is served correctly or closed cleanly, never corrupted", ok, outcome)
        idle.close()
        for p in (client, relay, server):
            p.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
