// LINK: paniq_tunnel
// The tunnel core in memory: a client Link and a server Link joined directly (no loss, no
// delay), one stream moving bulk data client -> server. Each datagram is classified, decoded,
// fed to KCP and smux, and every ACK goes back the same way. Reports bytes/s of application
// data and the cost per datagram (both directions counted), with padding off and on.
//
//   build-rel/bench/bench_tunnel_core --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <cstdint>

#include "core/rng.hpp"
#include "obf/framer.hpp"
#include "tunnel/link.hpp"

namespace paniq::tunnel {
namespace {

LinkConfig config(mux::Role role, bool padding) {
  LinkConfig c;
  c.padding = padding ? envelope::PaddingPolicy::enabled_defaults()
                      : envelope::PaddingPolicy::disabled();
  envelope::SizeInputs in;
  in.s4 = 37;
  in.padding = c.padding;
  c.sizes = envelope::derive_sizes(in);
  c.kcp = kcp::Config::reference(0, c.sizes.kcp_mtu, 10, 1024, 1024, 1024);
  c.mux = role == mux::Role::Client ? mux::Config::defaults() : mux::Config::server_defaults();
  c.liveness.enabled = role == mux::Role::Client;
  return c;
}

obf::Config obf_config() {
  obf::Config c;
  c.s = {39, 32, 0, 37};
  c.h = {{{1000, 1999}, {2000, 2999}, {3000, 3999}, {4000, 4999}}};
  return c;
}

struct Pair {
  explicit Pair(bool padding)
      : framer(*obf::Framer::create(obf_config())),
        rng(1),
        client(config(mux::Role::Client, padding), 42, framer, rng, 0),
        server(config(mux::Role::Server, padding), 42, framer, rng, 0) {
    stream = client.mux().open_stream(0).value();
  }

  // Moves every pending datagram of `from` into `to`; returns how many.
  std::size_t deliver(Link& from, Link& to, TimeMs now) {
    const auto out = from.transmit();
    for (const ByteView d : out) {
      const auto c = framer.classify(d);
      if (c) (void)to.handle_transport(c->payload, now);
    }
    from.consume_transmit(out.size());
    return out.size();
  }

  obf::Framer framer;
  SeededRng rng;
  Link client;
  Link server;
  mux::StreamId stream = 0;
  std::optional<mux::StreamId> server_stream;
  Bytes chunk = Bytes(64u << 10, 0x5a);
  Bytes rbuf = Bytes(64u << 10);
};

void BM_TunnelBulk(benchmark::State& state) {
  Pair p(state.range(0) != 0);
  constexpr std::uint64_t kPerIteration = 8u << 20;
  TimeMs now = 0;
  std::uint64_t datagrams = 0, moved = 0;
  for (auto _ : state) {
    std::uint64_t sent = 0, received = 0;
    while (received < kPerIteration) {
      ++now;
      while (sent < kPerIteration) {
        auto n = p.client.mux().write(p.stream, p.chunk, now);
        if (!n || *n == 0) break;
        sent += *n;
      }
      p.client.flush(now);
      datagrams += p.deliver(p.client, p.server, now);
      p.server.flush(now);
      while (auto e = p.server.poll_event()) {
        if (e->kind == EventKind::StreamOpened) p.server_stream = e->stream;
      }
      while (p.server_stream) {
        auto n = p.server.mux().read(*p.server_stream, p.rbuf);
        if (!n || *n == 0) break;
        received += *n;
      }
      p.server.flush(now);
      datagrams += p.deliver(p.server, p.client, now);
      if (p.client.dead() || p.server.dead()) {
        state.SkipWithError("link died");
        return;
      }
    }
    moved += received;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(moved));
  state.counters["datagrams"] = benchmark::Counter(static_cast<double>(datagrams),
                                                   benchmark::Counter::kIsRate);
  state.counters["per_datagram"] = benchmark::Counter(
      static_cast<double>(datagrams), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TunnelBulk)->ArgName("padding")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace paniq::tunnel

BENCHMARK_MAIN();
