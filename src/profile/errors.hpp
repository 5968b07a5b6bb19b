// Error codes of the profile layer (profile JSON, daemon config files, compact CBOR profile).
// Every Error produced here carries a complete message naming the field path and the bad value,
// e.g. `obfuscation.h2: "9-3": start above end`; the code only groups them.
#pragma once

#include <string>
#include <system_error>

#include "core/result.hpp"

namespace paniq::profile {

enum class Errc {
  io = 1,         // file missing or unreadable
  invalid_json,   // not JSON at all (message has line and column)
  missing_field,  // a required key is absent
  invalid_type,   // a value of the wrong JSON type (float for an integer, string for a bool, ...)
  invalid_value,  // right type, unusable value (out of range, bad duration, bad address, ...)
  validation,     // cross-field rule broken (sizes, headers, chains)
  cbor,           // compact profile could not be decoded or encoded
  link,           // pnq:// share link malformed, or refused (a server private key inside)
};

const std::error_category& profile_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::profile

template <>
struct std::is_error_code_enum<paniq::profile::Errc> : std::true_type {};
