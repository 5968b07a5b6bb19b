// Key and profile generation (PROTOCOL.md 2.4), used by `paniq-ctl keygen / headergen /
// create-profile` and `make demo`. Randomness comes from the caller's Rng.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "core/rng.hpp"
#include "obf/types.hpp"
#include "profile/profile.hpp"

namespace paniq::profile {

struct KeyPair {
  std::string private_key;  // standard base64 of 32 random bytes (stored unclamped)
  std::string public_key;   // standard base64 of X25519(private, basepoint)
};
KeyPair generate_keypair(Rng& rng);

struct HeaderGenOptions {
  std::uint32_t width = 1024;  // each range spans width + 1 values
  std::uint32_t min = 1;
  std::uint32_t max = 4294967295u;
};

// Four disjoint ranges, each inside its own most-significant-byte bucket (clipped to
// [min, max]), sorted ascending (h1..h4). Errors (Errc::invalid_value): "max must be >= min +
// width", "width must be < 2^24", or fewer than four buckets that can hold a range.
Result<std::array<obf::HeaderRange, 4>> generate_headers(Rng& rng, const HeaderGenOptions& opt = {});

// A complete SERVER profile for MTU `mtu` (2.4): keys, headers with width in [512, 2048], junk,
// S1..S4, padding sized from the headroom, fixed timing/KCP values, encryption "required". Unlike the reference's
// client link, the private key stays in this server profile only: hand clients client_view().
// `name` is used verbatim (the caller supplies "bf-YYYY-MM-DD"; no clock is read here).
// Errors (Errc::invalid_value): "mtu must be >= 1280", "mtu must be <= 65507", "mtu too small for minimum
// payload budget". The result passes validate_profile.
Result<Profile> generate_profile(Rng& rng, unsigned mtu, std::string name, std::string proxy_addr);

}  // namespace paniq::profile
