// LINK: paniq_obf
// Framer hot paths (PROTOCOL.md 3.5, 3.6), with the reference's examples/profile.json
// obfuscation values (S4 = 37, 1025-wide header ranges).
#include <benchmark/benchmark.h>

#include <cstring>

#include "core/rng.hpp"
#include "obf/framer.hpp"

namespace {

using namespace paniq;
using obf::MessageType;

obf::Framer profile_framer(obf::ClassifyMode mode = obf::ClassifyMode::FirstMatch) {
  obf::Config cfg;
  cfg.jc = 4;
  cfg.jmin = 500;
  cfg.jmax = 1202;
  cfg.s = {339, 432, 213, 37};
  cfg.h = {{{2367138250u, 2367139274u},
            {2676052954u, 2676053978u},
            {3741617189u, 3741618213u},
            {3845046654u, 3845047678u}}};
  cfg.i[0] = "<t>";
  cfg.classify = mode;
  return std::move(*obf::Framer::create(cfg));
}

// write_prefix + payload copy into a reused 1350-byte buffer: one transport datagram.
void BM_TransportWritePrefix1350(benchmark::State& state) {
  const obf::Framer f = profile_framer();
  SeededRng rng(1);
  const std::size_t prefix = f.prefix_len(MessageType::Transport);
  Bytes payload(1350 - prefix, 0x5a);
  Bytes buf(1350);
  for (auto _ : state) {
    f.write_prefix(MessageType::Transport, rng, MutByteView(buf.data(), prefix));
    std::memcpy(buf.data() + prefix, payload.data(), payload.size());
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 1350);
}
BENCHMARK(BM_TransportWritePrefix1350);

void classify_bench(benchmark::State& state, const Bytes& wire, obf::ClassifyMode mode) {
  const obf::Framer f = profile_framer(mode);
  for (auto _ : state) {
    auto c = f.classify(wire);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ClassifyTransport(benchmark::State& state) {
  const obf::Framer f = profile_framer();
  SeededRng rng(2);
  const Bytes wire = f.encode(MessageType::Transport, Bytes(1200, 0x11), rng);
  classify_bench(state, wire, static_cast<obf::ClassifyMode>(state.range(0)));
}
BENCHMARK(BM_ClassifyTransport)->Arg(0)->Arg(1)->ArgNames({"strict"});

void BM_ClassifyNoMatch(benchmark::State& state) {
  Bytes wire(1350, 0);  // long enough to test all four offsets; no range holds 0
  classify_bench(state, wire, static_cast<obf::ClassifyMode>(state.range(0)));
}
BENCHMARK(BM_ClassifyNoMatch)->Arg(0)->Arg(1)->ArgNames({"strict"});

// Initiation encode into a fresh vector (339 padding bytes + header, empty payload as Rust
// clients send).
void BM_EncodeInitiation(benchmark::State& state) {
  const obf::Framer f = profile_framer();
  SeededRng rng(3);
  for (auto _ : state) {
    Bytes wire = f.encode(MessageType::Initiation, {}, rng);
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeInitiation);

}  // namespace

BENCHMARK_MAIN();
