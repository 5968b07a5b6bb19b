// Client: the current ClientSession (or, spreading, one per server), the opens waiting for
// it, and its replacement.
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
  // Spreading needs several servers; with one it is failover with one server.
  if (cfg_.servers.size() < 2) cfg_.spread = false;
  slots_.resize(cfg_.spread ? cfg_.servers.size() : 1);
  for (std::uint32_t i = 0; i < slots_.size(); ++i) slots_[i].server = i;
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

std::size_t Client::load(const Slot& sl) const {
  if (!live(sl)) return 0;
  std::size_t n = sl.waiting.size();
  if (Link* l = sl.s->link()) n += l->mux().stream_count();
  return n;
}

// Spread: the healthy slot (its server not backing off, not `exclude`) with the fewest
// streams; ties go round robin from rr_. nullopt when no server is healthy.
std::optional<std::size_t> Client::pick_spread(TimeMs now, std::optional<std::size_t> exclude) {
  std::optional<std::size_t> best;
  std::size_t best_load = 0;
  const std::size_t n = slots_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (rr_ + k) % n;
    if (exclude && *exclude == i) continue;
    if (health_[slots_[i].server].down_until > now) continue;
    const std::size_t l = load(slots_[i]);
    if (!best || l < best_load) {
      best = i;
      best_load = l;
    }
  }
  if (best) rr_ = (*best + 1) % n;
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
  if (cfg_.spread) ++stats_.server_changes;
}

// Queues `ticket` on slot `i`: answered at once on an established session, after the
// handshake otherwise (starting one when the slot has no live session).
void Client::assign(std::size_t i, OpenTicket ticket, TimeMs now, WallTime wall) {
  Slot& sl = slots_[i];
  cur_ = i;
  sl.waiting.push_back(ticket);
  if (!live(sl)) {
    start_session(sl, now, wall);
  } else if (sl.s->state() == ClientState::Established) {
    complete_opens(sl, now);
  }
}

OpenTicket Client::open_stream(TimeMs now, WallTime wall) {
  const OpenTicket ticket = next_ticket_++;
  std::size_t i = 0;
  if (cfg_.spread) {
    // No healthy server: the one whose backoff ends first (as failover).
    if (auto p = pick_spread(now, std::nullopt)) {
      i = *p;
    } else {
      i = pick_server(now);
    }
  }
  assign(i, ticket, now, wall);
  drain_all(now);
  return ticket;
}

void Client::cancel_open(OpenTicket ticket) {
  for (Slot& sl : slots_) std::erase(sl.waiting, ticket);
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
  for (const Slot& sl : slots_) {
    if (sl.s && sl.s->link() != nullptr) t += sl.s->link()->stats();
  }
  return t;
}

ClientSessionStats Client::session_totals() const {
  ClientSessionStats t = retired_sessions_;
  for (const Slot& sl : slots_) {
    if (sl.s) t += sl.s->stats();
  }
  return t;
}

Client::Slot* Client::slot_of(SessionId id) {
  for (Slot& sl : slots_) {
    if (sl.s && sl.id == id) return &sl;
  }
  return nullptr;
}

const Client::Slot* Client::slot_of(SessionId id) const {
  for (const Slot& sl : slots_) {
    if (sl.s && sl.id == id) return &sl;
  }
  return nullptr;
}

std::vector<ClientSessionView> Client::sessions() const {
  std::vector<ClientSessionView> out;
  for (const Slot& sl : slots_) {
    if (live(sl)) out.push_back({sl.id, sl.server, sl.port, sl.s.get(), load(sl)});
  }
  return out;
}

std::optional<ClientSessionView> Client::find_session(SessionId id) const {
  const Slot* sl = slot_of(id);
  if (sl == nullptr || !live(*sl)) return std::nullopt;
  return ClientSessionView{sl->id, sl->server, sl->port, sl->s.get(), load(*sl)};
}

std::optional<SessionInfo> Client::session_info(SessionId id, TimeMs now) const {
  const Slot* sl = slot_of(id);
  if (sl == nullptr || sl->s->state() != ClientState::Established || sl->s->link() == nullptr) {
    return std::nullopt;
  }
  SessionInfo i = link_session_info(*sl->s->link());
  i.id = sl->id;
  i.created = sl->s->established_at();
  i.last_handshake = sl->s->established_at();
  i.uptime_ms = now > i.created ? now - i.created : 0;
  return i;
}

std::size_t Client::server_streams(std::uint32_t server) const {
  std::size_t n = 0;
  for (const Slot& sl : slots_) {
    if (sl.server == server) n += load(sl);
  }
  return n;
}

