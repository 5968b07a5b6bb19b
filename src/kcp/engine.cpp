// Engine: construction, the application side (send/recv), input and the timers. flush() is in
// engine_flush.cpp.
#include "kcp/engine.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace paniq::kcp {
namespace {

const Config& checked(const Config& cfg) {
  auto ok = cfg.validate();
  if (!ok) throw std::invalid_argument(ok.error().message);
  return cfg;
}

}  // namespace

using detail::kAskTell;

Engine::Engine(const Config& cfg)
    : cfg_(checked(cfg)),
      conv_(cfg.conv),
      mtu_(cfg.mtu),
      mss_(cfg.mtu - static_cast<std::uint32_t>(kOverhead)),
      snd_una_(cfg.initial_sn),
      snd_nxt_(cfg.initial_sn),
      rcv_nxt_(cfg.initial_sn),
      rx_minrto_(cfg.nodelay != 0 ? detail::kRtoNoDelay : detail::kRtoMin),
      snd_wnd_(cfg.snd_wnd),
      rcv_wnd_(cfg.rcv_wnd),
      interval_(cfg.interval),
      ts_flush_(cfg.interval),
      nodelay_(cfg.nodelay),
      dead_link_(cfg.dead_link),
      fastresend_(cfg.resend),
      fastlimit_(cfg.fast_limit),
      stream_(cfg.stream),
      max_snd_queue_(cfg.max_snd_queue),
      cc_(make_controller(cfg)),
      snd_pool_(mss_ + cfg.record_stretch),
      rcv_pool_(mss_) {
  acklist_.reserve(64);
  if (cfg_.paced_sender()) rx_rto_ = detail::kPacedRtoInitial;
}

Engine::~Engine() {
  for (SndSeg& s : snd_.slots()) snd_pool_.release(s.data);
  for (RcvSeg& r : rcv_.slots()) rcv_pool_.release(r.data);
}

void Engine::trim() {
  snd_pool_.trim();
  rcv_pool_.trim();
}

// ---------------------------------------------------------------------------------------------
// send (ikcp_send)

Result<std::size_t> Engine::send(ByteView data) {
  if (data.empty()) return std::size_t{0};
  if (!stream_) return send_message(data);
  return send_stream(data);
}

// A new segment at the end of the send queue holding `data` (at most the MSS), fragment `frg`.
void Engine::queue_segment(ByteView data, std::uint8_t frg) {
  snd_.reserve(snd_una_, std::size_t{snd_nxt_ - snd_una_} + nsnd_que_ + 1);
  SndSeg& s = snd_[snd_nxt_ + nsnd_que_];
  s.data = snd_pool_.acquire();
  if (!data.empty()) std::memcpy(s.data, data.data(), data.size());
  s.len = static_cast<std::uint32_t>(data.size());
  s.frg = frg;
  s.live = false;
  ++nsnd_que_;
}

std::size_t Engine::send_stream(ByteView data) {
  std::size_t done = 0;
  // Append to the last queued segment while it is short of the MSS.
  if (nsnd_que_ > 0) {
    SndSeg& last = snd_[snd_nxt_ + nsnd_que_ - 1];
    if (last.len < mss_) {
      const std::size_t n = std::min<std::size_t>(mss_ - last.len, data.size());
      std::memcpy(last.data + last.len, data.data(), n);
      last.len += static_cast<std::uint32_t>(n);
      done = n;
    }
  }
  const std::uint32_t limit = send_queue_limit();
  while (done < data.size() && nsnd_que_ < limit) {
    const std::size_t n = std::min<std::size_t>(mss_, data.size() - done);
    queue_segment(data.subspan(done, n), 0);
    done += n;
  }
  stats_.bytes_sent += done;
  return done;
}

Result<std::size_t> Engine::send_message(ByteView data) {
  const std::size_t count = (data.size() + mss_ - 1) / mss_;
  if (count > kMaxFragments || count > max_snd_queue_) {
    return make_error(Errc::message_too_large,
                      "kcp: message of " + std::to_string(data.size()) + " bytes needs " +
                          std::to_string(count) + " fragments");
  }
  if (nsnd_que_ + count > std::max<std::size_t>(send_queue_limit(), count)) return std::size_t{0};
  snd_.reserve(snd_una_, std::size_t{snd_nxt_ - snd_una_} + nsnd_que_ + count);
  std::size_t off = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t n = std::min<std::size_t>(mss_, data.size() - off);
    queue_segment(data.subspan(off, n), static_cast<std::uint8_t>(count - i - 1));
    off += n;
  }
  stats_.bytes_sent += data.size();
  return data.size();
}

