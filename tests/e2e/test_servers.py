#!/usr/bin/env python3
"""E2E: several servers in one profile and port hopping (profile `servers`, `hop_interval`;
proxy-server `--listen IP:PORT-PORT`), real binaries on loopback.

1. Failover: two proxy-servers, the profile lists both. Requests run one after another; the
   active server is killed (SIGKILL) in the middle. The next request must be served by the
   other server within 3 s of the kill, and socks5d's control socket must say which server is in
   use and why it changed.
2. Port hopping, encrypted: proxy-server listens on 4 ports; the profile's entry is the range and
   hop_interval is 300-500 ms. A 40 MiB download (read at ~20 MB/s, about 2 s) must arrive
   byte-exact across at least two hops, on one session that the server followed.
3. Port hopping, plain: a hop never cuts a transfer; it replaces the session between requests.
Exits non-zero when a check fails.
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402
from test_encryption import Download  # noqa: E402

MIB = 1 << 20



def free_udp_range(n, tries=50):
    """A base port with n consecutive free UDP ports on 127.0.0.1 (checked by binding)."""
    for _ in range(tries):
        base = free_port(socket.SOCK_DGRAM)
        if base + n > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


def failover(h, web):
    pa, pb = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(pa, edits={"servers": [f"127.0.0.1:{pa}", f"127.0.0.1:{pb}"]},
                               name="profile-failover.json")
    a = h.start_proxy_server(profile, f"127.0.0.1:{pa}", name="proxy-server-a")
    b = h.start_proxy_server(profile, f"127.0.0.1:{pb}", name="proxy-server-b")
    sock = h.path("ctl-failover.sock")
    client = h.start_socks5d(profile, config={"control_socket": sock}, name="socks5d-failover")
    before = [curl_fetch(client.port, web.url("small.bin"), max_time=10)[2] for _ in range(3)]
    h.check("requests go through the first server", all(d == web.sha256["small.bin"] for d in before)
            and "session 1 opened" in a.read_log(), "")
    os.kill(a.pid, signal.SIGKILL)
    killed = time.monotonic()
    served_at = None
    failures = 0
    for _ in range(40):  # a series of requests, each bounded; stop at the first success
        rc, _, digest, _ = curl_fetch(client.port, web.url("small.bin"), max_time=4)
        if rc == 0 and digest == web.sha256["small.bin"]:
            served_at = time.monotonic()
            break
        failures += 1
    took = (served_at - killed) if served_at else None
    h.check("after the active server dies, a request is served by the other within 3 s",
            took is not None and took <= 3.0 and "opened" in b.read_log(),
            f"{took:.2f} s after the kill, {failures} request(s) failed meanwhile" if took else "never")
    st = h.ctl_stats(sock)
    servers = st.get("servers", [])
    h.check("the control socket shows the server in use and why it changed",
            len(servers) == 2 and servers[1]["in_use"] and not servers[0]["in_use"] and
            servers[0]["failures"] >= 1 and servers[0]["last_failure"] and st.get("server_changes", 0) >= 1,
            json.dumps(servers))
    h.check("the log says which server is used and why", "using server 127.0.0.1:" in client.read_log(), "")
    rc, _, digest, _ = curl_fetch(client.port, web.url("small.bin"), max_time=10)
    h.check("later requests keep working on the second server", rc == 0 and digest == web.sha256["small.bin"], "")
    for p in (client, b):
        p.stop()


def hopping(h, web, encryption):
    base = free_udp_range(4)
    span = f"127.0.0.1:{base}-{base + 3}"
    profile = h.create_profile(base, edits={"servers": [span], "hop_interval": "300ms-500ms",
                                            "obfuscation": {"encryption": encryption}},
                               name=f"profile-hop-{encryption}.json")
    ssock = h.path(f"ctl-hop-server-{encryption}.sock")
    server = h.start_proxy_server(profile, span, config={"control_socket": ssock},
                                  name=f"proxy-server-hop-{encryption}")
    csock = h.path(f"ctl-hop-client-{encryption}.sock")
    client = h.start_socks5d(profile, config={"control_socket": csock}, name=f"socks5d-hop-{encryption}")
    label = f"[{encryption}]"
    h.check(f"{label} proxy-server listens on 4 ports", "4 ports" in server.read_log(), "")
    d = Download(client.port, web.port4, "big.bin", rate_limit=20e6)
    d.start()
    d.done.wait(90)
    cst, sst = h.ctl_stats(csock), h.ctl_stats(ssock)
    h.check(f"{label} 40 MiB byte-exact while hopping", d.digest == web.sha256["big.bin"],
            f"got {d.got} {d.error}")
    if encryption == "required":
        h.check(f"{label} at least two hops during the download, one session followed by the server",
                cst.get("hops", 0) >= 2 and sst.get("sessions_roamed", 0) >= 2 and sst.get("sessions_created") == 1,
                f"hops {cst.get('hops')}, roamed {sst.get('sessions_roamed')}, sessions {sst.get('sessions_created')}")
    else:
        # Plain: the session is replaced between requests only, so the transfer ran on one
        # session; the hop happens afterwards, before the next request.
        h.wait_stats(csock, lambda st: st.get("hops", 0) >= 1, timeout=5, what="a hop")
        rc, _, digest, _ = curl_fetch(client.port, web.url("small.bin"), max_time=10)
        cst = h.ctl_stats(csock)
        sst = h.ctl_stats(ssock)
        h.check(f"{label} the next request runs on a new session after the hop",
                rc == 0 and digest == web.sha256["small.bin"] and cst.get("hops", 0) >= 1
                and sst.get("sessions_created", 0) >= 2,
                f"hops {cst.get('hops')}, sessions {sst.get('sessions_created')}")
    for p in (client, server):
        p.stop()


def main():
    with Harness("servers") as h:
        web = h.start_nginx({"big.bin": 40 * MIB, "small.bin": 50_000}, ipv6=False)
        failover(h, web)
        hopping(h, web, "required")
        hopping(h, web, "off")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
