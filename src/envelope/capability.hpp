// Capability tag (our extension, docs/protocol.md 2.2): a paniq-cpp client marks its
// Initiation as "accepts several KCP segments per transport datagram" by making the last 8 of
// the Initiation's S1 random prefix bytes a keyed BLAKE2s of the bytes before them. No length
// changes and nothing an observer without the profile can tell from random: a Rust server
// ignores the prefix, and a Rust client's random prefix carries the tag with probability 2^-64,
// so a paniq-cpp server packs only for clients that asked. The key is derived from the
// obfuscation parameters both ends share (S1..S4, H1..H4), not from any secret.
#pragma once

#include <cstddef>

#include "core/bytes.hpp"
#include "crypto/crypto.hpp"
#include "obf/types.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kCapabilityTagLen = 8;
// Random bytes the tag is computed over: below this S1 there is no room and no tag.
inline constexpr std::size_t kCapabilityMinPrefix = 16 + kCapabilityTagLen;

// BLAKE2s-256("paniq-cpp capability v1" || for each type: u32 LE S, u32 LE H start, u32 LE H end).
crypto::Key32 capability_key(const obf::Config& cfg);

// Overwrites datagram[s1 - 8, s1) with the tag over datagram[0, s1 - 8). Returns false (nothing
// written) when s1 < kCapabilityMinPrefix or the datagram is shorter than s1. Call after the
// framer wrote the prefix and before anything that covers the whole datagram (MAC1).
bool write_capability_tag(MutByteView datagram, std::size_t s1, const crypto::Key32& key);

// True when datagram[s1 - 8, s1) is the tag (constant-time compare); false on any size problem.
bool has_capability_tag(ByteView datagram, std::size_t s1, const crypto::Key32& key);

}  // namespace paniq::envelope
