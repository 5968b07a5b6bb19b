#include "tunnel/link.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "envelope/padding.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::size_t kRxChunk = 16u << 10;  // bytes moved from kcp.recv() to the mux at once

Clock32 clock32(TimeMs now) { return static_cast<Clock32>(now); }

// True when `inner` (KCP accepted it) has room for a second segment header after the first
// segment: the sender packs.
bool holds_several_segments(ByteView inner) {
  if (inner.size() < 2 * kcp::kOverhead) return false;
  const std::uint32_t len = get_u32_le(inner.data() + 20);  // the first segment's len field
  return inner.size() - kcp::kOverhead >= std::uint64_t{len} + kcp::kOverhead;
}

// Segment fill (docs/protocol.md 7.9): how many bytes a data segment may carry beyond the MSS,
// i.e. the padding reserve above pad_min. Encrypted sessions with stream offsets and padding
// only: the stretched record must go whole into one segment, and its length must be hidden.
std::uint32_t fill_stretch(const LinkConfig& cfg, const envelope::SecureKeys* secure) {
  if (secure == nullptr || !secure->stream_offsets || !cfg.segment_fill || !cfg.padding.enabled) {
    return 0;
  }
  const std::uint32_t reserve = cfg.padding.max_padding();
  return reserve > cfg.padding.pad_min ? reserve - cfg.padding.pad_min : 0;
}

// The session's KCP config: its conv and, in encrypted mode, an MTU smaller by the sealed
// header and tag (the transport budget is the same, so datagrams stay within the profile's
// max_packet_size), and the segment fill's stretch.
kcp::Config kcp_config(const LinkConfig& cfg, std::uint32_t conv,
                       const envelope::SecureKeys* secure) {
  kcp::Config c = cfg.kcp;
  c.conv = conv;
  if (secure != nullptr) {
    const std::uint32_t budget = cfg.sizes.effective_max_payload;
    const std::uint32_t reserve = static_cast<std::uint32_t>(
        envelope::SecureChannel::inner_offset() + envelope::kSecureTagLen) +
        cfg.padding.max_padding();
    c.mtu = budget > reserve + kcp::kOverhead + 1 ? budget - reserve : kcp::kOverhead + 1;
    c.mtu = std::min(c.mtu, cfg.kcp.mtu);
    c.record_stretch = fill_stretch(cfg, secure);
  }
  return c;
}

// With stream offsets (both ends agreed in the encrypted handshake, docs/protocol.md 7.8) every
// frame must fit one KCP segment; an MSS too small for a useful PshAt frame leaves them off.
mux::Config mux_config(const LinkConfig& cfg, const kcp::Engine& kcp,
                       const envelope::SecureKeys* secure) {
  mux::Config m = cfg.mux;
  constexpr std::uint32_t kMinData = 64;
  const std::uint32_t frame_room = kcp.mss() > mux::kHeaderSize ? kcp.mss() - mux::kHeaderSize : 0;
  if (secure != nullptr && secure->stream_offsets && frame_room >= mux::kOffsetSize + kMinData) {
    m.stream_offsets = true;
    m.max_frame_size = std::min(m.max_frame_size, frame_room);
    // A stretched frame fills a stretched segment (only frames cut at the MSS reach it).
    if (m.max_frame_size == frame_room) m.frame_stretch_max = kcp.config().record_stretch;
  }
  return m;
}

const LinkConfig& checked(const LinkConfig& cfg) {
  if (auto ok = cfg.validate(); !ok) throw std::invalid_argument(ok.error().message);
  return cfg;
}

}  // namespace

static_assert(sizeof(LinkStats) == 18 * sizeof(std::uint64_t),
              "LinkStats changed: sum the new counter in operator+=");
