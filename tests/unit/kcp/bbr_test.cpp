// The path model (kcp/bbr.hpp) fed synthetic acknowledgements, round by round; and ikcp's cwnd
// behind the same interface (kcp/congestion.hpp).
#include "kcp/bbr.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "kcp/congestion.hpp"

namespace paniq::kcp {
namespace {

constexpr std::uint32_t kMtu = 1300;

// Drives one Bbr through rounds of a path: every round the sender delivers `rate` bytes/s for
// one RTT; one AckEvent per round closes it (its sample spans the round). The model counts a
// sample's interval 1 ms longer than read (a 1 ms clock at both ends), so the feed delivers a
// round's bytes over rtt + 1 ms read as rtt: the sample reads back `rate` exactly.
struct Feed {
  Bbr bbr;
  Clock32 now = 1000;
  std::uint64_t delivered = 0;
  explicit Feed(const BbrParams& p) : bbr(p) {}

  void round(std::uint64_t rate, std::int32_t rtt, std::uint64_t lost = 0, bool app_limited = false,
             std::uint64_t inflight = 0) {
    if (lost > 0) {
      LossEvent l;
      l.now = now;
      l.lost_segments = static_cast<std::uint32_t>(lost / kMtu);
      l.lost_bytes = lost;
      bbr.on_loss(l);
    }
    const std::uint64_t bytes = rate * static_cast<std::uint64_t>(rtt + 1) / 1000;
    AckEvent e;
    now += static_cast<Clock32>(rtt);
    e.now = now;
    e.acked_segments = static_cast<std::uint32_t>(bytes / kMtu + 1);
    e.min_rtt_sample = rtt;
    e.rttvar = 1;
    e.rate.prior_delivered = delivered;
    delivered += bytes;
    e.delivered = delivered;
    e.rate.delivered = bytes;
    e.rate.interval_ms = static_cast<std::uint32_t>(rtt);
    e.rate.app_limited = app_limited;
    e.inflight_bytes = inflight;
    bbr.on_ack(e);
  }
};

BbrParams params() {
  BbrParams p;
  p.mtu = kMtu;
  p.max_inflight = 4096ull * kMtu;
  return p;
}

TEST(Bbr, StartupDoublesThenDrainsThenCruisesAtTheMeasuredRate) {
  Feed f(params());
  EXPECT_EQ(f.bbr.mode(), Bbr::Mode::startup);
  EXPECT_EQ(f.bbr.pacing_rate(), 0u) << "nothing known: the initial window goes unpaced";
  f.round(100'000, 100);
  // Startup paces at twice the delivery rate, and at least twice the initial window (64
  // segments) per round trip.
  EXPECT_EQ(f.bbr.pacing_rate(), 2u * 64 * kMtu * 10);
  f.round(1'000'000, 100);
  EXPECT_EQ(f.bbr.pacing_rate(), 2'000'000u) << "Startup paces at twice the delivery rate";
  // The path delivers at most 2.5 MB/s: the rate doubles until it stops growing by 25 %.
  std::uint64_t rate = 1'000'000;
  for (int i = 0; i < 12 && f.bbr.mode() == Bbr::Mode::startup; ++i) {
    rate = std::min<std::uint64_t>(rate * 2, 2'500'000);
    f.round(rate, 100, 0, false, 2 * rate / 10);
  }
  EXPECT_NE(f.bbr.mode(), Bbr::Mode::startup) << "3 rounds without 25 % growth end Startup";
  EXPECT_EQ(f.bbr.max_bandwidth(), 2'500'000u);
  // Drain ends once in flight is down to one BDP; then cruising at the rate itself.
  for (int i = 0; i < 3 && f.bbr.mode() != Bbr::Mode::probe_bw; ++i) f.round(2'500'000, 100, 0, false, 100'000);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  EXPECT_EQ(f.bbr.pacing_rate(), 2'500'000u);
  // In-flight cap: 2 x bandwidth x (min RTT + 2 ms clock grain).
  EXPECT_EQ(f.bbr.inflight_limit(), 2ull * 2'500'000 * 102 / 1000);
}

// Startup's in-flight cap at `gain` BDPs of `bw`, at the feed's min RTT of 100 ms (+2 ms grain).
std::uint64_t startup_cap(double gain, std::uint64_t bw) {
  return static_cast<std::uint64_t>(gain * static_cast<double>(bw) * 102 / 1000.0);
}

// While the search has lost nothing, Startup's in-flight cap follows the growth the last round
// showed, between 1.5 and 1.75 BDPs: a round that grew less says the pipe is filling. The first
// loss gives it the full 1.75 again, for the rest of the search.
TEST(Bbr, StartupCapFollowsTheLastRoundsGrowthUntilALoss) {
  // Each feed round's ACK ends the round before it: the growth of round k is known, and the
  // cap set, once round k + 1 has begun; the cap applies to the filtered rate, the largest yet.
  Feed f(params());
  f.round(1'000'000, 100);
  f.round(2'000'000, 100);
  f.round(2'200'000, 100);  // round 2 grew 2x over round 1
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::startup);
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.75, 2'200'000)) << "grew 2x: the full cap";
  f.round(3'520'000, 100);  // round 3 grew 1.1x
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.5, 3'520'000)) << "grew 1.1x: the floor, 1.5";
  f.round(3'700'000, 100);  // round 4 grew 1.6x
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.6, 3'700'000)) << "grew 1.6x: 1.6";
  f.round(3'800'000, 100, 13'000);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::startup);
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.75, 3'800'000)) << "a loss: the full cap again";
  f.round(3'900'000, 100);  // round 6 grew 1.03x, but the search has lost
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.75, 3'900'000)) << "... for the rest of the search";
}

