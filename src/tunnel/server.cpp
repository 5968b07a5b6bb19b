// ServerEndpoint: routing by (peer, conv), Initiation handling, caps and session timers.
#include "tunnel/server.hpp"

#include <algorithm>
#include <stdexcept>

#include "crypto/crypto.hpp"
#include "envelope/handshake.hpp"
#include "envelope/transport.hpp"
#include "tunnel/policy.hpp"

namespace paniq::tunnel {

struct ServerEndpoint::Session {
  Session(ServerSessionId id_, const PeerAddr& peer_, std::uint32_t conv_,
          const LinkConfig& cfg, const obf::Framer& framer, Rng& rng, TimeMs now)
      : id(id_), peer(peer_), conv(conv_), link(cfg, conv_, framer, rng, now), created(now),
        last_rx(now) {}

  ServerSessionId id;
  PeerAddr peer;
  std::uint32_t conv;
  Link link;
  Bytes response;      // re-sent for an identical Initiation while half-open
  Digest init_digest{};
  std::uint32_t repeats = 0;  // identical Initiations answered again
  bool half_open = true;  // no transport accepted yet
  TimeMs created;
  TimeMs last_rx;
  TimerSet::iterator timer{};
  bool has_timer = false;
  bool dirty = false;  // in dirty_
  bool in_tx = false;  // in tx_order_
};

namespace {

constexpr std::size_t kMaxResponseBacklog = 1u << 20;  // bytes of Responses waiting to be sent

ServerEventKind server_kind(EventKind k) {
  switch (k) {
    case EventKind::StreamOpened: return ServerEventKind::StreamOpened;
    case EventKind::Readable: return ServerEventKind::Readable;
    case EventKind::Writable: return ServerEventKind::Writable;
    default: return ServerEventKind::StreamClosed;
  }
}

}  // namespace

const char* to_string(ServerEventKind k) {
  switch (k) {
    case ServerEventKind::SessionOpened: return "SessionOpened";
    case ServerEventKind::StreamOpened: return "StreamOpened";
    case ServerEventKind::Readable: return "Readable";
    case ServerEventKind::Writable: return "Writable";
    case ServerEventKind::StreamClosed: return "StreamClosed";
    case ServerEventKind::SessionClosed: return "SessionClosed";
  }
  return "?";
}

std::size_t ServerEndpoint::SessionKeyHash::operator()(const SessionKey& k) const {
  return k.peer.hash() ^ (static_cast<std::size_t>(k.conv) * 0x9e3779b97f4a7c15ULL);
}

std::size_t ServerEndpoint::InitKeyHash::operator()(const InitKey& k) const {
  std::size_t d = 0;
  for (std::size_t i = 0; i < sizeof d; ++i) d = (d << 8) | k.digest[i];
  return k.peer.hash() ^ d;
}

ServerEndpoint::ServerEndpoint(const ServerConfig& cfg, obf::Framer framer, Rng& rng,
                               std::unique_ptr<InitiationPolicy> policy)
    : cfg_(cfg), framer_(std::move(framer)), rng_(rng), policy_(std::move(policy)) {
  if (auto ok = cfg_.validate(); !ok) throw std::invalid_argument(ok.error().message);
  if (!policy_) policy_ = std::make_unique<AuthPolicy>(cfg_.auth, framer_, rng_);
}

std::string to_string(const PolicyLog& log) {
  std::string s = "handshake from " + log.peer.to_string() +
                  (is_drop(log.reason) ? " dropped: " : " accepted: ") + tunnel::to_string(log.reason);
  if (log.reason == AuthReason::skew_hard || log.reason == AuthReason::skew_soft) {
    s += " (skew " + std::to_string(log.skew_seconds) + " s)";
  }
  if (log.suppressed > 0) s += " (" + std::to_string(log.suppressed) + " similar suppressed)";
  return s;
}

ServerEndpoint::~ServerEndpoint() = default;

void ServerEndpoint::handle_datagram(const PeerAddr& peer, ByteView datagram, TimeMs now) {
  now_ = std::max(now_, now);
  dispatch(peer, datagram, std::nullopt);
}

void ServerEndpoint::handle_datagram(const PeerAddr& peer, ByteView datagram, TimeMs now,
                                     WallTime wall) {
  now_ = std::max(now_, now);
  dispatch(peer, datagram, wall);
}

void ServerEndpoint::dispatch(const PeerAddr& peer, ByteView datagram, std::optional<WallTime> wall) {
  ++stats_.datagrams_in;
  stats_.bytes_in += datagram.size();
  const auto c = framer_.classify(datagram);
  if (!c) {
    ++stats_.drop_unclassified;
    policy_->observe_unclassified(peer, datagram, now_);  // signatures of a preamble
    return;
  }
  switch (c->type) {
    case obf::MessageType::Transport: on_transport(peer, c->payload, now_); return;
    case obf::MessageType::Initiation: on_initiation(peer, datagram, c->payload, now_, wall); return;
    default: ++stats_.drop_unexpected_type; return;
  }
}

void ServerEndpoint::on_transport(const PeerAddr& peer, ByteView payload, TimeMs now) {
  const auto v = envelope::decode_transport(payload, cfg_.link.transport_replay);
  if (!v) {
    ++stats_.drop_invalid_length;
    return;
  }
  if (v->inner.size() < 4) {
    ++stats_.drop_short_segment;
    return;
  }
  const auto it = by_key_.find(SessionKey{peer, get_u32_le(v->inner.data())});
  if (it == by_key_.end()) {
    ++stats_.drop_unknown_session;
    return;
  }
  Session& s = *it->second;
  const InputResult r = s.link.handle_segments(v->inner, v->padding_len, now, v->counter);
  if (r == InputResult::replayed) {
    ++stats_.drop_transport_replay;
    return;
  }
  if (r != InputResult::accepted) {
    ++stats_.drop_kcp_rejected;
    return;
  }
  ++stats_.routed;
  if (s.half_open) {
    s.half_open = false;
    half_open_.erase(InitKey{s.peer, s.init_digest});
    Bytes().swap(s.response);
  }
  s.last_rx = now;
  touch(s);
}

void ServerEndpoint::on_initiation(const PeerAddr& peer, ByteView datagram, ByteView payload,
                                   TimeMs now, std::optional<WallTime> wall) {
  InitKey key{peer, {}};
  crypto::blake2s(key.digest, datagram);
  if (const auto it = half_open_.find(key); it != half_open_.end()) {
    // Our clients retransmit identical bytes: same Response, no new state (a bounded number
    // of times, so a spoofed replay cannot reflect Responses without end).
    Session& s = *it->second;
    if (s.repeats >= cfg_.max_response_repeats) {
      ++stats_.drop_repeat_limit;
      return;
    }
    ++s.repeats;
    ++stats_.initiation_repeats;
    queue_response(peer, s.response);
    return;
  }
  const InitiationInfo info{peer, datagram, payload, now, wall};
  const PolicyDecision d = policy_->decide(info);
  for (std::size_t r = kAuthDropReasonCount; r < kAuthReasonCount; ++r) {
    if (d.has_note(static_cast<AuthReason>(r))) ++stats_.auth[r];
  }
  if (d.verdict == PolicyVerdict::drop) {
    ++stats_.drop_policy;
    ++stats_.auth[index(d.reason)];
    return;
  }
  if (sessions_.size() >= cfg_.max_sessions) {
    ++stats_.drop_cap_total;
    return;
  }
  const auto host = per_host_.find(peer);
  if (host != per_host_.end() && host->second >= cfg_.max_sessions_per_host) {
    ++stats_.drop_cap_host;
    return;
  }
  const std::uint32_t conv = fresh_conv(peer);
  const ServerSessionId id = next_id_++;
  auto owned = std::make_unique<Session>(id, peer, conv, cfg_.link, framer_, rng_, now);
  Session& s = *owned;
  s.init_digest = key.digest;
  if (cfg_.capability_key &&
      envelope::has_capability_tag(datagram, framer_.config().s[obf::index(obf::MessageType::Initiation)],
                                   *cfg_.capability_key)) {
    s.link.enable_packing(true);
    ++stats_.sessions_packing;
  }
  s.response = envelope::build_response(framer_, conv, rng_);
  sessions_.emplace(id, std::move(owned));
  by_key_.emplace(SessionKey{peer, conv}, &s);
  half_open_.emplace(key, &s);
  ++per_host_[peer];
  ++stats_.sessions_created;
  policy_->accepted(info);
  reschedule(s);
  events_.push({ServerEventKind::SessionOpened, id, 0, {}});
  queue_response(peer, s.response);
}

std::uint32_t ServerEndpoint::fresh_conv(const PeerAddr& peer) {
  for (;;) {
    const std::uint32_t conv = rng_.next_u32();
    if (by_key_.find(SessionKey{peer, conv}) == by_key_.end()) return conv;
  }
}

void ServerEndpoint::queue_response(const PeerAddr& peer, ByteView response) {
  if (responses_.bytes() + response.size() > kMaxResponseBacklog) {
    ++stats_.drop_backlog;
    return;
  }
  std::uint8_t* p = responses_.reserve(response.size());
  std::copy(response.begin(), response.end(), p);
  responses_.commit(response.size());
  response_peers_.push_back(peer);
  ++stats_.datagrams_out;
  stats_.bytes_out += response.size();
}

void ServerEndpoint::touch(Session& s) {
  if (s.dirty) return;
  s.dirty = true;
  dirty_.push_back(&s);
}

TimeMs ServerEndpoint::deadline(const Session& s) const {
  // Strictly greater than the idle timeout, as the reference.
  TimeMs d = s.half_open ? s.created + cfg_.half_open_timeout_ms
                         : s.last_rx + cfg_.idle_timeout_ms + 1;
  if (auto l = s.link.next_timeout()) d = std::min(d, *l);
  return d;
}

void ServerEndpoint::reschedule(Session& s) {
  const TimeMs d = deadline(s);
  if (s.has_timer) {
    if (s.timer->first == d) return;
    auto node = timers_.extract(s.timer);  // re-keyed in place: no allocation
    node.value().first = d;
    s.timer = timers_.insert(std::move(node)).position;
  } else {
    s.timer = timers_.emplace(d, s.id).first;
    s.has_timer = true;
  }
}

void ServerEndpoint::drain_events(Session& s) {
  while (auto e = s.link.poll_event()) {
    if (e->kind == EventKind::SessionClosed || e->kind == EventKind::Idle ||
        e->kind == EventKind::Established) {
      continue;  // SessionClosed is reported by remove()
    }
    events_.push({server_kind(e->kind), s.id, e->stream, e->error});
  }
}

// After the link of `s` did work: account its datagrams, queue them, report its events,
// remove it if it died, else re-arm its timer.
void ServerEndpoint::settle(Session& s, std::uint64_t datagrams_before, std::uint64_t bytes_before) {
  stats_.datagrams_out += s.link.stats().datagrams_out - datagrams_before;
  stats_.bytes_out += s.link.stats().bytes_out - bytes_before;
  if (s.link.transmit_count() > 0 && !s.in_tx) {
    s.in_tx = true;
    tx_order_.push_back(&s);
  }
  drain_events(s);
  if (s.link.dead()) {
    remove(s, s.link.dead_reason());
    return;
  }
  reschedule(s);
}

void ServerEndpoint::flush(TimeMs now) {
  now_ = std::max(now_, now);
  flushing_.swap(dirty_);
  for (Session* s : flushing_) {
    s->dirty = false;
    const auto dg = s->link.stats().datagrams_out;
    const auto bytes = s->link.stats().bytes_out;
    s->link.flush(now_);
    settle(*s, dg, bytes);
  }
  flushing_.clear();
}

void ServerEndpoint::handle_timeout(TimeMs now) {
  now_ = std::max(now_, now);
  due_.clear();
  for (auto it = timers_.begin(); it != timers_.end() && it->first <= now_; ++it) {
    due_.push_back(it->second);
  }
  for (const ServerSessionId id : due_) {
    const auto found = sessions_.find(id);
    if (found == sessions_.end()) continue;
    Session& s = *found->second;
    if (s.half_open && now_ >= s.created + cfg_.half_open_timeout_ms) {
      remove(s, make_error_code(Errc::half_open_timeout));
      continue;
    }
    if (!s.half_open && now_ > s.last_rx + cfg_.idle_timeout_ms) {
      remove(s, make_error_code(Errc::idle_timeout));
      continue;
    }
    const auto dg = s.link.stats().datagrams_out;
    const auto bytes = s.link.stats().bytes_out;
    s.link.handle_timeout(now_);
    settle(s, dg, bytes);
  }
  flush(now_);
}

void ServerEndpoint::remove(Session& s, std::error_code reason) {
  events_.push({ServerEventKind::SessionClosed, s.id, 0, reason});
  ++stats_.sessions_closed;
  retired_links_ += s.link.stats();
  by_key_.erase(SessionKey{s.peer, s.conv});
  if (s.half_open) half_open_.erase(InitKey{s.peer, s.init_digest});
  if (auto host = per_host_.find(s.peer); host != per_host_.end() && --host->second == 0) {
    per_host_.erase(host);
  }
  if (s.has_timer) timers_.erase(s.timer);
  if (s.dirty) std::erase(dirty_, &s);
  if (s.in_tx) std::erase(tx_order_, &s);
  sessions_.erase(s.id);  // destroys s: last
}

LinkStats ServerEndpoint::link_totals() const {
  LinkStats t = retired_links_;
  for (const auto& [id, s] : sessions_) t += s->link.stats();
  return t;
}

std::span<const ServerTransmit> ServerEndpoint::transmit() {
  tx_.clear();
  const auto rv = responses_.views();
  for (std::size_t i = 0; i < rv.size(); ++i) tx_.push_back({response_peers_[resp_head_ + i], rv[i]});
  for (Session* s : tx_order_) {
    for (const ByteView d : s->link.transmit()) tx_.push_back({s->peer, d});
  }
  return tx_;
}

void ServerEndpoint::consume_transmit(std::size_t n) {
  tx_.clear();
  const std::size_t r = std::min(n, responses_.count());
  responses_.consume(r);
  resp_head_ += r;
  if (responses_.count() == 0) {
    response_peers_.clear();
    resp_head_ = 0;
  }
  n -= r;
  std::size_t done = 0;
  while (n > 0 && done < tx_order_.size()) {
    Session* s = tx_order_[done];
    const std::size_t take = std::min(n, s->link.transmit_count());
    s->link.consume_transmit(take);
    n -= take;
    if (s->link.transmit_count() > 0) break;
    s->in_tx = false;
    ++done;
  }
  // Sessions whose datagrams were all taken leave the list (also when their count was 0).
  while (done < tx_order_.size() && tx_order_[done]->link.transmit_count() == 0) {
    tx_order_[done]->in_tx = false;
    ++done;
  }
  tx_order_.erase(tx_order_.begin(), tx_order_.begin() + static_cast<std::ptrdiff_t>(done));
}

std::optional<TimeMs> ServerEndpoint::next_timeout() const {
  if (!dirty_.empty()) return now_;
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

std::optional<ServerEvent> ServerEndpoint::poll_event() {
  return events_.pop();
}

mux::Session* ServerEndpoint::mux(ServerSessionId session) {
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return nullptr;
  touch(*it->second);
  return &it->second->link.mux();
}

void ServerEndpoint::close_session(ServerSessionId session) {
  const auto it = sessions_.find(session);
  if (it != sessions_.end()) remove(*it->second, make_error_code(Errc::closed));
}

std::optional<PeerAddr> ServerEndpoint::peer(ServerSessionId session) const {
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return std::nullopt;
  return it->second->peer;
}

std::optional<std::uint32_t> ServerEndpoint::conv(ServerSessionId session) const {
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return std::nullopt;
  return it->second->conv;
}

const Link* ServerEndpoint::link(ServerSessionId session) const {
  const auto it = sessions_.find(session);
  return it == sessions_.end() ? nullptr : &it->second->link;
}

std::vector<ServerSessionId> ServerEndpoint::session_ids() const {
  std::vector<ServerSessionId> ids;
  ids.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace paniq::tunnel
