// LINK: paniq_socks5
// Per-datagram and per-connection costs of the socks5 layer: SOCKS5 UDP header parse and
// build, UDP ASSOCIATE record decoding over a byte stream, a whole server handshake and a
// stream-open request decode.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "socks5/handshake.hpp"
#include "socks5/stream_open.hpp"
#include "socks5/udp_header.hpp"
#include "socks5/udp_record.hpp"

namespace paniq::socks5 {
namespace {

void BM_ParseUdpDatagram(benchmark::State& state) {
  const Bytes dg = build_udp_datagram(*Address::domain("example.com", 53), Bytes(1200, 0x42));
  for (auto _ : state) {
    const UdpDatagram d = parse_udp_datagram(dg);
    benchmark::DoNotOptimize(d.data.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * dg.size()));
}
BENCHMARK(BM_ParseUdpDatagram);

void BM_EncodeUdpRecordPrefix(benchmark::State& state) {
  const Address src = Address::ipv4({8, 8, 8, 8}, 53);
  std::array<std::uint8_t, 64> buf{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(encode_udp_record_prefix(buf, src, 1200));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_EncodeUdpRecordPrefix);

// A stream of 1200-byte-payload records decoded in reads of state.range(0) bytes.
void BM_UdpRecordDecode(benchmark::State& state) {
  Bytes stream;
  for (int i = 0; i < 64; ++i) {
    const Bytes rec =
        encode_udp_record(build_udp_datagram(Address::ipv4({10, 0, 0, 1}, 53), Bytes(1200, 1)));
    stream.insert(stream.end(), rec.begin(), rec.end());
  }
  const auto piece = static_cast<std::size_t>(state.range(0));
  UdpRecordDecoder dec;
  for (auto _ : state) {
    for (std::size_t off = 0; off < stream.size();) {
      ByteView chunk = ByteView(stream).subspan(off, std::min(piece, stream.size() - off));
      off += chunk.size();
      while (!chunk.empty()) {
        const auto s = dec.next(chunk);
        chunk = chunk.subspan(s.consumed);
        benchmark::DoNotOptimize(s.record.data());
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_UdpRecordDecode)->Arg(1460)->Arg(16384)->Arg(65536);

void BM_ServerHandshake(benchmark::State& state) {
  HandshakeConfig cfg;
  cfg.username = "user";
  cfg.password = "secret";
  Bytes in = {0x05, 0x01, 0x02, 0x01, 0x04, 'u', 's', 'e', 'r', 0x06, 's', 'e', 'c', 'r', 'e', 't'};
  const OpenRequest r{Command::Connect, *Address::domain("example.com", 443)};
  in.insert(in.end(), {0x05, 0x01, 0x00});
  r.target.append_to(in);
  for (auto _ : state) {
    ServerHandshake hs(cfg);
    const auto s = hs.put(in);
    benchmark::DoNotOptimize(s.consumed);
    benchmark::DoNotOptimize(hs.request().target.port());
  }
}
BENCHMARK(BM_ServerHandshake);

void BM_OpenRequestDecode(benchmark::State& state) {
  const Bytes in = encode_open_request({Command::Connect, *Address::domain("example.com", 443)});
  for (auto _ : state) {
    OpenRequestDecoder dec;
    const auto s = dec.put(in);
    benchmark::DoNotOptimize(s.consumed);
    benchmark::DoNotOptimize(dec.request().target.port());
  }
}
BENCHMARK(BM_OpenRequestDecode);

}  // namespace
}  // namespace paniq::socks5

BENCHMARK_MAIN();