LinkStats& operator+=(LinkStats& a, const LinkStats& b) {
  a.datagrams_in += b.datagrams_in;
  a.bytes_in += b.bytes_in;
  a.datagrams_out += b.datagrams_out;
  a.bytes_out += b.bytes_out;
  a.segment_bytes_in += b.segment_bytes_in;
  a.segment_bytes_out += b.segment_bytes_out;
  a.padding_bytes_in += b.padding_bytes_in;
  a.padding_bytes_out += b.padding_bytes_out;
  a.drop_invalid_length += b.drop_invalid_length;
  a.drop_kcp_rejected += b.drop_kcp_rejected;
  a.drop_after_dead += b.drop_after_dead;
  a.drop_replay += b.drop_replay;
  a.drop_too_large += b.drop_too_large;
  a.drop_backlog += b.drop_backlog;
  a.input_pauses += b.input_pauses;
  a.packed_datagrams_in += b.packed_datagrams_in;
  a.rekeys_sent += b.rekeys_sent;
  a.rekeys_received += b.rekeys_received;
  return a;
}

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::Established: return "Established";
    case EventKind::StreamOpened: return "StreamOpened";
    case EventKind::Readable: return "Readable";
    case EventKind::Writable: return "Writable";
    case EventKind::StreamClosed: return "StreamClosed";
    case EventKind::Idle: return "Idle";
    case EventKind::SessionClosed: return "SessionClosed";
  }
  return "?";
}

Link::Link(const LinkConfig& cfg, std::uint32_t conv, const obf::Framer& framer, Rng& rng,
           TimeMs now, const envelope::SecureKeys* secure)
    : cfg_(checked(cfg)),
      framer_(framer),
      rng_(rng),
      kcp_(kcp_config(cfg, conv, secure)),
      mux_(mux_config(cfg, kcp_, secure), now),
      prefix_len_(framer.prefix_len(obf::MessageType::Transport)),
      now_(now),
      last_rx_(now) {
  topts_.counter = cfg_.transport_replay;
  topts_.padding = cfg_.padding;
  topts_.budget = cfg_.sizes.effective_max_payload;
  if (secure) {
    secure_ = std::make_unique<envelope::SecureChannel>(*secure, cfg_.rekey, now);
    enable_packing(false);
    if (mux_.config().frame_stretch_max != 0) {
      // Each full frame's stretch is a padding draw less pad_min; its datagram then gets
      // pad_min, so the datagram is as long as that draw would have made it.
      fill_padding_ = cfg_.padding;
      fill_padding_.pad_max = fill_padding_.pad_min;
      fill_padding_.pad_burst_prob = 0.0;
      mux_.set_frame_stretch([this] {
        const std::uint32_t reserve = cfg_.padding.max_padding();
        const std::uint32_t pad = envelope::choose_padding(cfg_.padding, 0, reserve, rng_);
        return pad > cfg_.padding.pad_min ? pad - cfg_.padding.pad_min : 0;
      });
    }
    return;  // the channel's own replay window replaces the plain counter
  }
  if (cfg_.transport_replay) {
    replay_.emplace(cfg_.transport_replay_window == 0
                        ? envelope::ReplayWindow::kDefaultBits
                        : static_cast<std::size_t>(cfg_.transport_replay_window));
  }
}

InputResult Link::handle_transport(ByteView payload, TimeMs now,
                                   const envelope::SecureHeader* known) {
  last_newest_ = false;
  if (secure_) {
    if (dead()) {
      ++stats_.datagrams_in;
      stats_.bytes_in += payload.size();
      ++stats_.drop_after_dead;
      return InputResult::dead;
    }
    if (scratch_.size() < payload.size()) scratch_.resize(std::max<std::size_t>(payload.size(), 2048));
    const envelope::Opened o = secure_->open(payload, scratch_, std::max(now_, now), known);
    if (o.status != envelope::OpenStatus::ok) {
      ++stats_.datagrams_in;
      stats_.bytes_in += payload.size();
      if (o.status == envelope::OpenStatus::replayed) {
        ++stats_.drop_replay;
        return InputResult::replayed;
      }
      ++stats_.drop_invalid_length;
      return InputResult::auth_failed;
    }
    stats_.rekeys_received = secure_->stats().rekeys_received;
    const InputResult r = handle_segments(o.inner, o.padding_len, now);
    stats_.bytes_in +=
        payload.size() - (envelope::header_len(cfg_.transport_replay) + o.inner.size() + o.padding_len);
    last_newest_ = r == InputResult::accepted && o.newest;
    return r;
  }
  auto view = envelope::decode_transport(payload, cfg_.transport_replay);
  if (!view) {
    ++stats_.datagrams_in;
    stats_.bytes_in += payload.size();
    ++stats_.drop_invalid_length;
    return InputResult::invalid_length;
  }
  return handle_segments(view->inner, view->padding_len, now, view->counter);
}

