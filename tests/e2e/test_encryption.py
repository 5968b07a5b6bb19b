#!/usr/bin/env python3
"""E2E: the encrypted transport between paniq-cpp ends (docs/protocol.md 7), real binaries.

1. Rebinding: tools/roam_relay.py sits between socks5d and proxy-server like a NAT. During a
   40 MiB download it changes its upstream source port, then its address (127.0.0.2); then it
   replays captured client datagrams from a third address (127.0.0.3). The download must
   complete byte-exact (SHA-256) with no stall longer than 1 s (encrypted mode), the server must
   report two moves and no third one. Plain mode runs the same and reports its own stall.
2. What an observer sees: the relay records 10 000 server->client transport datagrams of one
   session (a file of zeros, the least random payload there is); for every byte position after
   the H4 header the values must pass a chi-square test against uniform. The same recording of a
   plain-mode session must fail it.
3. Compatibility: a "preferred" client against a server with encryption off runs plain mode; a
   server that requires encryption is silent to a plain client (and counts it).
4. Rekeying: a 40 MiB download with rekey_interval lowered to 200 ms; the server's counters
   show at least three key changes each way.
5. Users: two users from `paniq-ctl add-user`, each downloading through their own socks5d;
   `paniq-ctl revoke-user alice` and SIGHUP: alice's transfer stops within about a second,
   bob's completes byte-exact; the control socket counts sessions and bytes per user.
Exits non-zero when a check fails.
"""
import hashlib
import json
import math
import os
import signal
import socket
import statistics as statistics_module
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_ipv4, curl_fetch, socks_open  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools")
MIB = 1 << 20
BIG = 40 * MIB


