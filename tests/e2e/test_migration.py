#!/usr/bin/env python3
"""E2E: moving from paniq-rs must not lock clients out silently (issue 13 item 8).

The Rust tools' create-profile (like ours) writes require_encrypted_timestamp, require_timestamp
and signature_validate as true; the Rust server never enforces them, ours does. A paniq-rs
client sends the profile's signature datagrams and then an Initiation with an EMPTY payload
(`paniq-probe handshake --reference` sends exactly that).

1. Authenticated profile (encryption off, as a Rust-made profile has it), default config: three
   reference-style handshakes get no Response, each is counted as auth.mac1_missing, and the
   log has exactly ONE warning naming paniq-rs and accept_unauthenticated_clients (rate-limited).
   An authenticated client (our probe, MAC1 + encrypted timestamp) is still served.
2. The same profile with "accept_unauthenticated_clients": true: the reference-style handshake
   is served (auth.unauthenticated_accepted counted), and a real socks5d whose client profile
   has no server key (so it sends no MAC1, like paniq-rs) carries a 2 MiB download, SHA-256
   checked. What a client does send is still checked: a MAC1 made with the wrong key is refused
   (mac1_invalid). (Signatures, skew and replay of such Initiations: unit tests, policy_test.)
3. A profile with "encryption": "required" (ours): the reference-style handshake is refused as
   drop_plain_refused and the one warning says to set obfuscation.encryption "preferred".

Needs PANIQ_PROBE (set by CTest).
"""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port, sha256_file  # noqa: E402,F401
from clients import curl_fetch  # noqa: E402
from test_probe import run_probe, start_server  # noqa: E402

HINT = "paniq-rs"
ATTEMPTS = 3


def handshake(h, profile, port, bind, reference, seed, timeout_ms=800):
    args = ["handshake", "--profile", profile, "--server", f"127.0.0.1:{port}", "--bind", bind,
            "--seed", str(seed), "--timeout-ms", str(timeout_ms)]
    if reference:
        args.append("--reference")
    rc, out, err = run_probe(args, timeout=30)
    return rc == 0 and out.get("ok") is True, out, err


def warnings(server, needle):
    return [line for line in server.read_log().splitlines() if " warning " in line and needle in line]


def client_view(h, profile, name, edits):
    """A copy of `profile` without the server private key, with `edits` applied."""
    with open(profile) as f:
        p = json.load(f)
    p["obfuscation"].pop("server_private_key", None)
    for k, v in edits.items():
        p["obfuscation"][k] = v
    path = h.path(name)
    with open(path, "w") as f:
        json.dump(p, f)
    return path


