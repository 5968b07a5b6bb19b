"""Shared machinery of the end-to-end tests (tests/e2e/test_*.py) and of bench/bench-tunnel.sh.

Python 3 standard library only. Everything runs on loopback: the real `proxy-server`, `socks5d`
and `paniq-ctl` binaries (found through PANIQ_BIN_DIR, set by CTest), a scratch nginx, and the
tools of tests/e2e/tools (UDP echo, impairment relay). Every process started here is stopped by
its PID (SIGTERM, then SIGKILL after a bound) when the Harness closes, at interpreter exit and on
SIGTERM (CTest's timeout). Every wait is bounded.

Typical use:

    from clients import curl_fetch
    with Harness("curl") as h:
        web = h.start_nginx({"a.bin": 1 << 20})
        server, client = h.start_tunnel()
        rc, code, digest, err = curl_fetch(client.port, web.url("a.bin"))
        h.check("1 MiB via the tunnel", rc == 0 and digest == web.sha256["a.bin"], err)
    sys.exit(h.exit_code)
"""
import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

E2E_DIR = os.path.dirname(os.path.abspath(__file__))
TOOLS_DIR = os.path.join(E2E_DIR, "tools")
REPO_DIR = os.path.dirname(os.path.dirname(E2E_DIR))

START_TIMEOUT = 15.0  # s for a daemon to log its "listening" line
STOP_TIMEOUT = 5.0    # s between SIGTERM and SIGKILL
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

LISTEN_RE = re.compile(r"listening on \[?([0-9A-Fa-f:.]+)\]?:(\d+)")

# proxy-server refuses loopback targets by default (egress policy, docs/egress.md); everything
# the tests and benchmarks dial is on loopback, so start_proxy_server opts in to these.
LOOPBACK_TARGETS = ["127.0.0.0/8", "[::1]/128"]

_live = []  # every Process not yet stopped, for the exit handlers


def _stop_all():
    for p in reversed(list(_live)):
        p.stop()


def _on_sigterm(signum, _frame):
    raise SystemExit(128 + signum)  # unwinds through every finally / __exit__


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_sigterm)


# ------------------------------------------------------------------------------------------------
# Binaries, ports, files


def bin_dir():
    """PANIQ_BIN_DIR (set by CTest), else <repo>/build/src/app. Raises if socks5d is missing."""
    d = os.environ.get("PANIQ_BIN_DIR") or os.path.join(REPO_DIR, "build", "src", "app")
    for prog in ("socks5d", "proxy-server", "paniq-ctl"):
        if not os.access(os.path.join(d, prog), os.X_OK):
            raise RuntimeError(f"{prog} not found in {d} (set PANIQ_BIN_DIR)")
    return os.path.abspath(d)


def free_port(kind=socket.SOCK_STREAM, family=socket.AF_INET, host="127.0.0.1"):
    """An ephemeral port that was free a moment ago (for programs that cannot take port 0)."""
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


