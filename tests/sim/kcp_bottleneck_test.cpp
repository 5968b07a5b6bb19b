#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "kcp/bbr.hpp"
#include "sim/bottleneck.hpp"

namespace paniq::sim {
namespace {

kcp::Config config(kcp::Congestion cc, kcp::LossRecovery lr, std::uint32_t wnd) {
  kcp::Config c = kcp::Config::reference(0, 1300, 10, wnd, wnd, wnd);
  c.initial_sn = 0xFFFFFF00u;
  c.congestion = cc;
  c.loss_recovery = lr;
  return c;
}

TEST(Bottleneck, Explore) {
  if (!std::getenv("PANIQ_SIM_EXPLORE")) GTEST_SKIP();
  struct Case { const char* name; std::uint64_t bps; std::uint32_t rtt; std::uint32_t jitter; };
  const Case cases[] = {{"100M/20", 100'000'000, 20, 0}, {"20M/200", 20'000'000, 200, 0},
                        {"10M/300j", 10'000'000, 300, 20}};
  for (const Case& k : cases) {
    for (double loss : {0.0, 0.01, 0.05, 0.10}) {
      for (int v = 0; v < 2; ++v) {
        const bool bbr = v == 1;
        const std::uint32_t w = bbr ? 4096 : 1024;
        const kcp::Config s = config(bbr ? kcp::Congestion::bbr : kcp::Congestion::none,
                                     bbr ? kcp::LossRecovery::rack : kcp::LossRecovery::ikcp, w);
        PathSpec p;
        p.rate_bps = k.bps;
        p.rtt_ms = k.rtt;
        p.jitter_ms = k.jitter;
        p.loss = loss;
        const std::uint64_t bytes = k.bps / 8 * 6;  // ~6 s at the link rate
        auto r = run_bottleneck(s, s, p, bytes, 1, 42, 120'000);
        std::printf("%-9s loss %4.1f%% %-4s goodput %6.2f MB/s (%.0f%% of rate) wire %.3f drops %.2f%% "
                    "rtx %llu fast %llu spur %llu t %llu ms %s\n",
                    k.name, loss * 100, bbr ? "bbr" : "nc", r.flows[0].goodput() / 1e6,
                    100 * r.flows[0].goodput() / (k.bps / 8.0), r.wire_per_payload(), 100 * r.drop_share(),
                    (unsigned long long)r.sender.retransmits, (unsigned long long)r.sender.fast_retransmits,
                    (unsigned long long)r.sender.spurious_retransmits,
                    (unsigned long long)r.end_ms, r.flows[0].complete ? "" : "INCOMPLETE");
      }
    }
  }
}

TEST(Bottleneck, Trace) {
  const char* spec = std::getenv("PANIQ_SIM_TRACE");  // "bps,rtt,loss"
  if (!spec) GTEST_SKIP();
  PathSpec p;
  double loss = 0;
  unsigned long long bps = 0;
  unsigned rtt = 0, jitter = 0;
  std::sscanf(spec, "%llu,%u,%lf,%u", &bps, &rtt, &loss, &jitter);
  p.jitter_ms = jitter;
  p.rate_bps = bps;
  p.rtt_ms = rtt;
  p.loss = loss;
  const kcp::Config s = config(kcp::Congestion::bbr, kcp::LossRecovery::rack, 4096);
  SimTime last = 0;
  auto r = run_bottleneck(s, s, p, bps / 8 * 6, 1, 42, 120'000,
                          [&](SimTime now, const kcp::Engine& e, const Network& net) {
    if (now < last + rtt / 2) return;
    last = now;
    const auto& b = dynamic_cast<const kcp::Bbr&>(e.congestion());
    std::printf("t %6llu mode %d bw %7.3f MB/s maxbw %7.3f pace %7.3f cwnd %5u infl %7llu minrtt %d "
                "loss %.3f drops %llu rtx %llu fast %llu lostq %llu\n",
                (unsigned long long)now, (int)b.mode(), b.bandwidth() / 1e6, b.max_bandwidth() / 1e6,
                b.pacing_rate() / 1e6, b.cwnd_segments(), (unsigned long long)e.inflight_bytes(),
                b.min_rtt(), b.loss_share(), (unsigned long long)net.stats(Side::a).queue_drops,
                (unsigned long long)e.stats().retransmits, (unsigned long long)e.stats().fast_retransmits,
                (unsigned long long)e.stats().timeout_losses);
  });
  std::printf("goodput %.3f MB/s drops %.2f%% wire %.3f\n", r.flows[0].goodput() / 1e6,
              100 * r.drop_share(), r.wire_per_payload());
}

}  // namespace
}  // namespace paniq::sim
