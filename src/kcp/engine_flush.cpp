// Engine::flush (ikcp_flush), kept whole where splitting would hide the algorithm (STYLE.md 3).
#include <algorithm>
#include <cstring>

#include "kcp/engine.hpp"

namespace paniq::kcp {

using detail::kAskSend;
using detail::kAskTell;

void Engine::flush(Clock32 now) {
  current_ = now;
  if (!updated_) {
    updated_ = true;
    ts_flush_ = now;
  }
  flush_body();
}

void Engine::emit_segment(const SegmentHeader& h, const std::uint8_t* data) {
  const std::size_t need = kOverhead + h.len;
  const std::size_t open = out_.open_size();
  if (open > 0 && (cfg_.output == OutputMode::one_segment_per_datagram || open + need > mtu_)) {
    out_.close();
    ++stats_.out_datagrams;
  }
  std::uint8_t* p = out_.reserve(need);
  encode_header(h, p);
  if (h.len > 0) std::memcpy(p + kOverhead, data, h.len);
  out_.commit(need);
  ++stats_.out_segments;
}

// ikcp's timeout back-off of one segment (nodelay 0: doubling; 1: x1.5; 2: + rx_rto/2; the
// reference's RTO mode: + rx_rto/2), capped so 32-bit time arithmetic stays meaningful.
void Engine::back_off(SndSeg& s) {
  if (nodelay_ == 0) {
    s.rto += std::max(s.rto, rx_rto_);
  } else if (cfg_.rto_mode == RtoMode::reference) {
    s.rto += rx_rto_ / 2;
  } else {
    s.rto += (nodelay_ < 2 ? s.rto : rx_rto_) / 2;
  }
  s.rto = std::min(s.rto, detail::kRtoBackoffCap);
}

void Engine::note_resend(std::uint32_t resendts, bool& have_min) {
  if (!have_min || time_diff(resendts, min_resendts_) < 0) min_resendts_ = resendts;
  have_min = true;
}

void Engine::flush_body() {
  const std::uint16_t wnd = static_cast<std::uint16_t>(wnd_unused());

  // Acknowledgements: every ACK carries our free window and rcv_nxt (PROTOCOL.md 6.5).
  SegmentHeader seg;
  seg.conv = conv_;
  seg.cmd = static_cast<std::uint8_t>(Cmd::ack);
  seg.wnd = wnd;
  seg.una = rcv_nxt_;
  // A paced engine that is only receiving holds its ACKs for up to ack_hold_ms() (srtt/32,
  // 1..8 ms) or until kAckHoldCount are waiting: one ACK datagram per hold instead of one per
  // data datagram, a fraction of the reverse traffic, at a cost of at most 3 % of the RTT. On
  // a LAN or loopback (srtt under 3 ms) the count is what ends a hold during a transfer (16
  // datagrams arrive in microseconds there); without it the receiver answers every wake-up
  // with an ACK datagram, and each costs both ends a system call. Not before the first RTT
  // sample: the sender's first sample should be the path's.
  bool hold = false;
  if (cfg_.paced_sender() && !acklist_.empty()) {
    const bool sending = nsnd_que_ > 0 || lost_pending_ > 0 || probe_ != 0;
    hold = !sending && rtt_known_ && acklist_.size() < detail::kAckHoldCount &&
           time_diff(current_, ack_hold_ts_) < static_cast<std::int32_t>(ack_hold_ms());
  }
  if (!hold) {
    for (const Ack& a : acklist_) {
      seg.sn = a.sn;
      seg.ts = a.ts;
      emit_segment(seg, nullptr);
    }
    stats_.acks_sent += acklist_.size();
    // Packing paced engines repeat the previous batch once: a lost ACK datagram then costs
    // the sender no spurious resend unless the next one is lost too (p^2 instead of p). Two
    // dozen bytes per ACK in a datagram that is sent anyway; never towards a Rust peer (it
    // only ever gets one segment per datagram).
    if (cfg_.paced_sender() && cfg_.output == OutputMode::batched && !acklist_.empty()) {
      for (const Ack& a : prev_acks_) {
        seg.sn = a.sn;
        seg.ts = a.ts;
        emit_segment(seg, nullptr);
      }
      prev_acks_.assign(acklist_.begin(), acklist_.end());
    }
    acklist_.clear();
  }

  // Probe the window while the peer says it is zero: first after 7 s, then x1.5 up to 120 s.
  if (rmt_wnd_ == 0) {
    if (probe_wait_ == 0) {
      probe_wait_ = detail::kProbeInit;
      ts_probe_ = current_ + probe_wait_;
    } else if (time_diff(current_, ts_probe_) >= 0) {
      if (probe_wait_ < detail::kProbeInit) probe_wait_ = detail::kProbeInit;
      probe_wait_ += probe_wait_ / 2;
      if (probe_wait_ > detail::kProbeLimit) probe_wait_ = detail::kProbeLimit;
      ts_probe_ = current_ + probe_wait_;
      probe_ |= kAskSend;
    }
  } else {
    ts_probe_ = 0;
    probe_wait_ = 0;
  }
  // WASK/WINS reuse the ACK header, so (as in ikcp) they carry the last ACK's sn and ts.
  if ((probe_ & kAskSend) != 0) {
    seg.cmd = static_cast<std::uint8_t>(Cmd::wask);
    emit_segment(seg, nullptr);
    ++stats_.wask_sent;
  }
  if ((probe_ & kAskTell) != 0) {
    seg.cmd = static_cast<std::uint8_t>(Cmd::wins);
    emit_segment(seg, nullptr);
    ++stats_.wins_sent;
  }
  probe_ = 0;

  if (cfg_.paced_sender()) {
    flush_paced(wnd);
    cc_->on_flush_end();
    return;
  }

  // Window: min(snd_wnd, rmt_wnd), and the controller's (ikcp's cwnd; none with nc).
  const std::uint32_t cwnd = std::min({snd_wnd_, rmt_wnd_, cc_->sequence_window()});

  // Move data from snd_queue to snd_buf: in the ring that is just advancing snd_nxt_.
  const std::uint32_t first_new = snd_nxt_;
  const std::uint32_t old_live = nsnd_buf_;
  while (nsnd_que_ > 0 && time_diff(snd_nxt_, snd_una_ + cwnd) < 0) {
    SndSeg& s = snd_[snd_nxt_];
    s.live = true;
    s.xmit = 0;
    s.fastack = 0;
    ++snd_nxt_;
    --nsnd_que_;
    ++nsnd_buf_;
  }

  bool lost = false;
  std::uint32_t change = 0;
  flush_data(wnd, first_new, old_live, lost, change);
  if (out_.open_size() > 0) {
    out_.close();
    ++stats_.out_datagrams;
  }

  // ikcp's reaction: fast resend (change) first, then timeout (lost), as ikcp_flush orders it.
  LossEvent e;
  e.now = current_;
  e.inflight_segments = snd_nxt_ - snd_una_;
  e.window_used = cwnd;
  if (change != 0) {
    e.lost_segments = change;
    cc_->on_loss(e);
  }
  if (lost) {
    e.timeout = true;
    cc_->on_loss(e);
  }
  cc_->on_flush_end();
}

// Sends what is due in snd_buf: retransmissions (timeout or fast resend) among the segments
// already sent, then the first transmission of [first_new, snd_nxt_). ikcp walks the whole
// snd_buf on every flush; here the walk over already-sent segments is skipped when no deadline
// can have passed (min_resendts_) and no fast resend can be due (fastack_pending_), which
// selects exactly the same segments in the same order.
void Engine::flush_data(std::uint16_t wnd, std::uint32_t first_new, std::uint32_t old_live,
                        bool& lost, std::uint32_t& change) {
  const std::uint32_t resent = fastresend_ > 0 ? fastresend_ : UINT32_MAX;
  const std::uint32_t rtomin = nodelay_ == 0 ? (rx_rto_ >> 3) : 0;
  SegmentHeader h;
  h.conv = conv_;
  h.cmd = static_cast<std::uint8_t>(Cmd::push);
  h.wnd = wnd;
  h.ts = current_;
  h.una = rcv_nxt_;

  const bool scan =
      old_live > 0 && (fastack_pending_ || time_diff(current_, min_resendts_) >= 0);
  bool have_min = old_live > 0 && !scan;  // keep the old lower bound unless recomputing it
  if (scan) {
    fastack_pending_ = false;
    for (std::uint32_t sn = snd_una_; sn != first_new; ++sn) {
      SndSeg& s = snd_[sn];
      if (!s.live) continue;
      bool needsend = false;
      if (time_diff(current_, s.resendts) >= 0) {
        needsend = true;
        ++s.xmit;
        ++stats_.retransmits;
        back_off(s);
        s.resendts = current_ + s.rto;
        lost = true;
      } else if (s.fastack >= resent && (fastlimit_ == 0 || s.xmit <= fastlimit_)) {
        needsend = true;
        ++s.xmit;
        s.fastack = 0;
        s.resendts = current_ + s.rto;
        ++change;
        ++stats_.fast_retransmits;
      }
      if (needsend) {
        s.ts = current_;
        h.sn = sn;
        h.frg = s.frg;
        h.len = s.len;
        emit_segment(h, s.data);
        if (s.xmit >= dead_link_) state_ = -1;
      }
      if (s.fastack >= resent && (fastlimit_ == 0 || s.xmit <= fastlimit_)) {
        fastack_pending_ = true;
      }
      note_resend(s.resendts, have_min);
    }
  }

  for (std::uint32_t sn = first_new; sn != snd_nxt_; ++sn) {
    SndSeg& s = snd_[sn];
    s.xmit = 1;
    s.rto = rx_rto_;
    s.resendts = current_ + s.rto + rtomin;
    s.ts = current_;
    h.sn = sn;
    h.frg = s.frg;
    h.len = s.len;
    emit_segment(h, s.data);
    ++stats_.out_data_segments;
    if (s.xmit >= dead_link_) state_ = -1;
    note_resend(s.resendts, have_min);
  }
}

}  // namespace paniq::kcp