// A round the application limited says nothing about the pipe: it neither lowers the cap nor
// serves as the base of the next round's growth.
TEST(Bbr, StartupCapIgnoresApplicationLimitedRounds) {
  Feed f(params());
  f.round(1'000'000, 100);
  f.round(2'000'000, 100);
  f.round(2'100'000, 100, 0, true);  // limited by the application
  f.round(2'200'000, 100);           // ends the limited round
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.75, 2'200'000)) << "a limited round (1.05x) does not count";
  f.round(2'300'000, 100);           // ends round 4, which grew 1.05x over a limited round
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.75, 2'300'000)) << "nor is it the base of the next";
  f.round(2'400'000, 100);           // ends round 5: 1.05x over round 4, both full rounds
  EXPECT_EQ(f.bbr.inflight_limit(), startup_cap(1.5, 2'400'000)) << "two full rounds: the cap follows";
}

// On a clean path ProbeBW's 0.75 phase lasts until the probe's queue is gone (in flight down to
// one BDP, or an RTT sample at the floor once a min RTT has passed), at most four min RTTs; the
// reference BBR rule (one min RTT) left a standing queue behind. A lossy path keeps that rule.
TEST(Bbr, DrainPhaseLastsUntilTheProbesQueueIsGone) {
  Feed f(params());
  const std::uint64_t bw = 2'500'000, bdp = bw * 102 / 1000;
  const auto probe = static_cast<std::uint64_t>(1.25 * bw), drain = static_cast<std::uint64_t>(0.75 * bw);
  std::uint64_t rate = 1'000'000;
  for (int i = 0; i < 12 && f.bbr.mode() == Bbr::Mode::startup; ++i) {
    rate = std::min<std::uint64_t>(rate * 2, bw);
    f.round(rate, 100, 0, false, 2 * rate / 10);
  }
  for (int i = 0; i < 3 && f.bbr.mode() != Bbr::Mode::probe_bw; ++i) f.round(bw, 100, 0, false, bdp);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  auto to_drain = [&](std::uint64_t lost = 0) {
    for (int i = 0; i < 12 && f.bbr.pacing_rate() < probe; ++i) f.round(bw, 100, lost, false, bdp);
    ASSERT_GT(f.bbr.pacing_rate(), f.bbr.bandwidth()) << "the 1.25 probe";
    for (int i = 0; i < 3 && f.bbr.pacing_rate() > f.bbr.bandwidth(); ++i) {
      f.round(bw, 100, lost, false, 2 * bdp);
    }
    ASSERT_LT(f.bbr.pacing_rate(), f.bbr.bandwidth()) << "then 0.75";
  };
  to_drain();
  // A min RTT later the queue still shows (RTT 150 ms, 1.5 BDP in flight): still draining.
  f.round(bw, 150, 0, false, bdp * 3 / 2);
  EXPECT_EQ(f.bbr.pacing_rate(), drain);
  // The RTT is back at the floor while in flight stays above a BDP (losses not yet declared):
  // the queue is gone, cruise.
  f.round(bw, 100, 0, false, bdp * 3 / 2);
  EXPECT_EQ(f.bbr.pacing_rate(), bw);
  // A queue that does not go away: the phase ends after four min RTTs all the same.
  to_drain();
  f.round(bw, 150, 0, false, bdp * 3 / 2);
  f.round(bw, 150, 0, false, bdp * 3 / 2);
  EXPECT_EQ(f.bbr.pacing_rate(), drain) << "300 ms";
  f.round(bw, 150, 0, false, bdp * 3 / 2);
  EXPECT_EQ(f.bbr.pacing_rate(), bw) << "450 ms > 4 min RTTs";
  // 5 % random loss: one min RTT, queue or not.
  for (int i = 0; i < 30; ++i) f.round(bw, 100, bw / 10 / 20, false, bdp);
  ASSERT_GE(f.bbr.loss_share(), Bbr::kCleanPathLoss);
  to_drain(bw / 10 / 20);
  f.round(bw, 150, bw / 10 / 20, false, bdp * 3 / 2);
  EXPECT_GT(f.bbr.pacing_rate(), f.bbr.bandwidth() * 95 / 100) << "lossy path: the reference rule";
  EXPECT_LE(f.bbr.pacing_rate(), f.bbr.bandwidth()) << "cruising, just below the estimate";
}

