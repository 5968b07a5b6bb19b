// Client: the current ClientSession, the opens waiting for it, and its replacement.
#include <algorithm>
#include <stdexcept>

#include "tunnel/client.hpp"

namespace paniq::tunnel {
namespace {

ClientEventKind client_kind(EventKind k) {
  switch (k) {
    case EventKind::Readable: return ClientEventKind::Readable;
    case EventKind::Writable: return ClientEventKind::Writable;
    default: return ClientEventKind::StreamClosed;
  }
}

}  // namespace

const char* to_string(ClientEventKind k) {
  switch (k) {
    case ClientEventKind::NeedSocket: return "NeedSocket";
    case ClientEventKind::SessionReady: return "SessionReady";
    case ClientEventKind::SessionClosed: return "SessionClosed";
    case ClientEventKind::StreamReady: return "StreamReady";
    case ClientEventKind::OpenFailed: return "OpenFailed";
    case ClientEventKind::Readable: return "Readable";
    case ClientEventKind::Writable: return "Writable";
    case ClientEventKind::StreamClosed: return "StreamClosed";
  }
  return "?";
}

Client::Client(const ClientConfig& cfg, obf::Framer framer, Rng& rng,
               envelope::Tai64nStamper* stamper)
    : cfg_(cfg), framer_(std::move(framer)), rng_(rng), stamper_(stamper ? stamper : &own_stamper_) {
  if (auto ok = cfg_.validate(); !ok) throw std::invalid_argument(ok.error().message);
}

OpenTicket Client::open_stream(TimeMs now, WallTime wall) {
  const OpenTicket ticket = next_ticket_++;
  waiting_.push_back(ticket);
  if (!current_ || current_->state() == ClientState::Closed) {
    start_session(now, wall);
  } else if (current_->state() == ClientState::Established) {
    complete_opens(now);
  }
  drain_session_events(now);
  return ticket;
}

void Client::cancel_open(OpenTicket ticket) {
  std::erase(waiting_, ticket);
  // Already answered but not yet polled: release the stream, drop the event.
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (it->ticket != ticket) continue;
    if (it->kind == ClientEventKind::StreamReady) {
      if (mux::Session* m = mux(it->session)) m->close(it->stream, 0);
    }
    events_.erase(it);
    return;
  }
}

namespace {

static_assert(sizeof(ClientSessionStats) == 9 * sizeof(std::uint64_t),
              "ClientSessionStats changed: sum the new counter in operator+=");
ClientSessionStats& operator+=(ClientSessionStats& a, const ClientSessionStats& b) {
  a.preamble_datagrams += b.preamble_datagrams;
  a.initiations_sent += b.initiations_sent;
  a.datagrams_in += b.datagrams_in;
  a.bytes_in += b.bytes_in;
  a.ignored_unclassified += b.ignored_unclassified;
  a.ignored_unexpected += b.ignored_unexpected;
  a.ignored_short_response += b.ignored_short_response;
  a.ignored_plain_response += b.ignored_plain_response;
  a.ignored_bad_secure_response += b.ignored_bad_secure_response;
  return a;
}

}  // namespace

LinkStats Client::link_totals() const {
  LinkStats t = retired_links_;
  if (current_ && current_->link() != nullptr) t += current_->link()->stats();
  return t;
}

ClientSessionStats Client::session_totals() const {
  ClientSessionStats t = retired_sessions_;
  if (current_) t += current_->stats();
  return t;
}

void Client::start_session(TimeMs now, WallTime wall) {
  if (current_) {
    if (current_->link() != nullptr) retired_links_ += current_->link()->stats();
    retired_sessions_ += current_->stats();
  }
  current_id_ = next_session_++;
  current_ = std::make_unique<ClientSession>(cfg_, framer_, rng_, stamper_);
  ++stats_.sessions_started;
  push({ClientEventKind::NeedSocket, current_id_, 0, 0, {}});
  // A failure (Initiation not buildable) closes the session: its SessionClosed event fails
  // the waiting opens in drain_session_events.
  (void)current_->start(now, wall);
}

void Client::complete_opens(TimeMs now) {
  mux::Session* m = current_ ? current_->mux() : nullptr;
  for (OpenTicket t : waiting_) {
    if (m == nullptr) {
      push({ClientEventKind::OpenFailed, current_id_, t, 0, make_error_code(Errc::open_failed)});
      ++stats_.opens_failed;
      continue;
    }
    auto id = m->open_stream(now);
    if (id) {
      push({ClientEventKind::StreamReady, current_id_, t, *id, {}});
      ++stats_.opens_ok;
    } else {
      push({ClientEventKind::OpenFailed, current_id_, t, 0, id.error().code});
      ++stats_.opens_failed;
    }
  }
  waiting_.clear();
}

void Client::fail_opens(std::error_code reason) {
  for (OpenTicket t : waiting_) {
    push({ClientEventKind::OpenFailed, current_id_, t, 0, reason});
    ++stats_.opens_failed;
  }
  waiting_.clear();
}

void Client::drain_session_events(TimeMs now) {
  now_ = std::max(now_, now);
  if (!current_) return;
  while (auto e = current_->poll_event()) {
    switch (e->kind) {
      case EventKind::Established:
        ++stats_.sessions_established;
        push({ClientEventKind::SessionReady, current_id_, 0, 0, {}});
        complete_opens(now);
        break;
      case EventKind::SessionClosed:
        if (current_->link() != nullptr) {
          ++stats_.sessions_died;
        } else {
          ++stats_.sessions_failed;
        }
        push({ClientEventKind::SessionClosed, current_id_, 0, 0, e->error});
        fail_opens(e->error);
        break;
      case EventKind::StreamOpened:
        // The client never accepts server-opened streams (PROTOCOL.md 7.3): refuse it.
        if (mux::Session* m = current_->mux()) m->close(e->stream, now);
        break;
      case EventKind::Idle:
        break;
      default:
        push({client_kind(e->kind), current_id_, 0, e->stream, e->error});
        break;
    }
  }
}

void Client::handle_datagram(SessionId session, ByteView datagram, TimeMs now) {
  if (!current_ || session != current_id_) {
    ++stats_.datagrams_stale;
    return;
  }
  current_->handle_datagram(datagram, now);
  drain_session_events(now);
}

void Client::flush(TimeMs now) {
  if (!current_) return;
  current_->flush(now);
  drain_session_events(now);
}

std::span<const ClientTransmit> Client::transmit() {
  tx_.clear();
  if (current_) {
    for (const ByteView d : current_->transmit()) tx_.push_back({current_id_, d});
  }
  return tx_;
}

void Client::consume_transmit(std::size_t n) {
  if (current_) current_->consume_transmit(n);
  tx_.clear();
}

std::optional<TimeMs> Client::next_timeout() const {
  if (!current_) return std::nullopt;
  return current_->next_timeout();
}

void Client::handle_timeout(TimeMs now) {
  if (!current_) return;
  current_->handle_timeout(now);
  drain_session_events(now);
}

std::optional<ClientEvent> Client::poll_event() {
  if (events_.empty() && current_) drain_session_events(now_);
  return events_.pop();
}

mux::Session* Client::mux(SessionId session) {
  if (!current_ || session != current_id_ || current_->state() != ClientState::Established) {
    return nullptr;
  }
  return current_->mux();
}

void Client::close(TimeMs now) {
  if (!current_) return;
  current_->close(make_error_code(Errc::closed));
  drain_session_events(now);
}

}  // namespace paniq::tunnel
