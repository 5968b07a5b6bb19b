#include "envelope/secure.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "envelope/errors.hpp"
#include "envelope/padding.hpp"

namespace paniq::envelope {
namespace {

// How many epochs a receiver derives forward to follow a sender's rekeys (several rekeys
// between two received datagrams only happen after a long loss burst during volume rekeys).
constexpr std::uint32_t kMaxEpochSkip = 4;

std::array<std::uint8_t, 12> nonce_of(std::uint64_t counter) {
  std::array<std::uint8_t, 12> n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return n;
}

void write_header(std::uint8_t* p, const SecureHeader& h) {
  put_u32_le(p, h.receiver_id);
  put_u32_le(p + 4, h.epoch);
  put_u64_le(p + 8, h.counter);
}

SecureHeader read_header(const std::uint8_t* p) {
  return SecureHeader{get_u32_le(p), get_u32_le(p + 4), get_u64_le(p + 8)};
}

constexpr std::size_t kMinPayload = kSecureHeaderLen + 2 + kSecureTagLen;

}  // namespace

void SecureKeys::erase() {
  crypto::secure_zero(send);
  crypto::secure_zero(recv);
  crypto::secure_zero(hp_send);
  crypto::secure_zero(hp_recv);
}

crypto::Key32 noise_rekey(const crypto::Key32& k) {
  std::array<std::uint8_t, 32 + crypto::kAeadTagLen> out{};
  const std::array<std::uint8_t, 32> zeros{};
  crypto::chacha20poly1305_seal(out, zeros, {}, nonce_of(~std::uint64_t{0}), k);
  crypto::Key32 next{};
  std::copy(out.begin(), out.begin() + 32, next.begin());
  crypto::secure_zero(out);
  return next;
}

std::optional<SecureHeader> peek_header(ByteView payload, const crypto::HeaderProtection& hp) {
  if (payload.size() < kMinPayload) return std::nullopt;
  const auto mask = hp.mask(payload.subspan(kSecureHeaderLen, 16));
  std::array<std::uint8_t, kSecureHeaderLen> h{};
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = payload[i] ^ mask[i];
  return read_header(h.data());
}

SecureChannel::SecureChannel(const SecureKeys& keys, const RekeyPolicy& policy, TimeMs now)
    : aead_(keys.aead),
      policy_(policy),
      hp_send_(keys.aead, keys.hp_send),
      hp_recv_(keys.aead, keys.hp_recv),
      send_rid_(keys.send_rid),
      recv_rid_(keys.recv_rid),
      send_raw_(keys.send),
      send_key_(std::make_unique<crypto::AeadKey>(keys.aead, keys.send)),
      send_since_(now),
      recv_raw_(keys.recv),
      recv_key_(std::make_unique<crypto::AeadKey>(keys.aead, keys.recv)),
      recv_since_(now),
      replay_(kSecureReplayWindow) {}

SecureChannel::~SecureChannel() {
  crypto::secure_zero(send_raw_);
  crypto::secure_zero(recv_raw_);
}

void SecureChannel::rekey_send(TimeMs now) {
  const crypto::Key32 next = noise_rekey(send_raw_);
  crypto::secure_zero(send_raw_);
  send_raw_ = next;
  send_key_ = std::make_unique<crypto::AeadKey>(aead_, send_raw_);  // the old state is zeroed
  ++send_epoch_;
  send_since_ = now;
  send_bytes_ = 0;
  ++stats_.rekeys_sent;
}

Result<std::size_t> SecureChannel::seal(MutByteView out, std::size_t inner_len,
                                        const PaddingPolicy& padding, std::size_t budget, Rng& rng,
                                        TimeMs now) {
  const std::size_t front = inner_offset();
  if (inner_len > 0xffff) {
    return make_error(Errc::payload_too_large, "transport inner of " + std::to_string(inner_len) +
                                                   " bytes exceeds the 16-bit length field");
  }
  const std::size_t body = 2 + inner_len;
  const std::size_t room = budget > kSecureOverhead ? budget - kSecureOverhead : 0;
  const std::size_t pad = choose_padding(padding, body, room, rng);
  const std::size_t total = kSecureOverhead + body + pad;
  if (total > budget) {
    return make_error(Errc::payload_too_large, "encrypted payload of " + std::to_string(total) +
                                                   " bytes over budget " + std::to_string(budget));
  }
  if (total > out.size()) {
    return make_error(Errc::buffer_too_small, "encrypted payload of " + std::to_string(total) +
                                                  " bytes, buffer " + std::to_string(out.size()));
  }
  if (now - send_since_ >= policy_.after_ms || send_bytes_ >= policy_.after_bytes) {
    rekey_send(now);
  }
  std::uint8_t* p = out.data();
  const SecureHeader h{send_rid_, send_epoch_, send_counter_};
  write_header(p, h);
  put_u16_be(p + kSecureHeaderLen, static_cast<std::uint16_t>(inner_len));
  if (pad > 0) std::memset(p + front + inner_len, 0, pad);
  const MutByteView sealed(p + kSecureHeaderLen, body + pad + kSecureTagLen);
  send_key_->seal(sealed, body + pad, ByteView(p, kSecureHeaderLen), nonce_of(h.counter));
  const auto mask = hp_send_.mask(sealed.first(16));
  for (std::size_t i = 0; i < kSecureHeaderLen; ++i) p[i] ^= mask[i];
  ++send_counter_;
  send_bytes_ += total;
  return total;
}

// The key for `epoch`, moving the receive side forward when the sender rekeyed. A forward
// move is only tentative here: open() commits it after the AEAD opened.
const crypto::AeadKey* SecureChannel::recv_key_for(std::uint32_t epoch, TimeMs now,
                                                   OpenStatus& why) {
  if (prev_key_ && now >= prev_until_) prev_key_.reset();
  if (epoch == recv_epoch_) {
    if (now - recv_since_ >= policy_.reject_after_ms) {
      why = OpenStatus::stale_key;
      return nullptr;
    }
    return recv_key_.get();
  }
  if (epoch + 1 == recv_epoch_ && prev_key_) return prev_key_.get();
  why = OpenStatus::auth;
  return nullptr;
}

Opened SecureChannel::open(ByteView payload, MutByteView scratch, TimeMs now,
                           const SecureHeader* known) {
  Opened r;
  if (payload.size() < kMinPayload || scratch.size() < payload.size()) {
    ++stats_.drop_malformed;
    return r;
  }
  const SecureHeader h = known ? *known : *peek_header(payload, hp_recv_);
  if (h.receiver_id != recv_rid_) {
    ++stats_.drop_malformed;
    r.status = OpenStatus::wrong_receiver;
    return r;
  }
  if (!replay_.check(h.counter)) {
    ++stats_.drop_replay;
    r.status = OpenStatus::replayed;
    return r;
  }
  std::array<std::uint8_t, kSecureHeaderLen> ad{};
  write_header(ad.data(), h);
  // Opened out of place into `scratch`: the received datagram is not copied first.
  const ByteView sealed = payload.subspan(kSecureHeaderLen);
  const MutByteView buf = scratch.first(sealed.size() - kSecureTagLen);

  const std::uint32_t ahead = h.epoch - recv_epoch_;  // wraps: a past epoch is a huge value
  if (ahead >= 1 && ahead <= kMaxEpochSkip) {
    // The sender rekeyed: derive forward on a copy and adopt it only if it opens.
    crypto::Key32 k = recv_raw_;
    for (std::uint32_t i = 0; i < ahead; ++i) {
      const crypto::Key32 n = noise_rekey(k);
      crypto::secure_zero(k);
      k = n;
    }
    auto key = std::make_unique<crypto::AeadKey>(aead_, k);
    if (!key->open(buf, sealed, ad, nonce_of(h.counter))) {
      crypto::secure_zero(k);
      ++stats_.drop_auth;
      r.status = OpenStatus::auth;
      return r;
    }
    prev_key_ = ahead == 1 ? std::move(recv_key_) : nullptr;
    prev_until_ = now + policy_.previous_grace_ms;
    recv_key_ = std::move(key);
    crypto::secure_zero(recv_raw_);
    recv_raw_ = k;
    crypto::secure_zero(k);
    recv_epoch_ = h.epoch;
    recv_since_ = now;
    stats_.rekeys_received += ahead;
  } else {
    OpenStatus why = OpenStatus::auth;
    const crypto::AeadKey* key = recv_key_for(h.epoch, now, why);
    if (!key) {
      if (why == OpenStatus::stale_key) {
        ++stats_.drop_stale_key;
      } else {
        ++stats_.drop_auth;
      }
      r.status = why;
      return r;
    }
    if (!key->open(buf, sealed, ad, nonce_of(h.counter))) {
      ++stats_.drop_auth;
      r.status = OpenStatus::auth;
      return r;
    }
  }
  const std::size_t plain = sealed.size() - kSecureTagLen;
  const std::size_t inner_len = get_u16_be(buf.data());
  if (2 + inner_len > plain) {
    // Authenticated but inconsistent: only a buggy peer sends this. Still a replay entry.
    (void)replay_.check_and_update(h.counter);
    ++stats_.drop_malformed;
    r.status = OpenStatus::malformed;
    return r;
  }
  r.newest = !any_ || h.counter > highest_;
  (void)replay_.check_and_update(h.counter);
  if (r.newest) highest_ = h.counter;
  any_ = true;
  r.status = OpenStatus::ok;
  r.counter = h.counter;
  r.inner = ByteView(buf.data() + 2, inner_len);
  r.padding_len = plain - 2 - inner_len;
  return r;
}

}  // namespace paniq::envelope
