// Session: application commands, output, events and timers. Peer input: session_input.cpp.
#include "mux/session.hpp"

#include "core/containers.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::mux {

const char* to_string(EventKind k) {
  switch (k) {
    case EventKind::StreamOpened: return "StreamOpened";
    case EventKind::Readable: return "Readable";
    case EventKind::Writable: return "Writable";
    case EventKind::StreamClosed: return "StreamClosed";
    case EventKind::InputReady: return "InputReady";
    case EventKind::Idle: return "Idle";
    case EventKind::SessionError: return "SessionError";
  }
  return "?";
}

namespace {

TimeMs elapsed(TimeMs now, TimeMs since) { return now > since ? now - since : 0; }

const Config& checked(const Config& c) {
  if (auto r = c.validate(); !r) throw std::invalid_argument(r.error().message);
  return c;
}

}  // namespace

Session::Session(const Config& config, TimeMs now)
    : cfg_(checked(config)),
      decoder_(kMaxPayload, cfg_.stream_offsets),
      out_(cfg_.outbound_limit + 4096),
      prio_(cfg_.outbound_limit + 4096),
      next_id_(cfg_.role == Role::Client ? 3 : 2),
      now_(now),
      last_tx_(now),
      last_activity_(now) {}

Session::Stream* Session::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const Session::Stream* Session::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

Session::Stream& Session::add_stream(StreamId id) {
  recent_fins_.forget(id);
  return streams_.emplace(std::piecewise_construct, std::forward_as_tuple(id),
                          std::forward_as_tuple(pool_))
      .first->second;
}

void Session::emit(EventKind kind, StreamId id, std::error_code error) {
  events_.push(Event{kind, id, error});
}

void Session::push_frame(Cmd cmd, StreamId id, ByteView payload, bool priority,
                         const std::uint32_t* offset, std::uint32_t limit) {
  OutQueue& q = priority && cfg_.priority_bytes != 0 ? prio_ : out_;
  const std::size_t extra = offset != nullptr ? kOffsetSize : 0;
  std::uint8_t* p = q.bytes.extend(kHeaderSize + extra + payload.size());
  encode_header(p, {cmd, static_cast<std::uint16_t>(extra + payload.size()), id});
  if (offset != nullptr) put_u32_le(p + kHeaderSize, *offset);
  if (!payload.empty()) std::copy(payload.begin(), payload.end(), p + kHeaderSize + extra);
  const bool data = cmd == Cmd::Psh || cmd == Cmd::PshAt;
  q.marks.push(FrameMark{data ? id : 0,
                         static_cast<std::uint32_t>(kHeaderSize + extra + payload.size()),
                         limit != 0 ? limit
                                    : static_cast<std::uint32_t>(kHeaderSize + cfg_.max_frame_size)});
  ++stats_.frames_out;
  last_tx_ = now_;
  if (cmd != Cmd::Nop) {
    last_activity_ = now_;
    idle_reported_ = false;
  }
}

void Session::touch(TimeMs now) { now_ = std::max(now_, now); }

std::uint32_t Session::next_stretch() {
  if (cfg_.frame_stretch_max == 0 || !stretch_) return 0;
  return std::min(stretch_(), cfg_.frame_stretch_max);
}

bool Session::fin_needed(const Stream& s) const {
  // async_smux does not echo FIN: after the peer's FIN our direction is closed as well.
  return !s.fin_sent && (cfg_.half_close || !s.fin_received);
}

void Session::send_fin(Stream& s, StreamId id) {
  push_frame(Cmd::Fin, id, {}, young(s));
  s.fin_sent = true;
}

void Session::wake_reader(Stream& s, StreamId id) {
  if (!s.want_readable) return;
  s.want_readable = false;
  emit(EventKind::Readable, id);
}

void Session::wake_writer(Stream& s, StreamId id) {
  if (!s.want_writable) return;
  s.want_writable = false;
  emit(EventKind::Writable, id);
}