InputResult Link::handle_segments(ByteView inner, std::size_t padding_len, TimeMs now,
                                  std::optional<std::uint64_t> counter) {
  now_ = std::max(now_, now);
  ++stats_.datagrams_in;
  stats_.bytes_in += envelope::header_len(cfg_.transport_replay) + inner.size() + padding_len;
  if (dead()) {
    ++stats_.drop_after_dead;
    return InputResult::dead;
  }
  const bool windowed = replay_.has_value() && counter.has_value();
  if (windowed && !replay_->check(*counter)) {
    ++stats_.drop_replay;
    return InputResult::replayed;
  }
  const std::uint32_t rcv_nxt = kcp_.rcv_nxt(), nrcv_buf = kcp_.nrcv_buf();
  if (kcp_.input(inner, clock32(now)) != kcp::Errc::ok) {
    ++stats_.drop_kcp_rejected;
    return InputResult::kcp_rejected;
  }
  if (mux_.config().stream_offsets) {
    // Frames of other streams than the one a lost segment holds up go to their streams now.
    kcp_.early_segments(early_);
    for (const ByteView seg : early_) mux_.input_early(seg, now_);
  }
  if (cfg_.liveness.enabled && cfg_.liveness.rx_probes > 0 &&
      (kcp_.rcv_nxt() != rcv_nxt || kcp_.nrcv_buf() != nrcv_buf)) {
    rx_probe_armed_ = true;  // data arrived: watch for it stopping
    rx_probes_sent_ = 0;
    rx_probe_at_ = now_ + rx_probe_gap(0);
  }
  if (windowed) (void)replay_->check_and_update(*counter);
  if (holds_several_segments(inner)) {
    ++stats_.packed_datagrams_in;
    if (cfg_.follow_packing && !packing_) enable_packing(false);
  }
  stats_.segment_bytes_in += inner.size();
  stats_.padding_bytes_in += padding_len;
  last_rx_ = now_;
  kcp_dirty_ = true;
  update_liveness(now_, true);
  return InputResult::accepted;
}

bool Link::plausible_segments(ByteView inner) const {
  if (inner.size() < kcp::kOverhead || dead()) return false;
  const std::uint32_t rcv_wnd = std::max<std::uint32_t>(kcp_.config().rcv_wnd, 32);
  std::size_t pos = 0;
  while (pos < inner.size()) {
    if (inner.size() - pos < kcp::kOverhead) return false;
    const std::uint8_t* p = inner.data() + pos;
    const std::uint32_t conv = get_u32_le(p);
    const std::uint8_t cmd = p[4];
    const std::uint32_t sn = get_u32_le(p + 12);
    const std::uint32_t una = get_u32_le(p + 16);
    const std::uint32_t len = get_u32_le(p + 20);
    if (conv != kcp_.conv() || cmd < 81 || cmd > 84) return false;
    if (len > inner.size() - pos - kcp::kOverhead) return false;
    // The peer acknowledges only what we sent: una in [snd_una, snd_nxt].
    if (una - kcp_.snd_una() > kcp_.snd_nxt() - kcp_.snd_una()) return false;
    // Its data lies within a window around what we expect next (retransmissions may be
    // just behind it).
    if (cmd == 81 && sn - (kcp_.rcv_nxt() - rcv_wnd) >= 2 * rcv_wnd) return false;
    // Its ACKs name segments we have sent.
    if (cmd == 82 && sn - (kcp_.snd_una() - rcv_wnd) > kcp_.snd_nxt() - (kcp_.snd_una() - rcv_wnd)) {
      return false;
    }
    pos += kcp::kOverhead + len;
  }
  return true;
}