Result<std::size_t> Engine::send_record(ByteView record) {
  if (record.empty()) return std::size_t{0};
  if (!stream_) return send_message(record);  // a message is a record already
  if (record.size() > mss_ + cfg_.record_stretch) {
    return make_error(Errc::message_too_large,
                      "kcp: record of " + std::to_string(record.size()) + " bytes exceeds the MSS " +
                          std::to_string(mss_) + " + stretch " + std::to_string(cfg_.record_stretch));
  }
  if (nsnd_que_ > 0) {
    SndSeg& last = snd_[snd_nxt_ + nsnd_que_ - 1];
    if (last.len + record.size() <= mss_) {
      std::memcpy(last.data + last.len, record.data(), record.size());
      last.len += static_cast<std::uint32_t>(record.size());
      stats_.bytes_sent += record.size();
      return record.size();
    }
  }
  if (nsnd_que_ >= send_queue_limit()) return std::size_t{0};
  queue_segment(record, 0);
  stats_.bytes_sent += record.size();
  return record.size();
}

void Engine::early_segments(std::vector<ByteView>& out) const {
  out.clear();
  for (const std::uint32_t sn : early_) {
    // Still ahead of the gap (a later segment of the same input may have filled it).
    if (time_diff(sn, rcv_nxt_) <= 0) continue;
    const RcvSeg& r = rcv_[sn];
    if (r.present) out.emplace_back(r.data, r.len);
  }
}

bool Engine::writable() const {
  if (nsnd_que_ < send_queue_limit()) return true;
  return stream_ && nsnd_que_ > 0 && snd_[snd_nxt_ + nsnd_que_ - 1].len < mss_;
}

std::uint32_t Engine::send_queue_limit() const {
  const std::uint64_t rate = cc_->pacing_rate();
  if (rate == 0) {
    // Unpaced: the configured queue; a paced sender not pacing (LAN, start-up) keeps the
    // reference's 1024 when its larger window made the default bigger.
    return cfg_.paced_sender() ? std::min<std::uint32_t>(max_snd_queue_, 1024) : max_snd_queue_;
  }
  constexpr std::uint64_t kQueueMs = 4, kMinQueue = 16;
  const std::uint64_t want = std::max(kMinQueue, rate * kQueueMs / 1000 / mtu_);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(want, max_snd_queue_));
}

// ---------------------------------------------------------------------------------------------
// recv (ikcp_recv, ikcp_peeksize)

Result<std::size_t> Engine::recv(MutByteView out) {
  const bool recover = nrcv_que_ >= rcv_wnd_;
  Result<std::size_t> got = stream_ ? Result<std::size_t>(recv_stream(out)) : recv_message(out);
  if (!got) return got;
  stats_.bytes_received += *got;
  move_rcv_buf_to_queue();
  // Fast recover: the queue was full and has room again; tell the peer (WINS) at next flush.
  if (nrcv_que_ < rcv_wnd_ && recover) probe_ |= kAskTell;
  return got;
}

std::size_t Engine::recv_stream(MutByteView out) {
  std::size_t done = 0;
  while (nrcv_que_ > 0 && done < out.size()) {
    RcvSeg& r = rcv_[rcv_nxt_ - nrcv_que_];
    const std::size_t n = std::min<std::size_t>(r.len - rcv_offset_, out.size() - done);
    if (n > 0) std::memcpy(out.data() + done, r.data + rcv_offset_, n);
    done += n;
    rcv_offset_ += static_cast<std::uint32_t>(n);
    if (rcv_offset_ == r.len) {
      rcv_pool_.release(r.data);
      r = RcvSeg{};
      --nrcv_que_;
      rcv_offset_ = 0;
    }
  }
  return done;
}

