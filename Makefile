# paniq-cpp top-level entry points. Every target installs what is missing first.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all deps build test test-asan demo fuzz-smoke bench bench-tunnel clean

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
