# paniq-cpp top-level entry points. Every target installs what is missing first.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all deps build test test-asan demo fuzz-smoke bench bench-tunnel bench-wan soak package clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPANIQ_WERROR=ON

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Everything, green: the Release suite (unit, vector, simulator and integration tests).
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (Debug).
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPANIQ_SANITIZE=ON -DPANIQ_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	@./scripts/demo.sh $(BUILD)

# Every libFuzzer target for FUZZ_SECONDS each, under ASan + UBSan (clang).
fuzz-smoke: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPANIQ_FUZZ=ON -DPANIQ_SANITIZE=ON -DPANIQ_TESTS=OFF -DPANIQ_BENCH=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	./scripts/fuzz-smoke.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	./scripts/bench.sh $(BUILD)

# Loopback tunnel benchmark (nginx origin; kcptun for comparison when installed).
bench-tunnel: build
	./bench/bench-tunnel.sh $(BUILD)

# Long soak (tests/e2e/test_soak.py): mixed load with server restarts, port hops and a failover
# for SOAK_MINUTES (60); asserts byte-exact transfers, flat RSS / fds, no unexplained error.
# `make test` runs the same script for 60 s.
SOAK_MINUTES ?= 60
soak: build
	SOAK_MINUTES=$(SOAK_MINUTES) PANIQ_BIN_DIR=$(BUILD)/src/app \
	  PANIQ_NGINX=$$(command -v nginx || echo /usr/sbin/nginx) python3 tests/e2e/test_soak.py

# WAN emulation benchmark (root: namespaces, tbf, NFQUEUE delay/loss); ~35 min for the full
# matrix. Subsets: WAN_LINKS=100m20 WAN_LOSS=0,5 WAN_TUNNELS=paniq,cubic WAN_QUICK=1; KCP A/B:
# WAN_PANIQ_VARIANTS='ikcp={"congestion":"none"};w4k={"send_window":4096}'; more flags in WAN_ARGS.
bench-wan:
	@if [ "$$(id -u)" -ne 0 ]; then echo "make bench-wan: needs root (ip netns, tc, iptables NFQUEUE); run: sudo make bench-wan" >&2; exit 1; fi
	@$(MAKE) --no-print-directory build
	./bench/wan/bench-wan.sh $(BUILD) $(WAN_ARGS)

# The Debian package (docs/install.md): $(BUILD)/paniq_VERSION_ARCH.deb.
package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