void Link::enable_packing(bool announce) {
  packing_ = true;
  kcp_.set_output_mode(kcp::OutputMode::batched);
  if (announce) {
    kcp_.tell_window();
    kcp_dirty_ = true;
  }
}

void Link::pump_rx(TimeMs now) {
  for (;;) {
    if (rx_pos_ < rx_end_) {
      const ByteView rest(rx_buf_.data() + rx_pos_, rx_end_ - rx_pos_);
      const std::size_t n = mux_.input(rest, now);
      rx_pos_ += n;
      if (rx_pos_ < rx_end_) {
        if (n == 0 || mux_.input_blocked()) ++stats_.input_pauses;
        return;  // paused (or failed): KCP keeps the rest, its window closes
      }
      rx_pos_ = rx_end_ = 0;
    }
    if (!kcp_.peek_size()) return;
    if (rx_buf_.empty()) rx_buf_.resize(kRxChunk);
    auto got = kcp_.recv(rx_buf_);
    if (!got || *got == 0) return;
    rx_end_ = *got;
    kcp_dirty_ = true;  // the receive window may have reopened: tell the peer
  }
}

void Link::pump_tx(TimeMs) {
  const bool records = mux_.config().stream_offsets;
  for (;;) {
    // With stream offsets each frame goes whole into one segment, so that a segment arriving
    // ahead of a gap holds frames the peer can read (Session::input_early).
    const ByteView pending = records ? mux_.pending_frame() : mux_.pending_output();
    if (pending.empty()) return;
    auto took = records ? kcp_.send_record(pending) : kcp_.send(pending);
    if (!took || *took == 0) return;  // KCP's send queue is full: continue after ACKs
    mux_.consume_output(*took);
    kcp_dirty_ = true;
  }
}

void Link::build_datagram(ByteView segment) {
  if (secure_) {
    build_secure_datagram(segment);
    return;
  }
  const std::size_t hdr = envelope::header_len(topts_.counter);
  if (tx_.bytes() + prefix_len_ + hdr + segment.size() > cfg_.max_transmit_bytes) {
    ++stats_.drop_backlog;
    return;
  }
  const std::size_t cap = prefix_len_ + hdr + segment.size() + topts_.budget;
  std::uint8_t* p = tx_.reserve(cap);
  framer_.write_prefix(obf::MessageType::Transport, rng_, MutByteView(p, prefix_len_));
  const MutByteView payload(p + prefix_len_, cap - prefix_len_);
  std::memcpy(payload.data() + hdr, segment.data(), segment.size());
  auto len = envelope::finish_transport(payload, segment.size(), counter_, topts_, rng_);
  if (!len) {
    ++stats_.drop_too_large;
    return;
  }
  ++counter_;
  tx_.commit(prefix_len_ + *len);
  ++stats_.datagrams_out;
  stats_.bytes_out += prefix_len_ + *len;
  stats_.segment_bytes_out += segment.size();
  stats_.padding_bytes_out += *len - hdr - segment.size();
}

