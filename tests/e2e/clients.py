"""Clients of the end-to-end tests and bench/tunnel: curl through socks5d, raw SOCKS5 (RFC 1928 /
1929) requests, HTTP/1.0 over a connected socket, SOCKS5 UDP headers, and a stdlib HTTP origin.
Standard library only; every socket operation has a timeout.
"""
import hashlib
import http.server
import os
import re
import socket
import struct
import subprocess
import threading
import time

from harness import sha256_file


class PyHttpOrigin:
    """A stdlib HTTP server thread serving `root` on (host, ephemeral port); for tests that
    cannot run nginx (inside a user namespace nginx cannot drop privileges)."""

    def __init__(self, root, host="127.0.0.1"):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True
            request_queue_size = 256

        self.server = Server((host, 0), lambda *a, **kw: Quiet(*a, directory=root, **kw))
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def curl_fetch(socks_port, url, out=None, max_time=120, extra=(), socks_host="127.0.0.1"):
    """curl through socks5d (--socks5-hostname: names are resolved by proxy-server). The body
    is hashed on the fly (out=None) or written to `out`. Returns (rc, http_code, sha256 or None,
    stderr text)."""
    argv = ["curl", "-sS", "--max-time", str(max_time), "-w", "%{stderr}HTTP %{http_code}\n",
            "-o", out or "-", *extra, url]
    if socks_port is not None:
        argv[1:1] = ["--socks5-hostname", f"{socks_host}:{socks_port}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    h = hashlib.sha256() if out is None else None
    try:
        if h is not None:
            for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
                h.update(chunk)
        _, err = proc.communicate(timeout=max_time + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return -1, 0, None, "curl did not finish"
    err = err.decode(errors="replace")
    m = re.search(r"HTTP (\d+)", err)
    code = int(m.group(1)) if m else 0
    digest = h.hexdigest() if h is not None else (sha256_file(out) if os.path.exists(out) else None)
    return proc.returncode, code, digest, err.strip()


def curl_parallel(socks_port, urls, outs, max_time=120, parallel_max=100):
    """One curl --parallel run fetching urls[i] to outs[i]. Returns (rc, wall seconds, stderr)."""
    argv = ["curl", "-sS", "--no-progress-meter", "--parallel", "--parallel-immediate", "--parallel-max",
            str(parallel_max), "--max-time", str(max_time)]
    if socks_port is not None:
        argv += ["--socks5-hostname", f"127.0.0.1:{socks_port}"]
    for u, o in zip(urls, outs):
        argv += ["-o", o, u]
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=max_time + 30)
    return r.returncode, time.monotonic() - t, r.stderr.strip()


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_all(s, limit=1 << 30):
    buf = bytearray()
    while len(buf) < limit:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def atyp_ipv4(ip):
    return b"\x01" + socket.inet_pton(socket.AF_INET, ip)


def atyp_ipv6(ip):
    return b"\x04" + socket.inet_pton(socket.AF_INET6, ip)


def atyp_domain(name):
    n = name.encode()
    return b"\x03" + bytes([len(n)]) + n


def read_socks_reply(s):
    """Reads one SOCKS5 reply (VER REP RSV ATYP ADDR PORT); returns its bytes."""
    head = recv_exact(s, 4)
    alen = {1: 4, 4: 16}.get(head[3])
    if alen is None:
        ln = recv_exact(s, 1)
        head += ln
        alen = ln[0]
    return head + recv_exact(s, alen + 2)


def socks_open(socks_port, cmd, atyp_addr, port, auth=None, timeout=20, host="127.0.0.1"):
    """Greeting (+ RFC 1929 when `auth` = (user, password) bytes), request. Returns (socket,
    reply bytes); on an authentication failure the reply is the 2-byte RFC 1929 status."""
    s = socket.create_connection((host, socks_port), timeout=timeout)
    try:
        if auth:
            s.sendall(b"\x05\x01\x02")
            sel = recv_exact(s, 2)
            if sel != b"\x05\x02":
                return s, sel
            user, pw = auth
            s.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(pw)]) + pw)
            status = recv_exact(s, 2)
            if status != b"\x01\x00":
                return s, status
        else:
            s.sendall(b"\x05\x01\x00")
            sel = recv_exact(s, 2)
            if sel != b"\x05\x00":
                return s, sel
        s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + atyp_addr + struct.pack(">H", port))
        return s, read_socks_reply(s)
    except BaseException:
        s.close()
        raise


def http_get(sock, path, host="x"):
    """HTTP/1.0 GET on a connected socket; returns (status, body) after the server closes."""
    sock.sendall(f"GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    data = recv_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d+)", head)
    return (int(m.group(1)) if m else 0), body


def closed_by_peer(s, timeout=5.0):
    """True when the peer closes `s` (EOF or reset) within `timeout` s; anything it sends
    before closing is discarded."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def udp_header(atyp_addr, port):
    return b"\x00\x00\x00" + atyp_addr + struct.pack(">H", port)


def relay_address(reply):
    """The UDP relay (host, port) of a UDP ASSOCIATE success reply."""
    if reply[3] == 1:
        return socket.inet_ntop(socket.AF_INET, reply[4:8]), struct.unpack(">H", reply[8:10])[0]
    if reply[3] == 4:
        return socket.inet_ntop(socket.AF_INET6, reply[4:20]), struct.unpack(">H", reply[20:22])[0]
    raise ValueError(f"unexpected relay address type in {reply.hex()}")