// Ends Startup and Drain on a path that delivers `bw` at 20 ms, losing `loss` of each round.
void to_probe_bw(Feed& f, std::uint64_t bw, double loss) {
  const auto lost = static_cast<std::uint64_t>(static_cast<double>(bw) * 21 / 1000 * loss / (1 - loss));
  for (int i = 0; i < 60 && f.bbr.mode() != Bbr::Mode::probe_bw; ++i) f.round(bw, 20, lost, false, bw / 50);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  for (int i = 0; i < 40; ++i) f.round(bw, 20, lost, false, bw / 50);
}

// The max filter keeps the rounds that lost the fewest segments: on a lossy path cruising paces
// one standard deviation of a round's loss share below the estimate, and only while cruising.
TEST(Bbr, CruisingOnALossyPathPacesOneDeviationOfItsLossNoiseBelowTheEstimate) {
  const std::uint64_t bw = 12'000'000;  // about 100 Mbit/s at 20 ms: n = 185 segments a round
  Feed clean(params());
  to_probe_bw(clean, bw, 0);
  // (a probe on a clean path lasts until 1.25 BDPs are in flight, clock grain included)
  for (int i = 0; i < 8 && clean.bbr.pacing_rate() != clean.bbr.bandwidth(); ++i) {
    clean.round(bw, 20, 0, false, bw / 50 * 2);
  }
  EXPECT_EQ(clean.bbr.pacing_rate(), clean.bbr.bandwidth()) << "no loss: cruising at the estimate";

  Feed lossy(params());
  to_probe_bw(lossy, bw, 0.05);
  const double p = lossy.bbr.loss_share();
  ASSERT_NEAR(p, 0.05, 0.005);
  const double n = static_cast<double>(lossy.bbr.max_bandwidth()) * 20 / 1000 / kMtu;
  const double est = static_cast<double>(lossy.bbr.bandwidth());
  bool cruised = false, probed = false;
  const auto lost = static_cast<std::uint64_t>(static_cast<double>(bw) * 21 / 1000 * 0.05 / 0.95);
  for (int i = 0; i < 16; ++i) {
    lossy.round(bw, 20, lost, false, bw / 50);
    const double pace = static_cast<double>(lossy.bbr.pacing_rate());
    if (pace > est) {
      probed = true;
      EXPECT_NEAR(pace, 1.25 * est, est * 0.001) << "probes pace at the full estimate";
    } else if (pace > 0.9 * est) {
      cruised = true;
      EXPECT_NEAR(pace, est * (1 - std::sqrt(p * (1 - p) / n)), est * 0.001);
    }
  }
  EXPECT_TRUE(cruised);
  EXPECT_TRUE(probed);

  // A thin path (a segment or two a round): the margin would exceed the compensation itself;
  // cruising stays at what the path delivered, (1 - p) of the estimate.
  Feed thin(params());
  to_probe_bw(thin, 60'000, 0.10);
  const double pt = thin.bbr.loss_share();
  ASSERT_GT(pt, 0.05);
  const double thin_est = static_cast<double>(thin.bbr.bandwidth());
  bool thin_cruised = false;
  for (int i = 0; i < 16; ++i) {
    thin.round(60'000, 20, 60'000 * 21 / 1000 / 9, false, 60'000 / 50);
    const double pace = static_cast<double>(thin.bbr.pacing_rate());
    if (pace <= thin_est && pace > 0.8 * thin_est) {
      thin_cruised = true;
      EXPECT_NEAR(pace, thin_est * (1 - std::min(thin.bbr.loss_share(), Bbr::kMaxLossCompensation)),
                  thin_est * 0.01);
    }
  }
  EXPECT_TRUE(thin_cruised);
}

// Single ACK batches with a given RTT, one after another: each carries a rate sample of `bytes`
// that began at `prior` delivered bytes and spans `interval` ms as read.
struct Acks {
  Bbr bbr{params()};
  std::int32_t rtt;
  std::uint64_t delivered = 0;
  explicit Acks(std::int32_t rtt_ms) : rtt(rtt_ms) {}
  void ack(Clock32 now, std::uint64_t prior, std::uint64_t bytes, std::uint32_t interval) {
    AckEvent e;
    e.now = now;
    e.acked_segments = 100;
    e.min_rtt_sample = rtt;
    e.rttvar = 1;
    e.rate.prior_delivered = prior;
    e.rate.delivered = bytes;
    delivered += bytes;
    e.delivered = delivered;
    e.rate.interval_ms = interval;
    bbr.on_ack(e);
  }
};

// Both ends of a sample's interval come off a 1 ms clock: the interval counts 1 ms longer than
// read, so a sample never reads above what was delivered.
TEST(Bbr, ARateSampleCountsItsInterval1MsLongerThanRead) {
  Acks a(20);
  a.ack(1000, 0, 210'000, 20);
  EXPECT_EQ(a.bbr.max_bandwidth(), 10'000'000u) << "210 000 bytes over 21 ms, not 20";
}

// A sample whose interval reads 1 ms under the min RTT counts for a round that has no sample
// spanning it: where datagrams arrive in bunches every interval reads exactly that, and none
// would count. Next to a sample that spans the min RTT it does not count.
TEST(Bbr, ASampleReadOneMsUnderTheMinRttCountsOnlyForARoundWithoutBetter) {
  Acks a(21);
  a.ack(1000, 0, 210'000, 20);     // round 1: 210 000 bytes over 20 + 1 ms, read 1 ms under
  EXPECT_EQ(a.bbr.max_bandwidth(), 0u) << "kept aside until the round ends";
  a.ack(1021, 210'000, 100'000, 18);  // round 2 begins; read 3 ms under: a burst, never counted
  EXPECT_EQ(a.bbr.max_bandwidth(), 10'000'000u) << "round 1 had nothing better";
  a.ack(1022, 210'000, 168'000, 20);  // round 2: read 1 ms under (8 MB/s) ...
  a.ack(1023, 210'000, 147'000, 20);  // ...
  a.ack(1024, 210'000, 154'000, 21);  // ... and one that spans the min RTT: 7 MB/s
  a.ack(1045, a.delivered, 10, 21);   // round 3 begins
  EXPECT_EQ(a.bbr.max_bandwidth(), 10'000'000u);
  a.ack(1046, a.delivered, 10, 21);
  EXPECT_EQ(a.bbr.max_bandwidth(), 10'000'000u);
}

// A 1.25 probe that finds 20 % more restarts Startup only if the path still delivers that much
// three rounds on: a token bucket that filled during the 0.75 phase lets the probe's first
// bucketful through faster than the rate, and then delivers only the rate.
TEST(Bbr, AProbeThatFindsMoreRestartsStartupOnlyIfTheRateHolds) {
  const std::uint64_t bw = 12'000'000, bdp = bw / 50;
  for (const bool holds : {false, true}) {
    SCOPED_TRACE(holds ? "the rate holds" : "a bucketful");
    Feed f(params());
    to_probe_bw(f, bw, 0);
    const auto more = bw * 5 / 4;
    for (int i = 0; i < 12 && f.bbr.pacing_rate() <= f.bbr.bandwidth(); ++i) f.round(bw, 20, 0, false, bdp);
    ASSERT_GT(f.bbr.pacing_rate(), f.bbr.bandwidth()) << "the 1.25 probe";
    // The probe's samples: 25 % more; the 0.75 phase ends as soon as in flight is below a BDP.
    for (int i = 0; i < 4 && f.bbr.pacing_rate() >= f.bbr.bandwidth(); ++i) f.round(more, 20, 0, false, 2 * bdp);
    ASSERT_LT(f.bbr.pacing_rate(), f.bbr.bandwidth()) << "the 0.75 phase";
    f.round(more, 20, 0, false, 0);
    ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw) << "the verdict waits";
    ASSERT_EQ(f.bbr.max_bandwidth(), more);
    for (int i = 0; i < 3; ++i) f.round(holds ? more : bw, 20, 0, false, bdp);
    f.round(holds ? more : bw, 20, 0, false, bdp);
    EXPECT_EQ(f.bbr.mode(), holds ? Bbr::Mode::startup : Bbr::Mode::probe_bw);
  }
}

TEST(Bbr, ApplicationLimitedRoundsNeverEndStartup) {
  Feed f(params());
  for (int i = 0; i < 20; ++i) f.round(20'000, 200, 0, /*app_limited=*/true);
  EXPECT_EQ(f.bbr.mode(), Bbr::Mode::startup) << "small requests say nothing about the pipe";
  f.round(40'000, 200);
  f.round(80'000, 200);
  EXPECT_EQ(f.bbr.mode(), Bbr::Mode::startup);
  // Still searching from the initial window per round trip, not from the trickle's rate.
  EXPECT_EQ(f.bbr.pacing_rate(), 2u * 64 * kMtu * 5);
}

TEST(Bbr, RandomLossRaisesTheEstimateByItsShareQueueLossDoesNot) {
  Feed f(params());
  for (int i = 0; i < 6; ++i) f.round(1'000'000, 50);  // Startup ends: no growth
  for (int i = 0; i < 4 && f.bbr.mode() != Bbr::Mode::probe_bw; ++i) f.round(1'000'000, 50);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  EXPECT_EQ(f.bbr.bandwidth(), 1'000'000u);
  // 5 % of what is sent is lost at the same RTT (no queue): the path carries 1/0.95 of what is
  // delivered.
  for (int i = 0; i < 30; ++i) f.round(1'000'000, 50, 1'000'000 * 50 / 1000 * 5 / 95);
  EXPECT_NEAR(f.bbr.loss_share(), 0.05, 0.005);
  EXPECT_NEAR(static_cast<double>(f.bbr.bandwidth()), 1'000'000 / 0.95, 6'000);
  // Losses with a standing queue (RTT 50 -> 80 ms), four times as many, are congestion: they
  // neither raise the share nor lower it (the path's random loss is still there).
  for (int i = 0; i < 10; ++i) f.round(1'000'000, 80, 1'000'000 * 80 / 1000 * 20 / 80);
  EXPECT_NEAR(f.bbr.loss_share(), 0.05, 0.005);
  EXPECT_LE(static_cast<double>(f.bbr.bandwidth()), 1'000'000 / 0.95 + 6'000);
}

TEST(Bbr, LossCompensationIsCapped) {
  Feed f(params());
  for (int i = 0; i < 10; ++i) f.round(1'000'000, 50);
  ASSERT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  // A policer dropping half of everything: the estimate is raised by at most 1/(1 - 0.15).
  for (int i = 0; i < 30; ++i) f.round(1'000'000, 50, 1'000'000 * 50 / 1000);
  EXPECT_LE(static_cast<double>(f.bbr.bandwidth()), 1'000'000 / (1 - Bbr::kMaxLossCompensation) + 1);
}

TEST(Bbr, LanAndLoopbackAreUnpaced) {
  Feed f(params());
  f.round(300'000'000, 1);
  EXPECT_EQ(f.bbr.pacing_rate(), 0u);
  EXPECT_EQ(f.bbr.inflight_limit(), std::uint64_t{Bbr::kLowRttWindow} * kMtu);
}

TEST(Bbr, BandwidthHintSkipsStartupAndCapsPacing) {
  BbrParams p = params();
  p.bandwidth_hint = 1'000'000;
  Feed f(p);
  EXPECT_EQ(f.bbr.mode(), Bbr::Mode::probe_bw);
  EXPECT_EQ(f.bbr.pacing_rate(), 1'000'000u);
  for (int i = 0; i < 20; ++i) f.round(2'000'000, 50);  // the path turns out faster
  EXPECT_LE(f.bbr.pacing_rate(), 1'000'000u) << "never above what the user said";
}

TEST(IkcpCongestion, SlowStartAdditiveIncreaseAndReactions) {
  IkcpCongestion c(1376, 2);
  EXPECT_EQ(c.sequence_window(), 0u) << "ikcp starts at cwnd 0: the first flush sends nothing";
  c.on_flush_end();
  EXPECT_EQ(c.sequence_window(), 1u);
  AckEvent e;
  e.una_advanced = true;
  e.rmt_wnd = 128;
  c.on_ack(e);
  EXPECT_EQ(c.sequence_window(), 2u) << "slow start up to ssthresh 2";
  for (int i = 0; i < 50; ++i) c.on_ack(e);
  const std::uint32_t grown = c.sequence_window();
  EXPECT_GT(grown, 2u);
  EXPECT_LT(grown, 40u) << "additive increase above ssthresh";
  LossEvent fast;
  fast.inflight_segments = 40;
  c.on_loss(fast);
  EXPECT_EQ(c.sequence_window(), 20u + 2u) << "fast resend: ssthresh = inflight/2, cwnd + resend";
  LossEvent to;
  to.timeout = true;
  to.window_used = 22;
  c.on_loss(to);
  EXPECT_EQ(c.sequence_window(), 1u) << "timeout: cwnd 1";
  e.rmt_wnd = 1;
  for (int i = 0; i < 10; ++i) c.on_ack(e);
  EXPECT_EQ(c.sequence_window(), 1u) << "never above the remote window";
}

TEST(NoCongestion, SetsNoLimit) {
  NoCongestion c;
  EXPECT_EQ(c.sequence_window(), UINT32_MAX);
  EXPECT_EQ(c.inflight_limit(), UINT64_MAX);
  EXPECT_EQ(c.pacing_rate(), 0u);
}

}  // namespace
}  // namespace paniq::kcp
