// Session: frames from the peer, the receive budget and input stalls (PROTOCOL.md 7.3, 7.4;
// docs/architecture.md "Multiplexer" for where we differ from async_smux).
#include <algorithm>
#include <limits>

#include "mux/session.hpp"

namespace paniq::mux {

void Session::RecentFins::remember(StreamId id) {
  if (contains(id)) return;
  ids_[next_] = id;
  next_ = (next_ + 1) % ids_.size();
  count_ = std::min(count_ + 1, ids_.size());
}

void Session::RecentFins::forget(StreamId id) {
  for (std::size_t i = 0; i < count_; ++i) {
    if (ids_[i] == id) ids_[i] = kEmpty;
  }
}

bool Session::RecentFins::contains(StreamId id) const {
  return std::find(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(count_),
                   std::uint64_t{id}) != ids_.begin() + static_cast<std::ptrdiff_t>(count_);
}

std::size_t Session::input(ByteView in, TimeMs now) {
  touch(now);
  if (failed() || blocked_) return 0;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const ByteView rest = in.subspan(pos);
    if (decoder_.in_payload()) {
      if (rx_at_ && rx_at_have_ < kOffsetSize) {  // a PshAt frame's offset field
        const auto step = decoder_.next(rest, kOffsetSize - rx_at_have_);
        std::copy(step.payload.begin(), step.payload.end(), rx_at_buf_.begin() + rx_at_have_);
        rx_at_have_ += static_cast<std::uint32_t>(step.consumed);
        pos += step.consumed;
        if (rx_at_have_ == kOffsetSize && !begin_at_data()) break;
        continue;
      }
      if (rx_skip_ > 0) {  // bytes input_early() delivered already
        const auto step = decoder_.next(rest, rx_skip_);
        rx_skip_ -= static_cast<std::uint32_t>(step.consumed);
        stats_.duplicate_bytes += step.consumed;
        pos += step.consumed;
        continue;
      }
      Stream* target = nullptr;
      StallReason why = StallReason::Stream;
      const std::size_t room = payload_room(target, why);
      if (room == 0) {
        stall(why, rx_sid_, now_);
        break;
      }
      const auto step = decoder_.next(rest, room);
      pos += step.consumed;
      if (target != nullptr) {
        target->rx.append(step.payload);
        target->rx_offset += static_cast<std::uint32_t>(step.payload.size());
        recv_total_ += step.payload.size();
        stats_.payload_in += step.payload.size();
        wake_reader(*target, rx_sid_);
      } else {
        stats_.dropped_bytes += step.payload.size();
      }
      continue;
    }
    const auto step = decoder_.next(rest);
    pos += step.consumed;
    if (step.status == FrameDecoder::Status::Error) {
      fail(step.error);
      break;
    }
    if (step.status == FrameDecoder::Status::Header) on_header(step.header, now_);
  }
  return pos;
}

std::size_t Session::payload_room(Stream*& target, StallReason& why) {
  constexpr std::size_t kDrop = std::numeric_limits<std::size_t>::max();
  if (!rx_deliver_) return kDrop;
  Stream* s = find(rx_sid_);
  if (s == nullptr || !s->rx_open) return kDrop;  // closed or reset meanwhile: discard the rest
  target = s;
  if (s->rx.size() >= cfg_.stream_recv_buffer) {
    why = StallReason::Stream;
    return 0;
  }
  if (recv_total_ >= cfg_.session_recv_budget) {
    why = StallReason::Budget;
    return 0;
  }
  return std::min(cfg_.stream_recv_buffer - s->rx.size(), cfg_.session_recv_budget - recv_total_);
}

void Session::stall(StallReason why, StreamId id, TimeMs now) {
  blocked_ = true;
  stall_reason_ = why;
  stall_sid_ = id;
  stall_since_ = now;
  ++stats_.input_stalls;
}

// Input resumes once the buffer that filled up has drained by a quarter of its limit (or its
// stream stopped accepting data): a trickling reader cannot keep restarting the stall clock.
void Session::maybe_resume() {
  if (!blocked_) return;
  bool ok = false;
  if (stall_reason_ == StallReason::Stream) {
    const Stream* s = find(stall_sid_);
    ok = s == nullptr || !s->rx_open ||
         s->rx.size() <= cfg_.stream_recv_buffer - cfg_.stream_recv_buffer / 4;
  } else {
    ok = recv_total_ <= cfg_.session_recv_budget - cfg_.session_recv_budget / 4;
  }
  if (!ok) return;
  blocked_ = false;
  emit(EventKind::InputReady, 0);
}

// The stall lasted recv_stall_timeout_ms: reset the stream that filled up, or (session budget)
// the streams holding the most unread bytes until three quarters of the budget is free again.
void Session::on_stall_timeout() {
  if (stall_reason_ == StallReason::Stream) {
    if (Stream* s = find(stall_sid_)) reset(*s, stall_sid_, Errc::recv_overflow);
  } else {
    const std::size_t low = cfg_.session_recv_budget - cfg_.session_recv_budget / 4;
    while (recv_total_ > low) {
      auto victim = std::max_element(streams_.begin(), streams_.end(), [](auto& a, auto& b) {
        return a.second.rx.size() < b.second.rx.size();
      });
      if (victim == streams_.end() || victim->second.rx.empty()) break;
      reset(victim->second, victim->first, Errc::recv_overflow);
    }
  }
  blocked_ = false;
  emit(EventKind::InputReady, 0);
}

