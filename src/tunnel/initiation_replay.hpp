// The server's memory of accepted Initiations (obfuscation.replay_window_seconds and
// replay_cache_size, docs/auth.md): 16-byte keys, each remembered for a fixed lifetime from
// the (monotonic) time it was accepted, at most `capacity` of them (the oldest is forgotten
// first when full, counted as an eviction). Keys come from replay_key(): a keyed BLAKE2s
// whose key is drawn from the server's Rng, so a prober cannot predict or collide them.
// No allocation after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "tunnel/bounded_table.hpp"

namespace paniq::tunnel {

class InitiationReplayCache {
 public:
  using Key = std::array<std::uint8_t, 16>;

  // `capacity` 0 or `lifetime_ms` 0 = disabled (seen() is always false, insert() a no-op).
  // The hashing key and the table seed are drawn from `rng`.
  InitiationReplayCache(std::size_t capacity, TimeMs lifetime_ms, Rng& rng);

  bool enabled() const { return enabled_; }
  TimeMs lifetime_ms() const { return lifetime_; }

  // Key of an Initiation authenticated by its encrypted timestamp (the 85 enc_timestamp
  // bytes): its nonce and ciphertext, unique per handshake and unchangeable without failing the
  // AEAD. MAC1, padding and the encoding of the ephemeral key are left out: anyone with the
  // server public key can recompute MAC1 over changed padding.
  Key key_encrypted(ByteView enc_timestamp) const;
  // Key of an Initiation dated by a <t> signature: the time and the whole datagram.
  Key key_signature_time(std::uint32_t unix_seconds, ByteView datagram) const;

  // True when `key` was inserted less than the lifetime before `now`.
  bool seen(const Key& key, TimeMs now) const;
  // Remembers `key` from `now` (forgetting expired entries first, then the oldest if full).
  void insert(const Key& key, TimeMs now);

  std::size_t size() const { return table_.size(); }
  std::size_t capacity() const { return table_.capacity(); }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct KeyHash {
    std::uint64_t operator()(const Key& k, std::uint64_t seed) const { return seeded_hash(k, seed); }
  };
  bool enabled_;
  TimeMs lifetime_;
  crypto::Key32 mac_key_{};
  BoundedLru<Key, TimeMs, KeyHash> table_;  // value: insertion time
  std::uint64_t evictions_ = 0;
};

}  // namespace paniq::tunnel
