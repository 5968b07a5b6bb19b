// ServerEndpoint, plain mode: the stateless handshake (SYN-cookie style, docs/tunnel.md
// "Server"), lazy session creation by the first transport datagram, and roaming.
//
// A plain Initiation leaves no session: its Response carries conv = PlainConv::issue(source,
// time bucket, packing, generation), and its randomness comes from a keystream keyed by the
// Initiation's digest, so a retransmission gets the same bytes. The packing choice (the
// capability tag) travels in the conv itself. The first transport datagram from (source, conv)
// with no session, whose conv verifies for that source, creates the session.
#include <algorithm>

#include "envelope/capability.hpp"
#include "envelope/handshake.hpp"
#include "tunnel/policy.hpp"
#include "tunnel/server.hpp"
#include "tunnel/server_session.hpp"

namespace paniq::tunnel {

std::uint64_t ServerEndpoint::SeededInitHash::operator()(const InitKey& k, std::uint64_t seed) const {
  std::array<std::uint8_t, 1 + 16 + 2 + 16> b{};
  b[0] = static_cast<std::uint8_t>(k.peer.family);
  std::copy(k.peer.addr.begin(), k.peer.addr.end(), b.begin() + 1);
  put_u16_le(b.data() + 17, k.peer.port);
  std::copy(k.digest.begin(), k.digest.end(), b.begin() + 19);
  return seeded_hash(b, seed);
}

std::uint64_t ServerEndpoint::SeededSessionHash::operator()(const SessionKey& k,
                                                            std::uint64_t seed) const {
  std::array<std::uint8_t, 1 + 16 + 2 + 4> b{};
  b[0] = static_cast<std::uint8_t>(k.peer.family);
  std::copy(k.peer.addr.begin(), k.peer.addr.end(), b.begin() + 1);
  put_u16_le(b.data() + 17, k.peer.port);
  put_u32_le(b.data() + 19, k.conv);
  return seeded_hash(b, seed);
}

void ServerEndpoint::on_plain_initiation(const InitKey& key, ByteView datagram, ByteView payload,
                                         TimeMs now, std::optional<WallTime> wall) {
  const PeerAddr& peer = key.peer;
  if (cfg_.encryption == Encryption::required) {
    ++stats_.drop_plain_refused;
    return;
  }
  if (users_) {  // a users table admits listed IK keys only
    ++stats_.drop_unknown_user;
    return;
  }
  if (answer_repeat(key, now)) return;
  const InitiationInfo info{peer, datagram, payload, now, wall};
  if (!policy_admits(info) || !within_caps(peer) || !within_budget(peer, now)) return;
  const bool packing =
      cfg_.capability_key &&
      envelope::has_capability_tag(datagram, framer_.config().s[obf::index(obf::MessageType::Initiation)],
                                   *cfg_.capability_key);
  const auto conv = pick_plain_conv(peer, packing, now);
  if (!conv) {
    ++stats_.drop_conv_busy;
    return;
  }
  policy_->accepted(info);
  answered_.insert(key, Answered{*conv, 0, plain_conv_.valid_until(now), packing});
  ++stats_.initiations_answered;
  queue_plain_response(key, *conv);
}

// An identical Initiation answered before, whose conv names no session yet: the same Response
// again, at most max_response_repeats times, within the budget. When less than half a bucket of
// the conv's life is left, the answer moves to a conv of the current bucket (a client must
// have time to send its first transport). True when handled (answered or dropped); false =
// treat it as a new Initiation (a client that lost its state starts over, or the remembered
// answer is gone).
bool ServerEndpoint::answer_repeat(const InitKey& key, TimeMs now) {
  Answered* a = answered_.find(key);
  if (a == nullptr) return false;
  if (now >= a->valid_until || by_conv_.count(a->conv) > 0 || retired(key.peer, a->conv, now)) {
    answered_.erase(key);
    return false;
  }
  if (a->repeats >= cfg_.max_response_repeats) {
    ++stats_.drop_repeat_limit;
    return true;
  }
  if (!within_budget(key.peer, now)) return true;
  if (a->valid_until - now < plain_conv_.bucket_ms() / 2) {
    const auto conv = pick_plain_conv(key.peer, a->packing, now);
    if (!conv) {
      ++stats_.drop_conv_busy;
      return true;
    }
    a->conv = *conv;
    a->valid_until = plain_conv_.valid_until(now);
  }
  ++a->repeats;
  ++stats_.initiation_repeats;
  queue_plain_response(key, a->conv);
  return true;
}

bool ServerEndpoint::within_budget(const PeerAddr& peer, TimeMs now) {
  const auto size = static_cast<std::uint32_t>(framer_.prefix_len(obf::MessageType::Response) + 4);
  if (budget_.charge(peer, per_host_.count(peer) > 0, size, now) == BudgetVerdict::ok) return true;
  ++stats_.drop_response_budget;
  return false;
}

bool ServerEndpoint::retired(const PeerAddr& peer, std::uint32_t conv, TimeMs now) const {
  const TimeMs* until = retired_.find(SessionKey{peer, conv});
  return until != nullptr && now < *until;
}

// The first generation whose conv no plain session holds and no closed session held while it
// could still verify: plain convs stay unique, and a client starting over from the same
// address and port gets a conv its old session never had.
std::optional<std::uint32_t> ServerEndpoint::pick_plain_conv(const PeerAddr& peer, bool packing,
                                                             TimeMs now) {
  for (std::uint32_t gen = 0; gen < PlainConv::kGenerations; ++gen) {
    const std::uint32_t conv = plain_conv_.issue(peer, now, packing, gen);
    if (by_conv_.count(conv) == 0 && !retired(peer, conv, now)) return conv;
  }
  return std::nullopt;
}

void ServerEndpoint::queue_plain_response(const InitKey& key, std::uint32_t conv) {
  PlainConv::ResponseRng rng = plain_conv_.response_rng(key.peer, key.digest, conv);
  const std::size_t prefix = framer_.prefix_len(obf::MessageType::Response);
  response_buf_.resize(prefix + 4);
  framer_.write_prefix(obf::MessageType::Response, rng, MutByteView(response_buf_).first(prefix));
  put_u32_le(response_buf_.data() + prefix, conv);
  queue_response(key.peer, response_buf_);
}

// A plain transport datagram for a conv no session holds: a session when the conv verifies for
// `peer` (and KCP takes the segments), else silence.
void ServerEndpoint::create_plain_session(const PeerAddr& peer, std::uint32_t conv,
                                          const envelope::TransportView& v, TimeMs now) {
  const auto grant = plain_conv_.verify(peer, conv, now);
  if (!grant || retired(peer, conv, now)) {
    ++stats_.drop_unknown_session;
    return;
  }
  if (users_) {
    ++stats_.drop_unknown_user;
    return;
  }
  if (!within_caps(peer)) return;
  auto owned = std::make_unique<Session>(0, peer, conv, cfg_.link, framer_, rng_, now, nullptr);
  Session& s = *owned;
  if (grant->packing) s.link.enable_packing(true);
  const InputResult r = s.link.handle_segments(v.inner, v.padding_len, now, v.counter);
  if (r == InputResult::replayed) {
    ++stats_.drop_transport_replay;
    return;
  }
  if (r != InputResult::accepted) {
    ++stats_.drop_kcp_rejected;
    return;
  }
  s.id = next_id_++;
  s.half_open = false;
  s.origin = peer;
  s.conv_valid_until = grant->valid_until;
  by_key_.emplace(SessionKey{peer, conv}, &s);
  by_conv_.emplace(conv, &s);
  ++per_host_[peer];
  ++retired_users_[""].sessions_total;
  ++stats_.sessions_created;
  ++stats_.sessions_lazy_created;
  if (grant->packing) ++stats_.sessions_packing;
  budget_.proven(peer, now);
  sessions_.emplace(s.id, std::move(owned));
  events_.push({ServerEventKind::SessionOpened, s.id, 0, {}});
  accepted_transport(s, now);
  reschedule(s);
}

// A closed plain session's conv would verify again until its bucket ends; remembered so the
// client's late datagrams cannot recreate it (they are dropped as drop_unknown_session).
void ServerEndpoint::retire_conv(const Session& s) {
  if (now_ < s.conv_valid_until) retired_.insert(SessionKey{s.origin, s.conv}, s.conv_valid_until);
}

// Plain mode: a datagram for a known conv from an unknown address. It moves the session only
// after plain_roam_datagrams consecutive plausible datagrams from that one address with
// nothing from the old address in between (docs/protocol.md 7.5). True when it moved.
bool ServerEndpoint::try_plain_roam(const PeerAddr& peer, std::uint32_t conv, ByteView inner) {
  if (cfg_.plain_roam_datagrams == 0) return false;
  const auto it = by_conv_.find(conv);
  if (it == by_conv_.end()) return false;
  Session& s = *it->second;
  if (s.half_open || !s.link.plausible_segments(inner)) return false;
  if (s.roam_count > 0 && s.roam_peer == peer) {
    ++s.roam_count;
  } else {
    s.roam_peer = peer;
    s.roam_count = 1;
  }
  if (s.roam_count < cfg_.plain_roam_datagrams) return false;
  move_session(s, peer);
  return true;
}

}  // namespace paniq::tunnel
