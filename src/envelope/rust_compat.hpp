// Cryptographic primitives of the Rust reference's library that are NOT used on its wire
// (PROTOCOL.md 4.7). Kept for the shared vectors and for parity with the reference's API; they
// differ from the Go constructions in auth.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "envelope/auth.hpp"
#include "envelope/errors.hpp"

namespace paniq::envelope::rust {

// First 16 bytes of keyed BLAKE2s-256 (not BLAKE2s-128). `key` is at most 32 bytes
// (std::invalid_argument otherwise: a caller bug).
Mac1 mac1(ByteView key, ByteView data);
// Constant-time check of `mac` against mac1(key, data); false when `mac` is not 16 bytes.
bool verify_mac1(ByteView key, ByteView data, ByteView mac);

inline constexpr std::uint64_t kTimestampOffset = 0x4000000000000000ULL;  // 2^62

// The Rust library's encrypted timestamp: ChaCha20-Poly1305 under BLAKE2s-256(shared).
struct EncryptedTimestamp {
  crypto::Key32 client_public{};
  std::array<std::uint8_t, 12> nonce{};
  std::array<std::uint8_t, 12 + crypto::kAeadTagLen> ciphertext{};
};

// Seals u64_BE(seconds + 2^62) || u32_BE(nanos) with key BLAKE2s-256(X25519(client_secret,
// server_public)) and a 12-byte nonce drawn from `rng`. Failure: low_order_key (all-zero shared
// secret); the caller has a bad server key.
Result<EncryptedTimestamp> seal_timestamp(const crypto::Key32& client_secret,
                                          const crypto::Key32& server_public, WallTime time,
                                          Rng& rng);
// Opens with the server secret; seconds = value - 2^62, saturating at 0. Failure (drop):
// low_order_key, timestamp_auth_failed, timestamp_out_of_range (seconds beyond int64).
Result<WallTime> open_timestamp(const EncryptedTimestamp& ts, const crypto::Key32& server_secret);

// The Rust library's replay cache. Entries are keyed by the first 16 bytes of BLAKE2s-256 keyed
// with the MAC1 over u64_BE(timestamp) || payload, and kept in insertion order.
class ReplayCache {
 public:
  ReplayCache(std::uint64_t window_secs, std::size_t max_entries);

  // Evicts from the oldest entry while it is older than the window (stopping at the first one
  // within it; a timestamp earlier than an entry's clears the whole cache), then returns false
  // if the key is present (a replay: drop), else inserts it (dropping the oldest entry past
  // max_entries) and returns true. `mac1` is at most 32 bytes.
  bool check_and_insert(std::uint64_t timestamp_secs, ByteView payload, ByteView mac1);
  std::size_t size() const { return order_.size(); }

 private:
  using Key = std::array<std::uint8_t, 16>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Entry {
    std::uint64_t timestamp;
    Key key;
  };

  std::uint64_t window_secs_;
  std::size_t max_entries_;
  std::deque<Entry> order_;
  std::unordered_set<Key, KeyHash> keys_;
};

}  // namespace paniq::envelope::rust
