#!/usr/bin/env python3
"""E2E: SOCKS5 authentication, every SOCKS5 error reply code, and garbage on the SOCKS port
(issue #5 item 6).

Runs itself inside a private network namespace (harness.netns_reexec: only lo, plus a
"prohibit" and an "unreachable" route) so that every code can be provoked without a packet
leaving the machine:

  01 general failure     socks5d whose proxy-addr has no proxy-server (handshake fails)
  02 not allowed         a target behind a prohibit route (connect -> EACCES)
  03 network unreachable a target without a route (netns), a multicast address (anywhere)
  04 host unreachable    a target behind an unreachable route; the name nonexistent.invalid
  05 refused             a closed port on 127.0.0.1
  06 TTL expired         a listener with a full accept queue, proxy-server dial_timeout 1s
  07 command unsupported BIND, and an unknown command
  08 address type        ATYP 0x05

Without namespaces (no unshare / ip), 02 and the route-based 03/04 cases and the name lookup
(which could leave the machine) are reported as SKIP. Exits non-zero when a check fails.
"""
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOOPBACK_TARGETS, Harness, free_port, have_ipv6, netns_reexec,  # noqa: E402
                     write_random_file)
from clients import (PyHttpOrigin, atyp_domain, atyp_ipv4, atyp_ipv6, closed_by_peer,  # noqa: E402
                     curl_fetch, http_get, socks_open)

CODE_NAMES = {1: "general failure", 2: "not allowed", 3: "network unreachable",
              4: "host unreachable", 5: "connection refused", 6: "TTL expired / timeout",
              7: "command not supported", 8: "address type not supported"}


