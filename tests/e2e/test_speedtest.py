#!/usr/bin/env python3
"""E2E: `paniq-ctl speedtest` against proxy-server's built-in speedtest target (docs/speedtest.md).

1. `paniq-ctl speedtest -p PROFILE --bytes 20MiB --json` (its own tunnel client, no socks5d):
   both directions report exactly the bytes asked for, granted in full, content intact; the
   download's BLAKE2s is recomputed here from the reported key with an independent ChaCha20
   (python3-cryptography); goodput > 0, RTT > 0 from 10 echoes. The same with --streams 3
   (the bytes split over three streams) and with --duration 1 (ends by time: the upload's end
   record, the download's early stop).
2. Through tools/impair_relay.py dropping 5 % of the datagrams: the report's retransmission
   rate is > 0 (the client's KCP resent upload segments) and the content still verifies.
3. A plain SOCKS5 CONNECT through socks5d to speedtest.paniq.invalid is just another stream
   target: port 1 downloads the pattern (checked byte for byte), port 2 takes an upload and
   answers its result, port 9 gets SOCKS reply 04 (host unreachable).
4. A proxy-server with "speedtest": false: paniq-ctl fails (exit 1) naming the server setting,
   and a SOCKS CONNECT to the speedtest name gets reply 02 (not allowed by ruleset).
No speed is asserted; the goodput figures are printed as information.
"""
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port  # noqa: E402
from clients import atyp_domain, recv_all, recv_exact, socks_open  # noqa: E402

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms  # noqa: E402

MIB = 1 << 20
HOST = "speedtest.paniq.invalid"


def pattern(key, n):
    """The speedtest pattern: ChaCha20 keystream (RFC 8439), nonce 0, block counter from 0."""
    enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    return enc.update(bytes(n))


