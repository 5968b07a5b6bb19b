#!/bin/sh
# WAN emulation benchmark (`make bench-wan`, root only): paniq-cpp, kcptun and plain TCP
# (cubic, bbr) between two network namespaces over an emulated link -- tbf bottleneck on each
# egress, delay / jitter / loss on each ingress by bench/wan/wan_delay on an NFQUEUE (no netem
# needed). Driver: bench/wan/bench_wan.py. Writes bench/results/wan-<UTC date>.{json,md,png}.
#
# usage: bench/wan/bench-wan.sh [BUILD_DIR] [bench_wan.py flags: --quick, --links, --loss,
#        --tunnels, --seconds, --paniq-variant 'LABEL={"kcp key": value}' ...]
# env:   WAN_LINKS=100m20,20m200,10m300  WAN_LOSS=0,1,5,10  WAN_TUNNELS=paniq,kcptun,cubic,bbr
#        WAN_SECONDS=12  WAN_QUICK=1  WAN_TIMEOUT=5400 (s, the whole run)
#        WAN_PANIQ_VARIANTS='ikcp={"congestion":"none"};w4k={"send_window":4096}' (extra rows;
#        kcp keys, or whole profile sections: 'plain={"obfuscation":{"encryption":"off"}}')
# Everything it creates (namespaces pnqwan-c / pnqwan-s, veth, qdiscs, rules, processes) is
# removed on exit, also on Ctrl-C.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin"; export PATH ;; esac

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-wan: needs root (network namespaces, tc, iptables, NFQUEUE); run: sudo make bench-wan" >&2
  exit 1
fi
BIN="$BUILD/src/app"
for prog in "$BIN/socks5d" "$BIN/proxy-server" "$BIN/paniq-ctl" "$BUILD/bench/wan_delay"; do
  if [ ! -x "$prog" ]; then
    echo "bench-wan: $prog not found (make build; wan_delay needs libnetfilter-queue-dev)" >&2
    exit 1
  fi
done
for tool in ip tc iptables-legacy ethtool nginx curl ping python3 kcptun-client kcptun-server; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench-wan: $tool is required (scripts/install-deps.sh)" >&2
    exit 1
  fi
done
# Debian's python3-matplotlib lives in /usr/bin/python3's path, which another python3 on PATH
# (pyenv) may shadow.
PY=
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import matplotlib' 2>/dev/null; then PY=$py; break; fi
done
if [ -z "$PY" ]; then
  echo "bench-wan: python3-matplotlib is required (scripts/install-deps.sh)" >&2
  exit 1
fi
modprobe nfnetlink_queue 2>/dev/null || true

# Last resort after the driver's own cleanup: whatever still runs in our namespaces, then them.
cleanup() {
  trap - EXIT INT TERM
  for ns in pnqwan-c pnqwan-s; do
    ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
    for sig in TERM KILL; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] || break
      # shellcheck disable=SC2086
      kill -"$sig" $pids 2>/dev/null || true
      sleep 0.5
    done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

OUT="$ROOT/bench/results/wan-$(date -u +%Y-%m-%d)"
# --foreground: Ctrl-C reaches the driver, which stops its processes and namespaces itself.
timeout --foreground "${WAN_TIMEOUT:-5400}" "$PY" "$ROOT/bench/wan/bench_wan.py" \
  --bin-dir "$BIN" --wan-delay "$(cd "$BUILD/bench" && pwd)/wan_delay" --out-prefix "$OUT" "$@"