Result<std::size_t> Engine::recv_message(MutByteView out) {
  for (;;) {
    const auto size = peek_size();
    if (!size) return std::size_t{0};
    if (*size > out.size()) {
      return make_error(Errc::buffer_too_small,
                        "kcp: next message has " + std::to_string(*size) + " bytes");
    }
    std::size_t done = 0;
    while (nrcv_que_ > 0) {
      RcvSeg& r = rcv_[rcv_nxt_ - nrcv_que_];
      if (r.len > 0) std::memcpy(out.data() + done, r.data, r.len);
      done += r.len;
      const std::uint8_t frg = r.frg;
      rcv_pool_.release(r.data);
      r = RcvSeg{};
      --nrcv_que_;
      if (frg == 0) break;
    }
    if (done > 0) return done;
  }
}

std::optional<std::size_t> Engine::peek_size() const {
  if (nrcv_que_ == 0) return std::nullopt;
  const std::uint32_t head = rcv_nxt_ - nrcv_que_;
  const RcvSeg& first = rcv_[head];
  if (stream_) return first.len - rcv_offset_;
  if (first.frg == 0) return first.len;
  if (nrcv_que_ < std::uint32_t{first.frg} + 1) return std::nullopt;
  std::size_t length = 0;
  for (std::uint32_t i = 0; i < nrcv_que_; ++i) {
    const RcvSeg& r = rcv_[head + i];
    length += r.len;
    if (r.frg == 0) break;
  }
  return length;
}

// ---------------------------------------------------------------------------------------------
// input (ikcp_input)

Errc Engine::input(ByteView datagram, Clock32 now) {
  ++stats_.in_datagrams;
  if (datagram.size() < kOverhead) {
    ++stats_.in_bad_datagrams;
    return Errc::short_datagram;
  }
  // Validate every segment first so a bad datagram leaves the engine untouched.
  SegmentView seg;
  for (std::size_t off = 0; datagram.size() - off >= kOverhead;) {
    if (get_u32_le(datagram.data() + off) != conv_) {  // ikcp checks conv first
      ++stats_.in_bad_datagrams;
      return Errc::conv_mismatch;
    }
    const Errc e = decode_segment(datagram.subspan(off), seg);
    if (e != Errc::ok) {
      ++stats_.in_bad_datagrams;
      return e;
    }
    off += kOverhead + seg.header.len;
  }

  current_ = now;
  early_.clear();
  const std::uint32_t prev_una = snd_una_;
  bool flag = false;
  std::uint32_t maxack = 0;
  batch_ = AckEvent{};
  batch_have_rs_ = false;
  for (std::size_t off = 0; datagram.size() - off >= kOverhead;) {
    (void)decode_segment(datagram.subspan(off), seg);
    process_segment(seg, flag, maxack);
    off += kOverhead + seg.header.len;
  }
  if (flag) parse_fastack(maxack);
  batch_.una_advanced = time_diff(snd_una_, prev_una) > 0;
  if (cfg_.paced_sender()) {
    finish_ack_batch();
  } else if (batch_.una_advanced) {
    // ikcp grows its cwnd once per input that advanced snd_una (IkcpCongestion).
    batch_.now = current_;
    batch_.rmt_wnd = rmt_wnd_;
    cc_->on_ack(batch_);
  }
  return Errc::ok;
}