void Client::start_session(Slot& sl, TimeMs now, WallTime wall) {
  if (sl.s) {
    if (sl.s->link() != nullptr) retired_links_ += sl.s->link()->stats();
    retired_sessions_ += sl.s->stats();
  }
  // Failover: the slot moves to the server picked now; spread: each slot keeps its server.
  const std::uint32_t server = cfg_.spread ? sl.server : pick_server(now);
  if (!cfg_.spread && stats_.sessions_started > 0 && server != last_server_) ++stats_.server_changes;
  last_server_ = server;
  sl.server = server;
  sl.port = pick_port(server, 0);
  ++health_[server].sessions;
  sl.hop_at.reset();
  last_wall_ = wall;
  sl.id = next_session_++;
  sl.s = std::make_unique<ClientSession>(session_config(), framer_, rng_, stamper_);
  ++stats_.sessions_started;
  ClientEvent need{ClientEventKind::NeedSocket, sl.id, 0, 0, {}};
  need.server = sl.server;
  need.port = sl.port;
  push(need);
  // A failure (Initiation not buildable) closes the session: its SessionClosed event fails
  // the waiting opens in drain_session_events.
  (void)sl.s->start(now, wall);
}

void Client::schedule_hop(Slot& sl, TimeMs now) {
  sl.hop_at.reset();
  if (cfg_.servers.empty()) return;
  const ClientConfig::Server& s = cfg_.servers[sl.server];
  if (s.last_port <= s.first_port) return;
  const std::uint32_t lo = std::min(cfg_.hop_min_ms, cfg_.hop_max_ms);
  const std::uint32_t hi = std::max(cfg_.hop_min_ms, cfg_.hop_max_ms);
  sl.hop_at = now + (hi > lo ? rng_.uniform(lo, hi) : lo);
}

// Port hopping of a session, within its own server's range: on its schedule, or at once when
// the port looks blocked (an encrypted session waiting for an answer for half the liveness
// bound).
void Client::maybe_hop(Slot& sl, TimeMs now) {
  if (!sl.hop_at || !sl.s || sl.s->state() != ClientState::Established) return;
  const Link* link = sl.s->link();
  bool due = now >= *sl.hop_at;
  if (!due && link->encrypted()) {
    const auto since = link->awaiting_since();
    const auto deadline = link->liveness_deadline();
    if (since && deadline && now - *since >= (*deadline - *since) / 2 &&
        now - sl.last_hop >= (*deadline - *since) / 2) {
      due = true;
    }
  }
  if (!due) return;
  if (link->encrypted()) {
    // The session goes on from a new socket to another port; the server follows the first
    // authenticated datagram from the new address (docs/protocol.md 7.4).
    sl.port = pick_port(sl.server, sl.port);
    ClientEvent e{ClientEventKind::Rebind, sl.id, 0, 0, {}};
    e.server = sl.server;
    e.port = sl.port;
    push(e);
    ++stats_.hops;
    sl.last_hop = now;
    schedule_hop(sl, now);
    return;
  }
  // Plain mode: the server cannot follow a session, so it is replaced, but only between
  // requests: with streams open, look again in a second.
  if (sl.s->mux() != nullptr && sl.s->mux()->stream_count() > 0) {
    sl.hop_at = now + 1000;
    return;
  }
  ++stats_.hops;
  sl.last_hop = now;
  sl.hop_at.reset();
  sl.s->close(make_error_code(Errc::hop));
}

void Client::complete_opens(Slot& sl, TimeMs now) {
  tried_ = 0;
  mux::Session* m = sl.s ? sl.s->mux() : nullptr;
  for (OpenTicket t : sl.waiting) {
    if (m == nullptr) {
      push({ClientEventKind::OpenFailed, sl.id, t, 0, make_error_code(Errc::open_failed)});
      ++stats_.opens_failed;
      continue;
    }
    auto id = m->open_stream(now);
    if (id) {
      push({ClientEventKind::StreamReady, sl.id, t, *id, {}});
      ++stats_.opens_ok;
    } else {
      push({ClientEventKind::OpenFailed, sl.id, t, 0, id.error().code});
      ++stats_.opens_failed;
    }
  }
  sl.waiting.clear();
}

void Client::fail_opens(Slot& sl, std::error_code reason) {
  for (OpenTicket t : sl.waiting) {
    push({ClientEventKind::OpenFailed, sl.id, t, 0, reason});
    ++stats_.opens_failed;
  }
  sl.waiting.clear();
}

// Until no session has events left: moving opens to another slot may start (and, when its
// Initiation cannot be built, close) a session there.
void Client::drain_all(TimeMs now) {
  now_ = std::max(now_, now);
  for (bool more = true; more;) {
    more = false;
    for (Slot& sl : slots_) more = drain_session_events(sl, now) || more;
  }
}

