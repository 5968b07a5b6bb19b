// The paced sender (Config::paced_sender(): congestion bbr or loss_recovery rack): delivery-rate
// samples for the congestion controller, RACK-style time-based loss detection, and a pacing
// budget that spaces first transmissions and retransmissions alike. Nothing here changes the
// wire format: segments, ACKs and windows are ikcp's, so it works towards any KCP peer.
// docs/kcp.md "Paced sender" describes the rules and their constants.
#include <algorithm>
#include <array>

#include "kcp/engine.hpp"

namespace paniq::kcp {
namespace {

// The pacing budget may hold this much time's worth of the rate: the shell's timer has a 1 ms
// grain, so 2 ms lets every wake-up send what accrued without ever bursting a window.
constexpr std::uint64_t kPaceBurstMs = 2;
// Spurious retransmissions widen the reordering window by a quarter of min RTT each, up to a
// whole min RTT; 16 round trips without one narrow it again (RFC 8985 6.2).
constexpr std::uint32_t kMaxReoMult = 4;
constexpr std::uint32_t kReoDecayRounds = 16;

std::uint32_t seg_bytes(std::uint32_t len) { return len + static_cast<std::uint32_t>(kOverhead); }

}  // namespace

// A live segment was acknowledged, selectively (ts_known: the ACK echoes the ts of the
// transmission it acknowledges) or cumulatively by una.
void Engine::on_delivered(SndSeg& s, bool ts_known, std::uint32_t echoed_ts) {
  const std::uint32_t bytes = seg_bytes(s.len);
  if (s.in_flight) {
    inflight_bytes_ -= bytes;
    s.in_flight = false;
  }
  if (s.lost) {
    s.lost = false;
    --lost_pending_;
  }
  delivered_ += bytes;
  delivered_ts_ = current_;
  ++batch_.acked_segments;
  // Which transmission arrived? KCP echoes the send time, so an ACK for an earlier one than the
  // latest means the retransmission was not needed (reordering or delay, not loss).
  const bool latest = ts_known ? echoed_ts == s.ts : s.xmit <= 1;
  if (ts_known && !latest && s.xmit > 1) {
    ++stats_.spurious_retransmits;
    batch_.spurious_bytes += bytes;
    // Only a RACK verdict proven wrong says the path reorders (a timer that fired early says
    // nothing about reordering).
    if (!s.lost_by_timeout) {
      reo_mult_ = std::min(reo_mult_ + 1, kMaxReoMult);
      last_spurious_ts_ = current_;
    }
  }
  if (!latest) return;
  if (!batch_have_rs_ || s.tx_delivered >= batch_rs_delivered_) {
    batch_have_rs_ = true;
    batch_rs_delivered_ = s.tx_delivered;
    batch_rs_ts_ = s.tx_delivered_ts;
    batch_rs_send_elapsed_ = time_diff(s.ts, s.tx_first_sent_ts);
    batch_rs_app_limited_ = s.tx_app_limited;
    first_sent_ts_ = s.ts;
  }
  if (s.tx_order > rack_tx_order_) {
    rack_tx_order_ = s.tx_order;
    if (ts_known) rack_rtt_ = std::max(0, time_diff(current_, s.ts));
    rack_dirty_ = true;
  }
}

// After an input(): hand the batch to the controller, then look for losses it revealed.
void Engine::finish_ack_batch() {
  if (batch_.min_rtt_sample >= 0 && (min_rtt_ < 0 || batch_.min_rtt_sample < min_rtt_)) {
    min_rtt_ = batch_.min_rtt_sample;
  }
  if (batch_.acked_segments == 0 && batch_.min_rtt_sample < 0) return;
  batch_.now = current_;
  batch_.delivered = delivered_;
  batch_.rmt_wnd = rmt_wnd_;
  if (batch_have_rs_) {
    RateSample& r = batch_.rate;
    r.prior_delivered = batch_rs_delivered_;
    r.delivered = delivered_ - batch_rs_delivered_;
    const std::int32_t ack_elapsed = time_diff(delivered_ts_, batch_rs_ts_);
    r.interval_ms = static_cast<std::uint32_t>(std::max({batch_rs_send_elapsed_, ack_elapsed, 0}));
    r.app_limited = batch_rs_app_limited_ ||
                    (app_limited_until_ != 0 && batch_rs_delivered_ < app_limited_until_);
    if (app_limited_until_ != 0 && delivered_ >= app_limited_until_) app_limited_until_ = 0;
    const std::int32_t round = std::max<std::int32_t>(min_rtt_, 10);
    if (reo_mult_ > 1 && time_diff(current_, last_spurious_ts_) >
                             static_cast<std::int32_t>(kReoDecayRounds) * round) {
      --reo_mult_;
      last_spurious_ts_ = current_;
    }
  } else {
    batch_.rate.prior_delivered = 0;
  }
  batch_.inflight_bytes = inflight_bytes_;
  batch_.rttvar = rx_rttval_;
  cc_->on_ack(batch_);
  if (rack_dirty_ || fastack_pending_) detect_losses();
}

void Engine::mark_lost(SndSeg& s, bool timeout) {
  s.lost = true;
  s.lost_by_timeout = timeout;
  if (s.in_flight) {
    inflight_bytes_ -= seg_bytes(s.len);
    s.in_flight = false;
  }
  ++lost_pending_;
  loss_seen_ts_ = current_;
  if (timeout) {
    ++stats_.timeout_losses;
    back_off(s);  // when the timer declares the loss (the resend may wait for the budget)
  } else {
    ++stats_.rack_losses;
  }
}

// Declares segments lost: RACK (a later transmission was delivered and the reordering window
// has passed since this one left), ikcp's fast rule when loss_recovery is ikcp, and the
// retransmission timer. Recomputes the RACK timer and the lower bound of in-flight deadlines.
void Engine::detect_losses() {
  rack_dirty_ = false;
  rack_timer_ = false;
  if (nsnd_buf_ == 0) return;
  const bool rack = cfg_.loss_recovery == LossRecovery::rack;
  // ikcp's dup-ACK rule (resend after `resend` ACKs of later segments): the whole rule under
  // loss_recovery ikcp, and beside RACK towards a peer that ACKs in kcp-tokio's layout (wnd 0,
  // una 0: the Rust reference). Such a peer never sends a cumulative una, so with its small
  // window pinned behind a hole nothing newer is in flight for RACK to compare a lost resend
  // with; the later segments' ACKs are the only signal short of the RTO.
  const bool dupack = !rack || stats_.in_zero_window_acks > 0;
  const bool timers_due = time_diff(current_, min_resendts_) >= 0;
  const bool full = timers_due || fastack_pending_;
  const std::uint32_t resent = fastresend_ > 0 ? fastresend_ : UINT32_MAX;
  const std::int32_t base = min_rtt_ >= 0 ? min_rtt_ : static_cast<std::int32_t>(rx_srtt_);
  const std::int32_t reo_wnd = std::max<std::int32_t>(
      1, std::min<std::int32_t>(static_cast<std::int32_t>(reo_mult_) * base / 4,
                                static_cast<std::int32_t>(std::max<std::int64_t>(rx_srtt_, 1))));
  fastack_pending_ = false;
  // A partial scan keeps the old lower bound of the timers (every segment sent since lowered
  // it); a full one recomputes it.
  bool have_min = !full;
  LossEvent fast, timeout;
  for (std::uint32_t sn = snd_una_; sn != snd_nxt_; ++sn) {
    SndSeg& s = snd_[sn];
    if (!s.live) continue;
    // First transmissions leave in sn order: past the first one sent after the latest delivered
    // transmission, RACK has nothing more to say; only a due timer needs the rest.
    if (s.xmit <= 1 && s.tx_order > rack_tx_order_ && !full) break;
    if (s.lost) continue;
    bool lose = false, by_timer = false;
    if (time_diff(current_, s.resendts) >= 0) {
      lose = by_timer = true;
    } else if (dupack && s.fastack >= resent && (fastlimit_ == 0 || s.xmit <= fastlimit_)) {
      lose = true;
      s.fastack = 0;
    } else if (rack && s.tx_order < rack_tx_order_) {
      const Clock32 due = s.ts + static_cast<Clock32>(rack_rtt_ + reo_wnd);
      if (time_diff(current_, due) >= 0) {
        lose = true;
      } else if (!rack_timer_ || time_diff(due, rack_deadline_) < 0) {
        rack_timer_ = true;
        rack_deadline_ = due;
      }
    }
    if (lose) {
      mark_lost(s, by_timer);
      LossEvent& e = by_timer ? timeout : fast;
      ++e.lost_segments;
      e.lost_bytes += seg_bytes(s.len);
    } else {
      note_resend(s.resendts, have_min);
      if (dupack && s.fastack >= resent && (fastlimit_ == 0 || s.xmit <= fastlimit_)) {
        fastack_pending_ = true;
      }
    }
  }
  if (!have_min) min_resendts_ = current_ + detail::kRtoMax;  // nothing in flight to time
  for (LossEvent* e : {&fast, &timeout}) {
    if (e->lost_segments == 0) continue;
    e->now = current_;
    e->timeout = e == &timeout;
    e->inflight_segments = snd_nxt_ - snd_una_;
    e->window_used = std::min(snd_wnd_, rmt_wnd_);
    cc_->on_loss(*e);
  }
}

bool Engine::pace_allows(std::uint32_t bytes) {
  const std::uint64_t rate = cc_->pacing_rate();
  if (rate == 0) return true;
  if (tokens_ > 0) {
    tokens_ -= bytes;
    return true;
  }
  pace_blocked_ = true;
  ++stats_.pacing_waits;
  // The budget reaches one byte again after (1 - tokens) / rate seconds: at least 1 ms.
  const std::uint64_t wait_ms =
      std::max<std::uint64_t>(1, (static_cast<std::uint64_t>(1 - tokens_) * 1000 + rate - 1) / rate);
  next_send_ts_ = current_ + static_cast<Clock32>(std::min<std::uint64_t>(wait_ms, 1000));
  return false;
}

// One transmission of snd_[sn] (first or retransmission), with its rate and RACK state.
void Engine::transmit(std::uint32_t sn, SndSeg& s) {
  const std::uint32_t bytes = seg_bytes(s.len);
  if (inflight_bytes_ == 0) {
    // Nothing in flight: the next rate sample starts now.
    first_sent_ts_ = current_;
    delivered_ts_ = current_;
  }
  s.tx_delivered = delivered_;
  s.tx_delivered_ts = delivered_ts_;
  s.tx_first_sent_ts = first_sent_ts_;
  s.tx_app_limited = app_limited_until_ != 0;
  s.tx_order = ++tx_counter_;
  s.ts = current_;
  s.in_flight = true;
  inflight_bytes_ += bytes;
  emit_segment(push_header(sn, s), s.data);
  if (s.xmit >= dead_link_) state_ = -1;
  cc_->on_sent(current_, bytes, inflight_bytes_);
}

void Engine::flush_paced(std::uint16_t) {
  const std::uint64_t rate = cc_->pacing_rate();
  // Refill the budget for the time since the last flush.
  if (!pace_started_) {
    pace_started_ = true;
    pace_ts_ = current_;
    tokens_ = 0;
  }
  const std::int32_t dt = time_diff(current_, pace_ts_);
  if (dt > 0) {
    pace_ts_ = current_;
    if (rate > 0) {
      const std::int64_t cap = static_cast<std::int64_t>(
          std::max<std::uint64_t>(2ull * mtu_, rate * kPaceBurstMs / 1000));
      const std::uint64_t add = rate * static_cast<std::uint64_t>(dt) / 1000;
      tokens_ = std::min<std::int64_t>(cap, tokens_ + static_cast<std::int64_t>(
                                                          std::min<std::uint64_t>(add, cap * 2)));
    }
  }
  pace_blocked_ = false;

  const bool rack_due = rack_timer_ && time_diff(current_, rack_deadline_) >= 0;
  if (nsnd_buf_ > 0 && (rack_dirty_ || rack_due || fastack_pending_ ||
                        time_diff(current_, min_resendts_) >= 0)) {
    detect_losses();
  }

  const std::uint64_t cap = cc_->inflight_limit();
  const std::uint32_t rtomin = nodelay_ == 0 ? (rx_rto_ >> 3) : 0;
  // Retransmissions first, oldest first, within the same budget.
  std::uint32_t todo = lost_pending_;
  for (std::uint32_t sn = snd_una_; todo > 0 && sn != snd_nxt_; ++sn) {
    SndSeg& s = snd_[sn];
    if (!s.live || !s.lost) continue;
    if (inflight_bytes_ >= cap || !pace_allows(seg_bytes(s.len))) break;
    --todo;
    s.lost = false;
    --lost_pending_;
    ++s.xmit;
    if (s.lost_by_timeout) {
      ++stats_.retransmits;
    } else {
      ++stats_.fast_retransmits;
    }
    s.fastack = 0;
    s.resendts = current_ + s.rto;
    transmit(sn, s);
    bool have = true;
    note_resend(s.resendts, have);
  }
  // New data within the windows, the in-flight cap and the budget.
  std::array<std::uint32_t, kThinSegments> fresh{};
  std::size_t nfresh = 0;
  bool bulk = false;
  if (lost_pending_ == 0) {
    const std::uint32_t wnd = std::min({snd_wnd_, rmt_wnd_, cc_->sequence_window()});
    while (nsnd_que_ > 0 && time_diff(snd_nxt_, snd_una_ + wnd) < 0 && inflight_bytes_ < cap) {
      SndSeg& s = snd_[snd_nxt_];
      if (!pace_allows(seg_bytes(s.len))) break;
      const bool first_live = nsnd_buf_ == 0;
      s.live = true;
      s.xmit = 1;
      s.fastack = 0;
      s.lost = false;
      s.rto = rx_rto_;
      s.resendts = current_ + s.rto + rtomin;
      const std::uint32_t sn = snd_nxt_;
      ++snd_nxt_;
      --nsnd_que_;
      ++nsnd_buf_;
      transmit(sn, s);
      ++stats_.out_data_segments;
      bool have = !first_live;
      note_resend(s.resendts, have);
      if (nfresh < fresh.size()) {
        fresh[nfresh++] = sn;
      } else {
        bulk = true;
      }
    }
  }
  if (nfresh > 0 && !bulk && nsnd_que_ == 0 && nsnd_buf_ <= kThinSegments && thin_copies_due()) {
    send_thin_copies(fresh.data(), nfresh);
  }
  if (out_.open_size() > 0) {
    out_.close();
    ++stats_.out_datagrams;
  }
  // Nothing more to send while the windows had room: the next samples are app-limited.
  if (nsnd_que_ == 0 && lost_pending_ == 0 && inflight_bytes_ < cap) {
    app_limited_until_ = std::max<std::uint64_t>(delivered_ + inflight_bytes_, 1);
  }
}

// A thin sender (a request, a reply, a keystroke: all it has is in these few segments) learns of
// a lost one only from its retransmission timer, since nothing sent after it can be acknowledged
// first: a round trip or more of delay on a lossy path. So while the path shows loss (our own
// segments declared lost, or the peer's arriving beyond a gap, within kThinLossMemoryMs), each
// such segment goes a second time at once, in a datagram of its own; with independent loss of p
// both copies are lost with p^2. The copy is redundancy, not a transmission: no pacing budget,
// in-flight, RACK or rate state, and the peer treats it as the duplicate it is (acknowledged,
// not delivered twice). Never on a clean path, never for bulk.
bool Engine::thin_copies_due() const {
  return cfg_.thin_copies && loss_seen_ts_ &&
         time_diff(current_, *loss_seen_ts_) < static_cast<std::int32_t>(kThinLossMemoryMs);
}

void Engine::send_thin_copies(const std::uint32_t* sns, std::size_t n) {
  if (out_.open_size() > 0) {  // the copies travel in a datagram of their own
    out_.close();
    ++stats_.out_datagrams;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const SndSeg& s = snd_[sns[i]];
    emit_segment(push_header(sns[i], s), s.data);  // s.ts: the original's send time
    ++stats_.thin_copies;
  }
}

// The PUSH header of snd_[sn] as last transmitted (s.ts is set by transmit()).
SegmentHeader Engine::push_header(std::uint32_t sn, const SndSeg& s) const {
  SegmentHeader h;
  h.conv = conv_;
  h.cmd = static_cast<std::uint8_t>(Cmd::push);
  h.wnd = static_cast<std::uint16_t>(wnd_unused());
  h.ts = s.ts;
  h.sn = sn;
  h.una = rcv_nxt_;
  h.frg = s.frg;
  h.len = s.len;
  return h;
}

// The earliest of: a retransmission timer of an in-flight segment, the RACK timer, and the
// moment the pacing budget lets a waiting segment go.
std::optional<Clock32> Engine::paced_deadline() const {
  std::optional<Clock32> d;
  auto earliest = [&d](Clock32 t) {
    if (!d || time_diff(t, *d) < 0) d = t;
  };
  if (nsnd_buf_ > lost_pending_) earliest(min_resendts_);
  if (rack_timer_) earliest(rack_deadline_);
  if (rack_dirty_ || fastack_pending_) earliest(current_);
  if (pace_blocked_) earliest(next_send_ts_);
  if (!acklist_.empty()) earliest(ack_hold_ts_ + ack_hold_ms());
  return d;
}

}  // namespace paniq::kcp
