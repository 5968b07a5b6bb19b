#!/usr/bin/env python3
"""E2E: socks5d's `fast_connect` extension (docs/protocol.md, "fast connect").

With `"fast_connect": true` in the socks5d config, CONNECT is answered with success as soon as
the tunnel stream is open and the stream-open request travels with the application's first
bytes; the proxy's reply byte is checked by the relay. Checks:

* a 5 MiB download through curl is byte-exact (SHA-256), and so is a small one with the HTTP
  request pipelined right behind the SOCKS request (early data);
* a refused target (a closed port) and a name that does not resolve: success reply, then the
  connection is reset or closed without a single byte of data;
* the same socks5d keeps serving afterwards, and a socks5d without the option still answers a
  refused target with reply 0x05 (the default keeps the error codes).
Exits non-zero when a check fails. Needs PANIQ_BIN_DIR and nginx (PANIQ_NGINX).
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import (atyp_domain, atyp_ipv4, closed_by_peer, curl_fetch, read_socks_reply,  # noqa: E402
                     recv_all, recv_exact, socks_open)


def data_before_close(s, timeout=5.0):
    """Bytes received before the peer closed or reset `s` (None: still open after timeout)."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        return got
    except socket.timeout:
        return None


def main():
    with Harness("fast_connect") as h:
        web = h.start_nginx({"5m.bin": 5 << 20}, ipv6=False)
        server, fast = h.start_tunnel(client_config={"fast_connect": True})
        plain = h.start_socks5d(h.profile, config={"fast_connect": False}, name="socks5d-plain")

        rc, _code, digest, err = curl_fetch(fast.port, web.url("5m.bin"))
        h.check("5 MiB via fast_connect is byte-exact", rc == 0 and digest == web.sha256["5m.bin"], err)

        # Pipelined: greeting, request and HTTP GET in one send, before any reply.
        s = socket.create_connection(("127.0.0.1", fast.port), timeout=10)
        with s:
            s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00" + atyp_ipv4("127.0.0.1") +
                      struct.pack(">H", web.port4) + b"GET /small.txt HTTP/1.0\r\nHost: x\r\n\r\n")
            sel = recv_exact(s, 2)
            reply = read_socks_reply(s)
            body = recv_all(s)
        h.check("pipelined request: success reply, then the HTTP answer",
                sel == b"\x05\x00" and reply[:2] == b"\x05\x00" and body.endswith(b"\r\n\r\nok\n"),
                f"{sel.hex()} {reply.hex()} {body[-40:]!r}")

        closed = free_port()  # nothing listens there
        s, reply = socks_open(fast.port, 1, atyp_ipv4("127.0.0.1"), closed)
        with s:
            got = data_before_close(s)
        h.check("refused target: early success, then closed without data",
                reply[:2] == b"\x05\x00" and got == b"", f"{reply.hex()} {got!r}")

        s, reply = socks_open(fast.port, 1, atyp_domain("no-such-host.invalid"), 80)
        with s:
            got = data_before_close(s, timeout=15)
        h.check("unresolvable name: early success, then closed without data",
                reply[:2] == b"\x05\x00" and got == b"", f"{reply.hex()} {got!r}")

        rc, _code, digest, err = curl_fetch(fast.port, web.url("5m.bin"))
        h.check("still serving after the failures", rc == 0 and digest == web.sha256["5m.bin"], err)

        s, reply = socks_open(plain.port, 1, atyp_ipv4("127.0.0.1"), closed)
        with s:
            h.check("without fast_connect a refused target gets reply 0x05",
                    reply[:2] == b"\x05\x05" and closed_by_peer(s), reply.hex())
        h.check("both daemons alive", server.alive() and fast.alive() and plain.alive())
    sys.exit(h.exit_code)


if __name__ == "__main__":
    main()
