// A path model in the manner of BBR (Cardwell et al., "BBR: Congestion-Based Congestion
// Control", and the IETF draft's state machine), sized for KCP over censored long-haul links.
// docs/kcp.md "Congestion control" derives each constant; in short:
//   * bandwidth = the largest delivery rate sampled over the last 10 rounds; min RTT = the
//     smallest RTT seen over the last 10 s (two 5 s buckets: no ProbeRTT stall, because pacing
//     drains the queue every gain cycle and refreshes the minimum);
//   * pacing rate = gain x bandwidth, in-flight cap = 2 x bandwidth x (min RTT + 2 ms clock
//     grain; 1.75 x in Startup) — no window-sized bursts, no standing queue;
//   * queues are measured from the delay floor: the smallest of the last 10 rounds' smallest
//     RTT (the all-time minimum is kept for the BDP);
//   * Startup doubles the rate per round until the bandwidth stops growing (3 rounds under
//     +25 %) or a queue shows: kQueueRun ACK batches in a row whose RTT is above the minimum by
//     1/8 of it (4..16 ms, + 2 ms) plus twice the RTT deviation, for 1/8 of the min RTT (jitter is
//     not a queue). Checked on every
//     ACK, not once a round: on a shallow buffer the round in which the rate crossed the
//     bottleneck already overflows it;
//     Drain empties the queue it built; ProbeBW cycles 1.25, 0.75 (on a clean path until the
//     probe's queue is gone, at most 4 min RTTs), then six rounds at 1;
//   * random loss is not congestion: the estimate is divided by (1 - p), p being the loss share
//     of rounds whose smallest RTT shows no queue (capped at kMaxLossCompensation, so a policer
//     is overshot by at most 1/(1 - cap)); losses while a queue stands do not count. Cruising
//     paces one deviation of the per-round loss noise below that, which the max filter would
//     otherwise add as a standing queue;
//   * a rate sample's interval counts 1 ms longer than it was read (a 1 ms clock at both ends),
//     so no sample overstates the rate; one read 1 ms under the min RTT counts only for a round
//     with nothing better (bunched arrivals read every interval so);
//   * token-bucket shapers: a probe that found 20 % more restarts Startup only if the rate still
//     holds three rounds on, and a standing queue is cut again only after it drained or
//     outlasted four min RTTs.
// Pure: time comes with every event; nothing random.
#pragma once

#include <array>
#include <cstdint>

#include "kcp/congestion.hpp"

namespace paniq::kcp {

struct BbrParams {
  std::uint32_t mtu = 1400;                 // bytes of a full segment (header included)
  std::uint64_t bandwidth_hint = 0;         // bytes/s the user says the link carries; 0 = none
  std::uint32_t initial_window = 64;        // segments before the first RTT sample
  std::uint64_t max_inflight = 0;           // memory cap in bytes (0 = none)
};

class Bbr final : public CongestionController {
 public:
  enum class Mode : std::uint8_t { startup, drain, probe_bw };

  static constexpr double kStartupGain = 2.0;  // 2/ln 2: doubles the delivery rate per round
  // Startup's in-flight cap, in BDPs of the bandwidth measured so far. Pacing at 2x a delivery
  // rate that lags the sending rate by about 1.5 round trips grows the rate ~1.6x per round and
  // needs ~1.6 BDP in flight; 1.75 leaves room for that, and bounds the queue Startup can build
  // before its queue signal returns (one round trip late) to 0.75 BDP instead of 1 BDP
  // (docs/kcp.md 6.2: at 20 Mbit/s 200 ms, drops 2.08 % -> 1.04 % for 1.2 % of goodput).
  static constexpr double kStartupCwndGain = 1.75;
  // ... and, while the search has lost nothing, the growth of the last round, at least this
  // (startup_cwnd_gain(); a floor of 1.25 dropped less but two flows at 20 ms shared 0.38).
  static constexpr double kStartupMinCwndGain = 1.5;
  static constexpr double kCwndGain = 2.0;
  static constexpr std::uint32_t kBwRounds = 10;     // bandwidth filter length
  static constexpr std::uint32_t kMinRttBucketMs = 5000;
  static constexpr std::uint32_t kClockGrainMs = 2;  // in-flight allowance for the 1 ms clock
  static constexpr double kMaxLossCompensation = 0.15;
  // Cruising (gain 1) on a lossy path paces this many standard deviations of the per-round
  // loss noise below the estimate (cruise_gain(); docs/kcp.md 6.2).
  static constexpr double kCruiseNoiseMargin = 1.0;
  // Below this min RTT the path is a LAN or loopback: unpaced, at most kLowRttWindow segments
  // in flight (the reference's default window), as the reference sends there.
  static constexpr std::uint32_t kLowRttMs = 3;
  static constexpr std::uint32_t kLowRttWindow = 1024;
  // This many ACK batches in a row, over at least 1/8 of min RTT (4 ms or more), with an RTT
  // above min RTT + threshold + 2 rttvar = a queue. Order-preserving jitter holds back runs
  // of packets too, but only for about the jitter, not for the time a queue takes to drain.
  static constexpr std::uint32_t kQueueRun = 8;
  // In Startup the run's duration (1/8 of min RTT) is what filters jitter; at 200 ms the ACK
  // batches come every ~6 ms, and 8 of them would add ~25 ms of overshoot.
  static constexpr std::uint32_t kStartupQueueRun = 4;
  // A 1.25 probe that finds this much more bandwidth means Startup ended too early (a jitter
  // burst taken for a queue): search again.
  static constexpr double kRestartGrowth = 1.2;
  // ... and still delivers that much this many rounds after the probe was judged (a token
  // bucket's burst is spent by then; advance_cycle()).
  static constexpr std::uint32_t kRestartConfirmRounds = 3;
  static constexpr std::array<double, 8> kCycle = {1.25, 0.75, 1, 1, 1, 1, 1, 1};
  // On a clean path (loss share under kCleanPathLoss) the 0.75 phase lasts until the probe's
  // queue is gone, at most this many min RTTs (draining a whole BDP at 0.75 takes four).
  static constexpr std::int32_t kDrainRounds = 4;
  static constexpr double kCleanPathLoss = 0.01;

