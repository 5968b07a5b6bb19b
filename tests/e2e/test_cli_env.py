#!/usr/bin/env python3
"""E2E: documented command-line and environment behaviours of the three programs (issue 12 item 8).

  * paniq-ctl keygen: two `server_private_key=` / `server_public_key=` lines of 32-byte base64
    keys, fresh each run; a profile with that pair carries a download, a profile pairing one
    run's private key with another run's public key is refused at start (exit 1, naming it);
  * paniq-ctl profile-cbor: JSON -> CBOR (files, and stdin -> stdout with --base64, the same
    bytes), --decode back (files and stdin) to a profile whose carried fields equal the
    original's; the decoded profile carries a download; the note on server_private_key; bad
    input and a missing file exit 1 with one line;
  * control socket path precedence (--control-socket > config control_socket >
    $PANIQ_CONTROL_SOCKET, control.hpp / --help) for socks5d and proxy-server: only the winning
    path answers `paniq-ctl ping`, it is mode 0600 and gone after SIGTERM;
  * logging: the config's log_level, overridden by PANIQ_LOG, else RUST_LOG (README); a value
    that is not a level name is ignored;
  * SIGINT stops socks5d and proxy-server with exit 0 (--help footers);
  * GLIBC_TUNABLES (app/lean_malloc.hpp, README "Memory"): socks5d and proxy-server run
    themselves again, same PID, with glibc.malloc.tcache_count=0 added to the user's tunables,
    and leave a tcache_count the user set alone; a tunnel started so carries a download;
  * proxy_addr as host:port (README, profile fields): "localhost:PORT" in the profile, and
    --proxy-addr localhost:PORT over a profile address where nothing listens, resolved once at
    start (logged as the address) and carrying a download.

No nginx: the HTTP origin is clients.PyHttpOrigin. Exits non-zero when a check fails.
"""
import base64
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, LISTEN_RE, free_port, write_random_file  # noqa: E402
from clients import PyHttpOrigin, curl_fetch  # noqa: E402

KEY_LINES = re.compile(r"^server_private_key=(\S+)\nserver_public_key=(\S+)\n$")
LISTENING = "SOCKS5 daemon listening"
# Our extensions (encryption, client key, ...) travel in the compact profile's extension map
# (docs/protocol.md 8.2), so every obfuscation field comes back.
NOT_IN_CBOR = set()


def run(h, prog, *args, stdin=None, timeout=20, text=True):
    return subprocess.run([h.prog(prog), *args], input=stdin, capture_output=True, text=text,
                          timeout=timeout)


