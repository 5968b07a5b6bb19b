#!/usr/bin/env python3
"""E2E: socks5d's HTTP proxy on the SOCKS5 port (docs/http-proxy.md).

Real processes on loopback: proxy-server, socks5d (debug log), nginx serving random files, a git
repository (dumb HTTP), a PEP 503 index with a wheel and a flat apt repository, plus a stdlib
echo origin for request bodies. Checks:
  * curl -x: GET with SHA-256, several URLs on one kept-alive client connection (curl's
    "Re-using existing connection" and socks5d's "(reused)" stream lines), HEAD, POST with
    Content-Length and chunked bodies (the origin answers the SHA-256 it received), pipelined
    requests to two origins, a kept stream whose origin closed retried on a new stream;
  * CONNECT (curl -p, proxytunnel) with SHA-256;
  * errors: 400 (origin-form, garbage), 431 (huge header), 501 (https:// absolute-form), 502 with
    the SOCKS reason for a refused port (GET and CONNECT), 504 for a target that never answers
    (proxy-server dial_timeout 1 s -> TTL expired), 407 without / with wrong credentials and
    200 with the right ones (credentials from -u/-a, as for SOCKS5);
  * SOCKS5 keeps working on the same port meanwhile;
  * git clone, pip download and apt-get update + download through the proxy (each skipped with
    a message when its tool is missing).
Traffic only to 127.0.0.1; every process stopped by PID. Exits non-zero when a check fails.
"""
import hashlib
import http.server
import os
import pwd
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Harness, free_port, sha256_file  # noqa: E402
from clients import curl_fetch  # noqa: E402
from test_socks_errors import unanswering_target  # noqa: E402

FILES = {"blob.bin": 3 << 20, "a.bin": 300 << 10, "b.bin": 700 << 10, "c.bin": 1 << 20}


def clean_env():
    """The environment without proxy variables (so only the explicit options choose a proxy)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def run(argv, timeout=120, cwd=None):
    r = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=cwd, env=clean_env())
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def curl_http(proxy, args, timeout=60):
    """curl -x http://proxy ...; returns (rc, stdout bytes, stderr text). `--next` resets the
    options: a later transfer must repeat -x."""
    return run(["curl", "-sS", "--max-time", str(timeout), "-x", f"http://{proxy}", *args], timeout + 10)


def raw_exchange(port, data, timeout=10):
    """Sends `data` on a new connection, returns everything received until the proxy closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


