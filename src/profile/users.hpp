// The proxy-server users file (our extension, docs/protocol.md 7.7): the allowlist of client
// public keys for encrypted mode, one entry per user.
//
//   {"users": [{"name": "alice", "public_key": "<base64 X25519 public key>"}, ...]}
//
// Names are 1-64 characters of [A-Za-z0-9._@-] and unique; keys are unique. An entry may
// carry "max_streams": N (1..2^32-1), that user's cap on streams served at once, overriding
// proxy-server's max_streams_per_user; files without it stay valid.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace paniq::profile {

struct UserEntry {
  std::string name;
  std::string public_key;  // standard base64 of 32 bytes
  std::optional<std::uint64_t> max_streams{};  // unset: the server's max_streams_per_user
  friend bool operator==(const UserEntry&, const UserEntry&) = default;
};

// Parses and checks a users file. Errors name the entry and field:
// `users[2].public_key: "abc": not a base64 X25519 public key (32 bytes)`,
// `users[3].name: "alice": used twice`. The caller keeps its previous table on error.
Result<std::vector<UserEntry>> parse_users_json(std::string_view text);
// Reads `path` (Errc::io naming the path when it cannot) and parses it.
Result<std::vector<UserEntry>> load_users_file(const std::string& path);
// The file text for `users` (2-space JSON, one entry per user, in order).
std::string users_to_json(const std::vector<UserEntry>& users);

}  // namespace paniq::profile
