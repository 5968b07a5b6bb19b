#!/usr/bin/env python3
"""E2E: proxy-server's egress policy (docs/egress.md).

Everything runs inside a fresh network namespace made by this test, paniq-egress-<pid>
(`ip netns add`; lo up; no other interface and no route off the machine; the addresses
192.0.2.10 and 2001:db8::10 on lo stand for the server's own non-loopback addresses). A policy
bug would dial an address there, fail locally and never send a packet off the machine. The
namespace's /etc/netns/<ns>/hosts (which `ip netns exec` bind-mounts over /etc/hosts) maps
test names to loopback and private addresses. The parent only makes and removes the namespace
and the hosts file (also on failure or SIGTERM) and re-runs this script inside it with
`ip netns exec`; every process is started inside and stopped by its PID.

Checks:
* default policy (a proxy-server with "allow_targets": []): every default-denied range, IPv4
  and IPv6 (IPv4-mapped too), and the server's own addresses get SOCKS reply 02 through
  socks5d; a live loopback origin gets 02; names resolving to 127.0.0.1, ::1, ::ffff:127.0.0.1
  and 10.1.2.3 (hosts file) get 02; a catch-all listener on the probed port never sees a
  connection; the refusals are counted by reason on the control socket and logged;
* rules: an allow rule opens exactly what it names (an allowed loopback port carries a 1 MiB
  download, SHA-256 checked, IPv4 and IPv6; a port outside its range, another address, another
  family get 02); deny wins over allow; an allow rule opens an own address; a name with a
  refused and an allowed address connects through the allowed one only;
* UDP ASSOCIATE: a datagram to an allowed echo comes back; datagrams to a loopback port not
  opened, to 10.0.0.1 and to a name resolving to 127.0.0.1 are dropped and counted;
* a bad rule stops proxy-server at start with the field and value named.

Without root or `ip`, the test prints SKIP with the reason and exits 77 (CTest: skipped).
"""
import hashlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import STOP_TIMEOUT, Harness, free_port, have_ipv6, write_random_file  # noqa: E402
from clients import (PyHttpOrigin, atyp_domain, atyp_ipv4, atyp_ipv6, http_get,  # noqa: E402
                     relay_address, socks_open, udp_header)

SKIP = 77
NS_ENV = "PANIQ_EGRESS_NS"
NS_V6_ENV = "PANIQ_EGRESS_NS_V6"
OWN4, OWN6 = "192.0.2.10", "2001:db8::10"
HOSTS = """127.0.0.1 localhost
::1 localhost
127.0.0.1 rebind.paniq.test
::1 rebind6.paniq.test
::ffff:127.0.0.1 mapped.paniq.test
10.1.2.3 private.paniq.test
10.9.9.9 mixed.paniq.test
127.0.0.1 mixed.paniq.test
"""