def write_random_file(path, size):
    """Writes `size` random bytes to `path`; returns their SHA-256 (hex)."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = os.urandom(min(left, 1 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def merge(dst, edits):
    """Recursive dict update (profile edits such as {"kcp": {"flush_interval_ms": 5}})."""
    for k, v in edits.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst


# ------------------------------------------------------------------------------------------------
# Processes


class Process:
    """A started program with its output in a log file; stopped by PID."""

    def __init__(self, name, argv, log_path, env=None, new_session=False):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=new_session)
        self.pid = self.proc.pid
        self.port = None
        self.returncode = None
        _live.append(self)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern, timeout=START_TIMEOUT, start=0):
        """Waits until the log (from byte `start`) matches regex `pattern`; returns the match.
        Raises RuntimeError when the process exits first or after `timeout` s."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.read_log()[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before "
                                   f"logging /{pattern}/:\n{self.read_log()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not log /{pattern}/ within {timeout} s:\n"
                                   f"{self.read_log()[-3000:]}")
            time.sleep(0.02)

    def log_mark(self):
        """The log's length now: pass it as wait_log's `start` to wait for lines after it."""
        return len(self.read_log())

    def wait_last(self, pattern, want, timeout=START_TIMEOUT):
        """Waits until the LAST match of regex `pattern` (one group) in the log has group(1) ==
        str(want): a state the daemon logs on every change (e.g. socks5d's "(N being served)").
        Returns the seconds waited; raises RuntimeError after `timeout` s or when the process
        exits first."""
        rx = re.compile(pattern)
        t0 = time.monotonic()
        while True:
            found = rx.findall(self.read_log())
            if found and found[-1] == str(want):
                return time.monotonic() - t0
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{self.name}: last /{pattern}/ is {found[-1] if found else None!r}, "
                                   f"not {want!r}, after {timeout} s:\n{self.read_log()[-3000:]}")
            time.sleep(0.02)

    def wait_served(self, n, timeout=10.0):
        """socks5d (log_level debug): waits until it serves exactly `n` SOCKS connections, by its
        "connection accepted / closed (N being served)" lines (0 also before the first one)."""
        rx = re.compile(r"\((\d+) being served\)")
        if n == 0 and not rx.search(self.read_log()):
            return 0.0
        return self.wait_last(rx.pattern, n, timeout)

    def alive(self):
        return self.proc.poll() is None

    def children(self):
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """`sig` (SIGTERM), then SIGKILL after `timeout` s; returns the exit code (negative =
        killed by that signal). Children still running afterwards (nginx workers) get SIGKILL."""
        if self in _live:
            _live.remove(self)
        if self.returncode is not None:
            return self.returncode
        kids = self.children()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for k in kids:
            try:
                with open(f"/proc/{k}/cmdline", "rb") as f:
                    if os.path.basename(self.argv[0]).encode() in f.read():
                        os.kill(k, signal.SIGKILL)
            except OSError:
                pass
        self._log.close()
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        """SIGKILL at once (a crash); returns the exit code."""
        return self.stop(timeout=STOP_TIMEOUT, sig=signal.SIGKILL)

    # /proc figures ------------------------------------------------------------------------------

    def _status(self, key):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def rss_kb(self):
        return self._status("VmRSS")

    def peak_rss_kb(self):
        return self._status("VmHWM")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def cpu_seconds(self):
        """User + system CPU time so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


# ------------------------------------------------------------------------------------------------
# Harness


class Nginx:
    def __init__(self, proc, root, port4, port6, sha):
        self.proc, self.root, self.port4, self.port6, self.sha256 = proc, root, port4, port6, sha

    def url(self, name, host="127.0.0.1"):
        port = self.port6 if ":" in host else self.port4
        h = f"[{host}]" if ":" in host else host
        return f"http://{h}:{port}/{name}"


class Harness:
    """A scratch directory, the processes of one test, and PASS/FAIL bookkeeping."""

    def __init__(self, name):
        self.name = name
        self.bins = bin_dir()
        self.dir = tempfile.mkdtemp(prefix=f"paniq-e2e-{name}-")
        os.chmod(self.dir, 0o755)  # nginx workers may run as another user
        self.procs = []
        self.failed = []
        self.xfailed = []  # known issues that failed (see check)
        self.passed = 0
        self.t0 = time.monotonic()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type is not SystemExit:
            import traceback
            traceback.print_exception(exc_type, exc, tb)
            self.failed.append(f"exception: {exc_type.__name__}: {exc}")
        self.close()
        return exc_type is not None and exc_type is not SystemExit

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        if self.failed or self.xfailed:
            for p in self.procs:
                if p.name.startswith("nginx"):
                    continue
                print(f"--- {p.name} (pid {p.pid}) log tail ---\n{p.read_log()[-4000:]}", flush=True)
        if os.environ.get("PANIQ_E2E_KEEP"):
            print(f"scratch dir kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def exit_code(self):
        took = time.monotonic() - self.t0
        if self.failed:
            print(f"{self.name}: {len(self.failed)} FAILED, {self.passed} passed ({took:.1f} s): "
                  + "; ".join(self.failed), flush=True)
            return 1
        xf = f", {len(self.xfailed)} known issues (XFAIL): " + "; ".join(self.xfailed) if self.xfailed else ""
        print(f"{self.name}: all {self.passed} checks passed{xf} ({took:.1f} s)", flush=True)
        return 0

    def check(self, what, ok, detail="", known_issue=None):
        """Records one assertion. `known_issue` (text) marks a known daemon bug: a failure
        prints XFAIL and does not fail the test unless PANIQ_E2E_STRICT=1; a pass prints XPASS
        (the marker can go)."""
        ok = bool(ok)
        tag = "PASS" if ok else "FAIL"
        if known_issue and not os.environ.get("PANIQ_E2E_STRICT"):
            tag = "XPASS" if ok else "XFAIL"
        note = f" [known issue: {known_issue}]" if known_issue and not ok else ""
        print(f"{tag} {what}{' -- ' + str(detail) if detail else ''}{note}", flush=True)
        if ok:
            self.passed += 1
        elif tag == "XFAIL":
            self.xfailed.append(what)
        else:
            self.failed.append(what)
        return ok

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start(self, name, argv, ready=None, env=None, timeout=START_TIMEOUT, new_session=False):
        """Starts `argv` logging to <scratch>/<name>.log; waits for regex `ready` in the log when
        given (the match's "listening on ADDR:PORT" port, if any, becomes .port)."""
        p = Process(name, argv, self.path(name + ".log"), env=env, new_session=new_session)
        self.procs.append(p)
        if ready:
            p.wait_log(ready, timeout)
            m = LISTEN_RE.search(p.read_log())
            if m:
                p.port = int(m.group(2))
        return p

    def prog(self, name):
        return os.path.join(self.bins, name)

    # control socket -----------------------------------------------------------------------------

    def ctl_stats(self, sock):
        """A daemon's counters over its control socket (`paniq-ctl stats -s sock`), as a dict."""
        r = subprocess.run([self.prog("paniq-ctl"), "stats", "-s", sock], capture_output=True,
                           text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError(f"paniq-ctl stats -s {sock} failed ({r.returncode}): {r.stderr.strip()}")
        return json.loads(r.stdout)

    def wait_stats(self, sock, pred, timeout=10.0, what="the condition"):
        """Polls the control socket until pred(stats) holds; returns the stats. Raises
        RuntimeError with the last stats after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.ctl_stats(sock)
            if pred(st):
                return st
            if time.monotonic() > deadline:
                raise RuntimeError(f"control socket {sock}: {what} not reached within {timeout} s: "
                                   f"{json.dumps(st)}")
            time.sleep(0.05)

    # nginx --------------------------------------------------------------------------------------

    def start_nginx(self, files, ipv6=True, name="nginx"):
        """Serves random files {relative name: size} from <scratch>/www on 127.0.0.1 and (when
        `ipv6` and available) [::1], ephemeral ports. .sha256 maps each name to its digest."""
        root = self.path("www")
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        sha = {}
        for fname, size in files.items():
            sha[fname] = write_random_file(os.path.join(root, fname), size)
            os.chmod(os.path.join(root, fname), 0o644)
        with open(os.path.join(root, "small.txt"), "w") as f:
            f.write("ok\n")
        os.chmod(os.path.join(root, "small.txt"), 0o644)
        v6 = ipv6 and have_ipv6()
        prefix = self.path(name)
        os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
        last = None
        for _ in range(5):  # the ports were free a moment ago; retry on a clash
            p4 = free_port()
            p6 = free_port(family=socket.AF_INET6, host="::1") if v6 else None
            conf = os.path.join(prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(_nginx_conf(prefix, root, p4, p6))
            argv = [os.environ.get("PANIQ_NGINX", "nginx"), "-p", prefix + "/", "-c", conf, "-g",
                    f"daemon off; pid {prefix}/nginx.pid;"]
            proc = Process(name, argv, self.path(name + ".log"))
            self.procs.append(proc)
            if _wait_tcp("127.0.0.1", p4, proc) and (p6 is None or _wait_tcp("::1", p6, proc)):
                return Nginx(proc, root, p4, p6, sha)
            last = proc.read_log()
            proc.stop()
        raise RuntimeError(f"nginx did not start:\n{last}")

    # paniq --------------------------------------------------------------------------------------

    def create_profile(self, proxy_port, edits=None, mtu=None, name="profile.json"):
        """paniq-ctl create-profile --proxy-addr 127.0.0.1:PORT [--mtu N], then `edits` merged
        in; returns the file's path."""
        argv = [self.prog("paniq-ctl"), "create-profile", "--proxy-addr", f"127.0.0.1:{proxy_port}"]
        if mtu:
            argv += ["--mtu", str(mtu)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"paniq-ctl create-profile failed ({r.returncode}): {r.stderr}")
        prof = merge(json.loads(r.stdout), edits or {})
        prof["proxy_addr"] = f"127.0.0.1:{proxy_port}"
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(prof, f, indent=2)
        return path

    def write_config(self, name, cfg):
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def start_proxy_server(self, profile, listen="127.0.0.1:0", config=None, name="proxy-server",
                           env=None):
        """proxy-server with `config` written to a file; unless `config` sets "allow_targets"
        itself, it gets allow_targets = LOOPBACK_TARGETS (the egress policy refuses loopback
        targets by default; pass "allow_targets": [] for the default policy)."""
        argv = [self.prog("proxy-server"), "-l", listen, "-p", profile]
        cfg = dict(config or {})
        cfg.setdefault("allow_targets", list(LOOPBACK_TARGETS))
        argv += ["-c", self.write_config(name + ".config.json", cfg)]
        return self.start(name, argv, ready=r"listening on", env=env)

    def start_socks5d(self, profile, proxy_addr=None, listen="127.0.0.1:0", config=None,
                      user=None, password=None, name="socks5d", env=None):
        argv = [self.prog("socks5d"), "-l", listen, "-p", profile]
        if proxy_addr:
            argv += ["--proxy-addr", proxy_addr]
        if config:
            argv += ["-c", self.write_config(name + ".config.json", config)]
        if user is not None:
            argv += ["-u", user, "-a", password]
        return self.start(name, argv, ready=r"SOCKS5 daemon listening", env=env)

    def start_tunnel(self, profile_edits=None, server_config=None, client_config=None,
                     user=None, password=None, env=None):
        """proxy-server on an ephemeral UDP port, a profile pointing at it, socks5d on an
        ephemeral TCP port. Returns (server, client); client.port is the SOCKS port. The server
        may dial loopback targets unless `server_config` sets its own allow_targets
        (start_proxy_server)."""
        port = free_port(socket.SOCK_DGRAM)
        profile = self.create_profile(port, edits=profile_edits)
        server = self.start_proxy_server(profile, f"127.0.0.1:{port}", config=server_config, env=env)
        client = self.start_socks5d(profile, config=client_config, user=user, password=password,
                                    env=env)
        self.profile = profile
        return server, client

    # tools --------------------------------------------------------------------------------------

    def start_udp_echo(self, listen="127.0.0.1:0", name="udp-echo"):
        return self.start(name, [sys.executable, os.path.join(TOOLS_DIR, "udp_echo.py"),
                                  "--listen", listen], ready=r"listening on")

    def start_relay(self, upstream_port, loss, reorder, seed, name="impair-relay", extra=()):
        """The impairment relay in front of 127.0.0.1:upstream_port; .port is its UDP port and
        .stats_path its JSON counters (rewritten every second and at exit)."""
        stats = self.path(name + ".stats.json")
        argv = [sys.executable, os.path.join(TOOLS_DIR, "impair_relay.py"), "--listen",
                "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream_port}", "--loss", str(loss),
                "--reorder", str(reorder), "--seed", str(seed), "--stats", stats, *extra]
        p = self.start(name, argv, ready=r"listening on")
        p.stats_path = stats
        return p


def _nginx_conf(prefix, root, p4, p6):
    user = "user root;\n" if os.geteuid() == 0 else ""
    listen6 = f"    listen [::1]:{p6};\n" if p6 else ""
    tmp = os.path.join(prefix, "tmp")
    return f"""{user}worker_processes 1;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{p4} backlog=4096;
{listen6}    root {root};
    location / {{ }}
  }}
}}
"""


def _wait_tcp(host, port, proc, timeout=10.0):
    """True once host:port accepts a TCP connection; False when `proc` exits or on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def netns_reexec():
    """Re-runs this script inside a private user + network namespace (`unshare -rn`) whose only
    interface is lo, with lo up and these routes: prohibit 198.51.100.1 and 2001:db8::1
    (connect -> EACCES), unreachable 198.51.100.2 and 2001:db8::2 (EHOSTUNREACH); every other
    non-local address has no route (ENETUNREACH). Nothing can leave the machine in there.
    Returns True when already inside; otherwise exits with the child's code, or returns False
    when namespaces are not available or PANIQ_E2E_NO_NETNS is set (the caller tests what it
    can without)."""
    if os.environ.get("PANIQ_E2E_NETNS") == "1":
        return True
    if os.environ.get("PANIQ_E2E_NO_NETNS") or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "-n" if os.geteuid() == 0 else "-rn", "true"],
                           capture_output=True, timeout=10)
    if probe.returncode != 0:
        return False
    setup = ("ip link set lo up && ip route add prohibit 198.51.100.1/32 && "
             "ip route add unreachable 198.51.100.2/32 && "
             "(ip -6 route add prohibit 2001:db8::1/128 && "
             "ip -6 route add unreachable 2001:db8::2/128 || true) && exec \"$@\"")
    env = dict(os.environ, PANIQ_E2E_NETNS="1")
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    child = subprocess.Popen([*unshare, "sh", "-c", setup, "sh", sys.executable,
                              os.path.abspath(sys.argv[0]), *sys.argv[1:]], env=env)
    try:
        rc = child.wait()
    finally:
        if child.poll() is None:  # we were told to stop: pass it on, bounded
            child.terminate()
            try:
                child.wait(STOP_TIMEOUT + 5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    sys.exit(rc)