  explicit Bbr(const BbrParams& p);

  void on_sent(Clock32 now, std::uint32_t bytes, std::uint64_t inflight_bytes) override;
  void on_ack(const AckEvent& e) override;
  void on_loss(const LossEvent& e) override;
  std::uint64_t inflight_limit() const override { return cwnd_bytes_; }
  std::uint64_t pacing_rate() const override { return pacing_rate_; }
  std::uint32_t cwnd_segments() const override {
    return static_cast<std::uint32_t>(cwnd_bytes_ / p_.mtu);
  }

  // --- inspection (tests, telemetry) ---
  Mode mode() const { return mode_; }
  std::uint64_t max_bandwidth() const;     // filtered delivery rate, bytes/s
  std::uint64_t bandwidth() const;         // with loss compensation and the hint
  std::int32_t min_rtt() const { return min_rtt_; }  // -1 = none yet
  double loss_share() const { return loss_share_; }
  std::uint64_t backoffs() const { return backoffs_; }  // standing-queue cuts so far

 private:
  void start_round(const AckEvent& e);
  void update_min_rtt(Clock32 now, std::int32_t rtt);
  void check_startup_done();
  double startup_cwnd_gain() const;
  void enter_drain();
  void advance_cycle(const AckEvent& e);
  void enter_phase(std::size_t index, Clock32 now);
  void set_rate_and_window();
  double cruise_gain() const;
  std::uint64_t bdp(double gain) const;

  BbrParams p_;
  Mode mode_ = Mode::startup;
  // bandwidth: per-round maxima of the last kBwRounds rounds
  std::array<std::uint64_t, kBwRounds> bw_rounds_{};
  std::uint64_t round_count_ = 0;
  std::uint64_t next_round_delivered_ = 0;
  // min RTT: the current and the previous 5 s bucket
  std::int32_t min_rtt_ = -1;
  std::int32_t bucket_min_[2] = {-1, -1};
  Clock32 bucket_start_ = 0;
  bool have_bucket_ = false;
  // startup exit
  std::uint64_t full_bw_ = 0;
  std::uint32_t full_bw_rounds_ = 0;
  std::int32_t round_min_rtt_ = -1;  // smallest RTT of the round in progress
  std::int32_t last_rtt_ = -1;       // smallest RTT of the latest ACK batch
  // The smallest RTT of each of the last kBwRounds rounds: their minimum is the delay floor a
  // round can reach now. A queue is measured from it, not from the all-time minimum: on a path
  // whose jitter keeps packets waiting behind each other (order-preserving jitter is a small
  // queue no sender can drain), the all-time minimum is a rare lucky sample.
  std::array<std::int32_t, kBwRounds> round_mins_{};
  std::int32_t rtt_floor() const;
  // The highest RTT that shows no queue: the floor plus the queue threshold (min RTT known).
  std::int32_t queue_floor() const;
  std::int32_t round_start_rttvar_ = -1;  // RTT deviation when the round in progress began
  std::uint32_t queue_run_ = 0;      // consecutive ACK batches whose RTT shows a queue
  Clock32 queue_run_start_ = 0;      // when that run began
  std::uint64_t last_round_bw_ = 0, prev_round_bw_ = 0;  // delivery rate of the last two rounds
  // The best sample of the round in progress whose interval read 1 ms under the min RTT.
  std::uint64_t round_near_bw_ = 0;
  bool queue_now_ = false;           // queue_run_ reached kQueueRun
  bool standing_ = false;            // ... and has lasted a whole min RTT
  // loss share of queue-free rounds
  std::uint64_t round_lost_ = 0, round_delivered_start_ = 0;
  bool round_in_probe_ = false;  // the round in progress began in ProbeBW, cruising (gain 1)
  bool round_app_limited_ = false;  // a sample of the round in progress was app-limited
  bool last_round_limited_ = false, prev_round_limited_ = false;  // ... of the last two rounds
  bool startup_lost_ = false;       // a loss was declared since Startup began
  double loss_share_ = 0;
  // ProbeBW
  std::size_t cycle_index_ = 2;
  std::uint64_t probe_start_bw_ = 0;  // max bandwidth when the 1.25 phase began
  // A probe found kRestartGrowth more: the estimate before it, and the rounds left until the
  // delivery rate confirms it (0 = nothing pending).
  std::uint64_t restart_base_ = 0;
  std::uint32_t restart_rounds_ = 0;
  Clock32 last_backoff_ = 0;          // the last decrease for a standing queue
  std::uint64_t backoffs_ = 0;
  bool drained_since_backoff_ = true;  // an RTT sample at the floor since the last decrease
  Clock32 cycle_start_ = 0;
  bool cycle_lost_ = false;
  std::uint64_t inflight_ = 0;
  double pacing_gain_ = kStartupGain;
  double cwnd_gain_ = kStartupCwndGain;
  std::uint64_t pacing_rate_ = 0;
  std::uint64_t cwnd_bytes_;
};

}  // namespace paniq::kcp