# One address in every default-denied range (first, last or notable), IPv4 then IPv6.
DEFAULT_V4 = [
    ("0.0.0.0", "unspecified"), ("0.255.255.255", "unspecified"),
    ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local (cloud metadata)"), ("169.254.0.1", "link-local"),
    ("10.0.0.1", "RFC 1918"), ("10.255.255.254", "RFC 1918"),
    ("172.16.0.1", "RFC 1918"), ("172.31.255.254", "RFC 1918"),
    ("192.168.0.1", "RFC 1918"), ("192.168.255.254", "RFC 1918"),
    ("100.64.0.1", "CGNAT"), ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
    ("255.255.255.255", "broadcast"),
]
DEFAULT_V6 = [
    ("::", "unspecified"), ("::1", "loopback"),
    ("fe80::1", "link-local"), ("febf:ffff::1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "ULA"), ("fdff:ffff::1", "ULA"),
    ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"), ("::ffff:10.0.0.1", "IPv4-mapped RFC 1918"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
]


# ------------------------------------------------------------------------------------------------
# Host side: the namespace and its hosts file


def skip(why):
    print(f"SKIP test_egress: {why}", flush=True)
    return SKIP


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def remove_stale_namespaces():
    """Namespaces of earlier runs whose test process is gone (a SIGKILLed run)."""
    r = ip("netns", "list", check=False)
    for line in r.stdout.splitlines():
        m = re.match(r"paniq-egress-(\d+)\b", line)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            ip("netns", "del", f"paniq-egress-{m.group(1)}", check=False)
            shutil.rmtree(f"/etc/netns/paniq-egress-{m.group(1)}", ignore_errors=True)


def host_main():
    if not shutil.which("ip"):
        return skip("the `ip` tool (iproute2) is missing; cannot create a network namespace")
    if os.geteuid() != 0:
        return skip("needs root to create a network namespace (ip netns add)")
    remove_stale_namespaces()
    ns = f"paniq-egress-{os.getpid()}"
    etc = f"/etc/netns/{ns}"
    made_etc_netns = not os.path.isdir("/etc/netns")
    child = None
    try:  # harness.py turns SIGTERM (CTest's timeout) into SystemExit: the finally still runs
        r = ip("netns", "add", ns, check=False)
        if r.returncode != 0:
            return skip(f"ip netns add failed: {r.stderr.strip()}")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", f"{OWN4}/32", "dev", "lo")
        v6 = ip("-n", ns, "-6", "addr", "add", f"{OWN6}/128", "dev", "lo", check=False).returncode == 0
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write(HOSTS)
        env = dict(os.environ, **{NS_ENV: ns, NS_V6_ENV: "1" if v6 else "0"})
        child = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                  os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:  # we were told to stop: pass it on
            child.terminate()
            try:
                child.wait(STOP_TIMEOUT + 10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        ip("netns", "del", ns, check=False)
        shutil.rmtree(etc, ignore_errors=True)
        if made_etc_netns:
            try:
                os.rmdir("/etc/netns")
            except OSError:
                pass


# ------------------------------------------------------------------------------------------------
# Inside the namespace


class CatchAll:
    """TCP listeners on 0.0.0.0:port and [::]:port (same port) that accept and count every
    connection: proof that nothing was dialled when a request was refused."""

    def __init__(self, v6):
        for _ in range(20):
            self.socks = []
            try:
                s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.socks.append(s4)
                s4.bind(("0.0.0.0", 0))
                self.port = s4.getsockname()[1]
                if v6:
                    s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                    self.socks.append(s6)
                    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s6.bind(("::", self.port))
                break
            except OSError:
                for s in self.socks:
                    s.close()
        for s in self.socks:
            s.listen(64)
        self.accepted = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag:
            ready, _, _ = select.select(self.socks, [], [], 0.1)
            for s in ready:
                try:
                    c, peer = s.accept()
                except OSError:
                    continue
                self.accepted.append(c.getsockname()[0])
                c.close()

    def stop(self):
        self.stop_flag = True
        self.thread.join(5)
        for s in self.socks:
            s.close()


def stats(h, server):
    r = subprocess.run([h.prog("paniq-ctl"), "stats", "-s", server.control], capture_output=True,
                       text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"paniq-ctl stats failed: {r.stderr}")
    return json.loads(r.stdout)


def wait_stats(h, server, want, timeout=3.0):
    """The stats once every key of `want` has its value (or after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while True:
        st = stats(h, server)
        if all(st.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return st


def check_stats(h, label, server, want):
    st = wait_stats(h, server, want)
    got = {k: st.get(k) for k in want}
    h.check(f"{label}: counters {want}", got == want, f"got {got}")


def start_pair(h, name, server_config):
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, name=f"profile-{name}.json")
    cfg = dict(server_config, control_socket=h.path(f"{name}.sock"))
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", config=cfg, name=f"proxy-server-{name}")
    server.control = cfg["control_socket"]
    client = h.start_socks5d(profile, name=f"socks5d-{name}")
    return server, client


def atyp(host):
    return atyp_ipv6(host) if ":" in host else atyp_ipv4(host)


def connect_reply(socks_port, addr, port):
    """One CONNECT; returns (reply code or None, socket or None). The socket is left open on
    success (the caller closes it)."""
    try:
        s, reply = socks_open(socks_port, 1, addr, port, timeout=15)
    except (OSError, ConnectionError) as e:
        return None, str(e)
    if reply[:2] == b"\x05\x00":
        return 0, s
    s.close()
    return (reply[1] if len(reply) > 1 else None), reply.hex()


def expect_refused(h, socks_port, label, addr, port):
    code, detail = connect_reply(socks_port, addr, port)
    if code == 0:
        detail.close()
    h.check(f"02 not allowed: {label}", code == 2, f"code={code} {detail if code != 0 else ''}")


def expect_download(h, socks_port, label, addr, port, digest):
    code, s = connect_reply(socks_port, addr, port)
    if code != 0:
        h.check(f"allowed: {label} carries blob.bin", False, f"CONNECT code={code} {s}")
        return
    with s:
        status, body = http_get(s, "blob.bin")
    got = hashlib.sha256(body).hexdigest()
    h.check(f"allowed: {label} carries blob.bin (1 MiB, SHA-256)", status == 200 and got == digest,
            f"status={status} {len(body)} bytes")


def expect_open(h, socks_port, label, addr, port):
    code, s = connect_reply(socks_port, addr, port)
    if code == 0:
        s.close()
    h.check(f"allowed: {label}", code == 0, f"code={code}")


def namespace_checks(h, v6):
    links = ip("-o", "link", "show").stdout
    names = re.findall(r"^\d+: ([^:@]+)", links, re.M)
    routes4 = ip("-4", "route", "show", "table", "main").stdout.strip()
    routes6 = ip("-6", "route", "show", "table", "main").stdout if v6 else ""
    h.check("namespace: only lo, no IPv4 route, no default route", names == ["lo"] and routes4 == ""
            and "default" not in routes6, f"links={names} routes4={routes4!r}")
    with open("/etc/hosts") as f:
        h.check("namespace: its hosts file is in place", "rebind.paniq.test" in f.read())


def default_policy_checks(h, origin_port, origin6_port, catch, v6):
    """A proxy-server with the default policy (no rules). Returns (server, client)."""
    server, client = start_pair(h, "default", {"allow_targets": []})
    # The live origin first, so that its refusal is the first log line of the run.
    expect_refused(h, client.port, f"a live loopback origin 127.0.0.1:{origin_port}",
                   atyp_ipv4("127.0.0.1"), origin_port)
    n_default = 1
    for addr, what in DEFAULT_V4 + (DEFAULT_V6 if v6 else []):
        expect_refused(h, client.port, f"{addr} ({what})", atyp(addr), catch.port)
        n_default += 1
    if not v6:
        print("SKIP IPv6 default ranges: no IPv6 in the namespace")
    names = [("rebind.paniq.test", origin_port, "127.0.0.1"), ("private.paniq.test", catch.port, "10.1.2.3")]
    if v6:
        names += [("rebind6.paniq.test", origin6_port, "::1"),
                  ("mapped.paniq.test", catch.port, "::ffff:127.0.0.1")]
    for name, port, resolved in names:
        expect_refused(h, client.port, f"name {name} -> {resolved} (hosts file)", atyp_domain(name), port)
        n_default += 1
    n_own = 0
    for own in [OWN4] + ([OWN6] if v6 else []):
        expect_refused(h, client.port, f"own interface address {own}", atyp(own), catch.port)
        n_own += 1
    check_stats(h, "default policy", server, {
        "egress_refused_default_range": n_default, "egress_refused_rule": 0,
        "egress_refused_own_address": n_own})
    log = server.read_log()
    want = f"egress to 127.0.0.1:{origin_port} refused: loopback (default policy)"
    h.check("default policy: the refusal is logged with its reason", want in log, want)
    m = re.search(r"egress policy: .*", log)
    line = m.group(0) if m else ""
    h.check("default policy: the server's own addresses are read at start",
            OWN4 in line and (not v6 or OWN6 in line), line)
    return server, client


def rule_checks(h, origin_port, origin6_port, digest, catch, other, echo_port, echo2_port, v6):
    """A proxy-server with allow and deny rules. Returns (server, client)."""
    allow = [f"127.0.0.1:{origin_port - 1}-{origin_port}", f"127.0.0.0/8:{other.port}",
             f"{OWN4}:{other.port}", f"127.0.0.1:{echo_port}"]
    if v6:
        allow.append(f"[::1]:{origin6_port}")
    deny = [f"127.0.0.3:{other.port}"]
    server, client = start_pair(h, "rules", {"allow_targets": allow, "deny_targets": deny,
                                             "log_level": "debug"})
    expect_download(h, client.port, f"127.0.0.1:{origin_port} (inside 127.0.0.1:{origin_port - 1}-"
                    f"{origin_port})", atyp_ipv4("127.0.0.1"), origin_port, digest)
    if v6:
        expect_download(h, client.port, f"[::1]:{origin6_port}", atyp_ipv6("::1"), origin6_port, digest)
    expect_download(h, client.port, "name mixed.paniq.test -> 10.9.9.9 (refused), 127.0.0.1 (allowed)",
                    atyp_domain("mixed.paniq.test"), origin_port, digest)
    h.check("rules: only the allowed address of mixed.paniq.test was dialled",
            re.search(r"connect mixed\.paniq\.test:\d+: 1 of 2 addresses refused by the egress policy "
                      r"\(first 10\.9\.9\.9:\d+: private \(RFC 1918\) \(default policy\)\)",
                      server.read_log()) is not None)
    n_default = 0
    for label, addr, port in [(f"127.0.0.1:{catch.port}: port outside the rule's range", "127.0.0.1", catch.port),
                              (f"127.0.0.1:{origin_port + 1}: port just above the range", "127.0.0.1",
                               origin_port + 1),
                              (f"127.0.0.2:{origin_port}: address outside the rule", "127.0.0.2", origin_port),
                              (f"10.0.0.1:{other.port}: the /8 rule does not open 10/8", "10.0.0.1", other.port)]:
        expect_refused(h, client.port, label, atyp(addr), port)
        n_default += 1
    if v6:
        expect_refused(h, client.port, f"[::1]:{catch.port}: port outside the rule", atyp_ipv6("::1"), catch.port)
        expect_refused(h, client.port, f"[::ffff:127.0.0.2]:{origin_port}: mapped, outside the rule",
                       atyp_ipv6("::ffff:127.0.0.2"), origin_port)
        n_default += 2
    before = len(other.accepted)
    expect_open(h, client.port, f"127.0.0.2:{other.port} (127.0.0.0/8:{other.port})",
                atyp_ipv4("127.0.0.2"), other.port)
    expect_refused(h, client.port, f"127.0.0.3:{other.port}: deny_targets wins over allow_targets",
                   atyp_ipv4("127.0.0.3"), other.port)
    expect_open(h, client.port, f"own address {OWN4}:{other.port} opened by an allow rule",
                atyp_ipv4(OWN4), other.port)
    expect_refused(h, client.port, f"own address {OWN4}:{catch.port}: not opened", atyp_ipv4(OWN4), catch.port)
    deadline = time.monotonic() + 3
    while len(other.accepted) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    h.check("rules: the allowed targets were reached, the denied one was not",
            sorted(other.accepted[before:]) == sorted(["127.0.0.2", OWN4]), f"{other.accepted[before:]}")
    n_udp = udp_checks(h, client.port, echo_port, echo2_port)
    check_stats(h, "rules", server, {
        "egress_refused_default_range": n_default, "egress_refused_rule": 1,
        "egress_refused_own_address": 1, "egress_udp_dropped_default_range": n_udp,
        "egress_udp_dropped_rule": 0})
    return server, client


def udp_checks(h, socks_port, echo_port, echo2_port):
    """UDP ASSOCIATE: the allowed echo answers; refused destinations are dropped. Returns how many
    datagrams the proxy must have dropped."""
    ctrl, reply = socks_open(socks_port, 3, atyp_ipv4("0.0.0.0"), 0)
    if reply[:2] != b"\x05\x00":
        ctrl.close()
        h.check("UDP ASSOCIATE accepted", False, reply.hex())
        return 0
    relay = relay_address(reply)
    with ctrl, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.settimeout(1.0)
        hdr = udp_header(atyp_ipv4("127.0.0.1"), echo_port)
        got = b""
        for _ in range(5):  # UDP: resend until the echo is back
            u.sendto(hdr + b"allowed", relay)
            try:
                got, _ = u.recvfrom(65535)
            except socket.timeout:
                continue
            if got == hdr + b"allowed":
                break
        h.check("UDP: a datagram to the allowed echo comes back", got == hdr + b"allowed", got[:32].hex())
        refused = [udp_header(atyp_ipv4("127.0.0.1"), echo2_port),
                   udp_header(atyp_ipv4("10.0.0.1"), 53),
                   udp_header(atyp_domain("rebind.paniq.test"), echo2_port),
                   udp_header(atyp_domain("rebind.paniq.test"), echo2_port)]  # cached name
        for hd in refused:
            u.sendto(hd + b"refused", relay)
        # A last allowed datagram: once it is back, the refused ones ahead of it were handled.
        u.sendto(hdr + b"last", relay)
        answers = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                d, _ = u.recvfrom(65535)
            except socket.timeout:
                continue
            answers.append(d)
            if d == hdr + b"last":
                break
        h.check("UDP: datagrams to refused destinations get no answer, the allowed one does",
                answers == [hdr + b"last"], f"{[a[:16].hex() for a in answers]}")
    return len(refused)


def bad_rule_check(h):
    cfg = h.write_config("bad-rule.json", {"allow_targets": ["127.0.0.0/8", "[::1]/128", "10.0.0.0/33"]})
    profile = h.create_profile(free_port(socket.SOCK_DGRAM), name="profile-bad.json")
    r = subprocess.run([h.prog("proxy-server"), "-l", "127.0.0.1:0", "-p", profile, "-c", cfg],
                       capture_output=True, text=True, timeout=20)
    want = 'allow_targets[2]: "10.0.0.0/33": prefix length above 32'
    h.check("a bad rule stops proxy-server at start, naming the field and value",
            r.returncode == 1 and want in r.stderr and cfg in r.stderr, f"rc={r.returncode} {r.stderr.strip()}")


def netns_main(ns):
    v6 = os.environ.get(NS_V6_ENV) == "1" and have_ipv6()
    print(f"network namespace {ns}: lo only, IPv6 {'on' if v6 else 'off'}", flush=True)
    with Harness("egress") as h:
        namespace_checks(h, v6)
        root = h.path("www")
        os.makedirs(root)
        digest = write_random_file(os.path.join(root, "blob.bin"), 1 << 20)
        origin = PyHttpOrigin(root)
        origin6 = PyHttpOrigin(root, host="::1") if v6 else None
        echo = h.start_udp_echo(name="udp-echo")
        echo2 = h.start_udp_echo(name="udp-echo-refused")
        # The probe ports must stay outside every rule of rule_checks (rules name no protocol).
        taken = {origin.port - 1, origin.port, origin.port + 1, echo.port, echo2.port}
        catch = CatchAll(v6)
        while catch.port in taken:
            catch.stop()
            catch = CatchAll(v6)
        other = CatchAll(v6)
        while other.port in taken:
            other.stop()
            other = CatchAll(v6)
        try:
            servers = []
            servers += default_policy_checks(h, origin.port, origin6.port if origin6 else 0, catch, v6)
            servers += rule_checks(h, origin.port, origin6.port if origin6 else 0, digest, catch, other,
                                   echo.port, echo2.port, v6)
            h.check("nothing ever reached the catch-all port of the refused requests",
                    not catch.accepted, f"accepted from {catch.accepted}")
            bad_rule_check(h)
            for p in servers:
                h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
            echo2.stop()
            h.check("the refused UDP echo never received a datagram",
                    "udp echo: 0 datagrams echoed" in echo2.read_log(), echo2.read_log().strip()[-80:])
        finally:
            catch.stop()
            other.stop()
            origin.stop()
            if origin6:
                origin6.stop()
    return h.exit_code


def main():
    ns = os.environ.get(NS_ENV)
    if ns:
        return netns_main(ns)
    return host_main()


if __name__ == "__main__":
    sys.exit(main())
