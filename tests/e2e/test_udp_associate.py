#!/usr/bin/env python3
"""E2E: SOCKS5 UDP ASSOCIATE through socks5d -> proxy-server (issue #5 item 6).

* 64-byte and 1400-byte datagrams to a local UDP echo (IPv4, and IPv6 when ::1 exists) and
  back, byte for byte, with the SOCKS5 UDP header naming the echo as the source;
* two associations at once stay apart;
* teardown when the TCP control connection closes: the relay port stops answering (ICMP port
  unreachable -> ECONNREFUSED), proxy-server's active_connections (control socket) goes back
  to 0 and both daemons return to their file-descriptor baseline;
* associations count towards proxy-server's max_connections (README): with 2, two held
  associations make a CONNECT and a third ASSOCIATE get 05 01; one closed, a CONNECT is served.
Every wait is on the event (relay port refusing, control-socket counters), none on a sleep.
Exits non-zero when a check fails. Needs PANIQ_BIN_DIR.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port, have_ipv6  # noqa: E402
from clients import (atyp_ipv4, atyp_ipv6, closed_by_peer, relay_address, socks_open,  # noqa: E402
                     udp_header)

COUNT = 20      # datagrams per size
RETRIES = 5     # UDP: a datagram is resent when its echo has not come back in 1 s


def associate(socks_port):
    ctrl, reply = socks_open(socks_port, 3, atyp_ipv4("0.0.0.0"), 0)
    if reply[:2] != b"\x05\x00":
        ctrl.close()
        raise RuntimeError(f"UDP ASSOCIATE refused: {reply.hex()}")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(1.0)
    return ctrl, u, relay_address(reply), reply


def exchange(u, relay, header, payload):
    """Sends header+payload to the relay until the same bytes come back (or RETRIES); returns
    what came back last (b"" when nothing)."""
    got = b""
    for _ in range(RETRIES):
        u.sendto(header + payload, relay)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                got, _ = u.recvfrom(65535)
            except socket.timeout:
                break
            if got == header + payload:
                return got
    return got


def run_sizes(h, u, relay, header, label):
    for size in (64, 1400):
        bad = 0
        detail = ""
        for _ in range(COUNT):
            payload = os.urandom(size)
            got = exchange(u, relay, header, payload)
            if got != header + payload:
                bad += 1
                detail = f"last mismatch: sent {len(header) + size} bytes, got {len(got)}: {got[:24].hex()}"
        h.check(f"UDP {label}: {COUNT} x {size}-byte datagrams echoed byte for byte", bad == 0,
                f"{bad} bad; {detail}" if bad else "")


def relay_refuses(relay, timeout=3.0):
    """True when the relay port answers with ECONNREFUSED (socket closed) within `timeout` s."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.connect(relay)
        s.settimeout(0.1)
        while time.monotonic() < deadline:
            try:
                s.send(b"\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x09probe")
                s.recv(65535)
            except ConnectionRefusedError:
                return True
            except socket.timeout:
                pass
    return False


def wait_fds(procs, want, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        now = [p.fd_count() for p in procs]
        if all(n <= w for n, w in zip(now, want)) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def max_connections_checks(h, echo):
    """proxy-server max_connections counts UDP ASSOCIATE streams with the CONNECT ones."""
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, name="profile-limit.json")
    sock = h.path("limit.sock")
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name="proxy-server-limit",
                                  config={"max_connections": 2, "control_socket": sock})
    client = h.start_socks5d(profile, name="socks5d-limit")
    target = socket.socket()  # a TCP target: the kernel completes the connects (backlog 16)
    target.bind(("127.0.0.1", 0))
    target.listen(16)
    hdr = udp_header(atyp_ipv4("127.0.0.1"), echo.port)
    assocs = []
    try:
        for i in range(2):
            ctrl, u, relay, _ = associate(client.port)
            assocs.append((ctrl, u))
            got = exchange(u, relay, hdr, b"held %d" % i)
            h.check(f"max_connections=2: association {i + 1} carries datagrams", got == hdr + b"held %d" % i)
        st = h.wait_stats(sock, lambda st: st["active_connections"] == 2, what="active_connections == 2")
        h.check("max_connections=2: proxy-server counts the two associations as active_connections",
                st["active_connections"] == 2)
        s, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), target.getsockname()[1], timeout=15)
        with s:
            h.check("max_connections=2 with two associations: a CONNECT gets 05 01, then a close",
                    reply[:2] == b"\x05\x01" and closed_by_peer(s, 3), reply.hex())
        s, reply = socks_open(client.port, 3, atyp_ipv4("0.0.0.0"), 0, timeout=15)
        with s:
            h.check("max_connections=2 with two associations: a third ASSOCIATE gets 05 01",
                    reply[:2] == b"\x05\x01" and closed_by_peer(s, 3), reply.hex())
        ctrl, u = assocs.pop(0)
        ctrl.close()
        u.close()
        h.wait_stats(sock, lambda st: st["active_connections"] == 1, what="active_connections == 1")
        s, reply = socks_open(client.port, 1, atyp_ipv4("127.0.0.1"), target.getsockname()[1], timeout=15)
        s.close()
        h.check("max_connections=2: one association closed (active_connections 1), a CONNECT is served",
                reply[:2] == b"\x05\x00", reply.hex())
    finally:
        for ctrl, u in assocs:
            ctrl.close()
            u.close()
        target.close()
    for p in (client, server):
        h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")


