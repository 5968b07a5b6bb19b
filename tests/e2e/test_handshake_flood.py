#!/usr/bin/env python3
"""E2E: a plain-mode handshake flood from 20 000 spoofed sources must not lock anyone out
(issue 12 item 7).

proxy-server in the Rust-compatible mode (no keys, nothing required, encryption off: any
header-valid Initiation is a handshake). socks5d A (on 127.0.0.1) opens its session with a first
curl; socks5d B starts but makes no request yet. Then

1. `paniq-probe flood --sources 20000 --rate 60000 --seconds 1`: 60 000 header-valid empty
   Initiations in 1 s, round robin from 20 000 distinct addresses in 127.1.0.0-127.255.255.254
   (one socket, the source set per datagram with IP_PKTINFO). 0.5 s in (after the flood's first
   pass over its sources), at once:
   * a 1 MB curl through A (its session from before the flood) must arrive byte-exact;
   * the first curl through B (its first handshake) must complete within 2 s;
   * `paniq-probe handshake --bind 127.0.0.3` (a source the server never saw) must get its
     Response within 2 s.
2. A sustained flood: 3 s at 60 000/s from 20 000 other sources; at 1.0, 1.5, 2.0 and 2.5 s a
   handshake from a never-seen source (127.0.0.4-7) must complete within 2 s.

Throughout: no session for any flood source (sessions_created grows by B's one), what the
20 000 sources got back stays within the reflection budget (counted by the prober and on the
control socket), and the server's RSS grows by less than RSS_LIMIT_KB.

A new client whose first Initiation falls into a flood's first pass over never-seen sources
competes with them for the `fresh` lane (docs/tunnel.md "Reflection budget"); the handshakes
here start after it on purpose, and B is served through the `proven` lane anyway (its address
holds A's live session).

Needs PANIQ_PROBE (the paniq-probe binary; set by CTest). Seed: PANIQ_E2E_SEED (default 12).
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import curl_fetch  # noqa: E402
from test_probe import ctl_stats, probe_bin, run_probe, start_server  # noqa: E402

SOURCES = 20_000
RATE = 60_000
RSS_LIMIT_KB = 4 * 1024
SERVED_WITHIN_S = 2.0
RUST_COMPATIBLE = {"obfuscation": {
    "encryption": "off", "server_public_key": "", "server_private_key": "", "encrypted_timestamp": False,
    "require_encrypted_timestamp": False, "require_timestamp": False, "signature_validate": False}}
# ResponseBudgetConfig defaults (src/tunnel/response_budget.hpp): what never-proven sources can
# get, in bytes: the fresh and seen lanes' bursts, then their rates.
LANE_BURSTS = (64 + 16) * 1024
LANE_RATES = (32 + 4) * 1024


def budget_bound(seconds, response_size):
    """Responses the lanes allow in `seconds` (and a few for the handshakes of the test)."""
    return (LANE_BURSTS + int(LANE_RATES * seconds)) // response_size + 8


def in_thread(fn, *args):
    out = {}

    def run():
        t = time.monotonic()
        out["result"] = fn(*args)
        out["seconds"] = time.monotonic() - t
    th = threading.Thread(target=run)
    th.start()
    return th, out


def handshake(profile, target, bind, seed):
    return run_probe(["handshake", "--profile", profile, "--server", target, "--bind", bind,
                      "--timeout-ms", str(int(SERVED_WITHIN_S * 1000)), "--seed", str(seed)], timeout=30)


def start_flood(h, name, profile, target, seconds, seed):
    return h.start(name, [probe_bin(), "flood", "--profile", profile, "--server", target, "--sources",
                          str(SOURCES), "--rate", str(RATE), "--seconds", str(seconds), "--seed", str(seed)])


def finish_flood(h, flood, seconds):
    try:
        flood.proc.wait(seconds + 15)
    except subprocess.TimeoutExpired:
        pass
    h.check(f"{flood.name}: the prober finished", flood.stop() == 0, f"rc={flood.returncode}")
    lines = flood.read_log().strip().splitlines()
    fl = json.loads(lines[-1]) if lines else {}
    print(f"{flood.name}: {json.dumps(fl)}")
    h.check(f"{flood.name}: {int(RATE * seconds)} Initiations from {SOURCES} sources sent, "
            f"most of the rate reached",
            fl.get("sent", 0) >= RATE * seconds * 0.95 and fl.get("sources") == SOURCES
            and fl.get("rate", 0) >= RATE * 0.5,
            f"{fl.get('sent')} at {fl.get('rate', 0):.0f}/s")
    return fl


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def main():
    seed = int(os.environ.get("PANIQ_E2E_SEED", "12"))
    with Harness("handshake_flood") as h:
        web = h.start_nginx({"a.bin": 1000 * 1000}, ipv6=False)
        port = free_port(socket.SOCK_DGRAM)
        target = f"127.0.0.1:{port}"
        profile = h.create_profile(port, edits=RUST_COMPATIBLE, name="rust-compatible.json")
        server = start_server(h, port, profile, "proxy-server")
        a = h.start_socks5d(profile, name="socks5d-a")
        b = h.start_socks5d(profile, name="socks5d-b")
        rc, code, _, err = curl_fetch(a.port, web.url("small.txt"), max_time=30)
        h.check("socks5d A's session is up before the flood", rc == 0 and code == 200, err)
        _, st0 = ctl_stats(h, server.control)
        with open(profile) as f:
            response_size = json.load(f)["obfuscation"].get("s2", 0) + 8
        time.sleep(0.5)
        rss0 = server.rss_kb()
        print(f"proxy-server RSS before the flood: {rss0} kB; a plain Response is {response_size} bytes")

        # 1. 60 000 Initiations in 1 s.
        flood = start_flood(h, "flood-1s", profile, target, 1.0, seed)
        time.sleep(0.5)
        old = in_thread(curl_fetch, a.port, web.url("a.bin"), None, 30)
        new = in_thread(curl_fetch, b.port, web.url("small.txt"), None, 30)
        time.sleep(0.1)
        fresh = in_thread(handshake, profile, target, "127.0.0.3", seed * 100 + 3)
        for th, _ in (old, new, fresh):
            th.join(60)
        fl1 = finish_flood(h, flood, 1.0)
        rc, code, digest, err = old[1]["result"]
        h.check("socks5d A (session from before the flood): 1 MB byte-exact during it",
                rc == 0 and digest == web.sha256["a.bin"], f"rc={rc} {err} ({old[1]['seconds']:.2f} s)")
        rc, code, _, err = new[1]["result"]
        h.check(f"socks5d B (first handshake during the flood) served within {SERVED_WITHIN_S} s",
                rc == 0 and code == 200 and new[1]["seconds"] <= SERVED_WITHIN_S,
                f"rc={rc} {err} in {new[1]['seconds']:.2f} s")
        rc, out, err = fresh[1]["result"]
        h.check(f"a handshake from a never-seen source (127.0.0.3) during the flood within {SERVED_WITHIN_S} s",
                rc == 0 and out.get("ok") and out.get("elapsed_ms", 1e9) <= SERVED_WITHIN_S * 1000,
                f"{json.dumps(out)} {err}")
        print(f"during the 1 s flood: curl A {old[1]['seconds']:.2f} s, first curl B {new[1]['seconds']:.2f} s, "
              f"handshake 127.0.0.3 {out.get('elapsed_ms', -1):.0f} ms (Response {out.get('response_ms', -1):.1f} ms "
              "after the Initiation)")
        _, st1 = ctl_stats(h, server.control)
        rss1 = server.rss_kb()
        seen = delta(st1, st0, "datagrams_in")
        print(f"server after the 1 s flood: datagrams_in +{seen}, initiations_answered "
              f"+{delta(st1, st0, 'initiations_answered')}, drop_response_budget +{delta(st1, st0, 'drop_response_budget')}, "
              f"responses_out +{delta(st1, st0, 'responses_out')} ({delta(st1, st0, 'response_bytes')} bytes), "
              f"sessions_created +{delta(st1, st0, 'sessions_created')}, RSS {rss1} kB")
        h.check("the server saw (most of) the flood", seen >= fl1.get("sent", 0) * 0.8, f"{seen} of {fl1.get('sent')}")
        h.check("no session for the flood (only B's first handshake made one)",
                delta(st1, st0, "sessions_created") == 1 and st1["sessions_active"] <= 2,
                f"sessions_created +{delta(st1, st0, 'sessions_created')}, active {st1['sessions_active']}")
        bound = budget_bound(fl1.get("seconds", 1.0) + 0.5, response_size)
        h.check(f"the flood's sources got at most the reflection budget ({bound} Responses)",
                0 < fl1.get("answers", 0) <= bound and fl1.get("answer_bytes") == fl1["answers"] * response_size,
                f"{fl1.get('answers')} Responses, {fl1.get('answer_bytes')} bytes to "
                f"{fl1.get('answered_sources')} sources")
        handled = delta(st1, st0, "drop_response_budget") + delta(st1, st0, "initiations_answered")
        h.check("the control socket agrees: the flood's Initiations answered or over the budget, "
                "the Responses sent are what came back (and the test's own handshakes)",
                handled >= fl1.get("sent", 0) * 0.8
                and fl1.get("answers", 0) <= delta(st1, st0, "responses_out") <= fl1.get("answers", 0) + 4,
                f"drop_response_budget +{delta(st1, st0, 'drop_response_budget')}, initiations_answered "
                f"+{delta(st1, st0, 'initiations_answered')}, responses_out +{delta(st1, st0, 'responses_out')}")

        # 2. Sustained: 3 s from 20 000 other sources; never-seen sources handshake meanwhile.
        flood = start_flood(h, "flood-3s", profile, target, 3.0, seed + 1)
        t0 = time.monotonic()
        results = []
        for i, at in enumerate((1.0, 1.5, 2.0, 2.5)):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            results.append(in_thread(handshake, profile, target, f"127.0.0.{4 + i}", seed * 100 + 4 + i))
        for th, _ in results:
            th.join(60)
        fl2 = finish_flood(h, flood, 3.0)
        times = [round(o["result"][1].get("elapsed_ms", -1)) for _, o in results]
        h.check(f"sustained flood: 4 handshakes from never-seen sources, each within {SERVED_WITHIN_S} s",
                all(o["result"][0] == 0 and o["result"][1].get("ok") for _, o in results), f"ms {times}")
        print(f"during the 3 s flood: handshakes from 127.0.0.4-7 in {times} ms")
        rc, code, digest, err = curl_fetch(a.port, web.url("a.bin"), max_time=30)
        h.check("socks5d A still carries a 1 MB download after both floods",
                rc == 0 and digest == web.sha256["a.bin"], f"rc={rc} {err}")
        _, st2 = ctl_stats(h, server.control)
        bound = budget_bound(fl2.get("seconds", 3.0) + 0.5, response_size)
        h.check(f"sustained flood: its sources got at most the reflection budget ({bound} Responses)",
                fl2.get("answers", 0) <= bound, f"{fl2.get('answers')} Responses, {fl2.get('answer_bytes')} bytes")
        h.check("no session for the sustained flood either",
                delta(st2, st1, "sessions_created") == 0, f"+{delta(st2, st1, 'sessions_created')}")
        time.sleep(1.0)
        rss2 = server.rss_kb()
        print(f"proxy-server RSS: {rss0} kB before, {rss1} kB after 60 000, {rss2} kB after 240 000 "
              f"Initiations; server counters: {json.dumps({k: st2[k] for k in ('datagrams_in', 'initiations_answered', 'drop_response_budget', 'responses_out', 'response_bytes', 'sessions_created', 'sessions_lazy_created', 'drop_conv_busy')})}")
        h.check(f"proxy-server RSS grew by less than {RSS_LIMIT_KB // 1024} MiB",
                rss1 - rss0 < RSS_LIMIT_KB and rss2 - rss0 < RSS_LIMIT_KB, f"{rss0} -> {rss1} -> {rss2} kB")
        h.check("all daemons still running", server.alive() and a.alive() and b.alive())
        for p in (a, b, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
