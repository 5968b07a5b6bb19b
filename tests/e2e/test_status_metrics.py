#!/usr/bin/env python3
"""E2E: `paniq-ctl status` and the Prometheus metrics (docs/operations.md), real binaries.

1. Off by default: a tunnel started without --metrics-listen listens on no TCP port but
   socks5d's SOCKS port.
2. A users-file server (user "alice" from `paniq-ctl add-user`) and alice's socks5d, both with
   --metrics-listen. /metrics is scraped before any traffic, then twice while a rate-limited
   curl download runs (SHA-256 checked at the end). Every scrape must parse as the text format
   with no duplicate HELP/TYPE; paniq_ counters end in _total, the families documented are all
   there; sessions_created grows from the first scrape to the second; tunnel bytes, UDP bytes
   and datagrams grow between the two scrapes during the download; the RTT histogram has
   observations of a plausible RTT.
3. `paniq-ctl status --json` on both daemons during the download: one session with bytes, a
   plausible RTT, the user name and encrypted mode on the server, the server's address on the
   client. The human view has the expected fields; `--watch 0.3 --count 2` stops after two
   frames, and its second JSON frame has a rate measured between the two samples.
4. A daemon that does not know GetStatus (a stand-in answering as paniq-rs does) gets a note
   and its GetStats totals; a metrics address already in use stops proxy-server with a message
   naming it.
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402

MIB = 1 << 20
SIZE = 96 * MIB
RATE = "12M"  # curl --limit-rate: the download lasts about 8 s

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
FAMILIES = {
    "paniq_sessions": "gauge", "paniq_streams": "gauge", "paniq_connections": "gauge",
    "paniq_sessions_created_total": "counter", "paniq_sessions_closed_total": "counter",
    "paniq_streams_opened_total": "counter", "paniq_streams_refused_total": "counter",
    "paniq_tunnel_bytes_total": "counter", "paniq_udp_bytes_total": "counter",
    "paniq_datagrams_total": "counter", "paniq_send_errors_total": "counter",
    "paniq_kcp_retransmissions_total": "counter", "paniq_handshakes_total": "counter",
    "paniq_drops_total": "counter", "paniq_rekeys_total": "counter",
    "paniq_sessions_roamed_total": "counter", "paniq_rtt_seconds": "histogram",
    "paniq_build_info": "gauge",
}


def parse_metrics(text):
    """Text exposition format -> (types {family: type}, samples {(name, labels): value}, errors)."""
    types, helps, samples, errors = {}, set(), {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME_RE.match(parts[2]):
                errors.append(f"bad comment line {line!r}")
                continue
            if parts[1] == "HELP":
                if parts[2] in helps:
                    errors.append(f"duplicate HELP {parts[2]}")
                helps.add(parts[2])
            else:
                if parts[2] in types:
                    errors.append(f"duplicate TYPE {parts[2]}")
                types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            errors.append(f"bad sample line {line!r}")
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            errors.append(f"bad value {line!r}")
            continue
        family = name
        if name not in types:
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in types:
                    family = name[: -len(suffix)]
        if family not in types:
            errors.append(f"sample {name} without a TYPE")
        key = (name, labels)
        if key in samples:
            errors.append(f"duplicate sample {name}{labels}")
        samples[key] = v
    return types, samples, errors


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return parse_metrics(r.read().decode())


def val(samples, name, labels=""):
    return samples.get((name, labels), 0.0)


def check_format(h, who, types, errors):
    h.check(f"{who}: /metrics parses, no duplicate HELP/TYPE", not errors, "; ".join(errors[:5]))
    paniq = {n: t for n, t in types.items() if n.startswith("paniq_")}
    bad = [n for n, t in paniq.items() if (t == "counter") != n.endswith("_total")]
    h.check(f"{who}: paniq counters and only they end in _total", not bad, bad)
    missing = [n for n, t in FAMILIES.items() if paniq.get(n) != t]
    h.check(f"{who}: every documented family with its type", not missing, missing)


def listening_tcp_ports(pid):
    """TCP ports in LISTEN state on sockets that process `pid` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def ctl(h, *args, timeout=20):
    return subprocess.run([h.prog("paniq-ctl"), *args], capture_output=True, text=True, timeout=timeout)


