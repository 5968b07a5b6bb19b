// LINK: paniq_envelope
// Transport payload build and decode around a full-size 1179-byte KCP segment, counter on,
// padding off / on (example-profile policy 16-96, burst 96-104 at 2 %). ns per datagram.
#include <benchmark/benchmark.h>

#include "crypto/crypto.hpp"
#include "envelope/transport.hpp"

using namespace paniq;
using namespace paniq::envelope;

namespace {

constexpr std::size_t kSegment = 1179;
constexpr std::size_t kBudget = 1309;  // effective_max_payload of examples/profile.json

TransportOptions options(bool padding) {
  TransportOptions o;
  o.counter = true;
  o.budget = kBudget;
  o.padding = padding ? PaddingPolicy::enabled_defaults() : PaddingPolicy::disabled();
  return o;
}

template <class R>
R make_rng();
template <>
SeededRng make_rng<SeededRng>() {
  return SeededRng(1);
}
template <>
crypto::OsRng make_rng<crypto::OsRng>() {
  return crypto::OsRng();
}

// The tunnel's path: segment already at its final offset, header and padding finished around it.
template <class R>
void BM_FinishInPlace(benchmark::State& state) {
  const TransportOptions o = options(state.range(0) != 0);
  R rng = make_rng<R>();
  Bytes buf(kBudget, 0x5a);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    auto n = finish_transport(buf, kSegment, counter++, o, rng);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kSegment));
}

// Copying the segment in (build_transport).
void BM_BuildCopy(benchmark::State& state) {
  const TransportOptions o = options(state.range(0) != 0);
  SeededRng rng(2);
  Bytes segment(kSegment, 0x33), buf(kBudget);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    auto n = build_transport(buf, segment, counter++, o, rng);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Decode(benchmark::State& state) {
  const TransportOptions o = options(state.range(0) != 0);
  SeededRng rng(3);
  Bytes segment(kSegment, 0x33), buf(kBudget);
  auto n = build_transport(buf, segment, 42, o, rng);
  if (!n) {
    state.SkipWithError("build failed");
    return;
  }
  const ByteView wire = ByteView(buf).first(*n);
  for (auto _ : state) {
    auto d = decode_transport(wire, true);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_FinishInPlace<SeededRng>)->ArgName("padding")->Arg(0)->Arg(1);
BENCHMARK(BM_FinishInPlace<crypto::OsRng>)->ArgName("padding")->Arg(0)->Arg(1);
BENCHMARK(BM_BuildCopy)->ArgName("padding")->Arg(0)->Arg(1);
BENCHMARK(BM_Decode)->ArgName("padding")->Arg(0)->Arg(1);

BENCHMARK_MAIN();