void Link::build_secure_datagram(ByteView segment) {
  const std::size_t front = envelope::SecureChannel::inner_offset();
  if (tx_.bytes() + prefix_len_ + front + segment.size() > cfg_.max_transmit_bytes) {
    ++stats_.drop_backlog;
    return;
  }
  const std::size_t cap = prefix_len_ + topts_.budget + front + segment.size();
  std::uint8_t* p = tx_.reserve(cap);
  framer_.write_prefix(obf::MessageType::Transport, rng_, MutByteView(p, prefix_len_));
  const MutByteView payload(p + prefix_len_, cap - prefix_len_);
  std::memcpy(payload.data() + front, segment.data(), segment.size());
  // Under segment fill a full segment (the MTU or more) took its stretch from a padding draw
  // (none when the draw was pad_min): its padding is pad_min.
  const envelope::PaddingPolicy& padding =
      fill_padding_.enabled && segment.size() >= kcp_.config().mtu ? fill_padding_ : topts_.padding;
  auto len = secure_->seal(payload, segment.size(), padding, topts_.budget, rng_, now_);
  if (!len) {
    ++stats_.drop_too_large;
    return;
  }
  tx_.commit(prefix_len_ + *len);
  ++stats_.datagrams_out;
  stats_.bytes_out += prefix_len_ + *len;
  stats_.segment_bytes_out += segment.size();
  stats_.padding_bytes_out += *len - envelope::kSecureOverhead - 2 - segment.size();
  stats_.rekeys_sent = secure_->stats().rekeys_sent;
}

void Link::collect_output() {
  const auto out = kcp_.output();
  for (const ByteView segment : out) build_datagram(segment);
  kcp_.clear_output();
}

void Link::update_liveness(TimeMs now, bool received) {
  if (!cfg_.liveness.enabled) return;
  if (kcp_.nsnd_buf() == 0) {
    awaiting_ = false;
    return;
  }
  if (received || !awaiting_) {
    awaiting_ = true;
    await_since_ = now;
  }
}

std::optional<TimeMs> Link::liveness_deadline() const {
  if (!cfg_.liveness.enabled || !awaiting_ || dead()) return std::nullopt;
  const LivenessConfig& l = cfg_.liveness;
  const std::uint64_t bound = std::clamp<std::uint64_t>(
      std::uint64_t{l.rto_multiple} * kcp_.rx_rto(), l.min_ms, std::max(l.min_ms, l.max_ms));
  return await_since_ + bound;
}

void Link::check_failures(TimeMs) {
  if (dead()) return;
  if (kcp_.dead()) {
    close(make_error_code(Errc::kcp_dead_link));
  } else if (mux_.failed()) {
    close(mux_.failure());
  }
}

void Link::flush(TimeMs now) {
  now_ = std::max(now_, now);
  if (dead()) return;
  // Twice at most: KCP's flush moves queued segments into the window, which may make room
  // for more mux output.
  for (int round = 0; round < 2; ++round) {
    pump_rx(now_);
    pump_tx(now_);
    check_failures(now_);
    if (dead() || !kcp_dirty_) break;
    kcp_dirty_ = false;
    kcp_.flush(clock32(now_));
    collect_output();
  }
  update_liveness(now_, false);
  check_failures(now_);
  shrink_if_idle();
}

// A link whose burst (a whole KCP window) grew the transmit buffer gives it back once KCP has
// nothing in flight and everything was sent, so thousands of idle server sessions do not each
// keep their peak. A busy link keeps it: no allocation per burst.
//
// The same for KCP's segment block caches (up to a window of blocks each way, ~1.4 MB per
// direction at 1024 segments): they are returned once nothing has been queued either way for
// kQuietTrimMs. Not at every idle moment: a transfer's queues empty between its bursts, and
// trimming then would allocate every block again at the next one.
void Link::shrink_if_idle() {
  const bool send_idle = tx_.count() == 0 && kcp_.nsnd_buf() == 0 && kcp_.nsnd_que() == 0;
  if (send_idle) tx_.shrink();
  if (!send_idle || kcp_.nrcv_buf() > 0 || kcp_.nrcv_que() > 0) {
    last_busy_ = now_;
    trim_due_ = true;
  } else if (trim_due_ && now_ >= last_busy_ + kQuietTrimMs) {
    kcp_.trim();
    trim_due_ = false;
  }
}