class Download(threading.Thread):
    """GET /name through SOCKS, hashing the body; records progress and the longest gap between
    two received chunks once the body started."""

    def __init__(self, socks_port, web_port, name, rate_limit=None):
        super().__init__(daemon=True)
        self.socks_port, self.web_port, self.name_ = socks_port, web_port, name
        self.got = 0
        self.digest = None
        self.error = None
        self.longest_gap = 0.0
        self.last = None
        self.rate = rate_limit  # bytes/s the reader takes at most (None: as fast as it can)
        self.done = threading.Event()

    def run(self):
        h = hashlib.sha256()
        try:
            s, reply = socks_open(self.socks_port, 1, atyp_ipv4("127.0.0.1"), self.web_port, timeout=30)
            if reply[1] != 0:
                raise RuntimeError(f"SOCKS reply {reply[1]}")
            s.sendall(f"GET /{self.name_} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                c = s.recv(65536)
                if not c:
                    raise RuntimeError("closed before the body")
                head += c
            _, _, body = head.partition(b"\r\n\r\n")
            self.last = time.monotonic()
            self.got += len(body)
            h.update(body)
            start = time.monotonic()
            while True:
                c = s.recv(1 << 16)
                if not c:
                    break
                now = time.monotonic()
                if self.rate and self.got > self.rate * (now - start):
                    time.sleep(self.got / self.rate - (now - start))
                    now = time.monotonic()
                self.longest_gap = max(self.longest_gap, now - self.last)
                self.last = now
                self.got += len(c)
                h.update(c)
            self.digest = h.hexdigest()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.done.set()


def relay_cmd(relay, cmd):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(5)
    c.sendto(cmd.encode(), ("127.0.0.1", relay.control))
    data, _ = c.recvfrom(65535)
    c.close()
    return json.loads(data)


def start_roam_relay(h, upstream_port, name, record=None, direction="down"):
    argv = [sys.executable, os.path.join(TOOLS, "roam_relay.py"), "--upstream",
            f"127.0.0.1:{upstream_port}"]
    if record:
        argv += ["--record", record, "--record-direction", direction]
    p = h.start(name, argv, ready=r"listening on")
    p.control = int(p.read_log().split("control ")[1].split()[0])
    return p



def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def rebinding(h, web, encryption):
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, edits={"obfuscation": {"encryption": encryption}},
                               name=f"profile-{encryption}.json")
    sock = h.path(f"ctl-{encryption}.sock")
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", config={"control_socket": sock},
                                  name=f"proxy-server-{encryption}")
    relay = start_roam_relay(h, port, f"relay-{encryption}")
    client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{relay.port}", name=f"socks5d-{encryption}")
    d = Download(client.port, web.port4, "big.bin")
    d.start()
    steps = [(BIG // 4, "rebind-port"), (BIG // 2, "rebind-addr")]
    for at, cmd in steps:
        if not wait_for(lambda: d.got >= at or d.done.is_set(), 60):
            break
        relay_cmd(relay, cmd)
    wait_for(lambda: d.got >= 3 * BIG // 4 or d.done.is_set(), 60)
    for n in (20, 40, 60, 80):
        relay_cmd(relay, f"replay {n}")
    d.done.wait(120)
    st = h.ctl_stats(sock)
    roamed = st.get("sessions_roamed")
    label = f"[{encryption}]"
    h.check(f"{label} 40 MiB download across a port change and an address change, SHA-256",
            d.digest == web.sha256["big.bin"], f"got {d.got} bytes, error {d.error}")
    h.check(f"{label} the server followed the client twice, and the replays from a third address "
            "moved nothing", roamed == 2, f"sessions_roamed {roamed}")
    print(f"{label} longest stall during the download: {d.longest_gap * 1000:.0f} ms")
    if encryption == "required":
        h.check(f"{label} no stall longer than 1 s", d.longest_gap < 1.0, f"{d.longest_gap * 1000:.0f} ms")
    else:
        h.check(f"{label} stall bounded (plain mode moves after 3 plausible datagrams)",
                d.longest_gap < 2.0, f"{d.longest_gap * 1000:.0f} ms")
    for p in (client, relay, server):
        p.stop()


def rekeying(h, web):
    """A download across many key changes (rekey_interval lowered to 200 ms for the test)."""
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, edits={"obfuscation": {"rekey_interval": "200ms"}},
                               name="profile-rekey.json")
    sock = h.path("ctl-rekey.sock")
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", config={"control_socket": sock},
                                  name="proxy-server-rekey")
    client = h.start_socks5d(profile, name="socks5d-rekey")
    d = Download(client.port, web.port4, "big.bin", rate_limit=25e6)  # ~1.7 s
    d.start()
    d.done.wait(60)
    st = h.ctl_stats(sock)
    h.check("40 MiB across the rekeys of a 200 ms interval, SHA-256",
            d.digest == web.sha256["big.bin"], f"got {d.got} {d.error}")
    h.check("the server replaced its send key and followed the client's at least 3 times each",
            st.get("rekeys_sent", 0) >= 3 and st.get("rekeys_received", 0) >= 3,
            f"rekeys_sent {st.get('rekeys_sent')}, rekeys_received {st.get('rekeys_received')}")
    client.stop()
    server.stop()


def chi_square_critical(df, p):
    """The chi-square value exceeded with probability p at df degrees of freedom
    (Wilson-Hilferty)."""
    z = statistics_module.NormalDist().inv_cdf(1 - p)
    a = 2 / (9 * df)
    return df * (1 - a + z * math.sqrt(a)) ** 3


def chi_square_positions(path, skip, count=10000):
    """Per byte position after `skip`: chi-square of the values against uniform over the
    recorded datagrams long enough to have it (positions with fewer than 1280 samples are not
    judged).

    Two tests, both at a false-alarm rate of about one in a million runs:
    - per position, against a critical value corrected for the number of positions judged
      (Bonferroni), so that ~1300 positions at 1e-6 each (a false alarm in one run of ~770)
      do not fail CI by chance;
    - over all positions, the sum of the statistics against its expectation (255 per position,
      variance 510), which finds a small bias spread over many positions that no single one
      shows.
    Returns (positions judged, positions over the critical value, worst, datagrams, z of the sum)."""
    datagrams = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 2 <= len(data) and len(datagrams) < count:
        (n,) = struct.unpack(">H", data[pos:pos + 2])
        datagrams.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    longest = max(len(d) for d in datagrams)
    counts = [[0] * 256 for _ in range(longest - skip)]
    for d in datagrams[1:]:  # the first one is the Response
        for i, b in enumerate(d[skip:]):
            counts[i][b] += 1
    stats = []
    for c in counts:
        total = sum(c)
        if total < 1280:
            continue
        e = total / 256
        stats.append(sum((x - e) ** 2 / e for x in c))
    if not stats:
        return 0, 0, 0.0, len(datagrams), 0.0
    critical = chi_square_critical(255, 1e-6 / len(stats))
    failed = sum(chi > critical for chi in stats)
    z_sum = (sum(stats) - 255 * len(stats)) / math.sqrt(510 * len(stats))
    return len(stats), failed, max(stats), len(datagrams), z_sum


def statistics(h, web, encryption):
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, edits={"obfuscation": {"encryption": encryption}},
                               name=f"profile-stat-{encryption}.json")
    with open(profile) as f:
        s4 = json.load(f)["obfuscation"]["s4"]
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name=f"proxy-server-stat-{encryption}")
    record = h.path(f"record-{encryption}.bin")
    relay = start_roam_relay(h, port, f"relay-stat-{encryption}", record=record)
    client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{relay.port}",
                             name=f"socks5d-stat-{encryption}")
    rc, _, digest, err = curl_fetch(client.port, web.url("zeros.bin"), max_time=60)
    ok = rc == 0 and digest == web.sha256["zeros.bin"]
    st = relay_cmd(relay, "stats")
    for p in (client, relay, server):
        p.stop()
    if not h.check(f"[{encryption}] 24 MiB of zeros recorded by the relay", ok and st["recorded"] >= 10000,
                   f"rc={rc} recorded {st['recorded']} {err}"):
        return None
    return chi_square_positions(record, s4 + 4)


