// Server-side handshake policy settings (issue #6): the `obfuscation` fields the Rust
// reference parses and ignores (PROTOCOL.md 2.1.4, 4.7, 17 items 2-4), resolved into one
// struct, and the reasons the server gives (to its counters and log, never to the peer) for
// refusing an Initiation. What each field does: docs/auth.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/result.hpp"
#include "crypto/crypto.hpp"
#include "obf/types.hpp"

namespace paniq::profile {
struct Profile;
}

namespace paniq::tunnel {

// Why an Initiation was refused (drops, silent on the wire), or a note on one that was
// accepted. Indices of ServerStats::auth.
enum class AuthReason : std::uint8_t {
  // Drops.
  policy = 0,                   // a custom InitiationPolicy said drop (no finer reason)
  mac1_missing,                 // require_encrypted_timestamp, payload under 16 bytes
  mac1_invalid,                 // a MAC1 that does not verify (wrong key, tampered datagram)
  rate_limited,                 // rate_limit_pps / rate_limit_burst of the source IP
  replay,                       // seen within the replay window
  timestamp_invalid,            // an encrypted timestamp that does not open
  encrypted_timestamp_missing,  // require_encrypted_timestamp, none present
  signature_missing,            // signature_validate: the source's I1..I5 not all seen
  timestamp_missing,            // require_timestamp, no timestamp, legacy mode not allowed
  skew_hard,                    // |server wall time - timestamp| > skew_hard_seconds
  // Notes on accepted Initiations.
  skew_soft,                    // |skew| > skew_soft_seconds (accepted)
  legacy_accepted,              // require_timestamp waived by legacy_mode_enabled
  wall_unknown,                 // the shell gave no wall time: skew not checked
  unauthenticated_accepted,     // no MAC1, admitted by accept_unauthenticated (a paniq-rs client)
};
inline constexpr std::size_t kAuthReasonCount = 14;
inline constexpr std::size_t kAuthDropReasonCount = 10;  // policy .. skew_hard
constexpr std::size_t index(AuthReason r) { return static_cast<std::size_t>(r); }
constexpr bool is_drop(AuthReason r) { return index(r) < kAuthDropReasonCount; }
// "mac1_invalid", "skew_soft", ... (stable names for logs and metrics).
const char* to_string(AuthReason r);

struct AuthConfig {
  // obfuscation.server_private_key: verifies MAC1 and opens encrypted timestamps. Without it
  // neither can be checked (an Initiation's payload is then ignored, as the reference does).
  std::optional<crypto::Key32> server_private_key;
  bool signature_validate = false;           // require and check the I1..I5 signatures
  bool require_timestamp = false;            // profile null -> false
  bool require_encrypted_timestamp = false;  // implies MAC1 required
  bool legacy_mode_enabled = false;          // waive require_timestamp (counted, logged)
  std::int64_t skew_soft_seconds = 0;        // <= 0: no soft check
  std::int64_t skew_hard_seconds = 0;        // <= 0: no hard check
  std::uint64_t replay_window_seconds = 0;   // 0: no replay cache
  std::uint64_t replay_cache_size = 0;       // 0: no replay cache
  std::uint64_t rate_limit_pps = 0;          // 0: no rate limit
  std::uint64_t rate_limit_burst = 0;        // < 1 is taken as 1
  // A server setting, not a profile field (proxy-server's accept_unauthenticated_clients):
  // admit Initiations that carry no MAC1 (clients that cannot authenticate, such as paniq-rs,
  // whose Initiation payload is empty) although require_encrypted_timestamp is set. What such
  // an Initiation does carry is still checked: the I1..I5 signatures, a <t> date's skew and
  // replay, the rate limit. An Initiation WITH a MAC1 gets every check as before, so clients
  // that authenticate keep their protection against replay and forgery.
  bool accept_unauthenticated = false;
  // Bounds of our own (not profile fields): per-source state a prober could otherwise grow.
  std::size_t preamble_table_size = 4096;    // sources with signature records
  std::uint32_t preamble_ttl_ms = 10'000;    // a record lives this long after its last signature
  std::size_t rate_table_size = 4096;        // source IPs with rate-limit buckets
  std::uint32_t log_per_second = 5;          // log records per reason per second (0 = none)

  static constexpr std::uint64_t kMaxReplayCacheSize = 1u << 20;

  // Everything off: every Initiation is accepted (the reference's behaviour).
  static AuthConfig relaxed() { return AuthConfig{}; }
  // True when some Initiation could be refused for what it carries (not counting the rate
  // limit or the replay cache): a MAC1 to verify or a requirement to meet.
  bool authenticates() const;
  // How long an accepted Initiation is remembered: replay_window_seconds, extended to
  // 2 * skew_hard_seconds + 1 when that is longer (a timestamp up to skew_hard ahead of the
  // server stays acceptable until skew_hard behind it, both ends included). 0 when the replay
  // cache is off.
  std::uint64_t replay_lifetime_ms() const;

  // The first broken rule (Errc::invalid_config, message names the field), given the framer
  // config whose chains the signatures are checked against:
  //  * require_encrypted_timestamp without server_private_key;
  //  * require_timestamp with no possible timestamp (no private key, and no <t> in a
  //    non-empty i1..i5 while signature_validate);
  //  * replay_cache_size above 2^20; zero table sizes or TTL.
  // The server must not start with a config that fails.
  Result<void> validate(const obf::Config& obf) const;
};

// From a validated profile's obfuscation section (docs/auth.md): server_private_key (standard
// base64 of 32 bytes; server_public_key, when also set, must be its public key), the booleans,
// require_timestamp null -> false, the numbers as given. Then validate(obf_config(p)).
// Errors (Errc::invalid_config) name the field: `obfuscation.server_private_key: not a base64
// X25519 key (32 bytes)`; the server must refuse to start.
Result<AuthConfig> auth_config_from_profile(const profile::Profile& p);

// Standard base64 of exactly 32 bytes (a key in a profile or users file); nullopt otherwise.
std::optional<crypto::Key32> decode_key(const std::string& text);

// Client side: obfuscation.server_public_key decoded (nullopt when empty). Errors name the
// field (not base64 of 32 bytes, or a low-order X25519 point); the client must not start.
Result<std::optional<crypto::Key32>> server_public_key_from_profile(const profile::Profile& p);

}  // namespace paniq::tunnel