std::optional<TimeMs> Link::next_timeout() const {
  if (dead()) return std::nullopt;
  const bool rx_waiting = rx_pos_ < rx_end_ && !mux_.input_blocked() && !mux_.failed();
  if (kcp_dirty_ || rx_waiting) return now_;
  std::optional<TimeMs> t = mux_.next_timeout(now_);
  auto earliest = [&t](TimeMs c) {
    if (!t || c < *t) t = c;
  };
  if (kcp_.nsnd_buf() > 0 || kcp_.nsnd_que() > 0 || kcp_.acks_pending() ||
      !mux_.pending_output().empty()) {
    const Clock32 c = clock32(now_);
    earliest(now_ + static_cast<TimeMs>(std::max<std::int32_t>(0, time_diff(kcp_.check(c), c))));
  }
  if (auto l = liveness_deadline()) earliest(*l);
  if (rx_probe_armed_) earliest(rx_probe_at_);
  if (trim_due_) earliest(last_busy_ + kQuietTrimMs);
  return t;
}

TimeMs Link::rx_probe_gap(std::uint32_t n) const {
  const std::int64_t srtt = std::max<std::int64_t>(0, kcp_.rx_srtt());
  const TimeMs base = std::max<TimeMs>(100, static_cast<TimeMs>(2 * srtt + 50));
  return base << std::min<std::uint32_t>(n, 16);
}

void Link::handle_timeout(TimeMs now) {
  now_ = std::max(now_, now);
  if (dead()) return;
  if (auto l = liveness_deadline(); l && *l <= now_) {
    close(make_error_code(Errc::liveness_timeout));
    return;
  }
  if (auto m = mux_.next_timeout(now_); m && *m <= now_) mux_.handle_timeout(now_);
  if (rx_probe_armed_ && rx_probe_at_ <= now_) {
    kcp_.tell_window();  // sent by the flush below
    kcp_dirty_ = true;
    if (++rx_probes_sent_ >= cfg_.liveness.rx_probes) {
      rx_probe_armed_ = false;
    } else {
      rx_probe_at_ = now_ + rx_probe_gap(rx_probes_sent_);
    }
  }
  const Clock32 c = clock32(now_);
  if ((kcp_.nsnd_buf() > 0 || kcp_.nsnd_que() > 0 || kcp_.acks_pending()) &&
      time_diff(kcp_.check(c), c) <= 0) {
    // update() flushes on the interval tick; a retransmission, reordering or pacing deadline
    // between ticks needs flush(), or check() would keep saying "now" until the tick (a spin).
    kcp_.update(c);
    if (time_diff(kcp_.check(c), c) <= 0) kcp_.flush(c);
    collect_output();
  }
  flush(now_);
}

std::optional<Event> Link::poll_event() {
  while (auto e = mux_.poll_event()) {
    switch (e->kind) {
      case mux::EventKind::InputReady: continue;  // flush() offers the held-back bytes
      case mux::EventKind::SessionError:
        if (!dead()) close(e->error);
        continue;  // reported once, as SessionClosed, below
      case mux::EventKind::StreamOpened: return Event{EventKind::StreamOpened, e->id, e->error};
      case mux::EventKind::Readable: return Event{EventKind::Readable, e->id, e->error};
      case mux::EventKind::Writable: return Event{EventKind::Writable, e->id, e->error};
      case mux::EventKind::StreamClosed: return Event{EventKind::StreamClosed, e->id, e->error};
      case mux::EventKind::Idle: return Event{EventKind::Idle, e->id, e->error};
    }
  }
  if (dead() && !closed_reported_) {
    closed_reported_ = true;
    return Event{EventKind::SessionClosed, 0, dead_reason_};
  }
  return std::nullopt;
}

void Link::close(std::error_code reason) {
  if (dead()) return;
  dead_reason_ = reason ? reason : make_error_code(Errc::closed);
  awaiting_ = false;
  tx_.clear();
  kcp_.clear_output();
  if (!mux_.failed()) mux_.transport_closed();
}

}  // namespace paniq::tunnel