bool Client::drain_session_events(Slot& sl, TimeMs now) {
  if (!sl.s) return false;
  bool moved = false;
  while (auto e = sl.s->poll_event()) {
    switch (e->kind) {
      case EventKind::Established:
        ++stats_.sessions_established;
        health_[sl.server].failures = 0;
        health_[sl.server].down_until = 0;
        push({ClientEventKind::SessionReady, sl.id, 0, 0, {}});
        complete_opens(sl, now);
        schedule_hop(sl, now);
        break;
      case EventKind::SessionClosed: {
        const bool established = sl.s->link() != nullptr;
        if (established) {
          ++stats_.sessions_died;
        } else {
          ++stats_.sessions_failed;
        }
        const std::error_code why = e->error;
        if (why == Errc::handshake_timeout || why == Errc::liveness_timeout ||
            why == Errc::kcp_dead_link || why == Errc::port_unreachable) {
          mark_down(sl.server, why, now);
        }
        push({ClientEventKind::SessionClosed, sl.id, 0, 0, why});
        sl.hop_at.reset();
        if (!established && !sl.waiting.empty() && why == Errc::handshake_timeout) {
          if (cfg_.spread) {
            // Spread: the waiting opens go to the other healthy servers at once (this one is
            // backing off now); with none left they fail with this reason.
            std::vector<OpenTicket> moving;
            moving.swap(sl.waiting);
            const std::size_t self = static_cast<std::size_t>(&sl - slots_.data());
            for (OpenTicket t : moving) {
              if (auto to = pick_spread(now, self)) {
                assign(*to, t, now, last_wall_);
                moved = true;
              } else {
                push({ClientEventKind::OpenFailed, sl.id, t, 0, why});
                ++stats_.opens_failed;
              }
            }
            break;
          }
          // Failover: requests waiting for a handshake that failed try the next server at
          // once (each server once per batch of waiting requests).
          if (tried_ + 1 < health_.size()) {
            ++tried_;
            start_session(sl, now, last_wall_);
            moved = true;
            break;
          }
        }
        fail_opens(sl, why);
        tried_ = 0;
        break;
      }
      case EventKind::StreamOpened:
        // The client never accepts server-opened streams (PROTOCOL.md 7.3): refuse it.
        if (mux::Session* m = sl.s->mux()) m->close(e->stream, now);
        break;
      case EventKind::Idle:
        break;
      default:
        push({client_kind(e->kind), sl.id, 0, e->stream, e->error});
        break;
    }
  }
  return moved;
}

void Client::handle_datagram(SessionId session, ByteView datagram, TimeMs now) {
  Slot* sl = slot_of(session);
  if (sl == nullptr) {
    ++stats_.datagrams_stale;
    return;
  }
  sl->s->handle_datagram(datagram, now);
  drain_all(now);
}

void Client::flush(TimeMs now) {
  for (Slot& sl : slots_) {
    if (sl.s) sl.s->flush(now);
  }
  drain_all(now);
}

std::span<const ClientTransmit> Client::transmit() {
  tx_.clear();
  for (Slot& sl : slots_) {
    sl.tx = 0;
    if (!sl.s) continue;
    const std::size_t before = tx_.size();
    for (const ByteView d : sl.s->transmit()) tx_.push_back({sl.id, d});
    sl.tx = tx_.size() - before;
  }
  return tx_;
}

void Client::consume_transmit(std::size_t n) {
  for (Slot& sl : slots_) {
    if (!sl.s) continue;
    const std::size_t k = std::min(n, sl.tx);
    sl.s->consume_transmit(k);
    n -= k;
    sl.tx = 0;
  }
  tx_.clear();
}

std::optional<TimeMs> Client::next_timeout() const {
  std::optional<TimeMs> t;
  for (const Slot& sl : slots_) {
    if (!sl.s) continue;
    auto u = sl.s->next_timeout();
    if (sl.hop_at && (!u || *sl.hop_at < *u)) u = sl.hop_at;
    if (u && (!t || *u < *t)) t = u;
  }
  return t;
}

void Client::handle_timeout(TimeMs now) {
  now_ = std::max(now_, now);
  for (Slot& sl : slots_) {
    if (!sl.s) continue;
    sl.s->handle_timeout(now);
    maybe_hop(sl, now);
  }
  drain_all(now);
}

std::optional<ClientEvent> Client::poll_event() {
  if (events_.empty()) drain_all(now_);
  return events_.pop();
}

mux::Session* Client::mux(SessionId session) {
  Slot* sl = slot_of(session);
  if (sl == nullptr || sl->s->state() != ClientState::Established) return nullptr;
  return sl->s->mux();
}

void Client::close(TimeMs now) {
  for (Slot& sl : slots_) {
    if (sl.s) sl.s->close(make_error_code(Errc::closed));
  }
  drain_all(now);
}

void Client::fail_session(SessionId id, std::error_code why, TimeMs now) {
  Slot* sl = slot_of(id);
  if (sl == nullptr || !live(*sl)) return;
  sl->s->close(why);
  drain_all(now);
}

}  // namespace paniq::tunnel