void Engine::process_segment(const SegmentView& seg, bool& flag, std::uint32_t& maxack) {
  const SegmentHeader& h = seg.header;
  ++stats_.in_segments;
  // PROTOCOL.md 6.5: kcp-tokio 0.3.5 sends ACKs with wnd 0 and una 0. Taking that window would
  // stall a one-way transfer until a window probe; taking that una means nothing either.
  const bool ack_first = cfg_.paced_sender() && h.cmd == static_cast<std::uint8_t>(Cmd::ack);
  if (h.cmd == static_cast<std::uint8_t>(Cmd::ack) && h.wnd == 0 && h.una == 0) {
    ++stats_.in_zero_window_acks;
  } else {
    rmt_wnd_ = h.wnd;
    // The paced sender takes the ACK's own segment first, so its echoed ts (which transmission
    // arrived) is not lost to the cumulative una; ikcp's order otherwise.
    if (!ack_first) parse_una(h.una);
  }
  switch (static_cast<Cmd>(h.cmd)) {
    case Cmd::ack:
      // The paced sender samples the RTT only from the first ACK of a live segment: a repeated
      // ACK (packed ACK datagrams repeat the previous batch) left the peer later.
      if (time_diff(current_, h.ts) >= 0 && (!ack_first || acks_live(h.sn))) {
        const std::int32_t rtt = time_diff(current_, h.ts);
        update_ack(rtt);
        if (batch_.min_rtt_sample < 0 || rtt < batch_.min_rtt_sample) batch_.min_rtt_sample = rtt;
      }
      parse_ack(h.sn, h.ts);
      if (ack_first && !(h.wnd == 0 && h.una == 0)) parse_una(h.una);
      // ikcp also keeps the ts of maxack, used only with IKCP_FASTACK_CONSERVE (off in 1.7).
      if (!flag || time_diff(h.sn, maxack) > 0) maxack = h.sn;
      flag = true;
      break;
    case Cmd::push:
      if (time_diff(h.sn, rcv_nxt_ + rcv_wnd_) < 0) {
        if (acklist_.empty()) ack_hold_ts_ = current_;  // the oldest waiting ACK's age
        acklist_.push_back(Ack{h.sn, h.ts});
        if (time_diff(h.sn, rcv_nxt_) >= 0) {
          parse_data(h, seg.data);
        } else {
          ++stats_.in_duplicates;
        }
      } else {
        ++stats_.in_beyond_window;
      }
      break;
    case Cmd::wask:
      probe_ |= kAskTell;  // answer with WINS at the next flush
      break;
    case Cmd::wins:
      break;
  }
}

void Engine::update_ack(std::int32_t rtt) {
  const std::int64_t r = rtt;
  rtt_known_ = true;
  if (rx_srtt_ == 0) {
    rx_srtt_ = r;
    rx_rttval_ = r / 2;
  } else {
    const std::int64_t delta = r > rx_srtt_ ? r - rx_srtt_ : rx_srtt_ - r;
    rx_rttval_ = (3 * rx_rttval_ + delta) / 4;
    rx_srtt_ = (7 * rx_srtt_ + r) / 8;
    if (rx_srtt_ < 1) rx_srtt_ = 1;
  }
  const std::int64_t iv = interval_;
  std::int64_t rto = cfg_.rto_mode == RtoMode::ikcp ? rx_srtt_ + std::max(iv, 4 * rx_rttval_)
                                                    : rx_srtt_ + 4 * std::max(rx_rttval_, iv);
  // The paced sender finds losses by RACK within about srtt + min_rtt/4; its timer is only the
  // backstop for tail losses and must not fire while Startup's or a gain cycle's queue lifts
  // the RTT: ikcp's value plus one interval, and at least 2 srtt.
  if (cfg_.paced_sender()) rto = std::max(rto + iv, 2 * rx_srtt_);
  rx_rto_ = static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(rto, rx_minrto_, detail::kRtoMax));
}

void Engine::release_snd(SndSeg& s) {
  snd_pool_.release(s.data);
  s.data = nullptr;
  s.live = false;
  --nsnd_buf_;
}

void Engine::shrink_buf() {
  while (snd_una_ != snd_nxt_ && !snd_[snd_una_].live) ++snd_una_;
}

bool Engine::acks_live(std::uint32_t sn) const {
  return time_diff(sn, snd_una_) >= 0 && time_diff(sn, snd_nxt_) < 0 && snd_[sn].live;
}

void Engine::parse_ack(std::uint32_t sn, std::uint32_t ts) {
  if (time_diff(sn, snd_una_) < 0 || time_diff(sn, snd_nxt_) >= 0) return;
  SndSeg& s = snd_[sn];
  if (!s.live) return;
  if (cfg_.paced_sender()) on_delivered(s, true, ts);
  release_snd(s);
  if (sn == snd_una_) shrink_buf();
}

void Engine::parse_una(std::uint32_t una) {
  // A cumulative ack outside (snd_una_, snd_nxt_] carries nothing new (or is bogus: a peer
  // cannot ack what was never sent); ikcp would drop the whole buffer on the latter.
  if (time_diff(una, snd_una_) <= 0 || time_diff(una, snd_nxt_) > 0) return;
  const bool paced = cfg_.paced_sender();
  for (std::uint32_t sn = snd_una_; sn != una; ++sn) {
    SndSeg& s = snd_[sn];
    if (!s.live) continue;
    if (paced) on_delivered(s, false, 0);
    release_snd(s);
  }
  snd_una_ = una;
  shrink_buf();
}

