// Operator warnings for clients that are refused because they cannot do what the profile
// requires. The Rust reference parses the authentication fields and never enforces them, and
// its create-profile (like ours) writes require_encrypted_timestamp = true; a paniq-rs client
// sends an empty Initiation payload, so a server of ours given such a profile drops every one of
// its handshakes (mac1_missing) and, when obfuscation.encryption is "required", every plain
// Initiation (drop_plain_refused). On the wire that must stay silent; in the log it must not
// look like an unexplained outage. MigrationHints watches those two counters and says, on the
// first such drop and then at most once per interval, what the likely cause is and which
// setting changes it. Pure: the caller passes the stats and `now`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/time.hpp"
#include "tunnel/server.hpp"

namespace paniq::tunnel {

class MigrationHints {
 public:
  static constexpr std::uint32_t kDefaultIntervalMs = 600'000;  // 10 minutes

  explicit MigrationHints(const ServerConfig& cfg, std::uint32_t interval_ms = kDefaultIntervalMs);

  // A warning when one of the watched counters grew since the last call and no warning about
  // it was given within the interval; nullopt otherwise. Call after each batch of datagrams.
  std::optional<std::string> check(const ServerStats& stats, TimeMs now);

 private:
  struct Watch {
    std::uint64_t seen = 0;       // counter value at the last call
    std::uint64_t warned_at = 0;  // counter value at the last warning
    std::optional<TimeMs> last;   // time of the last warning
  };
  std::optional<std::string> step(Watch& w, std::uint64_t value, TimeMs now, bool mac1);

  bool encryption_required_;
  bool accept_unauthenticated_;
  std::uint32_t interval_ms_;
  Watch mac1_;
  Watch plain_;
};

}  // namespace paniq::tunnel