def clean_env(**extra):
    """The environment without the variables under test, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PANIQ_LOG", "RUST_LOG", "PANIQ_CONTROL_SOCKET", "GLIBC_TUNABLES")}
    env.update(extra)
    return env


def ping(h, sock):
    r = run(h, "paniq-ctl", "ping", "-s", sock, timeout=10)
    return r.returncode == 0 and r.stdout.strip() == "Pong"


def wait_ping(h, proc, sock, timeout=10.0):
    """True once the daemon answers Ping on `sock` (its readiness when its log is quiet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        if os.path.exists(sock) and ping(h, sock):
            return True
        time.sleep(0.02)
    return False


def fetch_ok(port, origin, digest):
    rc, _, got, err = curl_fetch(port, origin.url("blob.bin"), max_time=20)
    return rc == 0 and got == digest, err


def tunnel(h, profile, label, origin, digest, server_profile=None):
    """proxy-server (server_profile or profile) and socks5d (profile); a download through them."""
    with open(server_profile or profile) as f:
        port = int(json.load(f)["proxy_addr"].rsplit(":", 1)[1])
    server = h.start_proxy_server(server_profile or profile, f"127.0.0.1:{port}",
                                  name=f"proxy-server-{label}")
    client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{port}", name=f"socks5d-{label}")
    ok, err = fetch_ok(client.port, origin, digest)
    for p in (client, server):
        p.stop()
    return ok, err


def edit_profile(src, dst, edit):
    with open(src) as f:
        p = json.load(f)
    edit(p)
    with open(dst, "w") as f:
        json.dump(p, f, indent=2)
    return dst


# ------------------------------------------------------------------------------------------------
# paniq-ctl keygen


def keygen_checks(h, origin, digest):
    runs = [run(h, "paniq-ctl", "keygen") for _ in range(2)]
    pairs = []
    for r in runs:
        m = KEY_LINES.match(r.stdout)
        if r.returncode == 0 and m:
            pairs.append((m.group(1), m.group(2)))
    keys_ok = len(pairs) == 2 and all(len(base64.b64decode(k, validate=True)) == 32
                                      for pair in pairs for k in pair)
    h.check("keygen: exit 0, `server_private_key=` and `server_public_key=` lines, 32-byte base64 keys",
            keys_ok, runs[0].stdout.strip() + runs[0].stderr.strip())
    if not keys_ok:
        return
    h.check("keygen: every run makes a new pair", pairs[0] != pairs[1] and pairs[0][0] != pairs[0][1])
    port = free_port(socket.SOCK_DGRAM)
    base = h.create_profile(port, name="profile-keygen-base.json")

    def set_keys(priv, pub):
        def edit(p):
            p["obfuscation"]["server_private_key"] = priv
            p["obfuscation"]["server_public_key"] = pub
        return edit

    good = edit_profile(base, h.path("profile-keygen.json"), set_keys(*pairs[0]))
    ok, err = tunnel(h, good, "keygen", origin, digest)
    h.check("keygen: a profile with that pair carries a download (MAC1 and the encrypted handshake "
            "use it)", ok, err)
    bad = edit_profile(base, h.path("profile-keygen-mixed.json"), set_keys(pairs[0][0], pairs[1][1]))
    r = run(h, "proxy-server", "-l", "127.0.0.1:0", "-p", bad)
    h.check("keygen: one run's private key with another run's public key -> proxy-server exits 1 naming it",
            r.returncode == 1 and "not the public key of obfuscation.server_private_key" in r.stderr,
            r.stderr.strip())


# ------------------------------------------------------------------------------------------------
# paniq-ctl profile-cbor


def carried(prof):
    """The fields of a profile the compact form carries (what a decode must give back)."""
    out = {k: v for k, v in prof.items() if k not in ("kcp", "obfuscation")}
    out["obfuscation"] = {k: v for k, v in prof["obfuscation"].items() if k not in NOT_IN_CBOR}
    out["kcp"] = {k: v for k, v in prof.get("kcp", {}).items()
                  if k in ("max_packet_size", "max_payload", "keepalive", "idle_timeout", "max_streams")}
    return out


def profile_cbor_checks(h, origin, digest):
    port = free_port(socket.SOCK_DGRAM)
    src = h.create_profile(port, name="profile-cbor-src.json")
    with open(src) as f:
        original = json.load(f)
    cbor_path = h.path("profile.cbor")
    r = run(h, "paniq-ctl", "profile-cbor", "--input", src, "--output", cbor_path)
    raw = open(cbor_path, "rb").read() if os.path.exists(cbor_path) else b""
    h.check("profile-cbor --input JSON --output FILE: exit 0, a CBOR map",
            r.returncode == 0 and raw[:1] and (0xa0 <= raw[0] <= 0xbf), f"{len(raw)} bytes {r.stderr.strip()}")
    h.check("profile-cbor: notes on stderr that server_private_key is included",
            "server_private_key is included" in r.stderr, r.stderr.strip())
    with open(src) as f:
        r64 = run(h, "paniq-ctl", "profile-cbor", "--base64", stdin=f.read())
    try:
        b64_bytes = base64.b64decode(r64.stdout.strip(), validate=True)
    except ValueError:
        b64_bytes = None
    h.check("profile-cbor --base64 (stdin -> stdout): one line, the same bytes base64-encoded",
            r64.returncode == 0 and r64.stdout.count("\n") == 1 and b64_bytes == raw,
            r64.stderr.strip())

    d = run(h, "paniq-ctl", "profile-cbor", "--decode", "--input", cbor_path)
    try:
        decoded = json.loads(d.stdout)
    except ValueError:
        decoded = None
    same = decoded is not None and carried(decoded) == carried(original)
    diff = ""
    if decoded is not None and not same:
        a, b = carried(original), carried(decoded)
        diff = "; ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b))
                         if a.get(k) != b.get(k))
    h.check("profile-cbor --decode --input FILE: the carried fields come back unchanged", same,
            diff[:600] or d.stderr.strip())
    d64 = run(h, "paniq-ctl", "profile-cbor", "--decode", "--base64", stdin=r64.stdout)
    h.check("profile-cbor --decode --base64 (stdin): the same profile",
            d64.returncode == 0 and d64.stdout == d.stdout, d64.stderr.strip())

    if decoded is not None:
        dec_path = h.path("profile-decoded.json")
        with open(dec_path, "w") as f:
            f.write(d.stdout)
        # The decoded client keeps encryption "required" (extension map); the server takes both.
        server_prof = edit_profile(src, h.path("profile-cbor-server.json"),
                                   lambda p: p["obfuscation"].update({"encryption": "preferred"}))
        ok, err = tunnel(h, dec_path, "cbor", origin, digest, server_profile=server_prof)
        h.check("profile-cbor: the decoded profile carries a download (server: the original, "
                "encryption preferred)", ok, err)
    h.check("profile-cbor: obfuscation.encryption is carried (extension map), no note says it is lost",
            decoded is not None and decoded["obfuscation"].get("encryption") == original["obfuscation"]["encryption"]
            and "obfuscation.encryption" not in r.stderr, r.stderr.strip())

    r = run(h, "paniq-ctl", "profile-cbor", "--decode", stdin=b"\xff\x00garbage", text=False)
    h.check("profile-cbor --decode of garbage: exit 1, one line", r.returncode == 1 and r.stdout == b""
            and r.stderr.count(b"\n") == 1, r.stderr.decode(errors="replace").strip())
    r = run(h, "paniq-ctl", "profile-cbor", "--input", h.path("missing.json"))
    h.check("profile-cbor --input missing file: exit 1 naming it", r.returncode == 1
            and "missing.json" in r.stderr and r.stderr.count("\n") == 1, r.stderr.strip())