def main():
    with Harness("udp_associate") as h:
        v6 = have_ipv6()
        echo = h.start_udp_echo()
        echo6 = h.start_udp_echo("[::1]:0", name="udp-echo6") if v6 else None
        sock = h.path("proxy.sock")
        server, client = h.start_tunnel(server_config={"control_socket": sock})

        # Warm-up: the first association also brings the tunnel up (socks5d's UDP socket). Its
        # teardown is over when its relay port refuses (socks5d) and proxy-server serves no
        # stream any more (its association socket is closed before that count drops).
        ctrl, u, relay, _ = associate(client.port)
        exchange(u, relay, udp_header(atyp_ipv4("127.0.0.1"), echo.port), b"warm-up")
        ctrl.close()
        u.close()
        h.check("warm-up association torn down (relay port closed, proxy active_connections 0)",
                relay_refuses(relay) and h.wait_stats(sock, lambda st: st["active_connections"] == 0,
                                                      what="active_connections == 0"))
        base = [client.fd_count(), server.fd_count()]

        ctrl, u, relay, reply = associate(client.port)
        h.check("ASSOCIATE reply: 05 00 00 01 127.0.0.1 <port>",
                reply[:8] == b"\x05\x00\x00\x01\x7f\x00\x00\x01" and relay[1] != 0, reply.hex())
        run_sizes(h, u, relay, udp_header(atyp_ipv4("127.0.0.1"), echo.port), "IPv4 target")
        if echo6:
            run_sizes(h, u, relay, udp_header(atyp_ipv6("::1"), echo6.port), "IPv6 target [::1]")
        else:
            print("SKIP IPv6 UDP target: no ::1")

        # A second association at the same time: each gets only its own answers.
        ctrl2, u2, relay2, _ = associate(client.port)
        hdr = udp_header(atyp_ipv4("127.0.0.1"), echo.port)
        a = exchange(u, relay, hdr, b"first association")
        b = exchange(u2, relay2, hdr, b"second association")
        stray = b""
        try:
            u.settimeout(0.3)
            stray, _ = u.recvfrom(65535)
        except socket.timeout:
            pass
        h.check("two associations at once stay apart", relay2 != relay and a == hdr + b"first association"
                and b == hdr + b"second association" and stray == b"", f"stray={stray[:30]!r}")
        ctrl2.close()
        u2.close()

        # Teardown: closing the control connection ends the association on both daemons.
        during = [client.fd_count(), server.fd_count()]
        h.check("an association holds a socket on each daemon", during[0] > base[0] and during[1] > base[1],
                f"baseline {base}, during {during}")
        ctrl.close()
        h.check("relay port closed after the control connection closed", relay_refuses(relay))
        st = h.wait_stats(sock, lambda st: st["active_connections"] == 0, what="active_connections == 0")
        h.check("proxy-server's association ended (active_connections 0)", st["active_connections"] == 0)
        now = wait_fds([client, server], base)
        h.check("socks5d and proxy-server back to their fd baseline", now[0] <= base[0] and now[1] <= base[1],
                f"baseline {base}, now {now}")
        u.close()

        # And a fresh association works afterwards.
        ctrl, u, relay, _ = associate(client.port)
        got = exchange(u, relay, hdr, b"after teardown")
        h.check("a new association after teardown works", got == hdr + b"after teardown", got[:40].hex())
        ctrl.close()
        u.close()
        for p in (client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
        max_connections_checks(h, echo)
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
