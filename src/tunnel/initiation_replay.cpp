#include "tunnel/initiation_replay.hpp"

#include <algorithm>

namespace paniq::tunnel {
namespace {

std::uint64_t draw_seed(Rng& rng) { return rng.next_u64(); }

}  // namespace

InitiationReplayCache::InitiationReplayCache(std::size_t capacity, TimeMs lifetime_ms, Rng& rng)
    : enabled_(capacity > 0 && lifetime_ms > 0),
      lifetime_(lifetime_ms),
      table_(std::max<std::size_t>(capacity, 1), draw_seed(rng)) {
  rng.fill(mac_key_);
}

InitiationReplayCache::Key InitiationReplayCache::key_encrypted(ByteView enc_timestamp) const {
  // The nonce and the AEAD output (bytes 33..85): whatever else changes (another encoding of
  // the ephemeral key, padding, MAC1), these open only as they are.
  static constexpr std::uint8_t kDomain[1] = {0x01};
  static constexpr std::size_t kNonceAt = 33;
  const ByteView sealed = enc_timestamp.size() > kNonceAt ? enc_timestamp.subspan(kNonceAt) : ByteView{};
  Key k{};
  crypto::Blake2s(k.size(), mac_key_).update(kDomain).update(sealed).final(k);
  return k;
}

InitiationReplayCache::Key InitiationReplayCache::key_signature_time(std::uint32_t unix_seconds,
                                                                     ByteView datagram) const {
  std::uint8_t head[5] = {0x02, 0, 0, 0, 0};
  put_u32_be(head + 1, unix_seconds);
  Key k{};
  crypto::Blake2s(k.size(), mac_key_).update(head).update(datagram).final(k);
  return k;
}

bool InitiationReplayCache::seen(const Key& key, TimeMs now) const {
  if (!enabled_) return false;
  const TimeMs* at = table_.find(key);
  return at != nullptr && now < *at + lifetime_;
}

void InitiationReplayCache::insert(const Key& key, TimeMs now) {
  if (!enabled_) return;
  // Entries were inserted in time order with one lifetime: the old end expires first.
  while (const TimeMs* oldest = table_.oldest()) {
    if (now < *oldest + lifetime_) break;
    table_.pop_oldest();
  }
  if (table_.insert(key, now)) ++evictions_;
}

}  // namespace paniq::tunnel