def unanswering_target():
    """A 127.0.0.1 listener whose accept queue is full: further SYNs are dropped, so a connect
    never completes. Returns (listener, fillers, port); keep them open while in use."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fillers = []
    for _ in range(16):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
        _, w, _ = select.select([], [c], [], 0.3)
        if not w:
            return lst, fillers, port
    raise RuntimeError("could not fill the accept queue of a loopback listener")


def expect_code(h, socks_port, label, code, cmd, addr, port, max_s=None):
    """One request; checks the reply is 05 <code> and that socks5d then closes."""
    t = time.monotonic()
    try:
        s, reply = socks_open(socks_port, cmd, addr, port, timeout=15)
    except (OSError, ConnectionError) as e:
        h.check(f"{code:02x} {CODE_NAMES[code]}: {label}", False, f"no reply: {e}")
        return
    took = time.monotonic() - t
    with s:
        closed = closed_by_peer(s, 3.0)
    ok = reply[:2] == bytes([5, code]) and closed and (max_s is None or took <= max_s)
    h.check(f"{code:02x} {CODE_NAMES[code]}: {label}", ok,
            f"reply={reply.hex()} closed={closed} {took:.2f}s")


def auth_checks(h, profile, origin):
    authd = h.start_socks5d(profile, user="alice", password="s3cret", name="socks5d-auth")
    target = (atyp_ipv4("127.0.0.1"), origin.port)
    s, reply = socks_open(authd.port, 1, *target, auth=(b"alice", b"s3cret"))
    with s:
        status, body = http_get(s, "small.txt") if reply[:2] == b"\x05\x00" else (0, b"")
    h.check("auth: right username/password accepted, request served",
            reply[:2] == b"\x05\x00" and status == 200 and body == b"ok\n", reply.hex())
    s, status = socks_open(authd.port, 1, *target, auth=(b"alice", b"wrong"))
    with s:
        h.check("auth: wrong password rejected (01 <non-zero>) and closed",
                len(status) == 2 and status[0] == 1 and status[1] != 0 and closed_by_peer(s, 3),
                status.hex())
    s, status = socks_open(authd.port, 1, *target, auth=(b"mallory", b"s3cret"))
    with s:
        h.check("auth: wrong username rejected", status[:1] == b"\x01" and status[1:2] != b"\x00",
                status.hex())
    s, sel = socks_open(authd.port, 1, *target)  # offers only "no authentication"
    with s:
        h.check("auth: a client without credentials gets 05 FF and a close",
                sel == b"\x05\xff" and closed_by_peer(s, 3), sel.hex())
    rc, _, _, err = curl_fetch(authd.port, origin.url("small.txt"), max_time=20,
                               extra=("--proxy-user", "alice:s3cret"))
    h.check("auth: curl with --proxy-user", rc == 0, err)

    # Credentials from the daemon config file (used when -u/-a are absent).
    # log_level debug: socks5d logs "(N being served)" at every accept and close, which the
    # max_connections check below waits on.
    cfgd = h.start_socks5d(profile, name="socks5d-cfgauth",
                           config={"username": "bob", "password": "pw", "max_connections": 2,
                                   "log_level": "debug"})
    s, reply = socks_open(cfgd.port, 1, *target, auth=(b"bob", b"pw"))
    with s:
        ok = reply[:2] == b"\x05\x00" and http_get(s, "small.txt")[1] == b"ok\n"
    h.check("auth: username/password from the config file", ok, reply.hex())
    # max_connections = 2: two idle connections (served: socks5d logged them), the third is
    # closed at once.
    cfgd.wait_served(0)  # the request above is over
    idle = [socket.create_connection(("127.0.0.1", cfgd.port), timeout=5) for _ in range(2)]
    cfgd.wait_served(2)
    mark = cfgd.log_mark()
    with socket.create_connection(("127.0.0.1", cfgd.port), timeout=5) as third:
        closed = closed_by_peer(third, 2)
    logged = "max_connections (2) reached: closing connection" in cfgd.read_log()[mark:]
    h.check("max_connections=2: a third connection is closed at once (and logged)", closed and logged,
            f"closed={closed} logged={logged}")
    for c in idle:
        c.close()


def error_code_checks(h, socks_port, profile, in_netns):
    v4 = atyp_ipv4
    # 01: a socks5d whose proxy does not exist; handshake 1 s x 1 attempt.
    dead = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
                           name="socks5d-deadproxy")
    expect_code(h, dead.port, "no proxy-server behind socks5d", 1, 1, v4("127.0.0.1"), 80, max_s=8)
    if in_netns:
        expect_code(h, socks_port, "prohibit route 198.51.100.1 (EACCES)", 2, 1, v4("198.51.100.1"), 80)
        expect_code(h, socks_port, "no route to 192.0.2.1", 3, 1, v4("192.0.2.1"), 80)
        if have_ipv6():
            expect_code(h, socks_port, "prohibit route 2001:db8::1", 2, 1, atyp_ipv6("2001:db8::1"), 80)
            expect_code(h, socks_port, "unreachable route 2001:db8::2", 4, 1, atyp_ipv6("2001:db8::2"), 80)
        expect_code(h, socks_port, "unreachable route 198.51.100.2", 4, 1, v4("198.51.100.2"), 80)
        expect_code(h, socks_port, "name nonexistent.invalid", 4, 1, atyp_domain("nonexistent.invalid"), 80)
    else:
        print("SKIP 02 not allowed, 03 by route, 04 (route and name): no network namespace here")
    expect_code(h, socks_port, "TCP to multicast 224.0.0.1", 3, 1, v4("224.0.0.1"), 80)
    expect_code(h, socks_port, "closed port on 127.0.0.1", 5, 1, v4("127.0.0.1"), free_port())
    lst, fillers, port = unanswering_target()
    try:
        expect_code(h, socks_port, "target never answers, dial_timeout 1s", 6, 1, v4("127.0.0.1"), port,
                    max_s=4)
    finally:
        for c in fillers:
            c.close()
        lst.close()
    expect_code(h, socks_port, "BIND", 7, 2, v4("127.0.0.1"), 80)
    expect_code(h, socks_port, "unknown command 0x09", 7, 9, v4("127.0.0.1"), 80)
    expect_code(h, socks_port, "ATYP 0x05", 8, 1, b"\x05" + bytes(4), 80)


GARBAGE = [
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"\x04\x01\x00\x50\x7f\x00\x00\x01user\x00",            # SOCKS4
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # TLS ClientHello start
    b"\x05\x00",                                          # no methods offered
    b"\x05\x01\x00\x06\x01\x00\x01" + bytes(6),             # request with VER 6
    b"\x05\x01\x00\x05\x01\x00\x03\xff" + b"a" * 10,        # truncated domain then silence
]


def garbage_checks(h, socks_port, origin, digest):
    """Garbage connections while a download loop runs; every garbage connection must be closed
    (EOF or reset, no hang), every download must succeed."""
    results = []
    stop = threading.Event()

    def downloads():
        while not stop.is_set():
            results.append(curl_fetch(socks_port, origin.url("blob.bin"), max_time=30)[2] == digest)

    t = threading.Thread(target=downloads, daemon=True)
    t.start()
    unclean = []
    for round_ in range(5):
        blobs = GARBAGE + [os.urandom(1000 + round_), b""]
        for i, blob in enumerate(blobs):
            with socket.create_connection(("127.0.0.1", socks_port), timeout=5) as s:
                if blob:
                    try:
                        s.sendall(blob)
                    except OSError:
                        pass
                # accept_timeout is 1 s: even a silent / half-sent client is closed by then.
                if not closed_by_peer(s, 4.0):
                    unclean.append(i)
    stop.set()
    t.join(60)
    h.check("garbage on the SOCKS port: every connection closed cleanly", not unclean,
            f"not closed: {unclean}")
    h.check("other clients kept working during the garbage", results and all(results),
            f"{results.count(True)}/{len(results)} downloads intact")
    rc, _, got, err = curl_fetch(socks_port, origin.url("blob.bin"))
    h.check("a download after the garbage", rc == 0 and got == digest, err)


def main():
    in_netns = netns_reexec()
    print(f"network namespace: {'private (lo only)' if in_netns else 'host (some codes skipped)'}")
    with Harness("socks_errors") as h:
        root = h.path("www")
        os.makedirs(root)
        digest = write_random_file(os.path.join(root, "blob.bin"), 2 << 20)
        with open(os.path.join(root, "small.txt"), "w") as f:
            f.write("ok\n")
        origin = PyHttpOrigin(root)
        try:
            server, client = h.start_tunnel(
                profile_edits={"handshake_timeout": "1s", "handshake_attempts": 1},
                # 224.0.0.1 is opened so that the dial itself fails with 03 (the egress policy
                # would answer 02 first; test_egress.py covers that).
                server_config={"dial_timeout": "1s",
                               "allow_targets": LOOPBACK_TARGETS + ["224.0.0.1:80"]},
                client_config={"accept_timeout": "1s"})
            auth_checks(h, h.profile, origin)
            error_code_checks(h, client.port, h.profile, in_netns)
            garbage_checks(h, client.port, origin, digest)
            h.check("both daemons still running", server.alive() and client.alive())
            for p in (client, server):
                h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
        finally:
            origin.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