void Engine::parse_fastack(std::uint32_t sn) {
  if (time_diff(sn, snd_una_) < 0 || time_diff(sn, snd_nxt_) >= 0) return;
  const std::uint32_t resent = fastresend_ > 0 ? fastresend_ : UINT32_MAX;
  for (std::uint32_t x = snd_una_; x != sn; ++x) {
    SndSeg& s = snd_[x];
    if (!s.live) continue;
    ++s.fastack;
    if (s.fastack >= resent && (fastlimit_ == 0 || s.xmit <= fastlimit_)) {
      fastack_pending_ = true;
    }
  }
}

void Engine::parse_data(const SegmentHeader& h, ByteView data) {
  // The caller checked rcv_nxt_ <= sn < rcv_nxt_ + rcv_wnd_.
  const std::uint32_t head = rcv_nxt_ - nrcv_que_;
  rcv_.reserve(head, std::size_t{h.sn - head} + 1);
  RcvSeg& r = rcv_[h.sn];
  if (r.present) {
    ++stats_.in_duplicates;
    return;
  }
  if (h.len > rcv_pool_.block_size()) rcv_pool_.grow_block_size(h.len);
  r.data = rcv_pool_.acquire();
  if (h.len > 0) std::memcpy(r.data, data.data(), h.len);
  r.len = h.len;
  r.frg = h.frg;
  r.present = true;
  ++nrcv_buf_;
  if (h.sn == rcv_nxt_) {
    move_rcv_buf_to_queue();
  } else {
    // Beyond a gap: an earlier segment of the peer's was lost (or overtaken).
    loss_seen_ts_ = current_;
    if (stream_) early_.push_back(h.sn);
  }
}

void Engine::move_rcv_buf_to_queue() {
  // Slots hold sn in [head, head + capacity): rcv_nxt_ at head + capacity is not stored.
  while (nrcv_que_ < rcv_wnd_ && nrcv_que_ < rcv_.capacity() && rcv_[rcv_nxt_].present) {
    ++rcv_nxt_;
    ++nrcv_que_;
    --nrcv_buf_;
  }
}

std::uint32_t Engine::wnd_unused() const {
  return nrcv_que_ < rcv_wnd_ ? rcv_wnd_ - nrcv_que_ : 0;
}

// ---------------------------------------------------------------------------------------------
// timers (ikcp_update, ikcp_check)

void Engine::update(Clock32 now) {
  current_ = now;
  if (!updated_) {
    updated_ = true;
    ts_flush_ = current_;
  }
  std::int32_t slap = time_diff(current_, ts_flush_);
  if (slap >= 10000 || slap < -10000) {
    ts_flush_ = current_;
    slap = 0;
  }
  if (slap >= 0) {
    ts_flush_ += interval_;
    if (time_diff(current_, ts_flush_) >= 0) ts_flush_ = current_ + interval_;
    flush_body();
  }
}

Clock32 Engine::check(Clock32 now) const {
  if (!updated_) return now;
  Clock32 ts_flush = ts_flush_;
  const std::int32_t slap = time_diff(now, ts_flush);
  if (slap >= 10000 || slap < -10000) ts_flush = now;
  if (time_diff(now, ts_flush) >= 0) return now;
  const std::int32_t tm_flush = time_diff(ts_flush, now);
  std::int32_t tm_packet = INT32_MAX;
  if (nsnd_buf_ > 0 && !cfg_.paced_sender()) {
    // min_resendts_ is a lower bound of every live segment's deadline (ikcp scans them all).
    const std::int32_t diff = time_diff(min_resendts_, now);
    if (diff <= 0) return now;
    tm_packet = diff;
  }
  std::uint32_t minimal = static_cast<std::uint32_t>(std::min(tm_packet, tm_flush));
  if (minimal >= interval_) minimal = interval_;
  if (cfg_.paced_sender()) {
    // Retransmission, reordering and pacing deadlines: flush() acts on them (update() waits
    // for the tick), so a shell calls flush() when check() says now.
    if (auto d = paced_deadline()) {
      const std::int32_t diff = time_diff(*d, now);
      if (diff <= 0) return now;
      minimal = std::min(minimal, static_cast<std::uint32_t>(diff));
    }
  }
  return now + minimal;
}

}  // namespace paniq::kcp