def main():
    with Harness("migration") as h:
        # 1. Refused, with one warning that names the cause.
        port = free_port(socket.SOCK_DGRAM)
        profile = h.create_profile(port, edits={"obfuscation": {"encryption": "off"}}, name="rs.json")
        with open(profile) as f:
            ob = json.load(f)["obfuscation"]
        h.check("the profile asks for authentication (as the Rust tools' create-profile writes it)",
                ob.get("require_encrypted_timestamp") is True and ob.get("signature_validate") is True,
                json.dumps({k: ob.get(k) for k in ("require_encrypted_timestamp", "signature_validate",
                                                   "require_timestamp")}))
        server = start_server(h, port, profile, "server-strict")
        results = [handshake(h, profile, port, "127.0.0.2", True, seed=i + 1) for i in range(ATTEMPTS)]
        h.check("reference-style handshakes get silence", not any(r[0] for r in results),
                json.dumps([r[1] for r in results]))
        st = h.wait_stats(server.control, lambda s: s.get("auth", {}).get("mac1_missing", 0) >= ATTEMPTS,
                          what=f"{ATTEMPTS} mac1_missing drops")
        h.check("counted as mac1_missing", st["auth"]["mac1_missing"] == ATTEMPTS, json.dumps(st["auth"]))
        hints = warnings(server, HINT)
        h.check("exactly one warning names paniq-rs and the switch",
                len(hints) == 1 and "accept_unauthenticated_clients" in hints[0], "\n".join(hints))
        ok, out, err = handshake(h, profile, port, "127.0.0.3", False, seed=7)
        h.check("an authenticated client is served meanwhile", ok, json.dumps(out) + err)
        server.stop()

        # 2. The switch: served; what the client sends is still checked.
        port2 = free_port(socket.SOCK_DGRAM)
        profile2 = h.create_profile(port2, edits={"obfuscation": {"encryption": "off"}}, name="rs2.json")
        sock = h.path("server-open.sock")
        server2 = h.start_proxy_server(profile2, f"127.0.0.1:{port2}", name="server-open",
                                       config={"control_socket": sock, "accept_unauthenticated_clients": True})
        ok, out, err = handshake(h, profile2, port2, "127.0.0.2", True, seed=11)
        h.check("with accept_unauthenticated_clients the reference-style handshake is served", ok,
                json.dumps(out) + err)
        st = h.wait_stats(sock, lambda s: s.get("auth", {}).get("unauthenticated_accepted", 0) >= 1,
                          what="unauthenticated_accepted")
        h.check("counted as unauthenticated_accepted", st["auth"].get("unauthenticated_accepted") == 1,
                json.dumps(st["auth"]))
        h.check("no hint once the switch is on", not warnings(server2, HINT), "")
        # Another server's public key: the client's MAC1 is made with the wrong key.
        wrong = client_view(h, profile2, "wrong-key.json", {"server_public_key": other_public_key(h)})
        ok, out, err = handshake(h, wrong, port2, "127.0.0.4", False, seed=13)
        h.check("a MAC1 under the wrong key is still refused", not ok, json.dumps(out))
        h.wait_stats(sock, lambda s: s.get("auth", {}).get("mac1_invalid", 0) >= 1, what="mac1_invalid")
        # A real socks5d without the server key (no MAC1, like paniq-rs) carries data.
        keyless = client_view(h, profile2, "keyless.json",
                              {"server_public_key": "", "encrypted_timestamp": False})
        web = h.start_nginx({"blob.bin": 2 << 20}, ipv6=False)
        client = h.start_socks5d(keyless, name="socks5d-keyless")
        rc, code, sha, err = curl_fetch(client.port, web.url("blob.bin"))
        h.check("a keyless socks5d is served: 2 MiB, SHA-256 matches",
                rc == 0 and code == 200 and sha == web.sha256["blob.bin"], f"rc={rc} code={code} {err}")
        st = h.ctl_stats(sock)
        h.check("its session was admitted as unauthenticated",
                st["auth"].get("unauthenticated_accepted", 0) >= 2, json.dumps(st["auth"]))
        client.stop()
        server2.stop()

        # 3. encryption "required": the plain handshake is refused with its own hint.
        port3 = free_port(socket.SOCK_DGRAM)
        profile3 = h.create_profile(port3, name="ours.json")
        sock3 = h.path("server-req.sock")
        server3 = h.start_proxy_server(profile3, f"127.0.0.1:{port3}", name="server-req",
                                       config={"control_socket": sock3})
        results = [handshake(h, profile3, port3, "127.0.0.2", True, seed=20 + i) for i in range(2)]
        h.check("required encryption: reference-style handshakes get silence",
                not any(r[0] for r in results), json.dumps([r[1] for r in results]))
        h.wait_stats(sock3, lambda s: s.get("drop_plain_refused", 0) >= 2, what="drop_plain_refused")
        hints = warnings(server3, HINT)
        h.check("one warning says to set obfuscation.encryption \"preferred\"",
                len(hints) == 1 and "\"preferred\"" in hints[0], "\n".join(hints))
        server3.stop()
        return h.exit_code


def other_public_key(h):
    r = subprocess.run([h.prog("paniq-ctl"), "keygen"], capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError("paniq-ctl keygen failed: " + r.stderr)
    for line in r.stdout.splitlines():
        if line.startswith("server_public_key="):
            return line.split("=", 1)[1].strip()
    raise RuntimeError("paniq-ctl keygen printed no public key: " + r.stdout)


if __name__ == "__main__":
    sys.exit(main())
