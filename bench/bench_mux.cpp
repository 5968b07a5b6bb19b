// LINK: paniq_mux
// smux session throughput in memory: client writes, frames go straight into the server's
// input, the server reads. One stream, and 100 streams written round-robin.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "mux/session.hpp"

namespace paniq::mux {
namespace {

struct Link {
  Session client{Config::defaults(), 0};
  Session server{Config::server_defaults(), 0};
  Bytes rbuf = Bytes(65536);

  void pump_and_read() {
    const ByteView out = client.pending_output();
    const std::size_t n = server.input(out, 0);
    client.consume_output(n);
    while (auto e = server.poll_event()) {
      if (e->kind != EventKind::Readable) continue;
      for (;;) {
        auto r = server.read(e->id, rbuf);
        if (!r || *r == 0) break;
        benchmark::DoNotOptimize(rbuf.data());
      }
    }
  }
};

// Moves `chunk`-sized writes over `streams` streams; each iteration moves 4 MiB.
void run(benchmark::State& state, std::size_t streams) {
  const auto chunk = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kPerIteration = 4u << 20;
  Link link;
  std::vector<StreamId> ids;
  for (std::size_t i = 0; i < streams; ++i) ids.push_back(link.client.open_stream(0).value());
  link.pump_and_read();
  const Bytes data(chunk, 0x42);
  std::size_t next = 0;
  for (auto _ : state) {
    std::size_t moved = 0;
    while (moved < kPerIteration) {
      const StreamId id = ids[next];
      next = (next + 1) % ids.size();
      const std::size_t n = link.client.write(id, data, 0).value();
      moved += n;
      if (n < data.size() || link.client.write_room() == 0) link.pump_and_read();
    }
    link.pump_and_read();
    while (link.client.poll_event()) {
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kPerIteration));
}

void BM_MuxOneStream(benchmark::State& state) { run(state, 1); }
void BM_MuxHundredStreams(benchmark::State& state) { run(state, 100); }

BENCHMARK(BM_MuxOneStream)->Arg(1400)->Arg(16384)->Arg(65536);
BENCHMARK(BM_MuxHundredStreams)->Arg(1400)->Arg(16384)->Arg(65536);

// Decoding alone: a stream of 16 KiB PSH frames fed in 1400-byte pieces (KCP segment size).
void BM_MuxFrameDecode(benchmark::State& state) {
  Bytes wire;
  const Bytes payload(16384, 7);
  for (int i = 0; i < 64; ++i) {
    const Bytes f = encode_frame(Cmd::Psh, 3, payload);
    wire.insert(wire.end(), f.begin(), f.end());
  }
  for (auto _ : state) {
    FrameDecoder dec;
    ByteView rest(wire);
    std::size_t frames = 0;
    while (!rest.empty()) {
      ByteView piece = rest.first(std::min<std::size_t>(1400, rest.size()));
      rest = rest.subspan(piece.size());
      while (!piece.empty()) {
        const auto st = dec.next(piece);
        piece = piece.subspan(st.consumed);
        frames += st.status == FrameDecoder::Status::Header ? 1 : 0;
      }
    }
    benchmark::DoNotOptimize(frames);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_MuxFrameDecode);

}  // namespace
}  // namespace paniq::mux

BENCHMARK_MAIN();