def compatibility(h, web):
    port = free_port(socket.SOCK_DGRAM)
    off = h.create_profile(port, edits={"obfuscation": {"encryption": "off"}}, name="profile-off.json")
    with open(off) as f:
        p = json.load(f)
    p["obfuscation"]["encryption"] = "preferred"
    preferred = h.path("profile-preferred.json")
    with open(preferred, "w") as f:
        json.dump(p, f)
    server = h.start_proxy_server(off, f"127.0.0.1:{port}", name="proxy-server-off")
    client = h.start_socks5d(preferred, name="socks5d-preferred")
    rc, _, digest, err = curl_fetch(client.port, web.url("small.bin"), max_time=20)
    h.check("a 'preferred' client falls back to plain mode against a server that does not take the offer",
            rc == 0 and digest == web.sha256["small.bin"] and "plain" in client.read_log(),
            f"rc={rc} {err}")
    client.stop()
    server.stop()

    port = free_port(socket.SOCK_DGRAM)
    required = h.create_profile(port, name="profile-required.json")
    sock = h.path("ctl-required.sock")
    server = h.start_proxy_server(required, f"127.0.0.1:{port}", config={"control_socket": sock},
                                  name="proxy-server-required")
    with open(required) as f:
        p = json.load(f)
    p["obfuscation"]["encryption"] = "off"
    plain = h.path("profile-plain-client.json")
    with open(plain, "w") as f:
        json.dump(p, f)
    client = h.start_socks5d(plain, name="socks5d-plain-client")
    rc, _, _, err = curl_fetch(client.port, web.url("small.bin"), max_time=8)
    st = h.ctl_stats(sock)
    h.check("a server that requires encryption is silent to a plain client",
            rc != 0 and st.get("drop_plain_refused", 0) > 0 and st.get("sessions_created", 0) == 0,
            f"curl rc={rc}, drop_plain_refused {st.get('drop_plain_refused')}, "
            f"sessions {st.get('sessions_created')}")
    client.stop()
    server.stop()


