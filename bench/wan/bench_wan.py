#!/usr/bin/env python3
"""WAN emulation benchmark, run as root by bench/wan/bench-wan.sh (`make bench-wan`).

Two network namespaces joined by one veth pair (no netem needed):

  pnqwan-c 10.201.0.1 (curl, socks5d, kcptun-client) <-veth-> pnqwan-s 10.201.0.2 (nginx,
  proxy-server, kcptun-server)

Each egress: tbf at the link rate (burst 64 kB, latency 50 ms), the bottleneck. Each ingress:
iptables NFQUEUE -> bench/wan/wan_delay (half the RTT, +-jitter without reordering, random
loss). Offloads off and gso_max_segs 1, so TCP hands the bottleneck MTU-sized packets.
What each side offers the bottleneck is counted by an iptables rule in mangle POSTROUTING
(before tbf, its drops included); tbf drops come from `tc -s qdisc`, random loss from
wan_delay's counters.

For every link x loss case and every tunnel (paniq-cpp and its --paniq-variant rows, kcptun,
plain TCP cubic and bbr set on the origin's namespace) it measures: bulk goodput (one download,
SHA-256 checked when complete), wire bytes per payload byte per direction, bottleneck drops, the
time of a small new-connection request on the idle link and during a bulk download, and the
smaller share of two simultaneous downloads. Writes <prefix>.json, .md and .png.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
sys.path.insert(0, os.path.join(REPO, "bench", "tunnel"))
from harness import Harness, _nginx_conf, _live, merge, write_random_file  # noqa: E402
from bench_tunnel import KCPTUN_FLAGS, host_info  # noqa: E402

NS_C, NS_S = "pnqwan-c", "pnqwan-s"
DEV_C, DEV_S = "pnqwan-vc", "pnqwan-vs"
ADDR_C, ADDR_S = "10.201.0.1", "10.201.0.2"
QUEUE_C, QUEUE_S = 1, 2  # NFQUEUE numbers: ingress of the client, of the server
WEB_PORT, PANIQ_PORT, KCPTUN_PORT = 8080, 9000, 9100
SOCKS_PORT, KCPTUN_LOCAL = 1080, 9101
TBF = "burst 64kb latency 50ms"
# name: (Mbit/s, RTT ms, jitter ms each way)
LINKS = {"100m20": (100, 20, 0), "20m200": (20, 200, 0), "10m300": (10, 300, 20)}
LOSSES = (0, 1, 5, 10)
TUNNELS = ("paniq", "kcptun", "cubic", "bbr")
SOCKS5D_CONFIG = {"fast_connect": True}  # one round trip less per new connection
# proxy-server refuses private targets and its own addresses by default (egress policy,
# docs/egress.md); the origin is nginx on the server namespace's own 10.201.0.2.
PROXY_SERVER_CONFIG = {"allow_targets": [f"{ADDR_S}:{WEB_PORT}"]}


def run(argv, timeout=30, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def nsx(ns, *argv):
    return ["ip", "netns", "exec", ns, *argv]


# ------------------------------------------------------------------------------------------------
# Topology


def remove_namespaces():
    """Stops what still runs in our namespaces (by PID) and deletes them; idempotent."""
    listed = run(["ip", "netns", "list"], check=False)
    for ns in (NS_C, NS_S):
        if not re.search(rf"^{ns}\b", listed, re.M):
            continue
        for sig in ("TERM", "KILL"):
            pids = run(["ip", "netns", "pids", ns], check=False).split()
            if pids:
                run(["kill", f"-{sig}", *pids], check=False)
                time.sleep(0.5)
        run(["ip", "netns", "del", ns], check=False)


def build_topology():
    remove_namespaces()
    run(["ip", "netns", "add", NS_C])
    run(["ip", "netns", "add", NS_S])
    run(["ip", "link", "add", DEV_C, "netns", NS_C, "type", "veth", "peer", "name", DEV_S,
         "netns", NS_S])
    for ns, dev, addr, queue in ((NS_C, DEV_C, ADDR_C, QUEUE_C), (NS_S, DEV_S, ADDR_S, QUEUE_S)):
        for key in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv4.tcp_no_metrics_save=1"):
            run(nsx(ns, "sysctl", "-qw", key))
        run(nsx(ns, "ip", "link", "set", "lo", "up"))
        run(nsx(ns, "ip", "addr", "add", f"{addr}/30", "dev", dev))
        # TCP always builds GSO packets; gso_max_segs 1 makes them one MSS before tbf.
        run(nsx(ns, "ip", "link", "set", dev, "gso_max_segs", "1", "up"))
        run(nsx(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"))
        ipt = nsx(ns, "iptables-legacy", "-t", "mangle", "-A")
        run([*ipt, "PREROUTING", "-i", dev, "-j", "NFQUEUE", "--queue-num", str(queue)])
        run([*ipt, "POSTROUTING", "-o", dev, "-m", "comment", "--comment", "pnqwan-offered"])


def set_link(mbit):
    for ns, dev in ((NS_C, DEV_C), (NS_S, DEV_S)):
        run(nsx(ns, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{mbit}mbit",
                *TBF.split()))


def set_congestion(name):
    """TCP congestion control of both ends (the origin's is what matters), on the link route:
    a namespace other than the host's may only set the host's allowed list by sysctl."""
    for ns, dev, addr in ((NS_C, DEV_C, ADDR_C), (NS_S, DEV_S, ADDR_S)):
        run(nsx(ns, "ip", "route", "replace", "10.201.0.0/30", "dev", dev, "proto", "kernel",
                "scope", "link", "src", addr, "congctl", "lock", name))


class Delay:
    """The two wan_delay processes of one case (ingress of each namespace)."""

    def __init__(self, h, prog, rtt_ms, jitter_ms, loss_pct, seed, tag):
        self.procs = {}
        for direction, ns, queue in (("down", NS_C, QUEUE_C), ("up", NS_S, QUEUE_S)):
            argv = nsx(ns, prog, "--queue", str(queue), "--delay-ms", str(rtt_ms / 2),
                       "--jitter-ms", str(jitter_ms), "--loss", str(loss_pct / 100),
                       "--seed", str(seed + queue))
            self.procs[direction] = h.start(f"wan_delay-{tag}-{direction}", argv)
        time.sleep(0.2)
        for p in self.procs.values():
            if not p.alive():
                raise RuntimeError(f"wan_delay exited: {p.read_log()[-500:]}")

    def counters(self):
        """{direction: counters} from a fresh SIGUSR1 dump (bounded wait)."""
        out = {}
        for direction, p in self.procs.items():
            before = p.read_log().count("\n")
            p.proc.send_signal(10)  # SIGUSR1
            deadline = time.monotonic() + 2
            while p.read_log().count("\n") == before and time.monotonic() < deadline:
                time.sleep(0.02)
            lines = [x for x in p.read_log().splitlines() if x.startswith("{")]
            out[direction] = json.loads(lines[-1]) if lines else {}
        return out

    def stop(self):
        for p in self.procs.values():
            p.stop()


def bottleneck_counters():
    """{direction: {offered_packets, offered_bytes, tbf_dropped}}; down = server -> client."""
    out = {}
    for direction, ns, dev in (("down", NS_S, DEV_S), ("up", NS_C, DEV_C)):
        rules = run(nsx(ns, "iptables-legacy", "-t", "mangle", "-S", "POSTROUTING", "-v"))
        m = re.search(r"pnqwan-offered.*-c (\d+) (\d+)|-c (\d+) (\d+).*pnqwan-offered", rules)
        pk, by = (m.group(1), m.group(2)) if m and m.group(1) else (m.group(3), m.group(4))
        qd = run(nsx(ns, "tc", "-s", "qdisc", "show", "dev", dev))
        drop = re.search(r"dropped (\d+)", qd)
        out[direction] = {"offered_packets": int(pk), "offered_bytes": int(by),
                          "tbf_dropped": int(drop.group(1)) if drop else 0}
    return out


def ping_rtt():
    """Mean ping RTT, ms. -U: user-to-user time; the kernel's receive timestamp would be taken
    before the reply waits in wan_delay's queue, leaving out one direction's delay."""
    r = subprocess.run(nsx(NS_C, "ping", "-U", "-c", "5", "-i", "0.2", "-W", "2", ADDR_S),
                       capture_output=True, text=True, timeout=20)
    m = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
    return float(m.group(1)) if m else None


# ------------------------------------------------------------------------------------------------
# Origin and tunnels


def start_origin(h, sizes):
    """nginx in pnqwan-s on ADDR_S:WEB_PORT serving {name: size} random files + small.bin."""
    root = h.path("www")
    os.makedirs(root, exist_ok=True)
    sha = {}
    for name, size in {**sizes, "small.bin": 1000}.items():
        print(f"  writing {name} ({size / 1e6:.0f} MB)", flush=True)
        sha[name] = write_random_file(os.path.join(root, name), size)
    os.chmod(root, 0o755)
    prefix = h.path("nginx")
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:  # the loopback benchmark's config, on the namespace's address
        f.write(_nginx_conf(prefix, root, WEB_PORT, None).replace(
            "listen 127.0.0.1:", f"listen {ADDR_S}:"))
    h.start("nginx", nsx(NS_S, "nginx", "-p", prefix + "/", "-c", conf, "-g",
                         f"daemon off; pid {prefix}/nginx.pid;"))
    return sha


class Tunnel:
    """One row: how curl in pnqwan-c reaches the origin, and the processes to start for it."""

    def __init__(self, label, kind, profile=None, congestion="cubic"):
        self.label, self.kind, self.profile, self.congestion = label, kind, profile, congestion
        self.procs = []

    def curl_args(self, name):
        if self.kind == "paniq":
            return ["--socks5-hostname", f"127.0.0.1:{SOCKS_PORT}", f"http://{ADDR_S}:{WEB_PORT}/{name}"]
        if self.kind == "kcptun":
            return [f"http://127.0.0.1:{KCPTUN_LOCAL}/{name}"]
        return [f"http://{ADDR_S}:{WEB_PORT}/{name}"]

    def start(self, h, bins):
        set_congestion(self.congestion)
        if self.kind == "paniq":
            server_cfg = h.write_config("proxy-server.config.json", PROXY_SERVER_CONFIG)
            self.procs.append(h.start(f"proxy-server-{self.label}", nsx(
                NS_S, os.path.join(bins, "proxy-server"), "-l", f"{ADDR_S}:{PANIQ_PORT}",
                "-p", self.profile, "-c", server_cfg), ready=r"listening on"))
            cfg = h.write_config("socks5d.config.json", SOCKS5D_CONFIG)
            self.procs.append(h.start(f"socks5d-{self.label}", nsx(
                NS_C, os.path.join(bins, "socks5d"), "-l", f"127.0.0.1:{SOCKS_PORT}", "-p",
                self.profile, "-c", cfg), ready=r"SOCKS5 daemon listening"))
        elif self.kind == "kcptun":
            self.procs.append(h.start("kcptun-server", nsx(
                NS_S, "kcptun-server", "-t", f"{ADDR_S}:{WEB_PORT}", "-l",
                f"{ADDR_S}:{KCPTUN_PORT}", *KCPTUN_FLAGS)))
            self.procs.append(h.start("kcptun-client", nsx(
                NS_C, "kcptun-client", "-r", f"{ADDR_S}:{KCPTUN_PORT}", "-l",
                f"127.0.0.1:{KCPTUN_LOCAL}", *KCPTUN_FLAGS)))
        # Ready once one small request gets through (also opens the paniq session).
        for _ in range(10):
            if small_request(self, max_time=5) is not None:
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.label}: no small request got through")

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []


def curl(tunnel, name, max_time, out="/dev/null"):
    return nsx(NS_C, "curl", "-sS", "--max-time", f"{max_time:g}", "-o", out, "-w",
               "%{size_download} %{time_total} %{http_code}", *tunnel.curl_args(name))


def small_request(tunnel, max_time=10):
    """Time of one ~1 KB GET on a new connection (curl time_total, ms), None when it failed."""
    r = subprocess.run(curl(tunnel, "small.bin", max_time), capture_output=True, text=True,
                       timeout=max_time + 10)
    size, took, code = (r.stdout.split() + ["0", "0", "0"])[:3]
    if r.returncode != 0 or code != "200" or size != "1000":
        return None
    return float(took) * 1000


def small_series(tunnel, n, out):
    """n small requests 0.5 s apart; appends the times (ms, None = failed) to `out`."""
    for i in range(n):
        if i:
            time.sleep(0.5)
        out.append(small_request(tunnel))


def bulk(tunnel, name, max_time, digest):
    """One download hashed on the fly: (bytes, seconds, complete and SHA-256 matches)."""
    argv = nsx(NS_C, "curl", "-sS", "--max-time", f"{max_time:g}", "-o", "-", "-w",
               "%{stderr}%{size_download} %{time_total}\n", *tunnel.curl_args(name))
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sha = hashlib.sha256()
    try:
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            sha.update(chunk)
        _, err = proc.communicate(timeout=max_time + 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    m = re.search(rb"(\d+) ([\d.]+)\s*$", err)
    got, took = (int(m.group(1)), float(m.group(2))) if m else (0, 0.0)
    return got, took, proc.returncode == 0 and sha.hexdigest() == digest


def two_flows(tunnel, name, seconds):
    """Two downloads started together, each capped at `seconds`: their byte counts."""
    procs = [subprocess.Popen(curl(tunnel, name, seconds), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    sizes = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 15)
        sizes.append(int((out.split() or ["0"])[0]))
    return sizes


def median_ms(times):
    ok = [t for t in times if t is not None]
    return round(statistics.median(ok), 1) if ok else None


def measure(h, tunnel, case, args, sha, bins, delay):
    mbit, rtt, _ = LINKS[case["link"]]
    big = f"big-{case['link']}.bin"
    res = {"tunnel": tunnel.label, **case}
    tunnel.start(h, bins)
    try:
        idle = []
        small_series(tunnel, args.small, idle)
        res["small_idle_ms"] = median_ms(idle)
        res["small_idle_failed"] = idle.count(None)

        c0, d0 = bottleneck_counters(), delay.counters()
        loaded = []
        side = threading.Timer(args.seconds * 0.3, small_series, (tunnel, args.small, loaded))
        side.start()
        got, took, ok = bulk(tunnel, big, args.seconds * 1.25 + 1, sha[big])
        side.join(args.small * 11 + 5)
        time.sleep(2 * rtt / 1000)
        c1, d1 = bottleneck_counters(), delay.counters()
        res.update(goodput_mb_s=round(got / took / 1e6, 3) if took else 0.0, bulk_bytes=got,
                   bulk_seconds=round(took, 2), bulk_complete_sha_ok=ok,
                   small_loaded_ms=median_ms(loaded), small_loaded_failed=loaded.count(None),
                   # every sample, in order (ms; None = failed): the median hides the spread
                   small_idle_samples=[round(x, 1) if x is not None else None for x in idle],
                   small_loaded_samples=[round(x, 1) if x is not None else None for x in loaded])
        for key in ("small_idle_ms", "small_loaded_ms"):
            res[key.replace("_ms", "_rtts")] = round(res[key] / rtt, 2) if res[key] else None
        wire = {}
        for d in ("down", "up"):
            offered = c1[d]["offered_bytes"] - c0[d]["offered_bytes"]
            pkts = c1[d]["offered_packets"] - c0[d]["offered_packets"]
            drops = c1[d]["tbf_dropped"] - c0[d]["tbf_dropped"]
            lost = d1[d].get("dropped_packets", 0) - d0[d].get("dropped_packets", 0)
            # Netlink overruns lose packets beyond the emulated loss: should stay 0.
            overrun = d1[d].get("recv_errors", 0) - d0[d].get("recv_errors", 0)
            wire[d] = {"offered_bytes": offered, "offered_packets": pkts, "tbf_dropped": drops,
                       "tbf_drop_pct": round(100 * drops / pkts, 3) if pkts else 0.0,
                       "random_loss_packets": lost,
                       "random_loss_pct": round(100 * lost / max(1, pkts - drops), 2),
                       "wan_delay_overruns": overrun,
                       "wire_per_payload": round(offered / got, 4) if got else None}
        res["wire"] = wire
        res["wire_per_payload"] = (round((wire["down"]["offered_bytes"] + wire["up"]["offered_bytes"])
                                         / got, 4) if got else None)
        two = two_flows(tunnel, big, args.two_flow_seconds)
        res["two_flow_bytes"] = two
        res["two_flow_min_share"] = round(min(two) / sum(two), 3) if sum(two) else None
    finally:
        tunnel.stop()
    return res


# ------------------------------------------------------------------------------------------------
# Output


def fmt(v, spec):
    return "–" if v is None else format(v, spec)


def markdown(results):
    lines = ["| link | loss each way | tunnel | goodput MB/s | wire/payload (down + up) | "
             "bottleneck drops % (down / up) | small request ms idle / loaded (× RTT) | "
             "two-flow min share |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        mbit, rtt, jit = LINKS[r["link"]]
        w = r["wire"]
        link = f"{mbit} Mbit/s {rtt} ms" + (f" ±{jit} ms" if jit else "")
        small = (f"{fmt(r['small_idle_ms'], '.0f')} / {fmt(r['small_loaded_ms'], '.0f')} "
                 f"({fmt(r['small_idle_rtts'], '.1f')} / {fmt(r['small_loaded_rtts'], '.1f')})")
        done = "" if r["bulk_complete_sha_ok"] else "*"
        lines.append(
            f"| {link} | {r['loss_pct']} % | {r['tunnel']} | {r['goodput_mb_s']:.2f}{done} | "
            f"{fmt(r['wire_per_payload'], '.3f')} ({fmt(w['down']['wire_per_payload'], '.3f')} + "
            f"{fmt(w['up']['wire_per_payload'], '.3f')}) | {w['down']['tbf_drop_pct']:.2f} / "
            f"{w['up']['tbf_drop_pct']:.2f} | {small} | {fmt(r['two_flow_min_share'], '.2f')} |")
    lines.append("\n\\* download stopped by the time cap (goodput = bytes / time; no SHA-256 check)")
    return "\n".join(lines) + "\n"


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    links = list(dict.fromkeys(r["link"] for r in results))
    fig, axes = plt.subplots(1, len(links), figsize=(5 * len(links), 4), squeeze=False)
    for ax, link in zip(axes[0], links):
        rows = [r for r in results if r["link"] == link]
        for label in dict.fromkeys(r["tunnel"] for r in rows):
            pts = sorted((r["loss_pct"], r["goodput_mb_s"]) for r in rows if r["tunnel"] == label)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        mbit, rtt, jit = LINKS[link]
        ax.set_title(f"{mbit} Mbit/s, {rtt} ms RTT" + (f" ±{jit} ms" if jit else ""))
        ax.set_xlabel("loss each way, %")
        ax.set_ylabel("goodput, MB/s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ------------------------------------------------------------------------------------------------


def parse_variant(text, n):
    """'LABEL={"kcp key": value}' or a bare JSON object -> (label, kcp edits)."""
    label, _, body = text.partition("=") if not text.lstrip().startswith("{") else ("", "", text)
    try:
        edits = json.loads(body)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--paniq-variant {text!r}: not JSON: {e}")
    if not isinstance(edits, dict):
        raise SystemExit(f"--paniq-variant {text!r}: must be a JSON object of kcp keys")
    return label or f"v{n}", edits


PROFILE_SECTIONS = {"kcp", "obfuscation", "transport_padding"}
PROFILE_S4 = 50  # bytes; see make_tunnels()
FRAMING = {}  # the paniq-cpp profile's framing, for the results file


def make_tunnels(h, args, bins):
    want = args.tunnels.split(",")
    for t in want:
        if t not in TUNNELS:
            raise SystemExit(f"WAN_TUNNELS / --tunnels: unknown tunnel {t!r} (known: {','.join(TUNNELS)})")
    tunnels = []
    if "paniq" in want:
        gen = json.loads(run([os.path.join(bins, "paniq-ctl"), "create-profile", "--proxy-addr",
                              f"{ADDR_S}:{PANIQ_PORT}"]))
        # create-profile draws s4 (the random prefix of every transport datagram) from 20..80
        # bytes, so each run's datagrams would carry 20..80 bytes of it: up to 4 % of goodput and
        # of wire bytes per payload byte between runs of the same code, from the profile alone.
        # Every run uses the middle of that range (the padding create-profile derives from the
        # headroom is the same for any s4 in it at the default MTU).
        gen["obfuscation"]["s4"] = PROFILE_S4
        FRAMING.update(s4=PROFILE_S4, max_packet_size=gen["kcp"]["max_packet_size"],
                       max_payload=gen["kcp"]["max_payload"], encryption=gen["obfuscation"]["encryption"],
                       transport_padding=gen["transport_padding"])
        variants = [("", {})] + [parse_variant(v, i + 1) for i, v in enumerate(args.paniq_variant)]
        for label, edits in variants:
            # Keys of the profile's own sections (e.g. {"obfuscation": {"encryption": "off"}})
            # edit the profile; anything else is a kcp key.
            whole = edits and set(edits) <= PROFILE_SECTIONS
            prof = merge(json.loads(json.dumps(gen)), edits if whole else {"kcp": edits} if edits else {})
            path = h.path(f"profile{'-' + label if label else ''}.json")
            with open(path, "w") as f:
                json.dump(prof, f, indent=2)
            tunnels.append(Tunnel(f"paniq-cpp[{label}]" if label else "paniq-cpp", "paniq", path))
    if "kcptun" in want:
        tunnels.append(Tunnel("kcptun", "kcptun"))
    for cc in ("cubic", "bbr"):
        if cc in want:
            tunnels.append(Tunnel(f"tcp-{cc}", "tcp", congestion=cc))
    return tunnels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--wan-delay", required=True)
    ap.add_argument("--out-prefix", required=True)
    ap.add_argument("--links", default=os.environ.get("WAN_LINKS") or ",".join(LINKS))
    ap.add_argument("--loss", default=os.environ.get("WAN_LOSS") or ",".join(map(str, LOSSES)))
    ap.add_argument("--tunnels", default=os.environ.get("WAN_TUNNELS") or ",".join(TUNNELS))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("WAN_SECONDS") or 12),
                    help="bulk download length at the link rate")
    ap.add_argument("--two-flow-seconds", type=float, default=8)
    ap.add_argument("--small", type=int, default=5, help="small requests per median")
    ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("WAN_QUICK")),
                    help="5 s bulk, 4 s two-flow, 3 small requests")
    ap.add_argument("--paniq-variant", "--paniq-kcp", action="append", default=[],
                    metavar="LABEL=JSON", help="extra paniq-cpp row with these kcp profile keys (or, when "
                         "every key is kcp/obfuscation/transport_padding, these profile sections)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    env_variants = os.environ.get("WAN_PANIQ_VARIANTS", "").strip()
    if env_variants:  # LABEL=JSON;LABEL=JSON
        args.paniq_variant += [v for v in re.split(r";(?=\s*[\w.-]+=\{)", env_variants) if v.strip()]
    if args.quick:
        args.seconds, args.two_flow_seconds, args.small = 5, 4, 3
    links = args.links.split(",")
    for link in links:
        if link not in LINKS:
            raise SystemExit(f"WAN_LINKS / --links: unknown link {link!r} (known: {','.join(LINKS)})")
    try:
        losses = [float(x) if "." in x else int(x) for x in args.loss.split(",")]
    except ValueError:
        raise SystemExit(f"WAN_LOSS / --loss: {args.loss!r}: want percentages like 0,1,5")
    os.environ["PANIQ_BIN_DIR"] = os.path.abspath(args.bin_dir)
    bins = os.environ["PANIQ_BIN_DIR"]

    load0 = [round(x, 2) for x in os.getloadavg()]
    print(f"bench-wan: links {links}, loss {losses} % each way, bulk {args.seconds:g} s, "
          f"load average {load0[0]:.2f} on {os.cpu_count()} CPUs"
          + (" -- busy machine, tunnel figures will be low" if load0[0] > 0.5 * os.cpu_count() else ""),
          flush=True)
    results, t0 = [], time.monotonic()
    try:
        with Harness("wan") as h:
            build_topology()
            tunnels = make_tunnels(h, args, bins)
            sizes = {f"big-{k}.bin": int(LINKS[k][0] * 1e6 / 8 * args.seconds) for k in links}
            sha = start_origin(h, sizes)
            n_runs, i = len(links) * len(losses) * len(tunnels), 0
            for link in links:
                mbit, rtt, jitter = LINKS[link]
                set_link(mbit)
                for loss in losses:
                    delay = Delay(h, args.wan_delay, rtt, jitter, loss, args.seed, f"{link}-{loss}")
                    case = {"link": link, "rate_mbit": mbit, "rtt_ms": rtt, "jitter_ms": jitter,
                            "loss_pct": loss, "ping_rtt_ms": ping_rtt()}
                    print(f"case {link} loss {loss} %: ping {case['ping_rtt_ms']} ms", flush=True)
                    for tunnel in tunnels:
                        i += 1
                        r = measure(h, tunnel, case, args, sha, bins, delay)
                        results.append(r)
                        print(f"  [{i}/{n_runs} {time.monotonic() - t0:.0f} s] {tunnel.label}: "
                              f"{r['goodput_mb_s']:.2f} MB/s{'' if r['bulk_complete_sha_ok'] else ' (capped)'}, "
                              f"wire/payload {r['wire_per_payload']}, drops "
                              f"{r['wire']['down']['tbf_drop_pct']} / {r['wire']['up']['tbf_drop_pct']} %, "
                              f"small {r['small_idle_ms']} / {r['small_loaded_ms']} ms, "
                              f"two-flow min share {r['two_flow_min_share']}", flush=True)
                    delay.stop()
    finally:
        for p in list(_live):
            p.stop()
        remove_namespaces()
    if h.failed or not results:
        return 1
    table = markdown(results)
    print("\n" + table)
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host": host_info(),
           "params": {"links": {k: LINKS[k] for k in links}, "loss_pct_each_way": losses,
                      "tunnels": [t.label for t in tunnels], "bulk_seconds": args.seconds,
                      "two_flow_seconds": args.two_flow_seconds, "small_requests": args.small,
                      "paniq_variants": args.paniq_variant, "socks5d_config": SOCKS5D_CONFIG,
                      "paniq_framing": FRAMING,
                      "kcptun_flags": KCPTUN_FLAGS, "tbf": TBF, "seed": args.seed,
                      "wall_seconds": round(time.monotonic() - t0), "loadavg_at_start": load0},
           "results": results}
    os.makedirs(os.path.dirname(os.path.abspath(args.out_prefix)), exist_ok=True)
    with open(args.out_prefix + ".json", "w") as f:
        json.dump(doc, f, indent=2)
    with open(args.out_prefix + ".md", "w") as f:
        f.write(f"WAN benchmark {doc['date']}, commit {doc['host']['commit']}\n\n{table}")
    plot(results, args.out_prefix + ".png")
    print(f"written: {args.out_prefix}.json .md .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
