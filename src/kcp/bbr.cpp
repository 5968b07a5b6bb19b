#include "kcp/bbr.hpp"

#include <algorithm>
#include <cmath>

namespace paniq::kcp {
namespace {

// The queueing delay that counts as "a queue": 1/8 of the minimum RTT, 4..16 ms (HyStart++'s
// bounds), plus 2 ms for the 1 ms clock grain and the receiver's 1 ms ACK hold.
std::int32_t queue_threshold(std::int32_t min_rtt) {
  return std::clamp<std::int32_t>(min_rtt / 8, 4, 16) + 2;
}

}  // namespace

Bbr::Bbr(const BbrParams& p)
    : p_(p), cwnd_bytes_(std::uint64_t{p.initial_window} * p.mtu) {
  round_mins_.fill(-1);
  if (p_.bandwidth_hint > 0) {
    // The user told us the rate: no search, start cruising at it.
    mode_ = Mode::probe_bw;
    pacing_gain_ = 1;
    cwnd_gain_ = kCwndGain;
  }
  set_rate_and_window();
}

std::int32_t Bbr::rtt_floor() const {
  std::int32_t f = -1;
  for (const std::int32_t m : round_mins_) {
    if (m >= 0 && (f < 0 || m < f)) f = m;
  }
  return f >= 0 ? f : min_rtt_;
}

std::int32_t Bbr::queue_floor() const { return rtt_floor() + queue_threshold(min_rtt_); }

std::uint64_t Bbr::max_bandwidth() const {
  return *std::max_element(bw_rounds_.begin(), bw_rounds_.end());
}

std::uint64_t Bbr::bandwidth() const {
  const std::uint64_t measured = max_bandwidth();
  if (measured == 0) return p_.bandwidth_hint;
  // Loss compensation only once the search is over: in Startup losses are overshoot.
  const double p = mode_ == Mode::probe_bw ? std::min(loss_share_, kMaxLossCompensation) : 0.0;
  auto bw = static_cast<std::uint64_t>(static_cast<double>(measured) / (1.0 - p));
  if (p_.bandwidth_hint > 0) bw = std::min(bw, p_.bandwidth_hint);
  return bw;
}

std::uint64_t Bbr::bdp(double gain) const {
  const std::uint64_t bw = bandwidth();
  const std::int32_t rtt = std::max(min_rtt_, 0);
  return static_cast<std::uint64_t>(gain * static_cast<double>(bw) *
                                    static_cast<double>(rtt + kClockGrainMs) / 1000.0);
}

void Bbr::on_sent(Clock32, std::uint32_t, std::uint64_t inflight_bytes) {
  inflight_ = inflight_bytes;
}

void Bbr::update_min_rtt(Clock32 now, std::int32_t rtt) {
  if (!have_bucket_) {
    have_bucket_ = true;
    bucket_start_ = now;
  } else if (time_diff(now, bucket_start_) >= static_cast<std::int32_t>(kMinRttBucketMs)) {
    bucket_min_[1] = bucket_min_[0];
    bucket_min_[0] = -1;
    bucket_start_ = now;
  }
  if (bucket_min_[0] < 0 || rtt < bucket_min_[0]) bucket_min_[0] = rtt;
  min_rtt_ = bucket_min_[0];
  if (bucket_min_[1] >= 0 && bucket_min_[1] < min_rtt_) min_rtt_ = bucket_min_[1];
}

void Bbr::on_ack(const AckEvent& e) {
  inflight_ = e.inflight_bytes;
  if (e.min_rtt_sample >= 0) {
    last_rtt_ = e.min_rtt_sample;
    update_min_rtt(e.now, e.min_rtt_sample);
    if (round_min_rtt_ < 0 || e.min_rtt_sample < round_min_rtt_) round_min_rtt_ = e.min_rtt_sample;
  }
  if (e.min_rtt_sample >= 0 && min_rtt_ >= 0) {
    // In Startup the deviation is taken as it was when the round began: a queue that grows
    // makes the RTT climb steadily, which inflates the deviation and would push the limit up
    // ahead of the very rise it is meant to see.
    std::int32_t rttvar = e.rttvar;
    if (mode_ == Mode::startup && round_start_rttvar_ >= 0) rttvar = std::min(rttvar, round_start_rttvar_);
    const std::int32_t no_queue = queue_floor();
    if (e.min_rtt_sample > no_queue + 2 * static_cast<std::int64_t>(rttvar)) {
      if (queue_run_++ == 0) queue_run_start_ = e.now;
    } else {
      queue_run_ = 0;
      if (e.min_rtt_sample <= no_queue) drained_since_backoff_ = true;
    }
    queue_now_ = queue_run_ >= (mode_ == Mode::startup ? kStartupQueueRun : kQueueRun) &&
                 time_diff(e.now, queue_run_start_) >= std::max<std::int32_t>(4, min_rtt_ / 8);
    // A standing queue: the same, held for a whole min RTT (a jitter burst does not last that
    // long; flows that together overfill the path keep it up).
    standing_ = queue_run_ >= kQueueRun &&
                time_diff(e.now, queue_run_start_) >= std::max<std::int32_t>(20, min_rtt_);
  }
  round_lost_ -= std::min(round_lost_, e.spurious_bytes);
  if (e.acked_segments > 0 && e.rate.prior_delivered >= next_round_delivered_) {
    start_round(e);
    if (e.min_rtt_sample >= 0) round_start_rttvar_ = e.rttvar;
  }

  const RateSample& r = e.rate;
  if (r.app_limited) round_app_limited_ = true;
  // Both ends of the interval are read off a 1 ms clock, so the true interval may be up to
  // 1 ms longer than the one measured; the max filter below keeps the samples whose interval
  // was read short, which at 20 ms overstated the rate by up to 5 % and kept a standing queue
  // of 10 ms or more. Counting the interval 1 ms longer makes every sample at most the rate
  // the path delivered, and the filter's best ones come within a fraction of a ms of it.
  if (r.interval_ms > 0) {
    const std::uint64_t bw = r.delivered * 1000 / (r.interval_ms + 1);
    // An application-limited sample only counts when it shows more than we knew.
    const bool counts = !r.app_limited || bw >= max_bandwidth();
    if (min_rtt_ < 0 || r.interval_ms >= static_cast<std::uint32_t>(min_rtt_)) {
      std::uint64_t& slot = bw_rounds_[round_count_ % kBwRounds];
      if (counts) slot = std::max(slot, bw);
    } else if (r.interval_ms + 1 >= static_cast<std::uint32_t>(min_rtt_) && counts) {
      // Read 1 ms under the min RTT: kept aside for a round that has nothing better
      // (start_round()). Where datagrams arrive in bunches (a token bucket's burst, a batching
      // middlebox) every interval can read exactly that, and with no sample counting Startup
      // stalled at a quarter of the rate (simulator, 100 Mbit/s 20 ms, an 8 kB bucket: 2.98
      // instead of 12.1 MB/s). Counted always, they overstate the rate where some samples do
      // span the min RTT (WAN bench, 100 Mbit/s 20 ms 5 %: 9.8 -> 9.5 MB/s, more resends).
      round_near_bw_ = std::max(round_near_bw_, bw);
    }
  }

  switch (mode_) {
    case Mode::startup:
      // A queue ends Startup once the rate has stopped doubling (the last round grew less than
      // 1.5x): jitter shows as "queue" too, but it does not stop the delivery rate growing.
      if (queue_now_ && last_round_bw_ > 0 &&
          static_cast<double>(last_round_bw_) < 1.5 * static_cast<double>(prev_round_bw_)) {
        enter_drain();
      }
      break;
    case Mode::drain:
      if (inflight_ <= bdp(1.0)) {
        mode_ = Mode::probe_bw;
        enter_phase(2, e.now);
      }
      break;
    case Mode::probe_bw:
      advance_cycle(e);
      break;
  }
  set_rate_and_window();
}

void Bbr::start_round(const AckEvent& e) {
  next_round_delivered_ = e.delivered;
  std::uint64_t& ended = bw_rounds_[round_count_ % kBwRounds];
  if (ended == 0) ended = round_near_bw_;
  round_near_bw_ = 0;
  // The loss share of the round that ended, if it ran without a queue.
  const std::uint64_t delivered = e.delivered - round_delivered_start_;
  if (round_in_probe_ && delivered + round_lost_ > 0 && min_rtt_ >= 0 && round_min_rtt_ >= 0) {
    const bool queue = queue_now_ || round_min_rtt_ > queue_floor();
    const double sample =
        static_cast<double>(round_lost_) / static_cast<double>(delivered + round_lost_);
    // A round with a queue says nothing about the path's random loss: its losses may be the
    // queue's. Skipped, not counted as zero: halving the share there (as this once did) took
    // the compensation away every ProbeBW cycle on a lossy path, whose probes always build a
    // little queue (100 Mbit/s 20 ms 5 %: a share of 0.7-5.3 % instead of 5 %).
    if (!queue) loss_share_ = 0.75 * loss_share_ + 0.25 * sample;
  }
  // A round in which the application, not the path, limited the rate says nothing about the
  // pipe being full (a session opened by small requests must not leave Startup before its
  // first download).
  if (mode_ == Mode::startup && !round_app_limited_) check_startup_done();
  if (restart_rounds_ > 0 && --restart_rounds_ == 0 && mode_ == Mode::probe_bw && !round_app_limited_ &&
      static_cast<double>(bw_rounds_[round_count_ % kBwRounds]) >=
          kRestartGrowth * static_cast<double>(restart_base_)) {
    // Still delivering that much with the bucket long spent: the pipe was not full. Search
    // again.
    mode_ = Mode::startup;
    full_bw_ = 0;
    full_bw_rounds_ = 0;
    startup_lost_ = false;
    pacing_gain_ = kStartupGain;
    cwnd_gain_ = kStartupCwndGain;
  }
  prev_round_limited_ = last_round_limited_;
  last_round_limited_ = round_app_limited_;
  round_app_limited_ = false;
  round_lost_ = 0;
  round_delivered_start_ = e.delivered;
  if (round_min_rtt_ >= 0) round_mins_[round_count_ % kBwRounds] = round_min_rtt_;
  prev_round_bw_ = last_round_bw_;
  last_round_bw_ = bw_rounds_[round_count_ % kBwRounds];
  if (mode_ == Mode::startup) cwnd_gain_ = startup_cwnd_gain();
  round_min_rtt_ = -1;
  // Only cruising rounds (gain 1) measure the loss share: a probe's own queue and losses, or
  // the drain after it, say nothing about the path's random loss (simulator, 20 Mbit/s 200 ms
  // 5 %, mean of 6 seeds: 1.857 -> 1.883 MB/s).
  round_in_probe_ = mode_ == Mode::probe_bw && kCycle[cycle_index_] == 1.0;
  ++round_count_;
  bw_rounds_[round_count_ % kBwRounds] = 0;
}

double Bbr::startup_cwnd_gain() const {
  // Growing the delivery rate g-fold in a round takes about g BDPs in flight. Once a round grew
  // less than the full gain, the pipe is filling and the next round will not grow more, so the
  // cap follows the growth last seen (at least kStartupMinCwndGain): beyond that, in flight
  // only builds a queue whose RTT signal comes back one round trip late, after a shallow
  // queue has overflowed (docs/kcp.md 6.2: on the WAN bench at 10 Mbit/s 300 ms ±20 ms 0 %,
  // drops 0.03-1.65 % -> 0-0.34 % at the same goodput). Only where the search has lost nothing:
  // on a lossy path the per-round growth is noisy and segments lost on the way stay in flight
  // until declared, which needs the headroom (there the cap cost 3-11 % of goodput at 10 % loss
  // in the simulator). Rounds the application limited say nothing about the pipe.
  if (startup_lost_ || last_round_limited_ || prev_round_limited_ || prev_round_bw_ == 0 ||
      last_round_bw_ == 0) {
    return kStartupCwndGain;
  }
  const double growth = static_cast<double>(last_round_bw_) / static_cast<double>(prev_round_bw_);
  return std::clamp(growth, kStartupMinCwndGain, kStartupCwndGain);
}

void Bbr::check_startup_done() {
  const std::uint64_t bw = max_bandwidth();
  if (bw == 0) return;
  if (bw >= full_bw_ + full_bw_ / 4) {
    full_bw_ = bw;
    full_bw_rounds_ = 0;
  } else {
    ++full_bw_rounds_;
  }
  if (full_bw_rounds_ >= 3) enter_drain();
}

void Bbr::enter_drain() {
  mode_ = Mode::drain;
  pacing_gain_ = 1.0 / kStartupGain;
  cwnd_gain_ = kStartupGain;
}

void Bbr::advance_cycle(const AckEvent& e) {
  const double gain = kCycle[cycle_index_];
  const bool elapsed =
      time_diff(e.now, cycle_start_) > std::max<std::int32_t>(min_rtt_, 1);
  bool next = elapsed;
  if (gain > 1) {
    next = elapsed && (cycle_lost_ || inflight_ >= bdp(gain));
  } else if (gain < 1) {
    if (loss_share_ >= kCleanPathLoss) {
      // A lossy path: one min RTT, or in flight down to one BDP (segments lost on the way stay
      // counted until RACK declares them lost, so in flight is no measure of the queue, and a
      // longer drain cost 100 Mbit/s 20 ms 5 % about 3.5 % of goodput on the WAN bench).
      next = elapsed || inflight_ <= bdp(1.0);
    } else {
      // A clean path: until the probe's queue is gone (in flight down to one BDP, or after a
      // min RTT an RTT sample within the queue threshold of the floor), at most kDrainRounds
      // min RTTs. One min RTT at 0.75 drains only a quarter of a BDP, and what is left stays:
      // cruising paces at the measured rate (the noise of 1 ms timestamps biases the max
      // filter up a little) and the in-flight cap lets the queue grow to a whole BDP.
      const bool queue_gone = last_rtt_ >= 0 && min_rtt_ >= 0 &&
                              last_rtt_ <= queue_floor();
      next = inflight_ <= bdp(1.0) || (elapsed && queue_gone) ||
             time_diff(e.now, cycle_start_) > kDrainRounds * std::max<std::int32_t>(min_rtt_, 1);
    }
  }
  // A queue that stands while we are not probing: together the flows on this path send more
  // than it carries. Every flow lowers its estimate to 90 % of what it delivers now and drains
  // for a round: a multiplicative decrease, so the larger flow gives up more and shares
  // converge (the probes add back what the path really has).
  // Once per queue: the next cut waits for an RTT sample back at the floor, or kDrainRounds
  // min RTTs. The 0.75 round after a cut drains only part of a deep queue, and cutting again
  // for what is left took a flow behind a token bucket (100 Mbit/s 20 ms 5 %, 64 kB) to 72 %
  // in three cuts 40 ms apart; a queue that outlasts the wait is cut again.
  const std::int32_t since_backoff = time_diff(e.now, last_backoff_);
  const std::int32_t round = std::max<std::int32_t>(min_rtt_, 1);
  if (standing_ && gain <= 1 && cycle_index_ != 1 && since_backoff > 2 * round &&
      (drained_since_backoff_ || since_backoff > kDrainRounds * round)) {
    const std::uint64_t now_bw = bw_rounds_[round_count_ % kBwRounds];
    const std::uint64_t base = now_bw > 0 ? now_bw : max_bandwidth();
    for (std::uint64_t& slot : bw_rounds_) slot = std::min(slot, base * 9 / 10);
    last_backoff_ = e.now;
    ++backoffs_;
    restart_rounds_ = 0;
    queue_run_ = 0;
    queue_now_ = standing_ = false;
    probe_start_bw_ = 0;
    enter_phase(1, e.now);
    drained_since_backoff_ = false;
    return;
  }
  // The probe's samples arrive while the 0.75 phase runs: judge it when that phase ends. A
  // probe that found a lot more may mean the pipe was not full, or only that a token bucket
  // (Linux tbf, an ISP's shaper) filled while the 0.75 phase ran below the rate and let the
  // probe's first bucketful through faster than the rate: at 100 Mbit/s 20 ms a 64 kB bucket
  // is a quarter of a BDP, as much as the probe itself adds. Only a pipe that was not full
  // still delivers that much once the bucket is spent, so the verdict waits for the delivery
  // rate kRestartConfirmRounds rounds on (start_round()).
  if (next && gain < 1 && probe_start_bw_ > 0 &&
      static_cast<double>(max_bandwidth()) >= kRestartGrowth * static_cast<double>(probe_start_bw_)) {
    restart_base_ = probe_start_bw_;
    restart_rounds_ = kRestartConfirmRounds;
  }
  if (next) {
    enter_phase((cycle_index_ + 1) % kCycle.size(), e.now);
    if (kCycle[cycle_index_] > 1) probe_start_bw_ = max_bandwidth();
  }
}

void Bbr::enter_phase(std::size_t index, Clock32 now) {
  cycle_index_ = index;
  cycle_start_ = now;
  cycle_lost_ = false;
  pacing_gain_ = kCycle[cycle_index_];
  cwnd_gain_ = kCwndGain;
}

void Bbr::on_loss(const LossEvent& e) {
  round_lost_ += e.lost_bytes;
  cycle_lost_ = true;
  if (mode_ == Mode::startup && e.lost_bytes > 0) {
    startup_lost_ = true;
    cwnd_gain_ = kStartupCwndGain;
  }
}

double Bbr::cruise_gain() const {
  if (mode_ != Mode::probe_bw || min_rtt_ <= 0) return 1.0;
  const double p = std::min(loss_share_, kMaxLossCompensation);
  if (p <= 0) return 1.0;
  // On a lossy path each round delivers a binomial share of what was sent: with n segments a
  // round, its delivery rate varies by sqrt(p (1 - p) / n), and the max filter keeps the rounds
  // that lost the fewest. Divided by (1 - p), that overstates the path by about that much
  // (100 Mbit/s 20 ms 5 %: n ~ 180, 1.6 %), and cruising at it grows a standing queue that
  // doubled the time of a small request made during a download. Cruising one deviation below
  // the estimate keeps the queue away; the 1.25 probes still pace at the full estimate, so the
  // filter still finds what the path carries.
  const double n = std::max(1.0, static_cast<double>(max_bandwidth()) *
                                     static_cast<double>(min_rtt_) / 1000.0 /
                                     static_cast<double>(p_.mtu));
  // The filter cannot overstate the path by more than the compensation added (a round that
  // lost nothing delivered all it sent), so a thin path with few segments a round cruises at
  // no less than (1 - p) of the estimate: what it delivered.
  return std::max(1.0 - p, 1.0 - kCruiseNoiseMargin * std::sqrt(p * (1 - p) / n));
}

void Bbr::set_rate_and_window() {
  if (min_rtt_ >= 0 && min_rtt_ < static_cast<std::int32_t>(kLowRttMs) && p_.bandwidth_hint == 0) {
    // A LAN or loopback: the 1 ms clock cannot measure rates or pace at this RTT, and there is
    // no long queue to protect. Send like the reference (windows only), capped at kLowRttWindow.
    pacing_rate_ = 0;
    cwnd_bytes_ = std::uint64_t{kLowRttWindow} * p_.mtu;
    if (p_.max_inflight > 0) cwnd_bytes_ = std::min(cwnd_bytes_, p_.max_inflight);
    return;
  }
  std::uint64_t bw = bandwidth();
  if ((bw == 0 || mode_ == Mode::startup) && min_rtt_ > 0) {
    // Searching: at least the initial window per round trip, even when the samples so far come
    // from a trickle of small requests (application-limited, far below what the path carries).
    bw = std::max<std::uint64_t>(
        bw, std::uint64_t{p_.initial_window} * p_.mtu * 1000 / static_cast<std::uint64_t>(min_rtt_));
  }
  if (bw == 0) {
    pacing_rate_ = 0;  // nothing known: the initial window goes unpaced
    cwnd_bytes_ = std::uint64_t{p_.initial_window} * p_.mtu;
    return;
  }
  const double gain = pacing_gain_ == 1.0 ? cruise_gain() : pacing_gain_;
  pacing_rate_ = static_cast<std::uint64_t>(gain * static_cast<double>(bw));
  if (p_.bandwidth_hint > 0) pacing_rate_ = std::min(pacing_rate_, p_.bandwidth_hint);
  pacing_rate_ = std::max<std::uint64_t>(pacing_rate_, p_.mtu);  // at least a segment a second
  std::uint64_t cwnd = bdp(cwnd_gain_);
  if (mode_ == Mode::startup && min_rtt_ > 0) {
    // The window follows the rate Startup paces at (its initial-window floor included), or the
    // window, not the pacer, would hold back the first rounds of the search.
    cwnd = std::max<std::uint64_t>(
        cwnd, static_cast<std::uint64_t>(cwnd_gain_ * static_cast<double>(bw) *
                                         static_cast<double>(min_rtt_ + kClockGrainMs) / 1000.0));
  }
  cwnd = std::max<std::uint64_t>(cwnd, 4ull * p_.mtu);
  if (mode_ == Mode::startup || min_rtt_ < 0) {
    // Searching, or no RTT yet (a bandwidth hint gives a rate but no BDP): the initial window.
    cwnd = std::max<std::uint64_t>(cwnd, std::uint64_t{p_.initial_window} * p_.mtu);
  }
  if (p_.max_inflight > 0) cwnd = std::min(cwnd, p_.max_inflight);
  cwnd_bytes_ = cwnd;
}

}  // namespace paniq::kcp