void Session::on_header(const FrameHeader& h, TimeMs now) {
  ++stats_.frames_in;
  rx_sid_ = h.stream_id;
  rx_deliver_ = false;
  rx_at_ = false;
  rx_skip_ = 0;
  switch (h.cmd) {
    case Cmd::Syn: on_syn(h.stream_id); break;
    case Cmd::Fin: on_fin(h.stream_id); break;
    case Cmd::Psh: on_psh(h.stream_id); break;
    case Cmd::PshAt:  // (the decoder accepts it only with stream offsets)
      if (h.length < kOffsetSize) {
        fail(Errc::bad_offset);
        return;
      }
      rx_at_ = true;
      rx_at_have_ = 0;
      on_psh(h.stream_id);
      break;
    case Cmd::Nop: return;  // ignored; its payload (if any) is skipped
  }
  last_activity_ = now;
  idle_reported_ = false;
}

// async_smux kills the whole session on a duplicate or wrong-parity SYN; we refuse only that
// SYN (FIN) and, for a live id, reset that one stream: its later data cannot be attributed.
void Session::on_syn(StreamId id) {
  if (Stream* s = find(id)) {
    reset(*s, id, Errc::duplicate_syn, /*send=*/false);
    if (refuse(id)) s->fin_sent = true;  // that FIN also ends the stream we reset
    return;
  }
  const bool odd = (id & 1) != 0;
  const bool peer_parity = cfg_.role == Role::Server ? odd : (!odd && id != 0);
  if (!peer_parity || streams_.size() >= cfg_.max_streams) {
    if (peer_parity) ++stats_.syn_over_limit;
    refuse(id);
    return;
  }
  add_stream(id);
  emit(EventKind::StreamOpened, id);
}

// Answers are queued only while the outbound buffer is under its limit, so a peer cannot grow
// it by sending SYNs. Returns whether the FIN was queued.
bool Session::refuse(StreamId id) {
  ++stats_.syn_refused;
  if (out_size() >= cfg_.outbound_limit) {
    ++stats_.answers_dropped;
    return false;
  }
  push_frame(Cmd::Fin, id, {}, true);
  recent_fins_.remember(id);  // the data that follows the SYN is dropped without more FINs
  return true;
}

void Session::on_fin(StreamId id) {
  Stream* s = find(id);
  if (s == nullptr) return;  // FIN for an unknown id is ignored (PROTOCOL.md 7.4)
  if (s->fin_received) {
    // A second FIN: in half-close mode the peer will not take data either (a Rust peer
    // answering our PSH after its FIN). Without half-close our direction is already closed.
    if (s->tx_open) close_tx(*s, id);
    return;
  }
  s->fin_received = true;
  s->rx_open = false;
  wake_reader(*s, id);
  if (!cfg_.half_close) {  // async_smux: FIN is a full close
    s->tx_open = false;
    wake_writer(*s, id);
  }
  report_if_closed(*s, id);
}

// PSH for a live stream that still reads: delivered. For a stream whose read side ended (peer
// FIN, our shutdown in async_smux mode, reset): dropped silently. For an unknown id: dropped,
// answered with FIN once (PROTOCOL.md 7.4).
void Session::on_psh(StreamId id) {
  if (Stream* s = find(id)) {
    rx_deliver_ = s->rx_open;
    return;
  }
  if (recent_fins_.contains(id)) return;
  if (out_size() >= cfg_.outbound_limit) {
    ++stats_.answers_dropped;
    return;
  }
  push_frame(Cmd::Fin, id, {}, true);
  recent_fins_.remember(id);
  ++stats_.fin_answers;
}

}  // namespace paniq::mux

namespace paniq::mux {

// The offset of the PshAt frame being decoded is complete: skip what input_early() delivered
// of it. An offset ahead of the stream's data means the peer skipped bytes: the stream's data
// can no longer be trusted, and the session fails (false).
bool Session::begin_at_data() {
  if (!rx_deliver_) return true;  // the payload is dropped anyway
  const Stream* s = find(rx_sid_);
  if (s == nullptr) return true;
  const std::uint32_t off = get_u32_le(rx_at_buf_.data());
  if (static_cast<std::int32_t>(off - s->rx_offset) > 0) {
    fail(Errc::bad_offset);
    return false;
  }
  const std::uint32_t behind = s->rx_offset - off;
  rx_skip_ = static_cast<std::uint32_t>(std::min<std::size_t>(behind, decoder_.payload_remaining()));
  return true;
}

void Session::input_early(ByteView segment, TimeMs now) {
  if (!cfg_.stream_offsets || failed()) return;
  touch(now);
  std::size_t pos = 0;
  while (segment.size() - pos >= kHeaderSize) {
    const auto h = decode_header(segment.subspan(pos), true);
    if (!h) return;
    pos += kHeaderSize;
    if (h->length > segment.size() - pos) return;  // not a whole frame: not ours to read
    const ByteView payload = segment.subspan(pos, h->length);
    pos += h->length;
    if (h->cmd != Cmd::PshAt || payload.size() <= kOffsetSize) continue;
    Stream* s = find(h->stream_id);
    if (s == nullptr || !s->rx_open) continue;
    if (get_u32_le(payload.data()) != s->rx_offset) continue;  // not the stream's next bytes
    const ByteView data = payload.subspan(kOffsetSize);
    if (s->rx.size() + data.size() > cfg_.stream_recv_buffer ||
        recv_total_ + data.size() > cfg_.session_recv_budget) {
      continue;
    }
    s->rx.append(data);
    s->rx_offset += static_cast<std::uint32_t>(data.size());
    recv_total_ += data.size();
    stats_.payload_in += data.size();
    ++stats_.early_frames;
    stats_.early_bytes += data.size();
    last_activity_ = now_;
    idle_reported_ = false;
    wake_reader(*s, h->stream_id);
  }
}

}  // namespace paniq::mux