void Session::close_tx(Stream& s, StreamId id) {
  s.tx_open = false;
  wake_writer(s, id);
  report_if_closed(s, id);
}

void Session::report_if_closed(Stream& s, StreamId id) {
  if (s.closed_reported || s.rx_open || s.tx_open) return;
  s.closed_reported = true;
  emit(EventKind::StreamClosed, id,
       s.error == Errc{} ? std::error_code{} : make_error_code(s.error));
}

void Session::reset(Stream& s, StreamId id, Errc reason, bool send) {
  if (s.error != Errc{}) return;
  s.error = reason;
  ++stats_.streams_reset;
  recv_total_ -= s.rx.size();
  s.rx.clear();
  s.rx_open = false;
  if (send && fin_needed(s)) send_fin(s, id);
  s.tx_open = false;
  wake_reader(s, id);
  wake_writer(s, id);
  report_if_closed(s, id);
}

void Session::fail(Errc reason) {
  if (failed()) return;
  failure_ = reason;
  blocked_ = false;
  for (auto& [id, s] : streams_) {
    s.rx_open = false;
    s.tx_open = false;
    wake_reader(s, id);
    wake_writer(s, id);
  }
  emit(EventKind::SessionError, 0, make_error_code(reason));
}

void Session::transport_closed() { fail(Errc::transport_closed); }

Result<StreamId> Session::open_stream(TimeMs now) {
  touch(now);
  if (failed()) return make_error(Errc::session_failed, "");
  if (streams_.size() >= cfg_.max_streams) return make_error(Errc::too_many_streams, "");
  if (next_id_ > 0xffffffffu) return make_error(Errc::ids_exhausted, "");
  const auto id = static_cast<StreamId>(next_id_);
  next_id_ += 2;
  add_stream(id);
  push_frame(Cmd::Syn, id, {}, true);
  return id;
}

std::size_t Session::write_room() const {
  const std::size_t used = out_size();
  if (used + kHeaderSize >= cfg_.outbound_limit) return 0;
  return cfg_.outbound_limit - used - kHeaderSize;
}

Result<std::size_t> Session::write(StreamId id, ByteView data, TimeMs now) {
  touch(now);
  if (failed()) return make_error(Errc::session_failed, "");
  Stream* s = find(id);
  if (s == nullptr) return make_error(Errc::unknown_stream, "");
  if (s->error != Errc{}) return make_error(s->error, "");
  if (!s->tx_open) return make_error(Errc::stream_closed, "");
  std::size_t done = 0;
  while (done < data.size()) {
    std::size_t room = write_room();
    if (cfg_.stream_outbound_limit != 0) {
      const std::size_t cap = cfg_.stream_outbound_limit;
      room = s->queued + kHeaderSize >= cap ? 0 : std::min(room, cap - s->queued - kHeaderSize);
    }
    if (room == 0) break;
    if (cfg_.stream_offsets) {
      // Frames must each fit one KCP segment, so a write's last frame is usually short: the
      // next write tops it up while it waits, or every write would leave a part-filled segment.
      const bool prio = young(*s);
      std::size_t m = std::min(data.size() - done, room);
      if (prio) m = std::min<std::size_t>(m, cfg_.priority_bytes - s->sent);
      const std::size_t added = top_up(prio ? prio_ : out_, id, data.subspan(done, m));
      if (added > 0) {
        if (prio) s->sent += static_cast<std::uint32_t>(added);
        s->tx_offset += static_cast<std::uint32_t>(added);
        s->queued += static_cast<std::uint32_t>(added);
        stats_.payload_out += added;
        done += added;
        continue;
      }
    }
    // With stream offsets each data frame also carries its 4-byte offset.
    const std::size_t extra = cfg_.stream_offsets ? kOffsetSize : 0;
    if (room <= extra) break;
    const std::uint32_t frame_max = cfg_.max_frame_size + (cfg_.stream_offsets ? next_stretch() : 0);
    std::size_t n = std::min({data.size() - done, std::size_t{frame_max} - extra, room - extra});
    const bool prio = young(*s);
    if (prio) {
      n = std::min<std::size_t>(n, cfg_.priority_bytes - s->sent);  // the rest goes in order
      s->sent += static_cast<std::uint32_t>(n);
    }
    if (cfg_.stream_offsets) {
      push_frame(Cmd::PshAt, id, data.subspan(done, n), prio, &s->tx_offset,
                 static_cast<std::uint32_t>(kHeaderSize + frame_max));
      s->tx_offset += static_cast<std::uint32_t>(n);
    } else {
      push_frame(Cmd::Psh, id, data.subspan(done, n), prio);
    }
    s->queued += static_cast<std::uint32_t>(kHeaderSize + extra + n);
    stats_.payload_out += n;
    done += n;
  }
  if (done < data.size() && !s->want_writable) {
    s->want_writable = true;
    writers_.push(id);
  }
  return done;
}