def speedtest(h, profile, *args, timeout=180):
    argv = [h.prog("paniq-ctl"), "speedtest", "-p", profile, "--json", *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    report = None
    try:
        report = json.loads(r.stdout) if r.stdout.strip() else None
    except json.JSONDecodeError:
        pass
    return r.returncode, report, r.stderr


def check_report(h, what, rc, rep, err, want=None):
    if not h.check(f"{what}: exit 0 and a JSON report", rc == 0 and rep is not None,
                   f"rc={rc}" + ("" if rc == 0 else " " + err[-400:])):
        return
    for phase in ("download", "upload"):
        p = rep[phase]
        streams = p["streams"]
        if want is not None:
            h.check(f"{what}: {phase} moved exactly {want} bytes, every stream granted in full",
                    p["bytes"] == want and all(s["granted"] == s["bytes"] for s in streams)
                    and sum(s["granted"] for s in streams) == want,
                    f"{p['bytes']} bytes, streams {[(s['granted'], s['bytes']) for s in streams]}")
        else:
            h.check(f"{what}: {phase} moved bytes", p["bytes"] > 0, f"{p['bytes']}")
        h.check(f"{what}: {phase} content intact (as checked by the receiver)",
                p["intact"] and all(s["intact"] for s in streams))
        h.check(f"{what}: {phase} goodput > 0", p["mbit_s"] > 0 and p["seconds"] > 0,
                f"{p['mbit_s']:.1f} Mbit/s over {p['seconds']:.3f} s")
        print(f"info (not checked): {what} {phase} {p['mbit_s']:.1f} Mbit/s")
    bad = []
    for s in rep["download"]["streams"]:
        digest = hashlib.blake2s(pattern(bytes.fromhex(s["key"]), s["bytes"])).hexdigest()
        if digest != s["blake2s"]:
            bad.append(s["key"][:8])
    h.check(f"{what}: download BLAKE2s equals the independently computed pattern's", not bad, f"bad {bad}")
    rtt = rep["rtt"]
    h.check(f"{what}: RTT > 0 from 10 echoes", rtt["samples"] == 10 and 0 < rtt["min_ms"] <= rtt["avg_ms"],
            json.dumps(rtt))
    h.check(f"{what}: handshake time reported", rep["handshake_ms"] > 0, rep["handshake_ms"])


def socks_speedtest(h, socks_port):
    """The speedtest target through socks5d as an ordinary CONNECT target."""
    key = os.urandom(32)
    n = 300_000
    s, reply = socks_open(socks_port, 1, atyp_domain(HOST), 1)
    with s:
        ok = reply[1] == 0
        if ok:
            s.sendall(struct.pack(">Q", n) + key)
            granted = struct.unpack(">Q", recv_exact(s, 8))[0]
            data = recv_all(s)
            ok = granted == n and data == pattern(key, n)
    h.check("SOCKS CONNECT speedtest.paniq.invalid:1 downloads the pattern byte for byte", ok,
            f"reply {reply.hex()}")

    key = os.urandom(32)
    body = pattern(key, n)
    s, reply = socks_open(socks_port, 1, atyp_domain(HOST), 2)
    with s:
        result = granted = None
        if reply[1] == 0:
            s.sendall(struct.pack(">Q", n) + key)
            granted = struct.unpack(">Q", recv_exact(s, 8))[0]
            for off in range(0, n, 50_000):
                chunk = body[off:off + 50_000]
                s.sendall(struct.pack(">H", len(chunk)) + chunk)
            s.sendall(b"\x00\x00")
            result = recv_exact(s, 17)
    ok = result is not None and granted == n and struct.unpack(">QQB", result)[0] == n and result[16] == 1
    h.check("SOCKS CONNECT speedtest.paniq.invalid:2 takes an upload and answers received = sent, intact",
            ok, f"reply {reply.hex()} result {result.hex() if result else None}")

    s, reply = socks_open(socks_port, 1, atyp_domain(HOST), 9)
    s.close()
    h.check("SOCKS CONNECT speedtest.paniq.invalid:9 (no mode) gets reply 04", reply[1] == 4, reply.hex())


def main():
    seed = int(os.environ.get("PANIQ_E2E_SEED", "5"))
    with Harness("speedtest") as h:
        port = free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(port)
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}")

        rc, rep, err = speedtest(h, profile, "--bytes", "20MiB")
        check_report(h, "20 MiB", rc, rep, err, want=20 * MIB)
        rc, rep, err = speedtest(h, profile, "--bytes", "3MB", "--streams", "3")
        check_report(h, "3 MB on 3 streams", rc, rep, err, want=3_000_000)
        if rep:
            h.check("3 streams: three streams each way", len(rep["download"]["streams"]) == 3
                    and len(rep["upload"]["streams"]) == 3)
        rc, rep, err = speedtest(h, profile, "--duration", "1")
        check_report(h, "--duration 1", rc, rep, err)

        relay = h.start_relay(port, 0.05, 0.0, seed)
        rc, rep, err = speedtest(h, profile, "--bytes", "4MiB", "--proxy-addr", f"127.0.0.1:{relay.port}")
        check_report(h, "4 MiB through 5 % loss", rc, rep, err, want=4 * MIB)
        if rep:
            rx = rep["retransmissions"]
            h.check("through 5 % loss the retransmission rate is > 0",
                    rx.get("rate", 0) > 0 and rx["retransmitted_segments"] > 0, json.dumps(rx))
        relay.stop()

        client = h.start_socks5d(profile)
        socks_speedtest(h, client.port)
        h.check("both daemons still running", server.alive() and client.alive())

        port2 = free_port(socket.SOCK_DGRAM)
        profile2 = h.create_profile(port2, name="profile2.json")
        off = h.start_proxy_server(profile2, f"127.0.0.1:{port2}", config={"speedtest": False},
                                   name="proxy-server-off")
        rc, rep, err = speedtest(h, profile2, "--bytes", "1MiB", timeout=60)
        h.check("\"speedtest\": false: paniq-ctl fails naming the server setting",
                rc == 1 and '"speedtest": false' in err, f"rc={rc} stderr {err.strip()[-300:]}")
        client2 = h.start_socks5d(profile2, name="socks5d-off")
        s, reply = socks_open(client2.port, 1, atyp_domain(HOST), 1)
        s.close()
        h.check("\"speedtest\": false: a SOCKS CONNECT to the speedtest name gets reply 02", reply[1] == 2,
                reply.hex())
        h.check("the server logged the refusal", "speedtest refused: disabled" in off.read_log())
        for p in (client, client2, server, off):
            p.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
