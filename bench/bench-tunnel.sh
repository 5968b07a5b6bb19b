#!/bin/sh
# Loopback tunnel benchmark (issue #5 item 7): direct vs paniq-cpp (socks5d + proxy-server) vs
# kcptun (when Debian's kcptun is installed), nginx origin with a 200 MiB file. Prints one table
# and writes bench/results/<UTC date>.json. Bounded (every wait has a timeout), loopback only.
#
# usage: bench/bench-tunnel.sh [BUILD_DIR] [--runs N] [--size-mib N] [--conns N] [--no-kcptun] [--perf]
#        BUILD_DIR defaults to build; the binaries are taken from BUILD_DIR/src/app.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
BIN="$BUILD/src/app"
for prog in socks5d proxy-server paniq-ctl; do
  if [ ! -x "$BIN/$prog" ]; then
    echo "bench-tunnel: $BIN/$prog not found (build first: make build)" >&2
    exit 1
  fi
done
for tool in nginx curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench-tunnel: $tool is required" >&2
    exit 1
  fi
done
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin"; export PATH ;; esac
OUT="$ROOT/bench/results/$(date -u +%Y-%m-%d).json"
exec timeout 1200 python3 "$ROOT/bench/tunnel/bench_tunnel.py" --bin-dir "$BIN" --out "$OUT" "$@"
