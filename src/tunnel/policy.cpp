// AuthPolicy: the checks of docs/auth.md "Server: the order of the checks".
#include "tunnel/policy.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "profile/profile.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::int64_t kNanos = 1'000'000'000;
constexpr std::int64_t kMaxSkewSeconds = 9'000'000'000;  // keeps seconds * 1e9 in int64
constexpr std::size_t kEphemeralLastByte = 32;  // enc_timestamp: version(1) || E[32] || ...

const AuthConfig& checked(const AuthConfig& cfg, const obf::Framer& framer) {
  if (auto ok = cfg.validate(framer.config()); !ok) throw std::invalid_argument(ok.error().message);
  return cfg;
}

// server wall time - timestamp, in nanoseconds, saturated to +-kMaxSkewSeconds seconds.
std::int64_t skew_nanos(WallTime server, WallTime stamp) {
  std::int64_t secs = 0;
  if (__builtin_sub_overflow(server.seconds, stamp.seconds, &secs)) {
    secs = server.seconds > stamp.seconds ? kMaxSkewSeconds : -kMaxSkewSeconds;
  }
  secs = std::clamp(secs, -kMaxSkewSeconds, kMaxSkewSeconds);
  return secs * kNanos + (static_cast<std::int64_t>(server.nanos) - static_cast<std::int64_t>(stamp.nanos));
}

std::int64_t limit_nanos(std::int64_t seconds) {
  return std::min(seconds, kMaxSkewSeconds) * kNanos;
}

PreambleConfig preamble_config(const AuthConfig& c) {
  PreambleConfig p;
  p.table_size = c.preamble_table_size;
  p.ttl_ms = c.preamble_ttl_ms;
  return p;
}

HandshakeRateConfig rate_config(const AuthConfig& c) {
  HandshakeRateConfig r;
  r.pps = c.rate_limit_pps;
  r.burst = c.rate_limit_burst;
  r.table_size = c.rate_table_size;
  return r;
}

// Signatures are checked only when asked for; the tracker then holds the chains.
obf::Framer tracked_chains(const obf::Framer& framer, bool signature_validate) {
  if (signature_validate) return framer;
  obf::Config none = framer.config();
  none.i = {};
  return std::move(*obf::Framer::create(none));
}

}  // namespace

AuthPolicy::AuthPolicy(const AuthConfig& cfg, const obf::Framer& framer, Rng& rng)
    : cfg_(checked(cfg, framer)),
      preamble_(tracked_chains(framer, cfg.signature_validate), preamble_config(cfg), rng.next_u64()),
      rate_(rate_config(cfg), rng.next_u64()),
      replay_(static_cast<std::size_t>(cfg.replay_cache_size), cfg.replay_lifetime_ms(), rng),
      log_limit_(kAuthReasonCount, cfg.log_per_second) {
  if (cfg_.server_private_key) keys_ = envelope::ServerKeys::from_private(*cfg_.server_private_key);
}

void AuthPolicy::log(AuthReason r, const PeerAddr& peer, TimeMs now, std::int64_t skew) {
  if (!log_limit_.allow(index(r), now)) {
    ++stats_.logs_suppressed;
    return;
  }
  if (logs_.size() >= kMaxQueuedLogs) {  // the shell does not drain them
    ++stats_.logs_suppressed;
    return;
  }
  logs_.push(PolicyLog{r, peer, skew, log_limit_.take_suppressed(index(r))});
  ++stats_.logs_emitted;
}

PolicyDecision AuthPolicy::drop(AuthReason r, const InitiationInfo& info, std::int64_t skew) {
  log(r, info.peer, info.now, skew);
  return PolicyDecision{PolicyVerdict::drop, r, 0};
}

void AuthPolicy::note(PolicyDecision& d, AuthReason r, const InitiationInfo& info,
                      std::int64_t skew) {
  d.notes = static_cast<std::uint8_t>(d.notes | (1u << (index(r) - kAuthDropReasonCount)));
  log(r, info.peer, info.now, skew);
}

std::optional<AuthReason> AuthPolicy::check_skew(const Dated& dated, const InitiationInfo& info,
                                                 PolicyDecision& d, std::int64_t& skew_out) {
  const bool soft = cfg_.skew_soft_seconds > 0;
  const bool hard = cfg_.skew_hard_seconds > 0;
  if (dated.source == TimeSource::none || (!soft && !hard)) return std::nullopt;
  if (!info.wall) {
    note(d, AuthReason::wall_unknown, info);
    return std::nullopt;
  }
  const std::int64_t diff = skew_nanos(*info.wall, dated.time);
  const std::int64_t mag = diff < 0 ? -diff : diff;
  skew_out = diff / kNanos;
  if (hard && mag > limit_nanos(cfg_.skew_hard_seconds)) return AuthReason::skew_hard;
  if (soft && mag > limit_nanos(cfg_.skew_soft_seconds)) note(d, AuthReason::skew_soft, info, skew_out);
  return std::nullopt;
}

