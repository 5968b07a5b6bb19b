#!/usr/bin/env python3
"""E2E: active probing and transport replay against the running proxy-server (issue #6).

1. Authenticated profile (MAC1 + encrypted timestamp required, signatures checked, replay cache,
   rate limit), a control socket on the server. After a first curl through socks5d,
   `paniq-probe hostile --count 100000` makes one legitimate handshake from 127.0.0.3, then
   sends 100 000 datagrams from a new socket: random bytes, truncated / bit-flipped / replayed
   copies of that Initiation, header-valid Initiations with random, zero, bad-MAC1, garbage-
   timestamp, stale-timestamp and MAC1-only payloads, header-valid transport for random convs,
   junk and signature datagrams. Not one byte may come back; the server's RSS may grow by less
   than 16 MiB; the server must live and still carry a curl; its counters (paniq-ctl stats)
   must show the drops and their reasons.
2. transport_replay on (window 1024): tools/dup_relay.py between socks5d and proxy-server sends
   every transport datagram a second time (both directions), 3 ms later. A 5 MB download must be
   byte-exact, and the server must count about one drop_transport_replay per duplicate (socks5d
   likewise for the server's). Then with transport_replay off the same duplicates are not
   counted (KCP discards them) and the download is still exact.

Needs PANIQ_PROBE (the paniq-probe binary; set by CTest). Seed: PANIQ_E2E_SEED (default 6).
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOOLS_DIR, Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402

COUNT = 100_000
RSS_LIMIT_KB = 16 * 1024
BIG = 5 * 1000 * 1000
# "preferred": the prober speaks the plain authenticated handshake (socks5d still runs
# encrypted), so the server's MAC1 / timestamp / rate-limit layers are what it meets.
AUTH_EDITS = {"obfuscation": {
    "encryption": "preferred", "encrypted_timestamp": True, "require_encrypted_timestamp": True, "require_timestamp": True,
    "signature_validate": True, "rate_limit_pps": 200, "rate_limit_burst": 100}}
REFERENCE_FIELDS = [
    "udp_in_bytes", "udp_out_bytes", "transport_payload_in_bytes", "transport_payload_out_bytes",
    "transport_padding_in_bytes", "transport_padding_out_bytes", "transport_frame_in_bytes",
    "transport_frame_out_bytes", "transport_invalid_length", "transport_counter_reject",
    "transport_payload_too_large", "active_connections"]


def probe_bin():
    p = os.environ.get("PANIQ_PROBE")
    if not p or not os.access(p, os.X_OK):
        raise RuntimeError("paniq-probe not found: set PANIQ_PROBE to the binary")
    return p


def run_probe(args, timeout):
    """Runs paniq-probe; returns (exit code, its JSON line or {}, stderr)."""
    r = subprocess.run([probe_bin(), *args], capture_output=True, text=True, timeout=timeout)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    try:
        out = json.loads(line) if line else {}
    except json.JSONDecodeError:
        out = {}
    return r.returncode, out, r.stderr.strip()


def ctl_stats(h, sock):
    """The daemon's counters over its control socket (paniq-ctl stats): (keys in the order the
    daemon sent them, dict)."""
    r = subprocess.run([h.prog("paniq-ctl"), "stats", "-s", sock], capture_output=True, text=True,
                       timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"paniq-ctl stats failed: {r.stderr}")
    st = json.loads(r.stdout)  # dicts keep the document's key order
    return list(st.keys()), st


def start_server(h, port, profile, name):
    sock = h.path(name + ".sock")
    server = h.start_proxy_server(profile, f"127.0.0.1:{port}", config={"control_socket": sock},
                                  name=name)
    server.control = sock
    return server


def hostile_probe(h, web, seed):
    port = free_port(socket.SOCK_DGRAM)
    profile = h.create_profile(port, edits=AUTH_EDITS, name="auth-profile.json")
    server = start_server(h, port, profile, "proxy-server")
    client = h.start_socks5d(profile)
    rc, code, digest, err = curl_fetch(client.port, web.url("a.bin"), max_time=30)
    h.check("curl through the authenticated tunnel before probing", rc == 0 and digest == web.sha256["a.bin"],
            f"rc={rc} {err}")
    _, before_stats = ctl_stats(h, server.control)
    rss_before = server.rss_kb()

    t = time.monotonic()
    rc, out, err = run_probe(["hostile", "--profile", profile, "--server", f"127.0.0.1:{port}",
                              "--bind", "127.0.0.3", "--count", str(COUNT), "--seed", str(seed),
                              "--rate", "20000", "--wait-ms", "1000"], timeout=90)
    took = time.monotonic() - t
    print(f"paniq-probe hostile ({took:.1f} s): {json.dumps(out)}")
    h.check("the prober's own legitimate handshake succeeded", rc == 0 and out.get("handshake_ok"),
            f"rc={rc} {err} {out.get('error', '')}")
    h.check(f"{COUNT} hostile datagrams sent", out.get("sent") == COUNT and out.get("send_errors") == 0,
            f"rate {out.get('rate', 0):.0f}/s")
    cats = out.get("categories", {})
    h.check("every category was sent", len(cats) == 13 and all(v > COUNT // 20 for v in cats.values()), cats)
    h.check("zero bytes came back to the prober",
            out.get("received_bytes") == 0 and out.get("received_datagrams") == 0,
            f"{out.get('received_datagrams')} datagrams, {out.get('received_bytes')} bytes")

    rss_after = server.rss_kb()
    h.check("proxy-server RSS grew by less than 16 MiB",
            rss_after - rss_before < RSS_LIMIT_KB, f"{rss_before} kB -> {rss_after} kB")
    h.check("proxy-server still running", server.alive())
    rc, code, digest, err = curl_fetch(client.port, web.url("a.bin"), max_time=30)
    h.check("curl through socks5d still works after the probe", rc == 0 and digest == web.sha256["a.bin"],
            f"rc={rc} {err}")

    keys, st = ctl_stats(h, server.control)
    h.check("stats: the 12 reference counters first, in order", keys[:12] == REFERENCE_FIELDS, keys[:14])
    auth = st.get("auth", {})
    print(f"server stats after the probe: {json.dumps(st)}")
    got = st["datagrams_in"] - before_stats["datagrams_in"]
    h.check("the server received (almost) every probe datagram", got >= COUNT * 0.95, f"{got} of {COUNT}")
    h.check("stats: drops counted (drop_policy, drop_unclassified)",
            st["drop_policy"] - before_stats["drop_policy"] > COUNT // 4
            and st["drop_unclassified"] - before_stats["drop_unclassified"] > COUNT // 10,
            f"drop_policy {st['drop_policy']}, drop_unclassified {st['drop_unclassified']}")
    reasons = ("mac1_missing", "mac1_invalid", "rate_limited", "replay", "timestamp_invalid",
               "encrypted_timestamp_missing")
    h.check("stats: auth reasons present", all(auth.get(r, 0) > 0 for r in reasons), auth)
    h.check("stats: transport probes dropped (unknown session / invalid length)",
            st["drop_unknown_session"] > 0 and st["transport_invalid_length"] > 0,
            f"{st['drop_unknown_session']} / {st['transport_invalid_length']}")
    h.check("stats: no session made for the prober (its handshake, socks5d's, nothing else)",
            st["sessions_created"] <= before_stats["sessions_created"] + 2,
            f"{before_stats['sessions_created']} -> {st['sessions_created']}")
    h.check("stats: the tunnel's transport counted",
            st["transport_payload_in_bytes"] > 0 and st["transport_frame_in_bytes"] > st["transport_payload_in_bytes"]
            and st["udp_out_bytes"] > st["transport_frame_out_bytes"] > st["transport_payload_out_bytes"] > 1_000_000,
            {k: st[k] for k in REFERENCE_FIELDS[:8]})
    h.check("stats: sessions_active counts the live sessions", st["sessions_active"] >= 1, st["sessions_active"])
    for p in (client, server):
        h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")


def replay_run(h, web, transport_replay):
    tag = "on" if transport_replay else "off"
    port = free_port(socket.SOCK_DGRAM)
    # transport_replay is the plain mode's counter (the encrypted mode always has its window).
    edits = {"obfuscation": {"encryption": "off", "transport_replay": transport_replay,
                             "transport_replay_limit": 1024}}
    profile = h.create_profile(port, edits=edits, name=f"replay-{tag}.json")
    server = start_server(h, port, profile, f"proxy-server-replay-{tag}")
    stats_path = h.path(f"dup-relay-{tag}.stats.json")
    relay = h.start(f"dup-relay-{tag}", [sys.executable, os.path.join(TOOLS_DIR, "dup_relay.py"),
                                         "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{port}",
                                         "--delay-ms", "3", "--both", "--stats", stats_path],
                    ready=r"listening on")
    csock = h.path(f"socks5d-replay-{tag}.sock")
    client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{relay.port}",
                             config={"control_socket": csock}, name=f"socks5d-replay-{tag}")
    t = time.monotonic()
    rc, code, digest, err = curl_fetch(client.port, web.url("big.bin"), max_time=60)
    took = time.monotonic() - t
    h.check(f"transport_replay {tag}: 5 MB through the duplicating relay, SHA-256",
            rc == 0 and digest == web.sha256["big.bin"], f"rc={rc} {took:.1f} s {err}")
    _, st = ctl_stats(h, server.control)
    _, cst = ctl_stats(h, csock)
    relay.stop()
    with open(stats_path) as f:
        rs = json.load(f)
    up, down = rs["up"]["dup"], rs["down"]["dup"]
    srv_drops, cli_drops = st["drop_transport_replay"], cst["drop_transport_replay"]
    print(f"transport_replay {tag}: relay duplicated {up} up / {down} down; server "
          f"drop_transport_replay {srv_drops} (counter_reject {st['transport_counter_reject']}), "
          f"socks5d {cli_drops}")
    h.check(f"transport_replay {tag}: the relay duplicated in both directions", up > 100 and down > 1000,
            rs)
    if transport_replay:
        h.check("server: about one drop_transport_replay per duplicate",
                0.9 * up <= srv_drops <= up and st["transport_counter_reject"] == srv_drops,
                f"{srv_drops} drops for {up} duplicates")
        h.check("socks5d: about one drop_transport_replay per duplicate",
                0.9 * down <= cli_drops <= down, f"{cli_drops} drops for {down} duplicates")
    else:
        h.check("without transport_replay duplicates are not counted as replays",
                srv_drops == 0 and cli_drops == 0, f"server {srv_drops}, socks5d {cli_drops}")
    for p in (client, server):
        h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")


def main():
    seed = int(os.environ.get("PANIQ_E2E_SEED", "6"))
    with Harness("probe") as h:
        web = h.start_nginx({"a.bin": 1000 * 1000, "big.bin": BIG}, ipv6=False)
        hostile_probe(h, web, seed)
        replay_run(h, web, True)
        replay_run(h, web, False)
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
