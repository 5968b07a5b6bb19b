// LINK: paniq_kcp
// Two KCP engines joined in memory, bulk stream A -> B, on one core: bytes/s of application
// data delivered, and time per data segment (first transmissions). Variants: output mode
// (one segment per datagram as the Rust peer needs, or batched), MTU, and 1 % random loss in
// both directions. Virtual time advances 1 ms per round; the wall clock is what is measured.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "kcp/engine.hpp"

namespace {

using paniq::Bytes;
using paniq::ByteView;
using paniq::kcp::Config;
using paniq::kcp::Engine;
using paniq::kcp::OutputMode;

struct Lossy {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::uint32_t per_10000 = 0;
  bool drop() {
    if (per_10000 == 0) return false;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % 10000 < per_10000;
  }
};

void run(benchmark::State& state, OutputMode mode, std::uint32_t mtu,
         std::uint32_t loss_per_10000) {
  Config c = Config::defaults();
  c.conv = 1;
  c.mtu = mtu;
  c.output = mode;
  c.snd_wnd = c.rcv_wnd = c.max_snd_queue = 1024;
  Engine a(c), b(c);
  Bytes src(1 << 20);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint8_t>(i * 131);
  std::vector<std::uint8_t> sink(1 << 20);
  Lossy net{0x9E3779B97F4A7C15ull, loss_per_10000};
  std::uint32_t now = 0;
  std::size_t src_off = 0;
  std::uint64_t delivered = 0;
  constexpr std::uint64_t kPerIteration = 8ull << 20;

  for (auto _ : state) {
    const std::uint64_t target = delivered + kPerIteration;
    while (delivered < target) {
      for (;;) {
        auto n = a.send(ByteView(src).subspan(src_off, src.size() - src_off));
        if (*n == 0) break;
        src_off = (src_off + *n) % src.size();
      }
      a.flush(now);
      for (ByteView d : a.output()) {
        if (!net.drop()) (void)b.input(d, now);
      }
      a.clear_output();
      for (std::size_t n; (n = *b.recv(sink)) > 0;) delivered += n;
      b.flush(now);
      for (ByteView d : b.output()) {
        if (!net.drop()) (void)a.input(d, now);
      }
      b.clear_output();
      ++now;
    }
    benchmark::DoNotOptimize(sink.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kPerIteration));
  state.counters["per_segment"] = benchmark::Counter(
      static_cast<double>(a.stats().out_data_segments),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["retrans"] =
      static_cast<double>(a.stats().retransmits + a.stats().fast_retransmits);
}

void BM_KcpOneSegmentPerDatagram(benchmark::State& s) {
  run(s, OutputMode::one_segment_per_datagram, static_cast<std::uint32_t>(s.range(0)), 0);
}
void BM_KcpBatched(benchmark::State& s) {
  run(s, OutputMode::batched, static_cast<std::uint32_t>(s.range(0)), 0);
}
void BM_KcpOneSegmentPerDatagramLoss1(benchmark::State& s) {
  run(s, OutputMode::one_segment_per_datagram, static_cast<std::uint32_t>(s.range(0)), 100);
}
void BM_KcpBatchedLoss1(benchmark::State& s) {
  run(s, OutputMode::batched, static_cast<std::uint32_t>(s.range(0)), 100);
}

BENCHMARK(BM_KcpOneSegmentPerDatagram)->Arg(1203)->Arg(1400)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KcpBatched)->Arg(1400)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KcpOneSegmentPerDatagramLoss1)->Arg(1400)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KcpBatchedLoss1)->Arg(1400)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
