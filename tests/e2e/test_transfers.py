#!/usr/bin/env python3
"""E2E: HTTP downloads from a scratch nginx through socks5d -> proxy-server (issue #5 item 6).

* a 100 MiB random body, verified by SHA-256;
* 100 parallel 1 MiB downloads (100 distinct random files, so crossed streams would show);
  both through an encrypted pair (the profile from `paniq-ctl create-profile` requires the
  encrypted transport, docs/protocol.md 7; both daemons must log it);
* an IPv6 target ([::1]) and a domain-name target (`localhost`, resolved by proxy-server);
* the SOCKS success reply echoes the requested address (IPv4, IPv6, domain form).
Exits non-zero when a check fails. Needs PANIQ_BIN_DIR, nginx and curl.
"""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, have_ipv6, sha256_file  # noqa: E402
from clients import (atyp_domain, atyp_ipv4, atyp_ipv6, curl_fetch, curl_parallel,  # noqa: E402
                     http_get, socks_open)

BIG = 100 << 20
SMALL = 1 << 20
PARALLEL = 100


def main():
    with Harness("transfers") as h:
        files = {"big.bin": BIG, "mid.bin": 4 << 20}
        files.update({f"p{i:03d}.bin": SMALL for i in range(PARALLEL)})
        web = h.start_nginx(files)
        server, client = h.start_tunnel()

        rc, code, digest, err = curl_fetch(client.port, web.url("big.bin"), max_time=120)
        h.check("100 MiB body via 127.0.0.1, SHA-256", rc == 0 and code == 200 and
                digest == web.sha256["big.bin"], f"rc={rc} {err}")

        names = [f"p{i:03d}.bin" for i in range(PARALLEL)]
        outs = [h.path(f"out-{n}") for n in names]
        rc, wall, err = curl_parallel(client.port, [web.url(n) for n in names], outs)
        bad = [n for n, o in zip(names, outs)
               if not os.path.exists(o) or sha256_file(o) != web.sha256[n]]
        h.check(f"{PARALLEL} parallel 1 MiB downloads, SHA-256 each", rc == 0 and not bad,
                f"rc={rc} wall={wall:.2f}s bad={bad[:5]} {err[-500:]}")
        h.check("the pair ran encrypted (both daemons say so)",
                "encrypted)" in client.read_log() and
                ("encrypted aes-256-gcm" in server.read_log() or
                 "encrypted chacha20-poly1305" in server.read_log()), "")

        if web.port6:
            rc, code, digest, err = curl_fetch(client.port, web.url("mid.bin", "::1"))
            h.check("IPv6 target [::1]", rc == 0 and digest == web.sha256["mid.bin"], f"rc={rc} {err}")
        else:
            print("SKIP IPv6 target: no ::1 on this machine")

        rc, code, digest, err = curl_fetch(client.port, web.url("mid.bin", "localhost"))
        h.check("domain target localhost", rc == 0 and digest == web.sha256["mid.bin"], f"rc={rc} {err}")

        # Raw SOCKS5 clients: the reply echoes the requested target; the body arrives whole.
        targets = [("ipv4", atyp_ipv4("127.0.0.1"), web.port4),
                   ("domain", atyp_domain("localhost"), web.port4)]
        if web.port6 and have_ipv6():
            targets.append(("ipv6", atyp_ipv6("::1"), web.port6))
        for label, addr, port in targets:
            s, reply = socks_open(client.port, 1, addr, port)
            with s:
                want = b"\x05\x00\x00" + addr + port.to_bytes(2, "big")
                status, body = http_get(s, "mid.bin") if reply[:2] == b"\x05\x00" else (0, b"")
            h.check(f"raw CONNECT {label}: reply echoes target, body intact",
                    reply == want and status == 200 and
                    hashlib.sha256(body).hexdigest() == web.sha256["mid.bin"],
                    f"reply={reply.hex()} status={status} len={len(body)}")

        h.check("both daemons still running", server.alive() and client.alive())
        for p in (client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
