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
    case ClientEventKind::Rebind: return "Rebind";
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
  health_.resize(std::max<std::size_t>(1, cfg_.servers.size()));
}

// The config each session runs with: with several servers a handshake gives up on one server
// after two short attempts, so the next can be tried while the requests still wait.
ClientConfig Client::session_config() const {
  ClientConfig c = cfg_;
  if (cfg_.servers.size() > 1) {
    c.handshake_timeout_ms = std::min(c.handshake_timeout_ms, cfg_.failover_handshake_ms);
    c.handshake_attempts = std::min<std::uint32_t>(c.handshake_attempts, 2);
  }
  return c;
}

// Failover: the first server in profile order that is not backing off; when all are, the one
// whose backoff ends first.
std::uint32_t Client::pick_server(TimeMs now) const {
  std::uint32_t best = 0;
  for (std::uint32_t i = 0; i < health_.size(); ++i) {
    if (health_[i].down_until <= now) return i;
    if (health_[i].down_until < health_[best].down_until) best = i;
  }
  return best;
}

std::uint16_t Client::pick_port(std::uint32_t server, std::uint16_t avoid) {
  if (cfg_.servers.empty()) return 0;
  const ClientConfig::Server& s = cfg_.servers[server];
  const std::uint32_t n = std::uint32_t{s.last_port} - s.first_port + 1;
  if (n <= 1) return s.first_port;
  if (avoid < s.first_port || avoid > s.last_port) {
    return static_cast<std::uint16_t>(s.first_port + rng_.uniform(0, n - 1));
  }
  // Uniform over the range without `avoid`.
  const std::uint32_t k = static_cast<std::uint32_t>(rng_.uniform(0, n - 2));
  const std::uint32_t p = s.first_port + k;
  return static_cast<std::uint16_t>(p >= avoid ? p + 1 : p);
}

// A server that failed a handshake or lost a session backs off 5 s, doubling per further
// failure, at most 5 min; one established session clears it.
void Client::mark_down(std::uint32_t server, std::error_code why, TimeMs now) {
  if (server >= health_.size()) return;
  ServerHealth& h = health_[server];
  ++h.failures;
  const TimeMs backoff = std::min<TimeMs>(300'000, TimeMs{5000} << std::min<std::uint32_t>(h.failures - 1, 6));
  h.down_until = now + backoff;
  h.last_failure = why;
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
  const std::uint32_t server = pick_server(now);
  if (stats_.sessions_started > 0 && server != current_server_) ++stats_.server_changes;
  current_server_ = server;
  current_port_ = pick_port(server, 0);
  ++health_[server].sessions;
  hop_at_.reset();
  last_wall_ = wall;
  current_id_ = next_session_++;
  current_ = std::make_unique<ClientSession>(session_config(), framer_, rng_, stamper_);
  ++stats_.sessions_started;
  ClientEvent need{ClientEventKind::NeedSocket, current_id_, 0, 0, {}};
  need.server = current_server_;
  need.port = current_port_;
  push(need);
  // A failure (Initiation not buildable) closes the session: its SessionClosed event fails
  // the waiting opens in drain_session_events.
  (void)current_->start(now, wall);
}

void Client::schedule_hop(TimeMs now) {
  hop_at_.reset();
  if (cfg_.servers.empty()) return;
  const ClientConfig::Server& s = cfg_.servers[current_server_];
  if (s.last_port <= s.first_port) return;
  const std::uint32_t lo = std::min(cfg_.hop_min_ms, cfg_.hop_max_ms);
  const std::uint32_t hi = std::max(cfg_.hop_min_ms, cfg_.hop_max_ms);
  hop_at_ = now + (hi > lo ? rng_.uniform(lo, hi) : lo);
}

// Port hopping of the current session: on its schedule, or at once when the port looks
// blocked (an encrypted session waiting for an answer for half the liveness bound).
void Client::maybe_hop(TimeMs now) {
  if (!hop_at_ || !current_ || current_->state() != ClientState::Established) return;
  const Link* link = current_->link();
  bool due = now >= *hop_at_;
  if (!due && link->encrypted()) {
    const auto since = link->awaiting_since();
    const auto deadline = link->liveness_deadline();
    if (since && deadline && now - *since >= (*deadline - *since) / 2 &&
        now - last_hop_ >= (*deadline - *since) / 2) {
      due = true;
    }
  }
  if (!due) return;
  if (link->encrypted()) {
    // The session goes on from a new socket to another port; the server follows the first
    // authenticated datagram from the new address (docs/protocol.md 7.4).
    current_port_ = pick_port(current_server_, current_port_);
    ClientEvent e{ClientEventKind::Rebind, current_id_, 0, 0, {}};
    e.server = current_server_;
    e.port = current_port_;
    push(e);
    ++stats_.hops;
    last_hop_ = now;
    schedule_hop(now);
    return;
  }
  // Plain mode: the server cannot follow a session, so it is replaced, but only between
  // requests: with streams open, look again in a second.
  if (current_->mux() != nullptr && current_->mux()->stream_count() > 0) {
    hop_at_ = now + 1000;
    return;
  }
  ++stats_.hops;
  last_hop_ = now;
  hop_at_.reset();
  current_->close(make_error_code(Errc::hop));
}

void Client::complete_opens(TimeMs now) {
  tried_ = 0;
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
        health_[current_server_].failures = 0;
        health_[current_server_].down_until = 0;
        push({ClientEventKind::SessionReady, current_id_, 0, 0, {}});
        complete_opens(now);
        schedule_hop(now);
        break;
      case EventKind::SessionClosed: {
        const bool established = current_->link() != nullptr;
        if (established) {
          ++stats_.sessions_died;
        } else {
          ++stats_.sessions_failed;
        }
        const std::error_code why = e->error;
        if (why == Errc::handshake_timeout || why == Errc::liveness_timeout ||
            why == Errc::kcp_dead_link || why == Errc::port_unreachable) {
          mark_down(current_server_, why, now);
        }
        push({ClientEventKind::SessionClosed, current_id_, 0, 0, why});
        hop_at_.reset();
        // Failover: requests waiting for a handshake that failed try the next server at once
        // (each server once per batch of waiting requests).
        if (!established && !waiting_.empty() && why == Errc::handshake_timeout &&
            tried_ + 1 < health_.size()) {
          ++tried_;
          start_session(now, last_wall_);
          break;
        }
        fail_opens(why);
        tried_ = 0;
        break;
      }
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
  auto t = current_->next_timeout();
  if (hop_at_ && (!t || *hop_at_ < *t)) t = hop_at_;
  return t;
}

void Client::handle_timeout(TimeMs now) {
  if (!current_) return;
  now_ = std::max(now_, now);
  current_->handle_timeout(now);
  maybe_hop(now);
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

void Client::fail_current(std::error_code why, TimeMs now) {
  if (!current_) return;
  current_->close(why);
  drain_session_events(now);
}

}  // namespace paniq::tunnel
