#!/usr/bin/env python3
"""E2E: stream limits per user and per session (docs/tunnel.md "Stream limits").

1. Per user: a proxy-server with a users file (alice, bob from `paniq-ctl add-user`; bob's entry
   carries "max_streams": 5, kept by a later add-user) and `max_streams_per_user` 20. Two
   socks5d instances of alice (phone + laptop) hold 20 idle CONNECTs to a local TCP sink
   between them; the 21st, from either, gets SOCKS reply 01 while bob's socks5d is still served.
   A burst of refusals is counted on the control socket (`refused_user_streams`, per user in
   "users") and logged with the user's name at most once a second. Closing one of alice's
   connections frees a slot (a new CONNECT succeeds). bob's own cap (5) refuses his 6th.
2. Per session: a server whose profile has kcp.max_streams 3 (the client's profile keeps the
   default, so the client does open the 4th stream): the 4th CONNECT is not served, and the
   refusal is counted (`refused_session_streams`) and logged.
Exits non-zero when a check fails.
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
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, recv_exact, socks_open  # noqa: E402
from test_encryption import wait_for  # noqa: E402
from test_limits import EchoSink  # noqa: E402

CAP = 20
BOB_CAP = 5
BURST = 40
USER_LINE = re.compile(r"rate-limited: user (\S+) reached max_streams_per_user \((\d+)\)")
SESSION_LINE = re.compile(r"reached kcp\.max_streams \((\d+)\)")


def open_conn(port, sink_port):
    """A CONNECT to the sink; returns (socket or None, SOCKS reply code or None)."""
    try:
        s, reply = socks_open(port, 1, atyp_ipv4("127.0.0.1"), sink_port, timeout=20)
    except OSError:
        return None, None
    if len(reply) < 2 or reply[1] != 0:
        s.close()
        return None, (reply[1] if len(reply) >= 2 else None)
    return s, 0


def echoes(s, b):
    """True when one byte sent on `s` comes back from the sink."""
    try:
        s.settimeout(10)
        s.sendall(b)
        return recv_exact(s, 1) == b
    except OSError:
        return False


def add_user(h, name, server_profile, users_file):
    out = h.path(f"{name}.json")
    r = subprocess.run([h.prog("paniq-ctl"), "add-user", name, "-p", server_profile, "-u", users_file,
                        "-o", out], capture_output=True, text=True, timeout=10)
    h.check(f"paniq-ctl add-user {name}", r.returncode == 0, r.stderr.strip())
    return out


def per_user(h):
    port = free_port(socket.SOCK_DGRAM)
    server_profile = h.create_profile(port, name="profile-users-server.json")
    users_file = h.path("users.json")
    alice = add_user(h, "alice", server_profile, users_file)
    bob = add_user(h, "bob", server_profile, users_file)
    # bob gets his own cap in the users file; a later add-user keeps it.
    with open(users_file) as f:
        doc = json.load(f)
    for u in doc["users"]:
        if u["name"] == "bob":
            u["max_streams"] = BOB_CAP
    with open(users_file, "w") as f:
        json.dump(doc, f)
    add_user(h, "carol", server_profile, users_file)
    with open(users_file) as f:
        kept = {u["name"]: u.get("max_streams") for u in json.load(f)["users"]}
    h.check("add-user keeps another entry's max_streams", kept == {"alice": None, "bob": BOB_CAP, "carol": None},
            json.dumps(kept))

    sock = h.path("ctl-users.sock")
    server = h.start_proxy_server(server_profile, f"127.0.0.1:{port}",
                                  config={"control_socket": sock, "users_file": users_file,
                                          "max_streams_per_user": CAP},
                                  name="proxy-server-users")
    h.check("the server logs the per-user cap", f"max_streams_per_user {CAP}" in server.read_log(),
            server.read_log()[-500:])
    phone = h.start_socks5d(alice, name="socks5d-alice-phone")
    laptop = h.start_socks5d(alice, name="socks5d-alice-laptop")
    bobd = h.start_socks5d(bob, name="socks5d-bob")
    sink = EchoSink(close_on_eof=True)
    held, refused_early = [], []
    for i in range(CAP):
        s, code = open_conn((phone if i % 2 == 0 else laptop).port, sink.port)
        if s:
            held.append(s)
        else:
            refused_early.append(code)
    wait_for(lambda: sink.accepted >= CAP, 20)
    h.check(f"alice's two socks5d hold {CAP} connections between them",
            len(held) == CAP and sink.accepted >= CAP, f"held {len(held)}, refused {refused_early}")
    st = h.ctl_stats(sock)
    a = st.get("users", {}).get("alice", {})
    h.check("the control socket shows alice's streams and two sessions",
            a.get("streams_active") == CAP and a.get("sessions_live") == 2, json.dumps(a))

    # The 21st, from either of alice's daemons: SOCKS reply 01.
    mark = server.log_mark()
    t0 = time.monotonic()
    s21, code21 = open_conn(laptop.port, sink.port)
    s22, code22 = open_conn(phone.port, sink.port)
    h.check(f"alice's {CAP + 1}st stream (either daemon) is refused with SOCKS reply 01",
            s21 is None and s22 is None and code21 == 1 and code22 == 1, f"replies {code21}, {code22}")
    # bob is served meanwhile.
    b1, bcode = open_conn(bobd.port, sink.port)
    h.check("another user's socks5d is still served", b1 is not None and echoes(b1, b"b"), f"reply {bcode}")

    # A burst of refusals: each counted, the log line at most once a second (counted from the
    # first refusal above).
    codes = []
    for i in range(BURST):
        s, code = open_conn((phone if i % 2 else laptop).port, sink.port)
        if s:
            held.append(s)
        codes.append(code)
    elapsed = time.monotonic() - t0
    st = h.ctl_stats(sock)
    lines = USER_LINE.findall(server.read_log()[mark:])
    h.check(f"a burst of {BURST} refusals: all refused with reply 01", codes.count(1) == BURST,
            f"codes {codes}")
    h.check("refused_user_streams counts every refusal", st.get("refused_user_streams") == BURST + 2,
            f"refused_user_streams {st.get('refused_user_streams')}")
    a = st.get("users", {}).get("alice", {})
    h.check("alice's own count of refusals", a.get("streams_refused") == BURST + 2, json.dumps(a))
    h.check("the refusal log line names the user and the cap",
            all(u == "alice" and c == str(CAP) for u, c in lines) and len(lines) >= 1, lines)
    h.check(f"at most one log line a second under the burst ({elapsed:.1f} s)",
            1 <= len(lines) <= int(elapsed) + 1, f"{len(lines)} lines")
    # Past the second, the next refusal is logged again and says how many were left out.
    wait_for(lambda: time.monotonic() - t0 > 1.1, 3)
    mark2 = server.log_mark()
    s, code = open_conn(phone.port, sink.port)
    if s:
        held.append(s)
    wait_for(lambda: "similar not logged" in server.read_log()[mark2:], 5)
    later = server.read_log()[mark2:]
    h.check("a refusal after the second is logged again with the count left out",
            code == 1 and USER_LINE.search(later) and "similar not logged" in later, later[-400:])

    # Closing a connection frees a slot.
    held.pop(0).close()
    freed = wait_for(lambda: h.ctl_stats(sock).get("users", {}).get("alice", {}).get("streams_active") == CAP - 1, 10)
    s, code = open_conn(phone.port, sink.port)
    h.check("closing one of alice's connections frees a slot: a new CONNECT succeeds",
            freed and s is not None and echoes(s, b"a"), f"freed={freed} reply {code}")
    if s:
        held.append(s)

    # bob's override: 5 streams, the 6th refused.
    bob_held = [b1] if b1 else []
    for _ in range(BOB_CAP - 1):
        s, _ = open_conn(bobd.port, sink.port)
        if s:
            bob_held.append(s)
    s6, code6 = open_conn(bobd.port, sink.port)
    h.check(f"bob's users-file max_streams ({BOB_CAP}) overrides the default",
            len(bob_held) == BOB_CAP and s6 is None and code6 == 1, f"held {len(bob_held)}, 6th reply {code6}")
    st = h.ctl_stats(sock)
    h.check("bob's refusal counted per user",
            st.get("users", {}).get("bob", {}).get("streams_refused") == 1, json.dumps(st.get("users")))
    for s in held + bob_held:
        s.close()
    freed = wait_for(lambda: all(u.get("streams_active", 0) == 0
                                 for u in h.ctl_stats(sock).get("users", {}).values()), 10)
    h.check("every slot is given back when the connections close", freed, json.dumps(h.ctl_stats(sock).get("users")))
    sink.close()
    for p in (phone, laptop, bobd, server):
        p.stop()


def per_session(h):
    port = free_port(socket.SOCK_DGRAM)
    client_profile = h.create_profile(port, name="profile-session-client.json")
    with open(client_profile) as f:
        prof = json.load(f)
    prof.setdefault("kcp", {})["max_streams"] = 3
    server_profile = h.path("profile-session-server.json")
    with open(server_profile, "w") as f:
        json.dump(prof, f, indent=2)
    sock = h.path("ctl-session.sock")
    server = h.start_proxy_server(server_profile, f"127.0.0.1:{port}", config={"control_socket": sock},
                                  name="proxy-server-session")
    client = h.start_socks5d(client_profile, name="socks5d-session")
    sink = EchoSink(close_on_eof=True)
    held = []
    for _ in range(3):
        s, _ = open_conn(client.port, sink.port)
        if s:
            held.append(s)
    h.check("three streams fill the session's kcp.max_streams (3)", len(held) == 3, f"held {len(held)}")
    mark = server.log_mark()
    s4, code4 = open_conn(client.port, sink.port)
    time.sleep(0.3)  # a dial the server wrongly made would have reached the sink by now
    h.check("the 4th stream of the session is not served", s4 is None and sink.accepted == 3,
            f"reply {code4}, sink accepted {sink.accepted}")
    ok = wait_for(lambda: h.ctl_stats(sock).get("refused_session_streams", 0) >= 1, 10)
    st = h.ctl_stats(sock)
    h.check("the session's refusal is counted (refused_session_streams)", ok,
            f"refused_session_streams {st.get('refused_session_streams')}")
    logged = wait_for(lambda: SESSION_LINE.search(server.read_log()[mark:]) is not None, 10)
    m = SESSION_LINE.search(server.read_log()[mark:])
    h.check("the session's refusal is logged with the cap", logged and m and m.group(1) == "3",
            server.read_log()[mark:][-500:])
    for s in held:
        s.close()
    sink.close()
    for p in (client, server):
        p.stop()


def main():
    with Harness("stream_limits") as h:
        per_user(h)
        per_session(h)
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
