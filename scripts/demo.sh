#!/usr/bin/env bash
# make demo: a fresh profile (random header ranges and S sizes, fresh keys) in a scratch folder,
# proxy-server and socks5d on 127.0.0.1, a tiny local web server so the printed curl commands
# work offline, then wait. Ctrl-C stops everything (by PID) and removes the scratch folder.
# Usage: scripts/demo.sh [BUILD_DIR]   (make demo builds first)
set -euo pipefail

build=${1:-build}
bin="$build/src/app"
for b in proxy-server socks5d paniq-ctl; do
  if [ ! -x "$bin/$b" ]; then
    echo "demo: $bin/$b is missing; run 'make build' (or 'make demo') first" >&2
    exit 1
  fi
done
command -v python3 >/dev/null || { echo "demo: python3 is needed for the local web server" >&2; exit 1; }

scratch=$(mktemp -d -t paniq-demo-XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
  echo "demo: stopped; scratch folder removed"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A free port on 127.0.0.1 (kind: SOCK_STREAM or SOCK_DGRAM), or test one ("free PORT").
free_port() {
  python3 - "$@" <<'PY'
import socket, sys
kind = getattr(socket, sys.argv[1])
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
s = socket.socket(socket.AF_INET, kind)
try:
    s.bind(("127.0.0.1", port))
except OSError:
    sys.exit(1)
print(s.getsockname()[1])
PY
}

udp_port=$(free_port SOCK_DGRAM)
socks_port=$(free_port SOCK_STREAM 1080 || free_port SOCK_STREAM)
http_port=$(free_port SOCK_STREAM)

# The server profile holds the private key; the client gets a copy without it.
"$bin/paniq-ctl" create-profile --proxy-addr "127.0.0.1:$udp_port" --profile-name demo \
  > "$scratch/server-profile.json" 2>/dev/null
python3 - "$scratch/server-profile.json" "$scratch/client-profile.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["obfuscation"]["server_private_key"] = ""
json.dump(p, open(sys.argv[2], "w"), indent=2)
PY

# proxy-server refuses loopback and private targets by default (egress policy, docs/egress.md);
# the demo's web server is on 127.0.0.1, so its config opts in to loopback.
cat > "$scratch/proxy-server.json" <<'JSON'
{"allow_targets": ["127.0.0.0/8", "[::1]/128"]}
JSON

mkdir "$scratch/www"
echo "hello through the paniq tunnel" > "$scratch/www/hello.txt"
head -c $((10 * 1024 * 1024)) /dev/urandom > "$scratch/www/10MB.bin"
python3 -m http.server "$http_port" --bind 127.0.0.1 --directory "$scratch/www" \
  > "$scratch/http.log" 2>&1 &
pids+=($!)
"$bin/proxy-server" -l "127.0.0.1:$udp_port" -p "$scratch/server-profile.json" \
  -c "$scratch/proxy-server.json" > "$scratch/proxy-server.log" 2>&1 &
pids+=($!)
"$bin/socks5d" -l "127.0.0.1:$socks_port" -p "$scratch/client-profile.json" \
  > "$scratch/socks5d.log" 2>&1 &
pids+=($!)

wait_for() {  # file text: up to 10 s
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: '$2' did not appear in $1:" >&2
  cat "$1" >&2
  exit 1
}
wait_for "$scratch/proxy-server.log" "listening on"
wait_for "$scratch/socks5d.log" "SOCKS5 daemon listening"
for _ in $(seq 50); do free_port SOCK_STREAM "$http_port" >/dev/null || break; sleep 0.1; done

h=$(grep -o '"h[1-4]": "[^"]*"' "$scratch/server-profile.json" | tr '\n' ' ')
s=$(grep -o '"s[1-4]": [0-9]*' "$scratch/server-profile.json" | tr '\n' ' ')
cat <<EOT

paniq demo is running (scratch folder $scratch)
  proxy-server  udp 127.0.0.1:$udp_port   log: $scratch/proxy-server.log
                config $scratch/proxy-server.json (allow_targets: loopback, for the local web server)
  socks5d       tcp 127.0.0.1:$socks_port  log: $scratch/socks5d.log
  web server    http://127.0.0.1:$http_port/ (hello.txt, 10MB.bin)
  profile       $h
                $s

Try it (works offline):
  curl --socks5-hostname 127.0.0.1:$socks_port http://127.0.0.1:$http_port/hello.txt
  curl --socks5-hostname 127.0.0.1:$socks_port -o /dev/null -w '%{speed_download} bytes/s\n' http://127.0.0.1:$http_port/10MB.bin
With internet access:
  curl --socks5-hostname 127.0.0.1:$socks_port https://example.com/

EOT
if command -v curl >/dev/null; then
  printf 'self-check: '
  curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$socks_port" "http://127.0.0.1:$http_port/hello.txt" \
    || echo "(self-check failed; see the logs above)"
fi
echo "Press Ctrl-C to stop both daemons."
wait