Result<std::size_t> Session::read(StreamId id, MutByteView out) {
  Stream* s = find(id);
  if (s == nullptr) return make_error(Errc::unknown_stream, "");
  if (!s->rx.empty()) {
    const std::size_t n = s->rx.read(out);
    recv_total_ -= n;
    if (blocked_) maybe_resume();
    return n;
  }
  if (s->error != Errc{}) return make_error(s->error, "");
  if (s->fin_received) return std::size_t{0};
  if (failed()) return make_error(Errc::session_failed, "");
  if (!s->rx_open) return std::size_t{0};
  s->want_readable = true;
  return make_error(Errc::would_block, "");
}

Result<void> Session::shutdown_write(StreamId id, TimeMs now) {
  touch(now);
  if (failed()) return make_error(Errc::session_failed, "");
  Stream* s = find(id);
  if (s == nullptr) return make_error(Errc::unknown_stream, "");
  if (s->tx_open) {
    if (fin_needed(*s)) send_fin(*s, id);
    s->tx_open = false;
    wake_writer(*s, id);
  }
  if (!cfg_.half_close && s->rx_open) {
    s->rx_open = false;  // async_smux: our FIN closes both directions
    wake_reader(*s, id);
    if (blocked_) maybe_resume();
  }
  report_if_closed(*s, id);
  return {};
}

void Session::close(StreamId id, TimeMs now) {
  touch(now);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (!failed() && fin_needed(s)) send_fin(s, id);
  if (s.fin_sent) recent_fins_.remember(id);
  recv_total_ -= s.rx.size();
  streams_.erase(it);
  shrink_if_sparse(streams_);
  if (blocked_) maybe_resume();
}

// Which queue pending_output() serves: one that started a frame finishes it; otherwise the
// priority queue while it holds anything.
bool Session::serve_priority() const {
  if (prio_.mid) return true;
  if (out_.mid) return false;
  return prio_.bytes.size() > 0;
}

ByteView Session::pending_output() const {
  if (serve_priority()) return prio_.bytes.view();
  const ByteView v = out_.bytes.view();
  // Priority frames wait for the end of the frame in progress, not for the whole queue.
  if (prio_.bytes.size() > 0 && !out_.marks.empty()) return v.first(out_.marks.front().bytes);
  return v;
}

// Appends to the last frame of `q` when it is a data frame of `id` that nothing of has been
// taken yet and that is under its limit (max_frame_size, plus its stretch under segment fill);
// returns how many bytes it took (0: none).
std::size_t Session::top_up(OutQueue& q, StreamId id, ByteView data) {
  if (&q == &prio_ && cfg_.priority_bytes == 0) return 0;  // push_frame used out_
  if (q.marks.empty() || data.empty()) return 0;
  FrameMark& last = q.marks.back();
  if (last.id != id || (q.mid && q.marks.size() == 1)) return 0;
  const std::size_t limit = last.limit;
  if (last.bytes >= limit) return 0;
  const std::size_t add = std::min(data.size(), limit - last.bytes);
  std::uint8_t* p = q.bytes.extend(add);
  std::copy_n(data.begin(), add, p);
  std::uint8_t* header = p - last.bytes;
  put_u16_le(header + 2, static_cast<std::uint16_t>(get_u16_le(header + 2) + add));
  last.bytes += static_cast<std::uint32_t>(add);
  return add;
}

