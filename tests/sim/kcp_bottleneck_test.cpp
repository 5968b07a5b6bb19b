#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
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

// The bounds of docs/kcp.md "Bottleneck suite", derived from the path and the controller's
// constants (all figures in segment bytes, the unit the engine paces in):
//   * startup: the rate grows by kStartupGain per round from the initial window, so it reaches
//     C after ceil(log_g(BDP / IW)) rounds, plus one round to see the queue and one to drain:
//     those rounds are counted as delivering nothing, each one RTT plus a full queue long;
//   * bytes offered per payload byte: the header share times 1/(1 - p) transmissions per
//     segment, times (1 + p) for lost ACKs (a lost ACK whose segment una does not cover in time
//     makes RACK resend it: at most one resend per lost ACK), plus 2 % for reordering-window
//     races, plus the startup drops;
//   * then the pipe runs at C / (those bytes per payload byte) less ProbeBW's one round in
//     eight at 0.75 (1/32 of the time), and on a lossy path cruises one deviation of a round's
//     loss share, sqrt(p (1 - p) / n) with n the BDP in segments, below it;
//   * plus two RTTs of tail (the last loss found by RACK after rtt + rtt/4, then resent);
//   * queue drops: only Startup overshoots, by at most (its in-flight cap - 1) BDP minus the
//     queue it fills,
//     plus 0.5 % of what was sent for probe cycles on a shallow queue.
struct Bounds {
  double goodput;    // bytes/s, lower bound
  double drops;      // share of datagrams sent, upper bound
  double wire;       // forward bytes offered per payload byte, upper bound
};

Bounds derive(const PathSpec& p, const kcp::Config& c, std::uint64_t bytes) {
  const double C = static_cast<double>(p.rate_bytes());
  const double rtt_q = p.rtt_ms + 2.0 * p.jitter_ms + p.queue_ms + 1000.0 * p.queue_extra / C;
  const double bdp = C * p.rtt_ms / 1000.0;
  const double iw = 32.0 * c.mtu;  // the engine starts at 64: the model's Startup is a round slower
  const double g = kcp::Bbr::kStartupGain;
  const double rounds = std::ceil(std::log(std::max(bdp / iw, 1.0)) / std::log(g)) + 2;
  const double header = static_cast<double>(c.mss()) / c.mtu;
  Bounds b;
  const double sent = static_cast<double>(bytes) / c.mss() / (1 - p.loss);
  // Startup's in-flight cap holds its queue to (kStartupCwndGain - 1) BDP.
  const double g_cwnd = std::min(g, kcp::Bbr::kStartupCwndGain);
  const double overshoot = std::max(0.0, (g_cwnd - 1) * bdp - static_cast<double>(p.queue_bytes()));
  b.drops = overshoot / c.mtu / sent + 0.005;
  const double per_payload = (1.0 / header) / (1 - p.loss) * (1 + p.loss) + 0.02;
  b.wire = per_payload + b.drops;
  const double n = std::max(1.0, bdp / c.mtu);
  const double cruise = 1 - kcp::Bbr::kCruiseNoiseMargin * std::sqrt(p.loss * (1 - p.loss) / n);
  const double rate = C * (1 - 1.0 / 32) * cruise / per_payload;
  const double t_ms = rounds * rtt_q + 1000.0 * static_cast<double>(bytes) / rate + 2 * rtt_q;
  b.goodput = static_cast<double>(bytes) * 1000.0 / t_ms;
  return b;
}

kcp::Config paced() { return config(kcp::Congestion::bbr, kcp::LossRecovery::rack, 4096); }

struct Scenario {
  std::uint64_t bps;
  std::uint32_t rtt;
};