std::optional<AuthReason> AuthPolicy::open_encrypted(const InitiationInfo& info, Dated& dated,
                                                     std::optional<InitiationReplayCache::Key>& key) {
  const ByteView enc = info.payload.first(info.payload.size() - envelope::kMac1Len);
  if (enc.size() < envelope::kEncTimestampLen || enc[0] != envelope::kEncTimestampVersion) {
    return std::nullopt;  // absent: MAC1 alone (or something else before it)
  }
  // A known replay is refused before the X25519.
  if (replay_.enabled()) {
    key = replay_.key_encrypted(enc.first(envelope::kEncTimestampLen));
    if (replay_.seen(*key, info.now)) return AuthReason::replay;
  }
  // X25519 ignores the top bit of a public key: with it set the same timestamp would open
  // under a second encoding. Our and Go's clients never send one.
  if (enc[kEphemeralLastByte] & 0x80) return AuthReason::timestamp_invalid;
  ++stats_.timestamps_opened;
  auto t = envelope::open_timestamp(enc, keys_->private_key);
  if (!t) return AuthReason::timestamp_invalid;
  dated = Dated{TimeSource::encrypted, *t};
  return std::nullopt;
}

PolicyDecision AuthPolicy::decide(const InitiationInfo& info) {
  ++stats_.decisions;
  pending_key_.reset();
  // 1. MAC1 (one BLAKE2s), before anything that costs more.
  envelope::InitiationVerdict v;
  if (keys_) {
    ++stats_.mac1_verified;
    v = envelope::verify_initiation(info.datagram, info.payload, *keys_, {.open_timestamp = false});
  }
  if (v.mac1 == envelope::Mac1Check::Invalid) return drop(AuthReason::mac1_invalid, info);
  // Without MAC1 the Initiation says nothing about its sender; accept_unauthenticated admits it
  // anyway (noted), and only what it carries is checked below.
  const bool unauthenticated = v.mac1 == envelope::Mac1Check::Absent &&
                               (cfg_.require_encrypted_timestamp || cfg_.require_timestamp) &&
                               cfg_.accept_unauthenticated;
  if (v.mac1 == envelope::Mac1Check::Absent && cfg_.require_encrypted_timestamp && !unauthenticated) {
    return drop(AuthReason::mac1_missing, info);
  }
  // 2. The source's handshake budget.
  if (!rate_.allow(info.peer, info.now)) return drop(AuthReason::rate_limited, info);
  // 3. Encrypted timestamp.
  Dated dated;
  std::optional<InitiationReplayCache::Key> key;
  if (v.mac1 == envelope::Mac1Check::Valid) {
    if (auto r = open_encrypted(info, dated, key)) return drop(*r, info);
  }
  if (cfg_.require_encrypted_timestamp && dated.source != TimeSource::encrypted && !unauthenticated) {
    return drop(AuthReason::encrypted_timestamp_missing, info);
  }
  // 4. The preamble's signatures (and a <t> for an Initiation without encrypted timestamp).
  if (preamble_.active()) {
    const PreambleTracker::Status st = preamble_.status(info.peer, info.now);
    if (!st.complete) return drop(AuthReason::signature_missing, info);
    if (dated.source == TimeSource::none && st.timestamp) {
      dated = Dated{TimeSource::signature, WallTime{*st.timestamp, 0}};
    }
  }
  // 5. Timestamp requirement, 6. clock skew.
  PolicyDecision d;
  if (unauthenticated) note(d, AuthReason::unauthenticated_accepted, info);
  if (dated.source == TimeSource::none && cfg_.require_timestamp && !unauthenticated) {
    if (!cfg_.legacy_mode_enabled || cfg_.require_encrypted_timestamp) {
      return drop(AuthReason::timestamp_missing, info);
    }
    note(d, AuthReason::legacy_accepted, info);
  }
  std::int64_t skew = 0;
  if (auto r = check_skew(dated, info, d, skew)) return drop(*r, info, skew);
  // 7. Replay of a <t>-dated Initiation (time and bytes).
  if (dated.source == TimeSource::signature && replay_.enabled()) {
    key = replay_.key_signature_time(static_cast<std::uint32_t>(dated.time.seconds), info.datagram);
    if (replay_.seen(*key, info.now)) return drop(AuthReason::replay, info);
  }
  pending_key_ = key;
  ++stats_.accepted;
  return d;
}

void AuthPolicy::accepted(const InitiationInfo& info) {
  if (pending_key_) replay_.insert(*pending_key_, info.now);
  pending_key_.reset();
  if (preamble_.active()) preamble_.consume(info.peer);
}

void AuthPolicy::observe_unclassified(const PeerAddr& peer, ByteView datagram, TimeMs now) {
  if (preamble_.observe(peer, datagram, now)) ++stats_.signatures_seen;
}

Result<std::unique_ptr<InitiationPolicy>> make_initiation_policy(const profile::Profile& p,
                                                                 const obf::Framer& framer,
                                                                 Rng& rng) {
  auto cfg = auth_config_from_profile(p);
  if (!cfg) return cfg.error();
  if (auto ok = cfg->validate(framer.config()); !ok) return ok.error();
  return std::unique_ptr<InitiationPolicy>(std::make_unique<AuthPolicy>(*cfg, framer, rng));
}

}  // namespace paniq::tunnel
