// ServerEndpoint: routing by (peer, conv), Initiation handling, caps and session timers.
#include "tunnel/server.hpp"

#include <algorithm>
#include <stdexcept>

#include "crypto/crypto.hpp"
#include "envelope/handshake.hpp"
#include "envelope/transport.hpp"
#include "tunnel/policy.hpp"
#include "tunnel/server_session.hpp"

namespace paniq::tunnel {

namespace {

constexpr std::size_t kMaxResponseBacklog = 1u << 20;  // bytes of Responses waiting to be sent
constexpr std::size_t kAnsweredCapacity = 4096;  // plain Initiations remembered for repeats
constexpr std::size_t kRetiredCapacity = 1024;   // convs of closed plain sessions

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
    : cfg_(cfg),
      framer_(std::move(framer)),
      rng_(rng),
      policy_(std::move(policy)),
      plain_conv_(std::max<TimeMs>(1, cfg.half_open_timeout_ms), rng),
      budget_(cfg.response_budget, rng.next_u64()),
      answered_(kAnsweredCapacity, rng.next_u64()),
      retired_(kRetiredCapacity, rng.next_u64()) {
  if (auto ok = cfg_.validate(); !ok) throw std::invalid_argument(ok.error().message);
  if (!policy_) policy_ = std::make_unique<AuthPolicy>(cfg_.auth, framer_, rng_);
  if (const std::size_t response = framer_.prefix_len(obf::MessageType::Response) + 4;
      cfg_.response_budget.enabled && cfg_.response_budget.min_burst() < response) {
    throw std::invalid_argument("server.response_budget: a burst below the plain Response size (" +
                                std::to_string(response) + " bytes)");
  }
  if (cfg_.encryption != Encryption::off) {
    if (!cfg_.auth.server_private_key || !cfg_.secure_capability_key) {
      throw std::invalid_argument("encryption needs the server private key and capability key");
    }
    envelope::SecureServerParams p;
    p.server_private = *cfg_.auth.server_private_key;
    p.server_public = crypto::x25519_public(p.server_private);
    p.capability_key = *cfg_.secure_capability_key;
    p.aes_fast = crypto::preferred_aead() == crypto::Aead::aes256gcm;
    p.stream_offsets = cfg_.link.stream_offsets;
    const crypto::Key32 hp = envelope::hp_key_c2s(p.server_public);
    if (crypto::aes256gcm_available()) hp_aes_.emplace(crypto::Aead::aes256gcm, hp);
    hp_chacha_.emplace(crypto::Aead::chacha20poly1305, hp);
    secure_ = p;
  }
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

// Encrypted mode: unmask the receiver id (one ChaCha20 block), find the session, open. True
// when the datagram was consumed (accepted or dropped as belonging to that session).
bool ServerEndpoint::on_secure_transport(const PeerAddr& peer, ByteView payload, TimeMs now) {
  Session* found = nullptr;
  envelope::SecureHeader header;
  for (const auto* hp : {hp_aes_ ? &*hp_aes_ : nullptr, &*hp_chacha_}) {
    if (hp == nullptr) continue;
    const auto h = envelope::peek_header(payload, *hp);
    if (!h) return false;
    const auto it = by_rid_.find(h->receiver_id);
    if (it != by_rid_.end() && it->second->link.secure()->aead() == hp->algorithm()) {
      found = it->second;
      header = *h;
      break;
    }
  }
  if (found == nullptr) return false;
  Session& s = *found;
  const InputResult r = s.link.handle_transport(payload, now, &header);
  if (r == InputResult::auth_failed) return false;  // perhaps a plain datagram after all
  if (r == InputResult::replayed) {
    ++stats_.drop_transport_replay;
    return true;
  }
  if (r != InputResult::accepted) {
    ++stats_.drop_kcp_rejected;
    return true;
  }
  // Roaming: an authenticated datagram, newer than every one before, from a new address
  // moves the session (a replay fails the window above and moves nothing).
  if (!(peer == s.peer) && s.link.last_input_newest()) move_session(s, peer);
  accepted_transport(s, now);
  return true;
}

void ServerEndpoint::move_session(Session& s, const PeerAddr& to) {
  if (auto host = per_host_.find(s.peer); host != per_host_.end() && --host->second == 0) {
    per_host_.erase(host);
  }
  if (!s.link.encrypted()) {
    by_key_.erase(SessionKey{s.peer, s.conv});
    by_key_.emplace(SessionKey{to, s.conv}, &s);
  }
  if (s.half_open) {  // its Initiation is remembered under the address it came from
    half_open_.erase(InitKey{s.peer, s.init_digest});
    half_open_.emplace(InitKey{to, s.init_digest}, &s);
  }
  s.peer = to;
  ++per_host_[to];
  s.roam_count = 0;
  ++stats_.sessions_roamed;
}

void ServerEndpoint::accepted_transport(Session& s, TimeMs now) {
  ++stats_.routed;
  if (s.half_open) {
    s.half_open = false;
    half_open_.erase(InitKey{s.peer, s.init_digest});
    Bytes().swap(s.response);
  }
  s.last_rx = now;
  touch(s);
}

void ServerEndpoint::on_transport(const PeerAddr& peer, ByteView payload, TimeMs now) {
  if (hp_chacha_ && !by_rid_.empty() && on_secure_transport(peer, payload, now)) return;
  if (cfg_.encryption == Encryption::required) {
    ++stats_.drop_transport_auth;
    return;
  }
  const auto v = envelope::decode_transport(payload, cfg_.link.transport_replay);
  if (!v) {
    ++stats_.drop_invalid_length;
    return;
  }
  if (v->inner.size() < 4) {
    ++stats_.drop_short_segment;
    return;
  }
  const std::uint32_t conv = get_u32_le(v->inner.data());
  auto it = by_key_.find(SessionKey{peer, conv});
  if (it == by_key_.end()) {
    if (by_conv_.count(conv) == 0) {  // no session has it: perhaps a Response's conv
      create_plain_session(peer, conv, *v, now);
      return;
    }
    if (!try_plain_roam(peer, conv, v->inner)) {
      ++stats_.drop_unknown_session;
      return;
    }
    it = by_key_.find(SessionKey{peer, conv});
  }
  Session& s = *it->second;
  s.roam_count = 0;  // a datagram from the session's own address breaks a roaming run
  const InputResult r = s.link.handle_segments(v->inner, v->padding_len, now, v->counter);
  if (r == InputResult::replayed) {
    ++stats_.drop_transport_replay;
    return;
  }
  if (r != InputResult::accepted) {
    ++stats_.drop_kcp_rejected;
    return;
  }
  accepted_transport(s, now);
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
  // Encrypted offer: the capability tag and a payload length that carries a Noise message.
  std::optional<crypto::noise::Pattern> pattern;
  if (secure_ && envelope::has_capability_tag(
                     datagram, framer_.config().s[obf::index(obf::MessageType::Initiation)],
                     *cfg_.secure_capability_key)) {
    pattern = envelope::secure_pattern_of(payload.size());
  }
  if (!pattern) {
    on_plain_initiation(key, datagram, payload, now, wall);  // stateless (server_plain.cpp)
    return;
  }
  const InitiationInfo info{peer, datagram, payload, now, wall};
  if (!policy_admits(info) || !within_caps(peer)) return;
  const std::uint32_t conv = fresh_conv(peer);
  // MAC1 first (one BLAKE2s) even when the policy does not require it: no Noise work for a
  // datagram that was not made with this server's public key.
  if (!envelope::verify_mac1(datagram, envelope::mac1_key(secure_->server_public))) {
    ++stats_.drop_secure_handshake;
    return;
  }
  std::uint32_t rid = 0;
  do {
    rid = rng_.next_u32();
  } while (rid == 0 || by_rid_.count(rid) > 0);
  const ByteView msg1 = payload.subspan(
      envelope::kEncTimestampLen, payload.size() - envelope::kEncTimestampLen - envelope::kMac1Len);
  auto accepted = envelope::accept_secure_initiation(*secure_, *pattern, msg1, conv, rid, rng_);
  if (!accepted) {
    ++stats_.drop_secure_handshake;
    return;
  }
  std::string user;
  if (users_) {
    const auto u = accepted->client_public ? users_->names.find(*accepted->client_public)
                                           : users_->names.end();
    if (u == users_->names.end()) {
      ++stats_.drop_unknown_user;
      accepted->keys.erase();
      return;
    }
    user = u->second;
  }
  const ServerSessionId id = next_id_++;
  auto owned = std::make_unique<Session>(id, peer, conv, cfg_.link, framer_, rng_, now, &accepted->keys);
  Session& s = *owned;
  s.init_digest = key.digest;
  s.rid = rid;
  s.client_key = accepted->client_public;
  s.user = user;
  accepted->keys.erase();
  s.response = envelope::build_response_payload(framer_, accepted->response_payload, rng_);
  ++stats_.sessions_encrypted;
  ++retired_users_[s.user].sessions_total;
  by_rid_.emplace(rid, &s);
  sessions_.emplace(id, std::move(owned));
  half_open_.emplace(key, &s);
  ++per_host_[peer];
  ++stats_.sessions_created;
  policy_->accepted(info);
  reschedule(s);
  events_.push({ServerEventKind::SessionOpened, id, 0, {}});
  queue_response(peer, s.response);
}

// The policy's decision on `info`, its notes counted; false = dropped (counted).
bool ServerEndpoint::policy_admits(const InitiationInfo& info) {
  const PolicyDecision d = policy_->decide(info);
  for (std::size_t r = kAuthDropReasonCount; r < kAuthReasonCount; ++r) {
    if (d.has_note(static_cast<AuthReason>(r))) ++stats_.auth[r];
  }
  if (d.verdict == PolicyVerdict::drop) {
    ++stats_.drop_policy;
    ++stats_.auth[index(d.reason)];
    return false;
  }
  return true;
}

// Room for one more session of `peer` (else counted as drop_cap_total / drop_cap_host).
bool ServerEndpoint::within_caps(const PeerAddr& peer) {
  if (sessions_.size() >= cfg_.max_sessions) {
    ++stats_.drop_cap_total;
    return false;
  }
  const auto host = per_host_.find(peer);
  if (host != per_host_.end() && host->second >= cfg_.max_sessions_per_host) {
    ++stats_.drop_cap_host;
    return false;
  }
  return true;
}

// Unique among the plain sessions, so a plain session can be found by conv alone when its
// client's address changes.
std::uint32_t ServerEndpoint::fresh_conv(const PeerAddr& peer) {
  for (;;) {
    const std::uint32_t conv = rng_.next_u32();
    if (by_key_.find(SessionKey{peer, conv}) == by_key_.end() && by_conv_.count(conv) == 0) {
      return conv;
    }
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
  ++stats_.responses_out;
  stats_.bytes_out += response.size();
  stats_.response_bytes += response.size();
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
  // SYNs the mux refused because kcp.max_streams streams of this session were live.
  const std::uint64_t over = s.link.mux().stats().syn_over_limit;
  if (over != s.syn_over_limit_seen) {
    stats_.streams_refused_session_cap += over - s.syn_over_limit_seen;
    stats_.last_refused_session = s.id;
    s.syn_over_limit_seen = over;
  }
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
  UserStats& us = retired_users_[s.user];
  us.bytes_in += s.link.stats().bytes_in;
  us.bytes_out += s.link.stats().bytes_out;
  if (s.link.encrypted()) {
    by_rid_.erase(s.rid);
  } else {
    by_key_.erase(SessionKey{s.peer, s.conv});
    by_conv_.erase(s.conv);
    retire_conv(s);
  }
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

void ServerEndpoint::set_users(std::shared_ptr<const UserTable> users) {
  users_ = std::move(users);
  std::vector<Session*> gone;
  for (const auto& [id, s] : sessions_) {
    if (!s->link.encrypted() && !users_) continue;
    bool keep = !users_;
    if (users_ && s->client_key) {
      const auto u = users_->names.find(*s->client_key);
      keep = u != users_->names.end() && u->second == s->user;
    }
    if (!keep) gone.push_back(s.get());
  }
  for (Session* s : gone) {
    ++stats_.sessions_revoked;
    remove(*s, make_error_code(Errc::revoked));
  }
}

std::map<std::string, UserStats> ServerEndpoint::user_stats() const {
  std::map<std::string, UserStats> out = retired_users_;
  for (const auto& [id, s] : sessions_) {
    UserStats& u = out[s->user];
    ++u.sessions_live;
    u.bytes_in += s->link.stats().bytes_in;
    u.bytes_out += s->link.stats().bytes_out;
  }
  return out;
}

std::string ServerEndpoint::user(ServerSessionId session) const {
  const auto it = sessions_.find(session);
  return it == sessions_.end() ? std::string() : it->second->user;
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