def status_json(h, sock):
    r = ctl(h, "status", "-s", sock, "--json")
    if r.returncode != 0:
        raise RuntimeError(f"paniq-ctl status {sock}: rc {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def off_by_default(h):
    server, client = h.start_tunnel()
    h.check("without --metrics-listen proxy-server listens on no TCP port",
            listening_tcp_ports(server.pid) == set(), listening_tcp_ports(server.pid))
    h.check("without --metrics-listen socks5d listens only on its SOCKS port",
            listening_tcp_ports(client.pid) == {client.port}, listening_tcp_ports(client.pid))
    client.stop()
    server.stop()


def live(h, web):
    port = free_port(socket.SOCK_DGRAM)
    server_profile = h.create_profile(port, name="profile-server.json")
    users_file = h.path("users.json")
    alice = h.path("alice.json")
    r = ctl(h, "add-user", "alice", "-p", server_profile, "-u", users_file, "-o", alice)
    if not h.check("paniq-ctl add-user alice", r.returncode == 0, r.stderr.strip()):
        return
    ssock, csock = h.path("server.sock"), h.path("client.sock")
    smetrics, cmetrics = free_port(), free_port()
    server = h.start_proxy_server(server_profile, f"127.0.0.1:{port}",
                                  config={"control_socket": ssock, "users_file": users_file,
                                          "metrics_listen": f"127.0.0.1:{smetrics}"},
                                  name="proxy-server-metrics")
    client = h.start(
        "socks5d-metrics", [h.prog("socks5d"), "-l", "127.0.0.1:0", "-p", alice, "--control-socket", csock,
                    "--metrics-listen", f"127.0.0.1:{cmetrics}"], ready=r"SOCKS5 daemon listening")
    h.check("the metrics port listens (config key on the server, flag on the client)",
            smetrics in listening_tcp_ports(server.pid) and cmetrics in listening_tcp_ports(client.pid),
            (smetrics, listening_tcp_ports(server.pid), cmetrics, listening_tcp_ports(client.pid)))

    scrapes = {"server": [scrape(smetrics)], "client": [scrape(cmetrics)]}
    h.check("before traffic: no session", val(scrapes["server"][0][1], "paniq_sessions") == 0
            and val(scrapes["client"][0][1], "paniq_sessions_created_total") == 0)

    result = {}
    dl = threading.Thread(target=lambda: result.update(
        r=curl_fetch(client.port, web.url("big.bin"), extra=("--limit-rate", RATE), max_time=120)))
    dl.start()
    # The session is up and data flows (the metrics sample once a second).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st = scrape(cmetrics)[1]
        if val(st, "paniq_tunnel_bytes_total", '{direction="rx"}') > 2 * MIB:
            break
        time.sleep(0.2)
    scrapes["server"].append(scrape(smetrics))
    scrapes["client"].append(scrape(cmetrics))

    s = status_json(h, ssock)
    sess = s.get("sessions", [])
    one = sess[0] if len(sess) == 1 else {}
    h.check("status --json (server): one session of user alice, encrypted, from 127.0.0.1",
            s.get("daemon") == "proxy-server" and s.get("schema") == 1 and one.get("user") == "alice"
            and one.get("mode") == "encrypted" and one.get("peer", "").startswith("127.0.0.1:"), json.dumps(s))
    h.check("status --json (server): bytes both ways, mostly sent (the download)",
            one.get("tx_bytes", 0) > 2 * MIB and 0 < one.get("rx_bytes", 0) < one.get("tx_bytes", 0)
            and one.get("tx_payload_bytes", 0) > 2 * MIB and one.get("streams", 0) >= 1, json.dumps(one))
    h.check("status --json (server): a plausible RTT on loopback (1..500 ms) and retransmission counts",
            1 <= one.get("srtt_ms", 0) <= 500 and one.get("rto_ms", 0) > 0
            and one.get("segments_sent", 0) > one.get("retransmits", -1) >= 0, json.dumps(one))
    c = status_json(h, csock)
    csess = c.get("sessions", [])
    cone = csess[0] if len(csess) == 1 else {}
    h.check("status --json (client): its session towards the server, with bytes and RTT",
            c.get("daemon") == "socks5d" and cone.get("peer") == f"127.0.0.1:{port}"
            and cone.get("rx_bytes", 0) > 2 * MIB and cone.get("mode") == "encrypted"
            and 0 <= cone.get("srtt_ms", -1) <= 500 and c["totals"]["handshakes_ok"] >= 1, json.dumps(c))
    h.check("status --json: rates (average since the session started)",
            cone.get("rx_bytes_per_second", 0) > 0 and one.get("tx_bytes_per_second", 0) > 0, json.dumps(cone))

    r = ctl(h, "status", "-s", ssock)
    want = ["daemon: proxy-server", "listening: 127.0.0.1:", "sessions: 1", "session ", "user: alice",
            "mode: encrypted", "latest handshake:", "transfer:", "rate:", "rtt:", "retransmits:", "streams:"]
    missing = [w for w in want if w not in r.stdout]
    h.check("status (human): the expected fields", r.returncode == 0 and not missing, f"missing {missing}\n{r.stdout}")

    t0 = time.monotonic()
    # 1 s between the samples: curl --limit-rate reads in bursts, and the tunnel's buffers let
    # it pause for a few hundred ms at a time, so a shorter window can see no bytes at all.
    r = ctl(h, "status", "-s", csock, "--watch", "1", "--count", "2", "--json")
    frames = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    h.check("status --watch 1 --count 2 --json: two frames, then exit 0",
            r.returncode == 0 and len(frames) == 2 and time.monotonic() - t0 < 15, r.stdout[-400:] + r.stderr)
    if len(frames) == 2 and frames[0]["sessions"] and frames[1]["sessions"]:
        f0, fs = frames[0]["sessions"][0], frames[1]["sessions"][0]
        moved = fs.get("rx_bytes", 0) - f0.get("rx_bytes", 0)
        rate = fs.get("rx_bytes_per_second", 0)
        # The rate is the bytes between the two samples over their distance (>= 1 s, plus the
        # time a control-socket round trip takes): at most `moved`, at least a third of it.
        h.check("the second frame's rate is measured between the samples",
                moved > 0 and moved / 3 <= rate <= moved * 1.05, f"moved {moved} B, rate {rate} B/s: {json.dumps(fs)}")
    r = ctl(h, "status", "-s", csock, "--watch", "0.2", "--count", "2")
    h.check("status --watch 0.2 --count 2 (human, not a terminal): two frames",
            r.returncode == 0 and r.stdout.count("daemon: socks5d") == 2, r.stdout[-400:] + r.stderr)

    time.sleep(1.5)  # at least one more sample of the daemons' counters
    scrapes["server"].append(scrape(smetrics))
    scrapes["client"].append(scrape(cmetrics))
    still_running = dl.is_alive()
    dl.join(150)
    rc, code, digest, err = result.get("r", (-1, 0, None, "no result"))
    h.check("the download completes byte-exact (SHA-256)",
            rc == 0 and code == 200 and digest == web.sha256["big.bin"], f"rc={rc} http={code} {err}")
    h.check("the second and third scrapes were taken during the download", still_running)

    for who in ("server", "client"):
        (t0_, s0, e0), (t1, s1, e1), (t2, s2, e2) = scrapes[who]
        for types, errors in ((t0_, e0), (t1, e1), (t2, e2)):
            check_format(h, who, types, errors)
        h.check(f"{who}: paniq_sessions_created_total grew with the first session, paniq_sessions is 1",
                val(s0, "paniq_sessions_created_total") < val(s1, "paniq_sessions_created_total")
                and val(s2, "paniq_sessions") == 1 and val(s2, "paniq_handshakes_total", '{outcome="ok"}') >= 1)
        grew = {}
        for name in ("paniq_tunnel_bytes_total", "paniq_udp_bytes_total", "paniq_datagrams_total"):
            for d in ("rx", "tx"):
                lab = f'{{direction="{d}"}}'
                grew[f"{name}{lab}"] = (val(s1, name, lab), val(s2, name, lab))
        flat = [k for k, (a, b) in grew.items() if not b > a]
        h.check(f"{who}: bytes and datagrams (both ways) grew between two scrapes during the download",
                not flat, {k: grew[k] for k in flat})
        main_dir = '{direction="rx"}' if who == "client" else '{direction="tx"}'
        h.check(f"{who}: the download's direction moved more than 1 MiB between the scrapes",
                val(s2, "paniq_tunnel_bytes_total", main_dir) - val(s1, "paniq_tunnel_bytes_total", main_dir) > MIB)
        count, total = val(s2, "paniq_rtt_seconds_count"), val(s2, "paniq_rtt_seconds_sum")
        inf = val(s2, "paniq_rtt_seconds_bucket", '{le="+Inf"}')
        # KCP's srtt is whole milliseconds and a session with srtt 0 is not observed. The server
        # sends the download and queues behind it, so its srtt is at least 1 ms; the client
        # sends a few segments over loopback, whose round trip may stay under 1 ms (srtt 0):
        # its histogram may then be empty, and must be consistent either way.
        need = 1 if who == "server" else 0
        h.check(f"{who}: the RTT histogram is consistent, with plausible observations (mean under 0.5 s)",
                count >= need and inf == count and (count == 0 or 0 < total / count < 0.5),
                f"count {count} sum {total}")
        h.check(f"{who}: paniq_streams_opened_total counts the download's stream",
                val(s2, "paniq_streams_opened_total") >= 1)
        h.check(f"{who}: paniq_build_info is 1",
                any(k[0] == "paniq_build_info" and v == 1 for k, v in s2.items()))
    client.stop()
    server.stop()


def fallback(h):
    """A control socket that answers like a paniq-rs daemon: GetStats only."""
    path = h.path("rust.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    stats = {"udp_in_bytes": 2048, "udp_out_bytes": 4096, "transport_payload_in_bytes": 1000,
             "transport_payload_out_bytes": 3000, "transport_padding_in_bytes": 0,
             "transport_padding_out_bytes": 0, "transport_frame_in_bytes": 0, "transport_frame_out_bytes": 0,
             "transport_invalid_length": 0, "transport_counter_reject": 0, "transport_payload_too_large": 0,
             "active_connections": 3}

    def serve():
        for _ in range(2):
            conn, _ = srv.accept()
            req = conn.recv(1024).decode()
            if req == '"GetStats"':
                conn.sendall(json.dumps({"Stats": stats}).encode())
            else:
                conn.sendall(json.dumps({"Error": f"Invalid request: unknown variant `{json.loads(req)}`, "
                                                  "expected `Ping` or `GetStats`"}).encode())
            conn.shutdown(socket.SHUT_WR)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = ctl(h, "status", "-s", path)
    t.join(5)
    srv.close()
    h.check("a daemon without GetStatus: a note on stderr, its GetStats totals, exit 0",
            r.returncode == 0 and "does not answer GetStatus" in r.stderr and "connections: 3" in r.stdout
            and "4.00 KiB sent" in r.stdout, r.stdout + r.stderr)


def metrics_port_in_use(h):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    mport = taken.getsockname()[1]
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, name="profile-busy.json")
    r = subprocess.run([h.prog("proxy-server"), "-l", f"127.0.0.1:{port}", "-p", profile,
                        "--metrics-listen", f"127.0.0.1:{mport}"], capture_output=True, text=True, timeout=20)
    taken.close()
    h.check("a metrics address in use: proxy-server exits 1 naming it",
            r.returncode == 1 and f"127.0.0.1:{mport}" in r.stderr, f"rc {r.returncode}: {r.stderr.strip()[-300:]}")


def main():
    with Harness("status_metrics") as h:
        web = h.start_nginx({"big.bin": SIZE}, ipv6=False)
        off_by_default(h)
        live(h, web)
        fallback(h)
        metrics_port_in_use(h)
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