# ------------------------------------------------------------------------------------------------
# Control socket path, logging, SIGINT


def daemon_argv(h, prog, profile, config=None, control=None, name=None):
    argv = [h.prog(prog), "-l", "127.0.0.1:0", "-p", profile]
    if config is not None:
        argv += ["-c", h.write_config(f"{name}.config.json", config)]
    if control:
        argv += ["--control-socket", control]
    return argv


def control_socket_checks(h, profile):
    for prog in ("socks5d", "proxy-server"):
        short = "s" if prog == "socks5d" else "p"
        env_sock, cfg_sock, cli_sock = (h.path(f"{short}-{w}.sock") for w in ("env", "cfg", "cli"))
        cases = [
            ("PANIQ_CONTROL_SOCKET alone", None, None, env_sock),
            ("config control_socket over PANIQ_CONTROL_SOCKET", cfg_sock, None, cfg_sock),
            ("--control-socket over config and PANIQ_CONTROL_SOCKET", cfg_sock, cli_sock, cli_sock),
        ]
        for i, (label, cfg, cli, want) in enumerate(cases):
            name = f"{prog}-ctl{i}"
            config = {"control_socket": cfg} if cfg else {}
            if prog == "proxy-server":
                config["allow_targets"] = []
            p = h.start(name, daemon_argv(h, prog, profile, config, cli, name),
                        env=clean_env(PANIQ_CONTROL_SOCKET=env_sock), ready=r"listening on")
            others = [s for s in (env_sock, cfg_sock, cli_sock) if s != want]
            answered = ping(h, want)
            mode = stat.S_IMODE(os.stat(want).st_mode) if os.path.exists(want) else None
            stray = [os.path.basename(s) for s in others if os.path.exists(s)]
            rc = p.stop()
            h.check(f"{prog}: {label}: only {os.path.basename(want)} answers Ping, mode 0600, removed "
                    "at exit", answered and mode == 0o600 and not stray and not os.path.exists(want)
                    and rc == 0,
                    f"answered={answered} mode={oct(mode) if mode else None} stray={stray} rc={rc}")