// One 6-second bulk transfer per link, loss rate and token bucket: byte-exact, and within every
// bound.
//
// With a bucket (tbf's "burst", as the WAN bench's links have; the TokenBucket instantiation
// below): after the link ran below its rate, up to a bucketful leaves at once, so the receiver sees
// datagrams in bunches. The bucket only adds capacity, so the model's goodput and wire bounds still
// hold. (Rate samples read off a 1 ms clock all came out 1 ms under the min RTT there, none
// counted, and Startup stalled at a quarter of the rate.) Drops are printed, not held to the
// model's bound: the bucket inflates the rate samples of Startup's last rounds by up to a bucketful
// per round trip, and with it Startup's overshoot (200 ms, 64 kB: 2.9 % of datagrams against a
// bound of 1.7 % without a bucket; docs/kcp.md 4.3). The wire bound counts every byte offered,
// dropped ones included.
class BottleneckBounds : public ::testing::TestWithParam<std::tuple<int, double, int>> {};

TEST_P(BottleneckBounds, GoodputDropsAndWireWithinTheModel) {
  const auto [rtt, loss, burst] = GetParam();
  PathSpec p;
  p.rate_bps = rtt == 20 ? 100'000'000 : 20'000'000;
  p.rtt_ms = static_cast<std::uint32_t>(rtt);
  p.loss = loss;
  p.burst = static_cast<std::uint32_t>(burst);
  const kcp::Config c = paced();
  const std::uint64_t bytes = p.rate_bytes() * 6;
  const auto r = run_bottleneck(c, c, p, bytes, 1, 42, 300'000);
  ASSERT_TRUE(r.flows[0].complete) << "corrupt=" << r.flows[0].corrupt;
  const Bounds b = derive(p, c, bytes);
  std::printf("[ path     ] %3d ms %4.1f%% loss %5d B bucket: goodput %6.3f MB/s (bound %6.3f), drops %.2f%% "
              "(bound %.2f%%), wire %.3f (bound %.3f)\n", rtt, loss * 100, burst, r.flows[0].goodput() / 1e6,
              b.goodput / 1e6, 100 * r.drop_share(), 100 * b.drops, r.wire_per_payload(), b.wire);
  RecordProperty("goodput", std::to_string(r.flows[0].goodput()));
  RecordProperty("drops", std::to_string(r.drop_share()));
  RecordProperty("wire", std::to_string(r.wire_per_payload()));
  EXPECT_GE(r.flows[0].goodput(), b.goodput) << "share of capacity " << r.flows[0].goodput() / p.rate_bytes();
  EXPECT_LE(r.wire_per_payload(), b.wire);
  if (burst > 0) return;
  EXPECT_LE(r.drop_share(), b.drops);
  // The reference's parameters on the same path, for contrast: the collapse the paced sender
  // fixes (docs/kcp.md). Only asserted where it is dramatic and stable.
  if (loss == 0.0) {
    const kcp::Config ref = config(kcp::Congestion::none, kcp::LossRecovery::ikcp, 1024);
    const auto old = run_bottleneck(ref, ref, p, bytes / 4, 1, 42, 300'000);
    EXPECT_GT(old.drop_share(), 10 * r.drop_share() + 0.1) << "nc with a 1024 window floods the queue";
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, BottleneckBounds,
                         ::testing::Combine(::testing::Values(20, 200),
                                            ::testing::Values(0.0, 0.01, 0.05, 0.10), ::testing::Values(0)));
INSTANTIATE_TEST_SUITE_P(TokenBucket, BottleneckBounds,
                         ::testing::Combine(::testing::Values(20, 200), ::testing::Values(0.0, 0.05),
                                            ::testing::Values(8 * 1024, 64 * 1024)));

// A session opened by small requests (1 KB per 200 ms for 3 s: application-limited rounds)
// and then a download: the download still reaches the bound of a fresh start, shifted by the
// prelude. (Startup must not take the quiet rounds for a full pipe.)
TEST(Bottleneck, DownloadAfterSmallRequestsStillFillsThePipe) {
  PathSpec p;
  p.rate_bps = 20'000'000;
  p.rtt_ms = 200;
  const kcp::Config c = paced();
  const std::uint64_t bytes = p.rate_bytes() * 6;
  const SimTime prelude = 3000;
  RunOptions opt;
  opt.prelude_ms = prelude;
  const auto r = run_bottleneck(c, c, p, bytes, 1, 42, 300'000, opt);
  ASSERT_TRUE(r.flows[0].complete);
  const Bounds b = derive(p, c, bytes);
  const double t_bound = static_cast<double>(bytes) * 1000.0 / b.goodput + prelude;
  EXPECT_LE(static_cast<double>(r.flows[0].finished_ms), t_bound)
      << "bulk took " << r.flows[0].finished_ms - prelude << " ms after the prelude";
}

// Two flows through one bottleneck for 1000 round trips: over the second half (after they have
// found each other) each moves at least 40 % of what both moved. Only at 20 ms: at 200 ms two
// separate paced KCP flows converge too slowly (the smaller gets 30-38 % after 100 round trips,
// docs/kcp.md lists it as open). Two downloads through one tunnel share one KCP flow and split
// evenly in the multiplexer (make bench-wan).
TEST(Bottleneck, TwoFlowsShareTheLink) {
  PathSpec p;
  p.rate_bps = 100'000'000;
  p.rtt_ms = 20;
  const kcp::Config c = paced();
  const SimTime run = 1000 * p.rtt_ms;
  RunOptions opt;
  opt.mark_ms = run / 2;
  const auto r = run_bottleneck(c, c, p, p.rate_bytes() * 60, 2, 7, run, opt);
  ASSERT_FALSE(r.flows[0].corrupt || r.flows[1].corrupt);
  const double a = static_cast<double>(r.flows[0].bytes - r.flows[0].bytes_at_mark);
  const double b = static_cast<double>(r.flows[1].bytes - r.flows[1].bytes_at_mark);
  ASSERT_GT(a + b, 0.8 * static_cast<double>(p.rate_bytes()) * (run / 2) / 1000.0)
      << "together they kept the link busy";
  EXPECT_GE(std::min(a, b) / (a + b), 0.40) << a << " / " << b;
  EXPECT_LE(r.drop_share(), 0.01);
}

// A download on a short lossy path keeps no standing queue, so a small request made meanwhile
// waits behind little: once ProbeBW runs, the RTT the sender measures (srtt) averages within
// 25 % of the path's own. A probe queues at most a quarter of a BDP for one round in eight, and
// the receiver holds its ACKs for srtt/32: together well under that. (Before the rate samples
// counted the clock's grain and cruising left room for the loss noise, 100 Mbit/s 20 ms with
// 5 % loss averaged 33-42 ms.) The same behind a 64 kB token bucket (tbf's burst), whose
// bursts inflate the probes' samples: a standing queue is cut, and cut again if it outlasts
// the drain (one cut per queue until it drained left one seed at 30 ms).
TEST(Bottleneck, ALossyShortPathKeepsNoStandingQueue) {
  for (const std::uint32_t burst : {0u, 64u * 1024}) {
    for (const double loss : {0.01, 0.05, 0.10}) {
      for (std::uint64_t seed = 42; seed < 45; ++seed) {
        PathSpec p;
        p.rate_bps = 100'000'000;
        p.rtt_ms = 20;
        p.loss = loss;
        p.burst = burst;
        const kcp::Config c = paced();
        double sum = 0;
        int samples = 0;
        RunOptions opt;
        opt.probe = [&](SimTime now, const kcp::Engine& e, const Network&) {
          const auto& b = dynamic_cast<const kcp::Bbr&>(e.congestion());
          if (now < 1500 || b.mode() != kcp::Bbr::Mode::probe_bw) return;
          sum += static_cast<double>(e.rx_srtt());
          ++samples;
        };
        const auto r = run_bottleneck(c, c, p, p.rate_bytes() * 5, 1, seed, 60'000, opt);
        ASSERT_TRUE(r.flows[0].complete);
        ASSERT_GT(samples, 100);
        EXPECT_LE(sum / samples, 1.25 * p.rtt_ms) << "loss " << loss << " seed " << seed << " bucket " << burst;
      }
    }
  }
}

// Diagnostics, not tests (disabled: they print figures and assert nothing). Run them with
//   build/tests/sim/sim_kcp --gtest_also_run_disabled_tests --gtest_filter='Bottleneck.DISABLED_*'
// (PANIQ_SIM_BATCHED=1: packed output, in Explore and Trace; PANIQ_SIM_SEEDS=N: Explore also
// prints the mean over N seeds; PANIQ_SIM_TRACE=bps,rtt,loss[,jitter] for the trace, with
// PANIQ_SIM_SEED=N for another seed than 42 and PANIQ_SIM_TRACE_EVERY=MS for its line spacing;
// in both, PANIQ_SIM_BURST=BYTES puts a token bucket in front of the rate and
// PANIQ_SIM_SECONDS=N sizes the transfer at N s of the link, and PANIQ_SIM_PRELUDE=MS sends
// 1 KB every 200 ms for MS before the bulk (a session warmed by small requests, as the WAN
// bench's downloads start); PANIQ_SIM_BBR_ONLY=1 leaves the reference's sender out of Explore).
TEST(Bottleneck, DISABLED_ExploreTwoFlows) {
  for (std::uint32_t rtt : {20u, 200u}) {
    for (SimTime secs : {2, 6, 20}) {
      PathSpec p;
      p.rate_bps = rtt == 20 ? 100'000'000 : 20'000'000;
      p.rtt_ms = rtt;
      const kcp::Config c = paced();
      RunOptions opt;
      opt.mark_ms = secs * 500;
      const auto r = run_bottleneck(c, c, p, p.rate_bytes() * 60, 2, 7, secs * 1000, opt);
      const double a = static_cast<double>(r.flows[0].bytes), b = static_cast<double>(r.flows[1].bytes);
      const double a2 = a - r.flows[0].bytes_at_mark, b2 = b - r.flows[1].bytes_at_mark;
      std::printf("rtt %u %llus: share %.3f (second half %.3f) total %.2f MB/s drops %.2f%%\n", rtt,
                  (unsigned long long)secs, std::min(a, b) / (a + b), std::min(a2, b2) / (a2 + b2),
                  (a + b) / secs / 1e6, 100 * r.drop_share());
    }
  }
}

TEST(Bottleneck, DISABLED_Explore) {
  struct Case { const char* name; std::uint64_t bps; std::uint32_t rtt; std::uint32_t jitter; };
  const Case cases[] = {{"100M/20", 100'000'000, 20, 0}, {"20M/200", 20'000'000, 200, 0},
                        {"10M/300j", 10'000'000, 300, 20}};
  for (const Case& k : cases) {
    for (double loss : {0.0, 0.01, 0.05, 0.10}) {
      for (int v = std::getenv("PANIQ_SIM_BBR_ONLY") ? 1 : 0; v < 2; ++v) {
        const bool bbr = v == 1;
        const std::uint32_t w = bbr ? 4096 : 1024;
        kcp::Config s = config(bbr ? kcp::Congestion::bbr : kcp::Congestion::none,
                               bbr ? kcp::LossRecovery::rack : kcp::LossRecovery::ikcp, w);
        if (std::getenv("PANIQ_SIM_BATCHED")) s.output = kcp::OutputMode::batched;
        PathSpec p;
        p.rate_bps = k.bps;
        p.rtt_ms = k.rtt;
        p.jitter_ms = k.jitter;
        p.loss = loss;
        if (const char* b = std::getenv("PANIQ_SIM_BURST")) p.burst = static_cast<std::uint32_t>(std::atoi(b));
        // ~6 s at the link rate (PANIQ_SIM_SECONDS=N: N s)
        const char* secs_env = std::getenv("PANIQ_SIM_SECONDS");
        const std::uint64_t bytes = k.bps / 8 * (secs_env ? std::strtoull(secs_env, nullptr, 10) : 6);
        // PANIQ_SIM_SEEDS=N: the mean over seeds 42..42+N-1 (one seed moves a case by a few %).
        const char* seeds_env = std::getenv("PANIQ_SIM_SEEDS");
        const int seeds = seeds_env ? std::max(1, std::atoi(seeds_env)) : 1;
        RunOptions opt;
        if (const char* pre = std::getenv("PANIQ_SIM_PRELUDE")) opt.prelude_ms = std::strtoull(pre, nullptr, 10);
        auto r = run_bottleneck(s, s, p, bytes, 1, 42, 120'000, opt);
        if (seeds > 1) {
          double goodput = r.flows[0].goodput(), drops = r.drop_share(), wire = r.wire_per_payload();
          for (int k = 1; k < seeds; ++k) {
            const auto rk = run_bottleneck(s, s, p, bytes, 1, 42 + static_cast<std::uint64_t>(k), 120'000, opt);
            goodput += rk.flows[0].goodput();
            drops += rk.drop_share();
            wire += rk.wire_per_payload();
          }
          std::printf("%-9s loss %4.1f%% %-4s mean of %d seeds: goodput %6.3f MB/s drops %.2f%% wire %.3f\n",
                      k.name, loss * 100, bbr ? "bbr" : "nc", seeds, goodput / seeds / 1e6,
                      100 * drops / seeds, wire / seeds);
        }
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

TEST(Bottleneck, DISABLED_Trace) {
  const char* env = std::getenv("PANIQ_SIM_TRACE");  // "bps,rtt,loss[,jitter]"
  const char* spec = env ? env : "20000000,200,0";
  PathSpec p;
  double loss = 0;
  unsigned long long bps = 0;
  unsigned rtt = 0, jitter = 0;
  std::sscanf(spec, "%llu,%u,%lf,%u", &bps, &rtt, &loss, &jitter);
  p.jitter_ms = jitter;
  p.rate_bps = bps;
  p.rtt_ms = rtt;
  p.loss = loss;
  if (const char* b = std::getenv("PANIQ_SIM_BURST")) p.burst = static_cast<std::uint32_t>(std::atoi(b));
  kcp::Config s = config(kcp::Congestion::bbr, kcp::LossRecovery::rack, 4096);
  if (std::getenv("PANIQ_SIM_BATCHED")) s.output = kcp::OutputMode::batched;
  SimTime last = 0;
  RunOptions opt;
  if (const char* pre = std::getenv("PANIQ_SIM_PRELUDE")) opt.prelude_ms = std::strtoull(pre, nullptr, 10);
  opt.probe = [&](SimTime now, const kcp::Engine& e, const Network& net) {
    static const char* every = std::getenv("PANIQ_SIM_TRACE_EVERY");  // ms between lines
    if (now < last + (every ? std::strtoull(every, nullptr, 10) : rtt / 2)) return;
    last = now;
    const auto& b = dynamic_cast<const kcp::Bbr&>(e.congestion());
    std::printf("t %6llu mode %d bw %7.3f MB/s maxbw %7.3f pace %7.3f cwnd %5u infl %7llu minrtt %d "
                "srtt %lld loss %.3f drops %llu rtx %llu fast %llu lostq %llu backoffs %llu fwd %llu\n",
                (unsigned long long)now, (int)b.mode(), b.bandwidth() / 1e6, b.max_bandwidth() / 1e6,
                b.pacing_rate() / 1e6, b.cwnd_segments(), (unsigned long long)e.inflight_bytes(),
                b.min_rtt(), (long long)e.rx_srtt(), b.loss_share(), (unsigned long long)net.stats(Side::a).queue_drops,
                (unsigned long long)e.stats().retransmits, (unsigned long long)e.stats().fast_retransmits,
                (unsigned long long)e.stats().timeout_losses, (unsigned long long)b.backoffs(), (unsigned long long)net.stats(Side::a).delivered);
  };
  const char* seed_env = std::getenv("PANIQ_SIM_SEED");  // default 42
  const std::uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : 42;
  const char* secs_env = std::getenv("PANIQ_SIM_SECONDS");  // transfer size in link-seconds
  const std::uint64_t secs = secs_env ? std::strtoull(secs_env, nullptr, 10) : 6;
  auto r = run_bottleneck(s, s, p, bps / 8 * secs, 1, seed, 120'000, opt);
  std::printf("goodput %.3f MB/s drops %.2f%% wire %.3f\n", r.flows[0].goodput() / 1e6,
              100 * r.drop_share(), r.wire_per_payload());
}

}  // namespace
}  // namespace paniq::sim