ByteView Session::pending_frame() const {
  const OutQueue& q = serve_priority() ? prio_ : out_;
  if (q.marks.empty()) return {};
  return q.bytes.view().first(std::min<std::size_t>(q.marks.front().bytes, q.bytes.size()));
}

void Session::consume_output(std::size_t n) {
  OutQueue& q = serve_priority() ? prio_ : out_;
  n = std::min(n, q.bytes.size());
  q.bytes.consume(n);
  while (n > 0 && !q.marks.empty()) {
    FrameMark& m = q.marks.front();
    const std::uint32_t take = static_cast<std::uint32_t>(std::min<std::size_t>(n, m.bytes));
    m.bytes -= take;
    n -= take;
    if (m.id != 0) {
      if (Stream* s = find(m.id)) s->queued -= take;
    }
    q.mid = m.bytes != 0;
    if (m.bytes == 0) (void)q.marks.pop();
  }
  if (writers_.empty() || out_size() > cfg_.outbound_limit / 2) return;
  // Wake the writers whose own frames are down to half their share; the others keep waiting.
  const std::uint32_t half = cfg_.stream_outbound_limit / 2;
  for (std::size_t i = writers_.size(); i > 0; --i) {
    const StreamId id = writers_.pop();
    Stream* s = find(id);
    if (s == nullptr) continue;
    if (cfg_.stream_outbound_limit == 0 || s->queued <= half || !s->want_writable) {
      wake_writer(*s, id);
    } else {
      writers_.push(id);
    }
  }
}

std::size_t Session::poll_output(MutByteView out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ByteView pending = pending_output();
    const std::size_t n = std::min(out.size() - done, pending.size());
    if (n == 0) break;
    std::copy_n(pending.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    consume_output(n);
    done += n;
  }
  return done;
}

std::optional<Event> Session::poll_event() {
  if (events_.empty()) return std::nullopt;
  return events_.pop();
}

std::size_t Session::readable_bytes(StreamId id) const {
  const Stream* s = find(id);
  return s == nullptr ? 0 : s->rx.size();
}

std::optional<TimeMs> Session::next_timeout(TimeMs now) const {
  if (failed()) return std::nullopt;
  std::optional<TimeMs> t;
  auto consider = [&](TimeMs deadline) { t = t ? std::min(*t, deadline) : deadline; };
  if (cfg_.keepalive_interval_ms != 0) consider(last_tx_ + cfg_.keepalive_interval_ms);
  if (cfg_.idle_timeout_ms != 0 && !idle_reported_) {
    consider(last_activity_ + cfg_.idle_timeout_ms);
  }
  if (blocked_) consider(stall_since_ + cfg_.recv_stall_timeout_ms);
  if (t && *t < now) t = now;
  return t;
}

void Session::handle_timeout(TimeMs now) {
  touch(now);
  if (failed()) return;
  if (blocked_ && elapsed(now_, stall_since_) >= cfg_.recv_stall_timeout_ms) on_stall_timeout();
  if (cfg_.keepalive_interval_ms != 0 && elapsed(now_, last_tx_) >= cfg_.keepalive_interval_ms) {
    if (out_size() == 0) {
      push_frame(Cmd::Nop, 0);
    } else {
      last_tx_ = now_;  // frames are still waiting to be sent: they are the keepalive
    }
  }
  if (cfg_.idle_timeout_ms != 0 && !idle_reported_ &&
      elapsed(now_, last_activity_) >= cfg_.idle_timeout_ms) {
    idle_reported_ = true;
    emit(EventKind::Idle, 0);
  }
}

}  // namespace paniq::mux