def logging_checks(h, profile):
    """socks5d whose config sets log_level; ready when its control socket answers (its info
    line may be hidden)."""
    cases = [
        ("config log_level error, no variable", "error", {}, False),
        ("PANIQ_LOG=info over log_level error", "error", {"PANIQ_LOG": "info"}, True),
        ("RUST_LOG=info over log_level error", "error", {"RUST_LOG": "info"}, True),
        ("RUST_LOG=error over log_level info", "info", {"RUST_LOG": "error"}, False),
        ("PANIQ_LOG wins over RUST_LOG (PANIQ_LOG=error RUST_LOG=info, log_level info)", "info",
         {"PANIQ_LOG": "error", "RUST_LOG": "info"}, False),
        ("a PANIQ_LOG that is no level name is ignored (PANIQ_LOG=bogus RUST_LOG=info, log_level "
         "error)", "error", {"PANIQ_LOG": "bogus", "RUST_LOG": "info"}, True),
    ]
    for i, (label, level, env, want_info) in enumerate(cases):
        name = f"socks5d-log{i}"
        sock = h.path(f"log{i}.sock")
        p = h.start(name, daemon_argv(h, "socks5d", profile, {"log_level": level}, sock, name),
                    env=clean_env(**env))
        ready = wait_ping(h, p, sock)
        rc = p.stop()
        has_info = LISTENING in p.read_log()
        h.check(f"logging: {label}: info lines {'shown' if want_info else 'hidden'}",
                ready and rc == 0 and has_info == want_info,
                f"ready={ready} rc={rc} log: {p.read_log().strip()[-200:]}")
    # debug above the config's info: socks5d's per-connection debug line appears.
    name = "socks5d-logdebug"
    p = h.start(name, daemon_argv(h, "socks5d", profile, {"log_level": "info"}, None, name),
                env=clean_env(PANIQ_LOG="debug"), ready=LISTENING)
    m = LISTEN_RE.search(p.read_log())
    with socket.create_connection(("127.0.0.1", int(m.group(2))), timeout=5):
        pass
    try:
        p.wait_log(r" debug socks5 127\.0\.0\.1:\d+: connection accepted", timeout=5)
        debug = True
    except RuntimeError:
        debug = False
    h.check("logging: PANIQ_LOG=debug over log_level info: debug lines shown", debug and p.stop() == 0,
            p.read_log().strip()[-300:])
    # proxy-server too.
    name = "proxy-server-log"
    sock = h.path("plog.sock")
    p = h.start(name, daemon_argv(h, "proxy-server", profile, {"log_level": "info", "allow_targets": []},
                                  sock, name), env=clean_env(PANIQ_LOG="warn"))
    ready = wait_ping(h, p, sock)
    rc = p.stop()
    h.check("logging: proxy-server with PANIQ_LOG=warn over log_level info: info lines hidden",
            ready and rc == 0 and "listening on" not in p.read_log(), p.read_log().strip()[-200:])


def sigint_checks(h, profile):
    for prog, ready in (("socks5d", LISTENING), ("proxy-server", r"listening on")):
        name = f"{prog}-sigint"
        config = {"allow_targets": []} if prog == "proxy-server" else None
        p = h.start(name, daemon_argv(h, prog, profile, config, None, name), env=clean_env(), ready=ready)
        rc = p.stop(sig=signal.SIGINT)
        h.check(f"{prog}: SIGINT -> exit 0, logged", rc == 0 and f"signal {int(signal.SIGINT)}: shutting down"
                in p.read_log(), f"rc={rc}")


# ------------------------------------------------------------------------------------------------
# GLIBC_TUNABLES


def environ_of(pid):
    """The environment a running process was exec'd with, as a dict."""
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode().split("=", 1) for i in items if b"=" in i)


