#include "envelope/auth.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::envelope {
namespace {

constexpr std::size_t kPublicOffset = 1;
constexpr std::size_t kNonceOffset = kPublicOffset + 32;
constexpr std::size_t kCiphertextOffset = kNonceOffset + 24;
constexpr std::size_t kCiphertextLen = kTai64nLen + crypto::kAeadTagLen;
static_assert(kCiphertextOffset + kCiphertextLen == kEncTimestampLen);

crypto::Key32 labelled_hash(ByteView label, const crypto::Key32& key) {
  crypto::Key32 out{};
  crypto::Blake2s(out.size()).update(label).update(key).final(out);
  return out;
}

}  // namespace

crypto::Key32 timestamp_key(const crypto::Key32& shared) {
  return labelled_hash(as_bytes("ts-encrypt"), shared);
}

Result<void> seal_timestamp(MutByteView out, const Tai64n& stamp,
                            const crypto::Key32& server_public, Rng& rng) {
  if (out.size() < kEncTimestampLen) {
    return make_error(Errc::buffer_too_small, "encrypted timestamp needs 85 bytes");
  }
  crypto::Key32 ephemeral{};
  std::array<std::uint8_t, 24> nonce{};
  rng.fill(ephemeral);  // Go client order: ephemeral secret, then nonce
  rng.fill(nonce);
  const auto shared = crypto::x25519(ephemeral, server_public);
  if (!shared) {
    return make_error(Errc::low_order_key, "server public key is a low-order X25519 point");
  }
  const crypto::Key32 pub = crypto::x25519_public(ephemeral);
  out[0] = kEncTimestampVersion;
  std::copy(pub.begin(), pub.end(), out.begin() + kPublicOffset);
  std::copy(nonce.begin(), nonce.end(), out.begin() + kNonceOffset);
  crypto::xchacha20poly1305_seal(out.subspan(kCiphertextOffset, kCiphertextLen), stamp.bytes, {},
                                 nonce, timestamp_key(*shared));
  return {};
}

Result<WallTime> open_timestamp(ByteView enc, const crypto::Key32& server_private) {
  if (enc.size() < kEncTimestampLen || enc[0] != kEncTimestampVersion) {
    return make_error(Errc::timestamp_malformed, "not an 85-byte version 1 encrypted timestamp");
  }
  crypto::Key32 client_public{};
  std::array<std::uint8_t, 24> nonce{};
  std::copy_n(enc.begin() + kPublicOffset, client_public.size(), client_public.begin());
  std::copy_n(enc.begin() + kNonceOffset, nonce.size(), nonce.begin());
  const auto shared = crypto::x25519(server_private, client_public);
  if (!shared) {
    return make_error(Errc::low_order_key, "encrypted timestamp: low-order ephemeral key");
  }
  Tai64n stamp;
  if (!crypto::xchacha20poly1305_open(stamp.bytes, enc.subspan(kCiphertextOffset, kCiphertextLen),
                                      {}, nonce, timestamp_key(*shared))) {
    return make_error(Errc::timestamp_auth_failed, "encrypted timestamp failed authentication");
  }
  return tai64n_decode(stamp.bytes);
}

crypto::Key32 mac1_key(const crypto::Key32& server_public) {
  return labelled_hash(as_bytes("mac1----"), server_public);
}

Mac1 compute_mac1(ByteView message, const crypto::Key32& key) {
  Mac1 mac{};
  crypto::blake2s(mac, message, key);
  return mac;
}

namespace {
// MAC1 of `datagram` with its last 16 bytes taken as zero (datagram.size() >= 16).
Mac1 mac1_with_zeroed_tail(ByteView datagram, const crypto::Key32& key) {
  static constexpr std::array<std::uint8_t, kMac1Len> kZero{};
  Mac1 mac{};
  crypto::Blake2s(kMac1Len, key)
      .update(datagram.first(datagram.size() - kMac1Len))
      .update(kZero)
      .final(mac);
  return mac;
}
}  // namespace

void write_mac1(MutByteView datagram, const crypto::Key32& key) {
  if (datagram.size() < kMac1Len)
    throw std::invalid_argument("write_mac1: datagram under 16 bytes");
  const Mac1 mac = mac1_with_zeroed_tail(datagram, key);
  std::copy(mac.begin(), mac.end(), datagram.end() - kMac1Len);
}

bool verify_mac1(ByteView datagram, const crypto::Key32& key) {
  if (datagram.size() < kMac1Len) return false;
  const Mac1 mac = mac1_with_zeroed_tail(datagram, key);
  return crypto::ct_equal(mac, datagram.last(kMac1Len));
}

ServerKeys ServerKeys::from_private(const crypto::Key32& private_key) {
  ServerKeys k;
  k.private_key = private_key;
  k.public_key = crypto::x25519_public(private_key);
  k.mac1_key = envelope::mac1_key(k.public_key);
  return k;
}

InitiationVerdict verify_initiation(ByteView datagram, ByteView payload, const ServerKeys& keys,
                                    const VerifyOptions& options) {
  InitiationVerdict v;
  if (payload.size() < kMac1Len) return v;  // Absent / Absent
  const bool is_suffix = payload.size() <= datagram.size() &&
                         payload.data() + payload.size() == datagram.data() + datagram.size();
  if (!is_suffix || !verify_mac1(datagram, keys.mac1_key)) {
    v.mac1 = Mac1Check::Invalid;
    v.timestamp = TimestampCheck::NotChecked;
    return v;
  }
  v.mac1 = Mac1Check::Valid;
  const ByteView enc = payload.first(payload.size() - kMac1Len);
  if (enc.size() < kEncTimestampLen || enc[0] != kEncTimestampVersion) return v;  // Absent
  if (!options.open_timestamp) {
    v.timestamp = TimestampCheck::NotChecked;
    return v;
  }
  auto time = open_timestamp(enc, keys.private_key);
  if (!time) {
    v.timestamp = TimestampCheck::Invalid;
    return v;
  }
  v.timestamp = TimestampCheck::Valid;
  v.time = *time;
  return v;
}

}  // namespace paniq::envelope