def users(h, web):
    port = free_port(socket.SOCK_DGRAM)
    server_profile = h.create_profile(port, name="profile-users-server.json")
    users_file = h.path("users.json")
    profiles = {}
    for name in ("alice", "bob"):
        out = h.path(f"{name}.json")
        r = subprocess.run([h.prog("paniq-ctl"), "add-user", name, "-p", server_profile, "-u", users_file,
                            "-o", out], capture_output=True, text=True, timeout=10)
        if not h.check(f"paniq-ctl add-user {name}", r.returncode == 0, r.stderr.strip()):
            return
        profiles[name] = out
    with open(profiles["alice"]) as f:
        ap = json.load(f)
    h.check("a user's profile carries no server private key and requires encryption",
            not ap["obfuscation"].get("server_private_key") and ap["obfuscation"]["encryption"] == "required"
            and ap["obfuscation"].get("client_private_key"), "")
    sock = h.path("ctl-users.sock")
    server = h.start_proxy_server(server_profile, f"127.0.0.1:{port}",
                                  config={"control_socket": sock, "users_file": users_file},
                                  name="proxy-server-users")
    # An anonymous client (the server profile's own view: NK) is refused while users are listed.
    anon = h.start_socks5d(server_profile, name="socks5d-anon")
    rc, _, _, _ = curl_fetch(anon.port, web.url("small.bin"), max_time=6)
    h.check("with a users file, a client without a listed key gets nothing", rc != 0, f"curl rc={rc}")
    anon.stop()
    clients = {n: h.start_socks5d(p, name=f"socks5d-{n}") for n, p in profiles.items()}
    # Slow readers keep both transfers running long enough to revoke one in the middle.
    downloads = {n: Download(c.port, web.port4, "slow.bin", rate_limit=20e6) for n, c in clients.items()}
    for d in downloads.values():
        d.start()
    if not wait_for(lambda: all(d.got > 2 * MIB for d in downloads.values()), 30):
        h.check("both users' transfers started", False, {n: d.got for n, d in downloads.items()})
        return
    per_user = h.ctl_stats(sock).get("users", {})
    h.check("the control socket counts sessions and bytes per user",
            per_user.get("alice", {}).get("sessions_live") == 1 and per_user.get("bob", {}).get("bytes_out", 0) > MIB,
            json.dumps(per_user))
    r = subprocess.run([h.prog("paniq-ctl"), "revoke-user", "alice", "-u", users_file], capture_output=True,
                       text=True, timeout=10)
    h.check("paniq-ctl revoke-user alice", r.returncode == 0, r.stderr.strip())
    os.kill(server.pid, signal.SIGHUP)
    reload_at = time.monotonic()
    wait_for(lambda: "revoked" in server.read_log() or "reload" in server.read_log(), 5)
    time.sleep(1.2)
    alice_then = downloads["alice"].got
    time.sleep(1.5)
    alice_stopped = downloads["alice"].got == alice_then and not downloads["alice"].digest
    h.check("alice's transfer stops within ~1 s of the reload", alice_stopped,
            f"{downloads['alice'].got - alice_then} bytes after {time.monotonic() - reload_at:.1f} s")
    downloads["bob"].done.wait(120)
    h.check("bob's transfer continues and completes byte-exact",
            downloads["bob"].digest == web.sha256["slow.bin"], f"got {downloads['bob'].got} {downloads['bob'].error}")
    st = h.ctl_stats(sock)
    h.check("the server counts the revoked session", st.get("sessions_revoked", 0) == 1,
            f"sessions_revoked {st.get('sessions_revoked')}")
    for c in clients.values():
        c.stop()
    server.stop()


def main():
    with Harness("encryption") as h:
        files = {"big.bin": BIG, "small.bin": 100_000, "slow.bin": 200 * MIB}
        web = h.start_nginx(files, ipv6=False)
        zeros = os.path.join(web.root, "zeros.bin")
        with open(zeros, "wb") as f:
            f.write(b"\0" * (24 * MIB))
        os.chmod(zeros, 0o644)
        web.sha256["zeros.bin"] = hashlib.sha256(b"\0" * (24 * MIB)).hexdigest()

        rebinding(h, web, "required")
        rebinding(h, web, "off")
        rekeying(h, web)

        enc = statistics(h, web, "required")
        plain = statistics(h, web, "off")
        if enc and plain:
            h.check("encrypted: every byte position after the H4 header passes chi-square against uniform",
                    enc[0] > 100 and enc[1] == 0,
                    f"{enc[0]} positions judged over {enc[3]} datagrams, {enc[1]} over the critical value, "
                    f"worst {enc[2]:.0f}")
            h.check("encrypted: the sum over all positions is what uniform bytes give (|z| < 5)",
                    abs(enc[4]) < 5, f"z {enc[4]:.2f} over {enc[0]} positions")
            h.check("plain: the same test fails (it can fail)", plain[1] > 10,
                    f"{plain[1]} of {plain[0]} positions over the critical value, worst {plain[2]:.0f}")

        compatibility(h, web)
        users(h, web)
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