def malloc_tunables_checks(h, profile, origin, digest):
    cases = [
        ("unset", None, "glibc.malloc.tcache_count=0"),
        # glibc's start-up parse writes into the variable's copy in /proc/PID/environ and cuts it
        # after the first tunable it knows (glibc.malloc.check=0:x shows as glibc.malloc.check=0,
        # though x applies), so the kept tunable here is one it does not know.
        ("other tunables kept", "paniq.test.unknown=1", "paniq.test.unknown=1:glibc.malloc.tcache_count=0"),
        ("the user's tcache_count wins", "glibc.malloc.tcache_count=7", "glibc.malloc.tcache_count=7"),
    ]
    for i, (label, given, want) in enumerate(cases):
        env = clean_env() if given is None else clean_env(GLIBC_TUNABLES=given)
        with open(profile) as f:
            port = int(json.load(f)["proxy_addr"].rsplit(":", 1)[1])
        server = h.start_proxy_server(profile, f"127.0.0.1:{port}", name=f"proxy-server-tun{i}", env=env)
        client = h.start_socks5d(profile, proxy_addr=f"127.0.0.1:{port}", name=f"socks5d-tun{i}", env=env)
        for p, prog in ((server, "proxy-server"), (client, "socks5d")):
            got = environ_of(p.pid).get("GLIBC_TUNABLES")
            exe = os.path.realpath(f"/proc/{p.pid}/exe")
            h.check(f"GLIBC_TUNABLES {label}: {prog} (the PID it was started as) runs with {want!r}",
                    got == want and exe == os.path.realpath(h.prog(prog)), f"got {got!r}, exe {exe}")
        if i == 0:
            ok, err = fetch_ok(client.port, origin, digest)
            h.check("GLIBC_TUNABLES: daemons that ran themselves again carry a download", ok, err)
        for p in (client, server):
            h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")


# ------------------------------------------------------------------------------------------------
# proxy_addr as host:port


def proxy_addr_checks(h, origin, digest):
    port = free_port(socket.SOCK_DGRAM)
    # The address socks5d will take: the resolver's first for localhost (AI_ADDRCONFIG, as Asio).
    first = socket.getaddrinfo("localhost", port, 0, socket.SOCK_DGRAM, 0, socket.AI_ADDRCONFIG)[0][4][0]
    shown = f"[{first}]:{port}" if ":" in first else f"{first}:{port}"
    base = h.create_profile(port, name="profile-hostport-base.json")
    named = edit_profile(base, h.path("profile-hostport.json"),
                         lambda p: p.update({"proxy_addr": f"localhost:{port}"}))
    server = h.start_proxy_server(named, shown, name="proxy-server-hostport")
    client = h.start_socks5d(named, name="socks5d-hostport")
    ok, err = fetch_ok(client.port, origin, digest)
    h.check(f"proxy_addr \"localhost:{port}\" in the profile: resolved at start (logged as {shown}), "
            "carries a download", ok and f"(proxy {shown}" in client.read_log(), err)
    # --proxy-addr with a name over a profile address where nothing listens.
    elsewhere = edit_profile(base, h.path("profile-elsewhere.json"),
                             lambda p: p.update({"proxy_addr": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"}))
    client2 = h.start_socks5d(elsewhere, proxy_addr=f"localhost:{port}", name="socks5d-hostport-flag")
    ok, err = fetch_ok(client2.port, origin, digest)
    h.check("--proxy-addr localhost:PORT overrides the profile's proxy_addr and carries a download",
            ok and f"(proxy {shown}" in client2.read_log(), err)
    r = run(h, "socks5d", "-l", "127.0.0.1:0", "-p", base, "--proxy-addr", "localhost")
    h.check("--proxy-addr without a port -> exit 1 naming it", r.returncode == 1 and "localhost" in r.stderr
            and r.stderr.count("\n") == 1, r.stderr.strip())
    for p in (client2, client, server):
        h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")


def main():
    with Harness("cli_env") as h:
        root = h.path("www")
        os.makedirs(root)
        digest = write_random_file(os.path.join(root, "blob.bin"), 256 << 10)
        origin = PyHttpOrigin(root)
        try:
            keygen_checks(h, origin, digest)
            profile_cbor_checks(h, origin, digest)
            profile = h.create_profile(free_port(socket.SOCK_DGRAM), name="profile-env.json")
            control_socket_checks(h, profile)
            logging_checks(h, profile)
            sigint_checks(h, profile)
            malloc_tunables_checks(h, profile, origin, digest)
            proxy_addr_checks(h, origin, digest)
        finally:
            origin.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
