// AuthPolicy: the server's Initiation policy built from AuthConfig (issue #6): MAC1 and the
// Go original's encrypted timestamp (PROTOCOL.md 15), the I1..I5 signatures of the source's
// preamble, timestamp requirements and legacy mode, clock skew, the replay cache and a token
// bucket per source IP. Every refusal is silent on the wire; it is counted (ServerStats::auth)
// and logged at a bounded rate (poll_log). The order of the checks and what each profile
// field does: docs/auth.md. Pure: `now`, the wall time and the Rng come from the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/bytes.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "envelope/auth.hpp"
#include "obf/framer.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/event_queue.hpp"
#include "tunnel/initiation_replay.hpp"
#include "tunnel/preamble_tracker.hpp"
#include "tunnel/rate_limit.hpp"
#include "tunnel/server.hpp"

namespace paniq::tunnel {

// Work the policy did, beyond ServerStats::auth (which the endpoint keeps).
struct AuthStats {
  std::uint64_t decisions = 0;
  std::uint64_t accepted = 0;
  std::uint64_t mac1_verified = 0;        // BLAKE2s MAC1 checks
  std::uint64_t timestamps_opened = 0;    // X25519 + AEAD attempts (after MAC1 and rate limit)
  std::uint64_t signatures_seen = 0;      // unclassified datagrams that matched a chain
  std::uint64_t logs_emitted = 0;
  std::uint64_t logs_suppressed = 0;
};

class AuthPolicy final : public InitiationPolicy {
 public:
  static constexpr std::size_t kMaxQueuedLogs = 256;

  // `cfg` must pass cfg.validate(framer.config()) (std::invalid_argument otherwise: a start-up
  // error). The hashing seeds and the replay-key secret are drawn from `rng`; nothing is kept
  // of `framer` or `rng` after construction.
  AuthPolicy(const AuthConfig& cfg, const obf::Framer& framer, Rng& rng);

  PolicyVerdict check(const InitiationInfo& info) override { return decide(info).verdict; }
  // The checks of docs/auth.md in order; the first failure decides. Cost before the rate
  // limit: at most one BLAKE2s (MAC1); X25519 + AEAD only for a valid MAC1 within the source's
  // rate and not a known replay. Allocates only on a failed timestamp open (error text).
  PolicyDecision decide(const InitiationInfo& info) override;
  // Remembers the accepted Initiation in the replay cache and consumes the source's
  // signatures. Must follow the decide() that accepted `info`.
  void accepted(const InitiationInfo& info) override;
  void observe_unclassified(const PeerAddr& peer, ByteView datagram, TimeMs now) override;
  std::optional<PolicyLog> poll_log() override { return logs_.pop(); }

  const AuthConfig& config() const { return cfg_; }
  const AuthStats& stats() const { return stats_; }
  const PreambleTracker& preamble() const { return preamble_; }
  const HandshakeRateLimiter& rate_limiter() const { return rate_; }
  const InitiationReplayCache& replay_cache() const { return replay_; }
  std::size_t queued_logs() const { return logs_.size(); }

 private:
  enum class TimeSource : std::uint8_t { none, encrypted, signature };
  struct Dated {
    TimeSource source = TimeSource::none;
    WallTime time{};
  };

  PolicyDecision drop(AuthReason r, const InitiationInfo& info, std::int64_t skew = 0);
  void note(PolicyDecision& d, AuthReason r, const InitiationInfo& info, std::int64_t skew = 0);
  void log(AuthReason r, const PeerAddr& peer, TimeMs now, std::int64_t skew);
  // Reads and opens the encrypted timestamp in front of a valid MAC1 (absent: nothing
  // changes); a drop reason on failure. Sets `key` to its replay key when the cache is on.
  std::optional<AuthReason> open_encrypted(const InitiationInfo& info, Dated& dated,
                                           std::optional<InitiationReplayCache::Key>& key);
  // Skew check of a dated Initiation: a drop reason, or nullopt (notes added to `d`).
  std::optional<AuthReason> check_skew(const Dated& dated, const InitiationInfo& info,
                                       PolicyDecision& d, std::int64_t& skew_out);

  AuthConfig cfg_;
  std::optional<envelope::ServerKeys> keys_;
  PreambleTracker preamble_;
  HandshakeRateLimiter rate_;
  InitiationReplayCache replay_;
  LogLimiter log_limit_;
  EventQueue<PolicyLog> logs_;
  // The replay key of the last accepted decide(), committed by accepted().
  std::optional<InitiationReplayCache::Key> pending_key_;
  AuthStats stats_;
};

// The policy of a profile: auth_config_from_profile(p), then an AuthPolicy over `framer`.
// Errors as auth_config_from_profile; the server must refuse to start.
Result<std::unique_ptr<InitiationPolicy>> make_initiation_policy(const profile::Profile& p,
                                                                 const obf::Framer& framer,
                                                                 Rng& rng);

}  // namespace paniq::tunnel