class EchoOrigin:
    """HTTP/1.1 origin thread: POST answers `<sha256 hex> <length>` of the body it received
    (Content-Length or chunked)."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                h = hashlib.sha256()
                n = 0
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        data = self.rfile.read(size)
                        self.rfile.readline()
                        h.update(data)
                        n += len(data)
                else:
                    left = int(self.headers.get("Content-Length", "0"))
                    while left:
                        data = self.rfile.read(min(left, 65536))
                        if not data:
                            break
                        h.update(data)
                        n += len(data)
                        left -= len(data)
                body = f"{h.hexdigest()} {n}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- checks ---------------------------------------------------------------------------------


def get_checks(h, proxy, web, client):
    rc, out, err = curl_http(proxy, [web.url("blob.bin")])
    h.check("GET through the HTTP proxy, SHA-256", rc == 0 and hashlib.sha256(out).hexdigest() == web.sha256["blob.bin"],
            err[-300:])
    mark = client.log_mark()
    names = ["a.bin", "b.bin", "c.bin", "blob.bin"]
    args = ["-v"]
    for n in names:
        args += ["-o", h.path("ka-" + n), web.url(n)]
    rc, _, err = curl_http(proxy, args)
    intact = [sha256_file(h.path("ka-" + n)) == web.sha256[n] for n in names]
    h.check("keep-alive: 4 URLs in one curl, all intact", rc == 0 and all(intact), f"rc={rc} {intact}")
    reused = err.count("Re-using existing connection")
    h.check("keep-alive: curl re-used its proxy connection", reused >= len(names) - 1, f"{reused} re-uses")
    log = client.read_log()[mark:]
    streams = len(re.findall(r"http [^ ]+: GET http://\S+ via stream \d+ \(reused\)", log))
    h.check("keep-alive: socks5d re-used the tunnel stream for the same origin", streams >= len(names) - 1,
            f"{streams} reused-stream requests")
    rc, out, err = curl_http(proxy, ["-sI", web.url("blob.bin")], timeout=20)
    text = out.decode(errors="replace")
    h.check("HEAD: 200 with the file's Content-Length, no body wait",
            rc == 0 and text.startswith("HTTP/1.1 200") and f"Content-Length: {FILES['blob.bin']}" in text, err[-300:])
    # A HEAD then a GET on one connection: the proxy must know the HEAD response has no body.
    rc, out, err = curl_http(proxy, ["-v", "-o", "/dev/null", "-I", web.url("a.bin"), "--next", "-v", "-x", f"http://{proxy}", "-o",
                                     h.path("after-head.bin"), web.url("a.bin")])
    h.check("HEAD then GET on one connection", rc == 0 and sha256_file(h.path("after-head.bin")) == web.sha256["a.bin"]
            and "Re-using existing connection" in err, f"rc={rc}")
    rc, out, err = curl_http(proxy, ["-s", "-o", "/dev/null", "-w", "%{http_code}", web.url("missing.bin")])
    h.check("an origin's 404 passes through", out == b"404", out)


def post_checks(h, proxy, echo):
    path = h.path("upload.bin")
    with open(path, "wb") as f:
        f.write(os.urandom(1_500_000))
    want = f"{sha256_file(path)} 1500000"
    url = f"http://127.0.0.1:{echo.port}/upload"
    rc, out, err = curl_http(proxy, ["--data-binary", f"@{path}", url])
    h.check("POST with Content-Length: the origin got every byte", rc == 0 and out.decode().strip() == want,
            f"{out[:100]!r} {err[-200:]}")
    rc, out, err = curl_http(proxy, ["-H", "Transfer-Encoding: chunked", "--data-binary", f"@{path}", url])
    h.check("POST chunked: the origin got every byte", rc == 0 and out.decode().strip() == want,
            f"{out[:100]!r} {err[-200:]}")
    # Two POSTs and a GET-less second POST on one connection.
    rc, out, err = curl_http(proxy, ["-v", "--data-binary", "abc", url, "--next", "-v", "-x", f"http://{proxy}", "--data-binary", f"@{path}", url])
    lines = out.decode().split()
    h.check("two POSTs on one kept-alive connection", rc == 0 and lines[-2:] == want.split()
            and "Re-using existing connection" in err, out[:200])


def pipeline_checks(h, proxy_port, web, echo, client):
    """Three requests written at once on one connection: nginx, the echo origin (a POST), nginx
    again with Connection: close. The answers come in order and each origin change opens a new
    tunnel stream."""
    host = f"127.0.0.1:{web.port4}"
    reqs = (f"GET http://{host}/small.txt HTTP/1.1\r\nHost: {host}\r\n\r\n"
            f"POST http://127.0.0.1:{echo.port}/p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            f"GET http://{host}/small.txt HTTP/1.1\r\nConnection: close\r\n\r\n").encode()
    mark = client.log_mark()
    reply = raw_exchange(proxy_port, reqs, timeout=30)
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", reply)
    abc = hashlib.sha256(b"abc").hexdigest().encode()
    ok = statuses == [b"200"] * 3 and reply.count(b"\r\n\r\nok\n") == 2 and abc + b" 3\n" in reply
    h.check("pipelined requests to two origins on one connection, answered in order", ok, reply[-300:])
    log = client.read_log()[mark:]
    new_streams = len(re.findall(r"http [^ ]+: (?:GET|POST) http://\S+ via stream \d+\n", log))
    h.check("an origin change opens a new tunnel stream", new_streams == 3, f"{new_streams} streams opened")


def closing_origin():
    """An origin that answers one request per connection and then closes it without saying so
    (no Connection: close): the proxy's kept stream to it is dead at the next request."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)

    def serve():
        while True:
            try:
                c, _ = lst.accept()
            except OSError:
                return
            with c:
                c.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n")
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return lst


def retry_checks(h, proxy, client):
    lst = closing_origin()
    try:
        url = f"http://127.0.0.1:{lst.getsockname()[1]}/"
        mark = client.log_mark()
        rc, out, err = curl_http(proxy, ["-v", url, "--next", "-v", "-x", f"http://{proxy}", url], timeout=30)
        log = client.read_log()[mark:]
        h.check("a kept stream whose origin closed is retried on a new stream",
                rc == 0 and out == b"hi\nhi\n" and "Re-using existing connection" in err
                and "retrying on a new stream" in log, f"rc={rc} {out!r}")
    finally:
        lst.close()


