#!/usr/bin/env bash
# make demo: until the daemons exist (issue #5) this builds the layers and shows what is there.
set -euo pipefail
build=${1:-build}
echo "paniq-cpp: the protocol layers are built in $build."
echo "Libraries:"; find "$build/src" -name 'libpaniq_*.a' -printf '  %f\n' | sort
echo "The socks5d and proxy-server daemons arrive with issue #5; 'make test' runs the suite."
