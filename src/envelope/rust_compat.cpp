#include "envelope/rust_compat.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace paniq::envelope::rust {

Mac1 mac1(ByteView key, ByteView data) {
  std::array<std::uint8_t, 32> full{};
  crypto::blake2s(full, data, key);
  Mac1 out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

bool verify_mac1(ByteView key, ByteView data, ByteView mac) {
  if (mac.size() != kMac1Len) return false;
  const Mac1 expected = mac1(key, data);
  return crypto::ct_equal(expected, mac);
}

namespace {
crypto::Key32 hash_shared(const crypto::Key32& shared) {
  crypto::Key32 key{};
  crypto::blake2s(key, shared);
  return key;
}
}  // namespace

Result<EncryptedTimestamp> seal_timestamp(const crypto::Key32& client_secret,
                                          const crypto::Key32& server_public, WallTime time,
                                          Rng& rng) {
  const auto shared = crypto::x25519(client_secret, server_public);
  if (!shared) return make_error(Errc::low_order_key, "server public key is a low-order point");
  EncryptedTimestamp ts;
  ts.client_public = crypto::x25519_public(client_secret);
  rng.fill(ts.nonce);
  std::array<std::uint8_t, 12> plain{};
  put_u64_be(plain.data(), static_cast<std::uint64_t>(time.seconds) + kTimestampOffset);
  put_u32_be(plain.data() + 8, time.nanos);
  crypto::chacha20poly1305_seal(ts.ciphertext, plain, {}, ts.nonce, hash_shared(*shared));
  return ts;
}

Result<WallTime> open_timestamp(const EncryptedTimestamp& ts, const crypto::Key32& server_secret) {
  const auto shared = crypto::x25519(server_secret, ts.client_public);
  if (!shared) return make_error(Errc::low_order_key, "client public key is a low-order point");
  std::array<std::uint8_t, 12> plain{};
  if (!crypto::chacha20poly1305_open(plain, ts.ciphertext, {}, ts.nonce, hash_shared(*shared))) {
    return make_error(Errc::timestamp_auth_failed, "encrypted timestamp failed authentication");
  }
  const std::uint64_t value = get_u64_be(plain.data());
  const std::uint64_t seconds = value > kTimestampOffset ? value - kTimestampOffset : 0;
  if (seconds > std::uint64_t{std::numeric_limits<std::int64_t>::max()}) {
    return make_error(Errc::timestamp_out_of_range, "encrypted timestamp out of range");
  }
  return WallTime{static_cast<std::int64_t>(seconds), get_u32_be(plain.data() + 8)};
}

ReplayCache::ReplayCache(std::uint64_t window_secs, std::size_t max_entries)
    : window_secs_(window_secs), max_entries_(max_entries) {}

std::size_t ReplayCache::KeyHash::operator()(const Key& k) const {
  std::uint64_t h = 0;
  std::memcpy(&h, k.data(), sizeof h);  // the key is already a uniform hash
  return static_cast<std::size_t>(h);
}

bool ReplayCache::check_and_insert(std::uint64_t timestamp_secs, ByteView payload, ByteView mac1) {
  while (!order_.empty()) {
    const Entry& oldest = order_.front();
    if (timestamp_secs < oldest.timestamp) {  // clock went back: forget everything
      order_.clear();
      keys_.clear();
      break;
    }
    if (timestamp_secs - oldest.timestamp <= window_secs_) break;
    keys_.erase(oldest.key);
    order_.pop_front();
  }

  std::uint8_t ts_be[8];
  put_u64_be(ts_be, timestamp_secs);
  std::array<std::uint8_t, 32> digest{};
  crypto::Blake2s(digest.size(), mac1).update(ts_be).update(payload).final(digest);
  Key key{};
  std::copy_n(digest.begin(), key.size(), key.begin());

  if (keys_.contains(key)) return false;
  keys_.insert(key);
  order_.push_back(Entry{timestamp_secs, key});
  if (order_.size() > max_entries_) {
    keys_.erase(order_.front().key);
    order_.pop_front();
  }
  return true;
}

}  // namespace paniq::envelope::rust