def connect_checks(h, proxy, web):
    rc, out, err = curl_http(proxy, ["-v", "-p", web.url("blob.bin")])
    h.check("CONNECT (curl -p): 200 Connection established, SHA-256",
            rc == 0 and "200 Connection established" in err
            and hashlib.sha256(out).hexdigest() == web.sha256["blob.bin"], err[-300:])


def error_checks(h, proxy_port, proxy, web):
    reply = raw_exchange(proxy_port, b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    h.check("400 for origin-form (not a proxy request)", reply.startswith(b"HTTP/1.1 400 "), reply[:80])
    reply = raw_exchange(proxy_port, b"BREW coffee-pot\r\n\r\n")
    h.check("400 for a garbage request line", reply.startswith(b"HTTP/1.1 400 "), reply[:80])
    reply = raw_exchange(proxy_port, b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n")
    h.check("431 for a header over the limits", reply.startswith(b"HTTP/1.1 431 "), reply[:80])
    reply = raw_exchange(proxy_port, b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n")
    h.check("501 for https:// in absolute-form", reply.startswith(b"HTTP/1.1 501 "), reply[:80])
    reply = raw_exchange(proxy_port, b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")
    h.check("neither SOCKS5 nor HTTP (SOCKS4): closed without a reply", reply == b"", reply[:40])

    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as s:
        s.sendall(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        t0 = time.monotonic()
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        took = time.monotonic() - t0
    h.check("an unfinished request head is closed at the negotiation timeout (2 s)",
            got == b"" and 1.0 <= took <= 6.0, f"{took:.1f} s, {got[:60]!r}")

    closed = free_port()
    rc, out, err = curl_http(proxy, ["-s", "-D", "-", f"http://127.0.0.1:{closed}/x"], timeout=30)
    text = out.decode(errors="replace")
    h.check("502 for a refused port, reason in body and Proxy-Status",
            text.startswith("HTTP/1.1 502 ") and "connection refused" in text and "error=connection_refused" in text,
            text[:300])
    reply = raw_exchange(proxy_port, f"CONNECT 127.0.0.1:{closed} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), timeout=30)
    h.check("502 for CONNECT to a refused port", reply.startswith(b"HTTP/1.1 502 ") and b"connection refused" in reply,
            reply[:200])

    lst, fillers, port = unanswering_target()
    try:
        rc, out, err = curl_http(proxy, ["-s", "-D", "-", f"http://127.0.0.1:{port}/x"], timeout=30)
        text = out.decode(errors="replace")
        h.check("504 for a target that never answers (TTL expired)",
                text.startswith("HTTP/1.1 504 ") and "TTL expired" in text, text[:300])
    finally:
        for c in fillers:
            c.close()
        lst.close()
    rc, out, err = curl_http(proxy, [web.url("small.txt")])
    h.check("the proxy serves after the errors", rc == 0 and out == b"ok\n", err[-200:])


def auth_checks(h, profile, web):
    authd = h.start_socks5d(profile, user="alice", password="s3cret", name="socks5d-auth")
    proxy = f"127.0.0.1:{authd.port}"
    rc, out, err = curl_http(proxy, ["-s", "-D", "-", "-o", "/dev/null", web.url("small.txt")])
    text = out.decode(errors="replace")
    h.check("407 without credentials, with the Basic challenge",
            text.startswith("HTTP/1.1 407 ") and 'Proxy-Authenticate: Basic realm="paniq"' in text, text[:200])
    rc, out, err = curl_http(proxy, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-U", "alice:wrong", web.url("small.txt")])
    h.check("407 with a wrong password", out == b"407", out)
    rc, out, err = curl_http(proxy, ["-U", "alice:s3cret", web.url("blob.bin")])
    h.check("200 with the right credentials, SHA-256",
            rc == 0 and hashlib.sha256(out).hexdigest() == web.sha256["blob.bin"], err[-200:])
    rc, out, err = curl_http(proxy, ["-p", "-U", "alice:s3cret", web.url("a.bin")])
    h.check("CONNECT with the right credentials", rc == 0 and hashlib.sha256(out).hexdigest() == web.sha256["a.bin"],
            err[-200:])
    rc, _, got, err = curl_fetch(authd.port, web.url("a.bin"), extra=["--proxy-user", "alice:s3cret"])
    h.check("SOCKS5 with username/password on the same port", rc == 0 and got == web.sha256["a.bin"], err)
    h.check("socks5d-auth exits 0 on SIGTERM", authd.stop() == 0, f"rc={authd.returncode}")


def socks_meanwhile(h, port, web, proxy):
    """SOCKS5 downloads and HTTP proxy downloads at the same time on one port."""
    results = {}

    def socks():
        results["socks"] = curl_fetch(port, web.url("blob.bin"))

    t = threading.Thread(target=socks)
    t.start()
    rc, out, err = curl_http(proxy, [web.url("blob.bin")])
    t.join(120)
    s = results.get("socks", (1, 0, None, "did not finish"))
    h.check("SOCKS5 on the same port while HTTP is served", s[0] == 0 and s[2] == web.sha256["blob.bin"], s[3])
    h.check("HTTP beside SOCKS5", rc == 0 and hashlib.sha256(out).hexdigest() == web.sha256["blob.bin"], err[-200:])


# --- git / pip / apt ------------------------------------------------------------------------


def git_checks(h, proxy, web):
    if not shutil.which("git"):
        print("SKIP git clone: git not installed")
        return
    src = h.path("gitsrc")
    os.makedirs(src)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    with open(os.path.join(src, "data.bin"), "wb") as f:
        f.write(os.urandom(200_000))
    for argv in (git + ["init", "-q"], git + ["add", "data.bin"], git + ["commit", "-qm", "one"]):
        rc, _, err = run(argv, cwd=src)
        if rc != 0:
            h.check("git: prepare the repository", False, err)
            return
    bare = os.path.join(web.root, "repo.git")
    rc, _, err = run(git + ["clone", "-q", "--bare", src, bare])
    if rc == 0:
        rc, _, err = run(["git", "update-server-info"], cwd=bare)
    for dirpath, dirs, files in os.walk(bare):
        for n in dirs + files:
            os.chmod(os.path.join(dirpath, n), 0o755 if n in dirs else 0o644)
    _, head, _ = run(["git", "rev-parse", "HEAD"], cwd=src)
    dst = h.path("gitclone")
    rc, _, err = run(["git", "-c", f"http.proxy=http://{proxy}", "clone", "-q", web.url("repo.git"), dst], timeout=120)
    ok = rc == 0 and run(["git", "rev-parse", "HEAD"], cwd=dst)[1] == head
    ok = ok and sha256_file(os.path.join(dst, "data.bin")) == sha256_file(os.path.join(src, "data.bin"))
    h.check("git clone over dumb HTTP through the proxy: same HEAD and content", ok, err[-300:])


def build_wheel(path):
    files = {
        "tinypkg/__init__.py": b"VALUE = 42\n",
        "tinypkg-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
        "tinypkg-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: handmade\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        import base64
        d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{name},sha256={d},{len(data)}\n"
    record += "tinypkg-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("tinypkg-0.1.dist-info/RECORD", record)


def pip_checks(h, proxy, web):
    if run([sys.executable, "-m", "pip", "--version"])[0] != 0:
        print("SKIP pip download: python3 -m pip is not available")
        return
    d = os.path.join(web.root, "simple", "tinypkg")
    os.makedirs(d)
    wheel = "tinypkg-0.1-py3-none-any.whl"
    build_wheel(os.path.join(d, wheel))
    digest = sha256_file(os.path.join(d, wheel))
    with open(os.path.join(web.root, "simple", "index.html"), "w") as f:
        f.write('<!DOCTYPE html><html><body><a href="tinypkg/">tinypkg</a></body></html>\n')
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write(f'<!DOCTYPE html><html><body><a href="{wheel}#sha256={digest}">{wheel}</a></body></html>\n')
    for dirpath, dirs, files in os.walk(os.path.join(web.root, "simple")):
        for n in dirs:
            os.chmod(os.path.join(dirpath, n), 0o755)
        for n in files:
            os.chmod(os.path.join(dirpath, n), 0o644)
    dst = h.path("pipdl")
    rc, out, err = run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--isolated",
                        "--disable-pip-version-check", "--index-url", web.url("simple/"), "--proxy",
                        f"http://{proxy}", "-d", dst, "tinypkg"], timeout=120)
    got = os.path.join(dst, wheel)
    h.check("pip download through the proxy: the wheel's SHA-256",
            rc == 0 and os.path.exists(got) and sha256_file(got) == digest, (err or out.decode())[-400:])


def apt_checks(h, proxy, web):
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb") and shutil.which("dpkg-scanpackages")):
        print("SKIP apt: apt-get, dpkg-deb or dpkg-scanpackages missing")
        return
    pkg = h.path("aptpkg")
    os.makedirs(os.path.join(pkg, "DEBIAN"))
    os.makedirs(os.path.join(pkg, "usr", "share", "paniq-tiny"))
    with open(os.path.join(pkg, "usr", "share", "paniq-tiny", "data.bin"), "wb") as f:
        f.write(os.urandom(100_000))
    with open(os.path.join(pkg, "DEBIAN", "control"), "w") as f:
        f.write("Package: paniq-tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: test <t@example.invalid>\n"
                "Description: test package\n")
    repo = os.path.join(web.root, "apt")
    os.makedirs(repo)
    deb = os.path.join(repo, "paniq-tiny_1.0_all.deb")
    rc, _, err = run(["dpkg-deb", "--build", "--root-owner-group", pkg, deb])
    if rc != 0:
        h.check("apt: build the .deb", False, err)
        return
    rc, packages, err = run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo)
    with open(os.path.join(repo, "Packages"), "wb") as f:
        f.write(packages)
    for n in os.listdir(repo):
        os.chmod(os.path.join(repo, n), 0o644)
    os.chmod(repo, 0o755)
    state = h.path("aptstate")
    for sub in ("lists/partial", "archives/partial", "cache", "dl"):
        os.makedirs(os.path.join(state, sub))
    open(os.path.join(state, "status"), "w").close()
    sources = os.path.join(state, "sources.list")
    with open(sources, "w") as f:
        f.write(f"deb [trusted=yes] {web.url('apt')} ./\n")
    opts = ["-o", f"Acquire::http::Proxy=http://{proxy}", "-o", f"Dir::Etc::sourcelist={sources}",
            "-o", "Dir::Etc::sourceparts=-", "-o", f"Dir::State::Lists={state}/lists",
            "-o", f"Dir::State::status={state}/status", "-o", f"Dir::Cache={state}/cache",
            "-o", f"Dir::Cache::archives={state}/archives", "-o", "Dir::Cache::pkgcache=",
            "-o", "Dir::Cache::srcpkgcache=", "-o", f"APT::Sandbox::User={pwd.getpwuid(os.getuid()).pw_name}", "-o", "Debug::NoLocking=1",
            "-o", "Acquire::Languages=none", "-o", "APT::Get::List-Cleanup=0", "-q"]
    rc, out, err = run(["apt-get", *opts, "update"], timeout=120)
    lists = os.listdir(os.path.join(state, "lists"))
    h.check("apt-get update through the proxy: the index arrived",
            rc == 0 and any("_Packages" in n for n in lists), f"rc={rc} lists={lists} {(out.decode() + err)[-400:]}")
    rc, out, err = run(["apt-get", *opts, "download", "paniq-tiny"], timeout=120, cwd=os.path.join(state, "dl"))
    got = os.path.join(state, "dl", "paniq-tiny_1.0_all.deb")
    h.check("apt-get download through the proxy: the .deb's SHA-256",
            rc == 0 and os.path.exists(got) and sha256_file(got) == sha256_file(deb), (out.decode() + err)[-400:])


def main():
    with Harness("http_proxy") as h:
        web = h.start_nginx(FILES, ipv6=False)
        echo = EchoOrigin()
        try:
            server, client = h.start_tunnel(server_config={"dial_timeout": "1s"},
                                            client_config={"log_level": "debug", "accept_timeout": "2s"})
            proxy = f"127.0.0.1:{client.port}"
            get_checks(h, proxy, web, client)
            post_checks(h, proxy, echo)
            pipeline_checks(h, client.port, web, echo, client)
            retry_checks(h, proxy, client)
            connect_checks(h, proxy, web)
            error_checks(h, client.port, proxy, web)
            socks_meanwhile(h, client.port, web, proxy)
            git_checks(h, proxy, web)
            pip_checks(h, proxy, web)
            apt_checks(h, proxy, web)
            auth_checks(h, h.profile, web)
            h.check("both daemons still running", server.alive() and client.alive())
            for p in (client, server):
                h.check(f"{p.name} exits 0 on SIGTERM", p.stop() == 0, f"rc={p.returncode}")
        finally:
            echo.stop()
    return h.exit_code


if __name__ == "__main__":
    sys.exit(main())
