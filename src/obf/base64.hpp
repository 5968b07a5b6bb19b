// Standard-alphabet base64 WITHOUT padding, as <ds> writes it (PROTOCOL.md 3.2).
// Internal to the obf layer (obf links only core, so it carries its own small codec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"

namespace paniq::obf::base64 {

// 4*floor(n/3) + {0,2,3}[n mod 3].
constexpr std::size_t encoded_len(std::size_t n) {
  constexpr std::size_t kTail[3] = {0, 2, 3};
  return 4 * (n / 3) + kTail[n % 3];
}
// Decoded size of `len` base64 characters; nullopt when len mod 4 == 1 (no such encoding).
std::optional<std::size_t> decoded_len(std::size_t len);

// Writes encoded_len(in.size()) characters at out.
void encode(ByteView in, std::uint8_t* out);
// Appends the decoded bytes of `in` to `out`. Returns false (out unchanged in size) on a
// character outside the alphabet, '=' padding, an impossible length or non-zero trailing bits
// (only canonical encodings decode, so decode and encode are inverse).
bool decode(ByteView in, Bytes& out);

}  // namespace paniq::obf::base64
