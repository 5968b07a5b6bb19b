#!/usr/bin/env bash
# Installs every Debian package paniq-cpp needs to build, test, fuzz, benchmark and demo.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libasio-dev libsodium-dev libb2-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  prometheus-cpp-dev  # --metrics-listen (prometheus-cpp core + civetweb exposer)
  clang libclang-rt-14-dev
  curl nginx-light iproute2 procps python3
  python3-cryptography  # e2e test_speedtest.py recomputes the ChaCha20 pattern
  chromium  # e2e test_browser.py: headless Chromium through socks5d (SOCKS5 and HTTP proxy)
  kcptun  # comparison baseline for make bench-tunnel and make bench-wan
  # make bench-wan: wan_delay (NFQUEUE), the namespaces' rules, offloads, ping check, the plot
  libnetfilter-queue-dev iptables ethtool iputils-ping python3-matplotlib
  # make package (cpack DEB: dpkg-shlibdeps computes Depends) and its test; man page rendering
  dpkg-dev groff-base
  systemd  # systemd-analyze verify on the units (e2e test_package.py); not started in containers
  # paniq-ctl link: QR codes (libqrencode) and --png (libpng); zbarimg decodes them in e2e test_share_links.py
  libqrencode-dev libpng-dev zbar-tools
  git python3-pip  # e2e test_http_proxy.py: git clone and pip download through the HTTP proxy
)
# AES-256-GCM and the AES header-protection block (intel-ipsec-mb). Debian builds it for amd64
# only; elsewhere the build leaves AES out and the transport uses ChaCha20-Poly1305.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  PACKAGES+=(libipsec-mb-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# nginx-light's package starts a system nginx on port 80; tests run their own on scratch ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO service nginx stop >/dev/null 2>&1 || true
