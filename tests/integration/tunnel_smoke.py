#!/usr/bin/env python3
"""End-to-end smoke test of the tunnel: the real proxy-server and socks5d binaries on 127.0.0.1
with ephemeral ports and a freshly generated profile, driven by curl (--socks5-hostname) and by
raw SOCKS5 clients written here. Checks bytes with SHA-256; stops every process it starts (also
on failure). Standard library only; every wait is bounded.

usage: tunnel_smoke.py --bin-dir DIR   (DIR holds proxy-server, socks5d, paniq-ctl)
"""
import argparse
import hashlib
import http.server
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE_START = 15.0  # seconds for a daemon to log that it listens
CURL_TIMEOUT = 60


def free_port(kind=socket.SOCK_STREAM, family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class HttpOrigin:
    """A local HTTP server (thread) serving `root` on (host, ephemeral port)."""

    def __init__(self, root, host, family):
        handler = lambda *a, **kw: QuietHandler(*a, directory=root, **kw)  # noqa: E731

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        self.server = Server((host, 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class UdpEcho:
    """Echoes every datagram back to its sender, prefixed with b'echo:'."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.sock.sendto(b"echo:" + data, addr)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


class Daemon:
    def __init__(self, name, argv, workdir, ready_text):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + DEADLINE_START
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}:\n{self.read_log()}")
            if ready_text in self.read_log():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not log '{ready_text}' in {DEADLINE_START} s:\n{self.read_log()}")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def curl(socks_port, url, out):
    r = subprocess.run(["curl", "-sS", "--max-time", str(CURL_TIMEOUT), "--socks5-hostname",
                        f"127.0.0.1:{socks_port}", "-o", out, "-w", "%{http_code} %{speed_download}",
                        url], capture_output=True, text=True, timeout=CURL_TIMEOUT + 10)
    return r.returncode, r.stdout, r.stderr


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RuntimeError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def socks_request(socks_port, cmd, atyp_addr, port, auth=None):
    """Greeting (+ RFC 1929), request; returns (socket, reply bytes 05 REP 00 ATYP ADDR PORT)."""
    s = socket.create_connection(("127.0.0.1", socks_port), timeout=20)
    if auth:
        s.sendall(b"\x05\x01\x02")
        assert recv_exact(s, 2) == b"\x05\x02"
        user, pw = auth
        s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
        status = recv_exact(s, 2)
        if status != b"\x01\x00":
            return s, status
    else:
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00", "method selection"
    s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + atyp_addr + struct.pack(">H", port))
    head = recv_exact(s, 4)
    atyp = head[3]
    alen = {1: 4, 4: 16}.get(atyp)
    if alen is None:
        alen = recv_exact(s, 1)[0]
        head += bytes([alen])
    return s, head + recv_exact(s, alen + 2)


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name} {detail}", flush=True)
        if not ok:
            self.failed.append(name)


class Smoke:
    """One run: the daemons, origins and scratch files, and the groups of checks."""

    def __init__(self, bin_dir, work):
        self.bin_dir, self.work = bin_dir, work
        self.checks = Checks()
        self.started, self.origins = [], []

    def binary(self, name):
        return os.path.join(self.bin_dir, name)

    def start(self, name, argv, ready):
        d = Daemon(name, [self.binary(argv[0]), *argv[1:]], self.work, ready)
        self.started.append(d)
        return d

    def setup(self):
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.socks_port = free_port()
        self.profile = os.path.join(self.work, "profile.json")
        with open(self.profile, "w") as f:
            subprocess.run([self.binary("paniq-ctl"), "create-profile", "--proxy-addr",
                            f"127.0.0.1:{self.udp_port}"], stdout=f, check=True, timeout=30)
        with open(os.path.join(self.work, "body.bin"), "wb") as f:
            f.write(os.urandom(10 * 1024 * 1024))
        self.want = sha256_file(os.path.join(self.work, "body.bin"))
        self.origin4 = HttpOrigin(self.work, "127.0.0.1", socket.AF_INET)
        self.origins.append(self.origin4)
        self.start("proxy-server", ["proxy-server", "-l", f"127.0.0.1:{self.udp_port}", "-p", self.profile],
                   "listening on")
        self.start("socks5d", ["socks5d", "-l", f"127.0.0.1:{self.socks_port}", "-p", self.profile],
                   "SOCKS5 daemon listening")

    def fetch(self, name, url):
        out = os.path.join(self.work, name + ".out")
        rc, info, err = curl(self.socks_port, url, out)
        ok = rc == 0 and os.path.exists(out) and sha256_file(out) == self.want
        self.checks.check(name, ok, f"rc={rc} {info} {err.strip()}")

    def transfers(self):
        # 10 MB through an IPv4 target; a domain target (the proxy resolves localhost and races
        # ::1 / 127.0.0.1); an IPv6 target. Every body verified by SHA-256.
        self.fetch("ipv4 10MB", f"http://127.0.0.1:{self.origin4.port}/body.bin")
        self.fetch("localhost domain", f"http://localhost:{self.origin4.port}/body.bin")
        if not have_ipv6():
            print("SKIP ipv6 target (no ::1)", flush=True)
            return
        origin6 = HttpOrigin(self.work, "::1", socket.AF_INET6)
        self.origins.append(origin6)
        self.fetch("ipv6 target", f"http://[::1]:{origin6.port}/body.bin")

    def failure_replies(self):
        ipv4 = b"\x01" + socket.inet_aton("127.0.0.1")
        name = b"nonexistent.invalid"
        for label, cmd, addr, port, want in [
                ("refused -> 05", 1, ipv4, free_port(), b"\x05\x05"),
                ("unresolvable -> 04", 1, b"\x03" + bytes([len(name)]) + name, 80, b"\x05\x04"),
                ("BIND -> 07", 2, ipv4, 80, b"\x05\x07")]:
            s, reply = socks_request(self.socks_port, cmd, addr, port)
            s.close()
            self.checks.check(label, reply[:2] == want, reply.hex())

    def udp_associate(self):
        # A datagram to a local echo server and its answer, through the tunnel; then closing the
        # TCP control connection ends the association.
        echo = UdpEcho()
        self.origins.append(echo)
        ctrl, reply = socks_request(self.socks_port, 3, b"\x01\x00\x00\x00\x00", 0)
        ok = reply[:2] == b"\x05\x00" and reply[3] == 1
        header = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", echo.port)
        relay = (socket.inet_ntoa(reply[4:8]), struct.unpack(">H", reply[8:10])[0]) if ok else None
        got = udp_exchange(relay, header + b"hello", tries=10) if ok else b""
        self.checks.check("udp associate echo", ok and got == header + b"echo:hello", f"{reply.hex()} {got!r}")
        ctrl.close()
        if ok:
            time.sleep(0.3)
            late = udp_exchange(relay, header + b"late", tries=1, timeout=0.5)
            self.checks.check("udp association ends with its control connection", late == b"", repr(late))

    def authentication(self):
        port = free_port()
        self.start("socks5d-auth", ["socks5d", "-l", f"127.0.0.1:{port}", "-p", self.profile,
                                    "-u", "alice", "-a", "secret"], "SOCKS5 daemon listening")
        target = b"\x01" + socket.inet_aton("127.0.0.1")
        s, status = socks_request(port, 1, target, self.origin4.port, auth=(b"alice", b"wrong"))
        s.close()
        self.checks.check("auth rejected", status[:1] == b"\x01" and status[1:2] != b"\x00", status.hex())
        s, reply = socks_request(port, 1, target, self.origin4.port, auth=(b"alice", b"secret"))
        ok = reply[:2] == b"\x05\x00" and http10_body_sha256(s, "/body.bin") == self.want
        s.close()
        self.checks.check("auth accepted + HTTP/1.0 body", ok, reply.hex())

    def config_policies(self):
        # Daemon config: credentials, max_connections, negotiation timeout (accept_timeout).
        port = free_port()
        cfg = os.path.join(self.work, "socks5d.json")
        with open(cfg, "w") as f:
            f.write('{"listen_addr": "127.0.0.1:%d", "username": "bob", "password": "pw", '
                    '"max_connections": 2, "accept_timeout": "1s", "log_level": "debug"}' % port)
        self.start("socks5d-config", ["socks5d", "-c", cfg, "-p", self.profile], "SOCKS5 daemon listening")
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x05\x01\x00")
        self.checks.check("config credentials: no-auth refused", recv_exact(s, 2) == b"\x05\xff")
        s.close()
        s, reply = socks_request(port, 1, b"\x01" + socket.inet_aton("127.0.0.1"), self.origin4.port,
                                 auth=(b"bob", b"pw"))
        s.close()
        self.checks.check("config credentials: accepted", reply[:2] == b"\x05\x00", reply.hex())
        time.sleep(0.2)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        time.sleep(0.2)
        third = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.checks.check("max_connections: over the limit closed at once", closed_within(third, 0.5))
        t0 = time.monotonic()
        closed = closed_within(idle[0], 5)
        waited = time.monotonic() - t0
        for c in idle + [third]:
            c.close()
        self.checks.check("negotiation timeout closes a silent client", closed and waited < 3, f"{waited:.2f} s")

    def cli_errors(self):
        # One clear line on stderr; exit 2 for usage errors, 1 for runtime ones.
        def run_bin(*argv):
            return subprocess.run([self.binary(argv[0]), *argv[1:]], capture_output=True, text=True,
                                  timeout=20)
        r = run_bin("socks5d", "--bogus", "-p", self.profile)
        self.checks.check("bad flag -> exit 2", r.returncode == 2 and "--bogus" in r.stderr
                          and r.stderr.count("\n") == 1, r.stderr.strip())
        r = run_bin("socks5d", "-p", os.path.join(self.work, "missing.json"))
        self.checks.check("missing profile -> exit 1", r.returncode == 1 and "missing.json" in r.stderr,
                          r.stderr.strip())
        r = run_bin("proxy-server", "-l", f"127.0.0.1:{self.udp_port}", "-p", self.profile)
        self.checks.check("udp port in use -> exit 1", r.returncode == 1 and "in use" in r.stderr,
                          r.stderr.strip())
        r = run_bin("socks5d", "-l", f"127.0.0.1:{self.socks_port}", "-p", self.profile)
        self.checks.check("tcp port in use -> exit 1", r.returncode == 1 and "in use" in r.stderr,
                          r.stderr.strip())
        r = run_bin("proxy-server", "--version")
        self.checks.check("--version", r.returncode == 0 and "paniq-cpp" in r.stdout, r.stdout.strip())

    def teardown(self):
        # Every process we started is stopped by PID (SIGTERM, then SIGKILL), also on failure.
        for d in reversed(self.started):
            rc = d.stop()
            self.checks.check(f"{d.name} exits 0 on SIGTERM", rc == 0, f"rc={rc}")
            if self.checks.failed:
                print(f"--- {d.name} log (tail) ---\n" + d.read_log()[-3000:], flush=True)
        for o in self.origins:
            o.stop()


def udp_exchange(relay, datagram, tries, timeout=1.0):
    """Sends `datagram` to `relay` up to `tries` times; the first answer, or b"" (no answer or an
    ICMP error)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(timeout)
    try:
        for _ in range(tries):
            u.sendto(datagram, relay)
            try:
                return u.recvfrom(65535)[0]
            except socket.timeout:
                continue
    except OSError:
        pass
    finally:
        u.close()
    return b""


def closed_within(sock, seconds):
    """True when the peer closes `sock` (recv returns b"") within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(16) == b""
    except OSError:
        return False


def http10_body_sha256(sock, path):
    """HTTP/1.0 GET on an open SOCKS connection; SHA-256 of the body (read to EOF)."""
    sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
    sock.settimeout(30)
    data = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return hashlib.sha256(data.split(b"\r\n\r\n", 1)[-1]).hexdigest()


def run(bin_dir, work):
    smoke = Smoke(bin_dir, work)
    try:
        smoke.setup()
        smoke.transfers()
        smoke.failure_replies()
        smoke.udp_associate()
        smoke.authentication()
        smoke.config_policies()
        smoke.cli_errors()
    finally:
        smoke.teardown()
    return smoke.checks.failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="paniq-it-")
    try:
        failed = run(os.path.abspath(args.bin_dir), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
