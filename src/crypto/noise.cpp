#include "crypto/noise.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace paniq::crypto::noise {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "noise"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::message_too_long:
        return "Noise message over 65535 bytes";
      case Errc::message_size:
        return "Noise handshake message of the wrong length";
      case Errc::low_order_key:
        return "X25519 with a low-order public key";
      case Errc::auth_failed:
        return "Noise message failed authentication";
      case Errc::unusable:
        return "Noise handshake state unusable after an earlier failure";
    }
    return "unknown noise error";
  }
};

template <class T>
void wipe(T& obj) {
  static_assert(std::is_trivially_copyable_v<T>);
  sodium_memzero(&obj, sizeof obj);
}

// ChaChaPoly's nonce: 4 zero bytes, then n as 64-bit little-endian (spec 12.3).
std::array<std::uint8_t, 12> aead_nonce(std::uint64_t n) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return nonce;
}

// HMAC-BLAKE2s (spec 4.3: RFC 2104 with HASHLEN 32, BLOCKLEN 64) over the concatenated parts.
void hmac(const Key32& key, std::initializer_list<ByteView> parts, Key32& out) {
  constexpr std::size_t kBlockLen = 64;
  std::array<std::uint8_t, kBlockLen> block{};
  std::copy(key.begin(), key.end(), block.begin());
  for (auto& b : block) b ^= 0x36;
  Key32 inner_hash{};
  Blake2s inner(kHashLen);
  inner.update(block);
  for (ByteView p : parts) inner.update(p);
  inner.final(inner_hash);
  for (auto& b : block) b ^= 0x36 ^ 0x5c;
  Blake2s outer(kHashLen);
  outer.update(block).update(inner_hash).final(out);
  wipe(block);
  wipe(inner_hash);
  wipe(inner);
  wipe(outer);
}

// HKDF(chaining_key, input_key_material, 2) (spec 4.3). out1 may alias chaining_key.
void hkdf2(const Key32& chaining_key, ByteView ikm, Key32& out1, Key32& out2) {
  Key32 temp_key{};
  hmac(chaining_key, {ikm}, temp_key);
  const std::uint8_t one = 0x01;
  const std::uint8_t two = 0x02;
  hmac(temp_key, {ByteView(&one, 1)}, out1);
  hmac(temp_key, {ByteView(out1), ByteView(&two, 1)}, out2);
  wipe(temp_key);
}

Key32 hash(std::initializer_list<ByteView> parts) {
  Blake2s h(kHashLen);
  for (ByteView p : parts) h.update(p);
  Key32 out{};
  h.final(out);
  return out;
}

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

const char* protocol_name(Pattern p) {
  return p == Pattern::IK ? "Noise_IK_25519_ChaChaPoly_BLAKE2s"
                          : "Noise_NK_25519_ChaChaPoly_BLAKE2s";
}

// ---- CipherState ----

CipherState::CipherState(CipherState&& o) noexcept : k_(o.k_), n_(o.n_), has_key_(o.has_key_) {
  o.erase();
}

CipherState& CipherState::operator=(CipherState&& o) noexcept {
  if (this != &o) {
    k_ = o.k_;
    n_ = o.n_;
    has_key_ = o.has_key_;
    o.erase();
  }
  return *this;
}

void CipherState::initialize_key(const Key32& k) {
  k_ = k;
  n_ = 0;
  has_key_ = true;
}

void CipherState::erase() {
  wipe(k_);
  n_ = 0;
  has_key_ = false;
}

bool CipherState::encrypt_with_ad(ByteView ad, ByteView plaintext, MutByteView out) {
  if (!has_key_) {
    if (out.size() < plaintext.size()) throw std::length_error("noise: encrypt out too small");
    std::memmove(out.data(), plaintext.data(), plaintext.size());
    return true;
  }
  if (out.size() < plaintext.size() + kAeadTagLen) {
    throw std::length_error("noise: encrypt out too small");
  }
  if (n_ == kMaxNonce) return false;
  chacha20poly1305_seal(out, plaintext, ad, aead_nonce(n_), k_);
  ++n_;
  return true;
}

bool CipherState::decrypt_with_ad(ByteView ad, ByteView ciphertext, MutByteView out) {
  if (!has_key_) {
    if (out.size() < ciphertext.size()) throw std::length_error("noise: decrypt out too small");
    std::memmove(out.data(), ciphertext.data(), ciphertext.size());
    return true;
  }
  if (ciphertext.size() < kAeadTagLen) return false;
  if (out.size() < ciphertext.size() - kAeadTagLen) {
    throw std::length_error("noise: decrypt out too small");
  }
  if (n_ == kMaxNonce) return false;
  if (!chacha20poly1305_open(out, ciphertext, ad, aead_nonce(n_), k_)) return false;
  ++n_;
  return true;
}

void CipherState::rekey() {
  if (!has_key_) return;
  const std::array<std::uint8_t, 32> zeros{};
  std::array<std::uint8_t, 32 + kAeadTagLen> block{};
  chacha20poly1305_seal(block, zeros, {}, aead_nonce(kMaxNonce), k_);
  std::copy_n(block.begin(), k_.size(), k_.begin());
  wipe(block);
}

// ---- SymmetricState ----

SymmetricState::SymmetricState(Pattern p) {
  const std::string_view name = protocol_name(p);
  if (name.size() <= kHashLen) {
    std::copy(name.begin(), name.end(), h_.begin());  // zero-padded
  } else {
    h_ = hash({as_bytes(name)});
  }
  ck_ = h_;
}

SymmetricState::~SymmetricState() { wipe(ck_); }

SymmetricState::SymmetricState(const SymmetricState& o) : ck_(o.ck_), h_(o.h_) {
  if (o.cs_.has_key()) {
    cs_.initialize_key(o.cs_.key());
    cs_.set_nonce(o.cs_.nonce());
  }
}

void SymmetricState::mix_key(ByteView input_key_material) {
  Key32 temp_k{};
  hkdf2(ck_, input_key_material, ck_, temp_k);
  cs_.initialize_key(temp_k);
  wipe(temp_k);
}

void SymmetricState::mix_hash(ByteView data) { h_ = hash({ByteView(h_), data}); }

bool SymmetricState::encrypt_and_hash(ByteView plaintext, MutByteView out) {
  const std::size_t len = plaintext.size() + (cs_.has_key() ? kAeadTagLen : 0);
  if (!cs_.encrypt_with_ad(h_, plaintext, out)) return false;
  mix_hash(out.first(len));
  return true;
}

bool SymmetricState::decrypt_and_hash(ByteView ciphertext, MutByteView out) {
  // h is updated only on success, and hashed first so `out` may alias `ciphertext`.
  const Key32 next_h = hash({ByteView(h_), ciphertext});
  if (!cs_.decrypt_with_ad(h_, ciphertext, out)) return false;
  h_ = next_h;
  return true;
}

std::pair<CipherState, CipherState> SymmetricState::split() {
  Key32 k1{};
  Key32 k2{};
  hkdf2(ck_, {}, k1, k2);
  std::pair<CipherState, CipherState> out{CipherState(k1), CipherState(k2)};
  wipe(k1);
  wipe(k2);
  wipe(ck_);
  cs_.erase();
  return out;
}

// ---- HandshakeState ----

HandshakeState::HandshakeState(Pattern p, bool initiator, ByteView prologue)
    : ss_(p), pattern_(p), initiator_(initiator) {
  ss_.mix_hash(prologue);
}

HandshakeState HandshakeState::initiator(Pattern p, ByteView prologue,
                                         std::optional<Key32> s_priv, const Key32& rs_pub,
                                         const Key32& e_priv) {
  if (p == Pattern::IK && !s_priv) throw std::invalid_argument("noise: IK needs a static key");
  HandshakeState hs(p, true, prologue);
  if (p == Pattern::IK) {
    hs.s_priv_ = *s_priv;
    hs.s_pub_ = x25519_public(hs.s_priv_);
  }
  if (s_priv) wipe(*s_priv);
  hs.rs_ = rs_pub;
  hs.ss_.mix_hash(rs_pub);  // pre-message <- s
  hs.e_priv_ = e_priv;
  hs.e_pub_ = x25519_public(e_priv);
  return hs;
}

HandshakeState HandshakeState::responder(Pattern p, ByteView prologue, const Key32& s_priv,
                                         const Key32& e_priv) {
  HandshakeState hs(p, false, prologue);
  hs.s_priv_ = s_priv;
  hs.s_pub_ = x25519_public(s_priv);
  hs.ss_.mix_hash(hs.s_pub_);  // pre-message <- s
  hs.e_priv_ = e_priv;
  hs.e_pub_ = x25519_public(e_priv);
  return hs;
}

HandshakeState::~HandshakeState() { wipe_keys(); }

void HandshakeState::wipe_keys() {
  wipe(s_priv_);
  wipe(e_priv_);
}

Result<Bytes> HandshakeState::fail(Errc e, const char* what) {
  failed_ = true;
  wipe_keys();
  if (!initiator_) rs_.reset();
  return make_error(e, std::string("noise: ") + what);
}

Result<void> HandshakeState::mix_dh(const Key32& priv, const Key32& pub) {
  auto shared = x25519(priv, pub);
  if (!shared) return make_error(Errc::low_order_key, "noise: low-order public key");
  ss_.mix_key(*shared);
  wipe(*shared);
  return {};
}

Result<Bytes> HandshakeState::write_message(ByteView payload) {
  if (failed_) return make_error(Errc::unusable, "noise: handshake state unusable");
  if (step_ != (initiator_ ? 0 : 1)) throw std::logic_error("noise: not this side's turn to write");
  const std::size_t len =
      step_ == 0 ? message1_len(pattern_, payload.size()) : message2_len(payload.size());
  if (len > kMaxMessageLen) return make_error(Errc::message_too_long, "noise: message too long");

  Bytes out(len);
  MutByteView rest(out);
  std::copy(e_pub_.begin(), e_pub_.end(), rest.begin());  // e
  ss_.mix_hash(e_pub_);
  rest = rest.subspan(kDhLen);
  // Message 1 (initiator): es [, s, ss]. Message 2 (responder): ee [, se].
  const Key32& remote = step_ == 0 ? *rs_ : re_;
  if (!mix_dh(e_priv_, remote)) return fail(Errc::low_order_key, "low-order remote key");
  if (pattern_ == Pattern::IK) {
    if (step_ == 0) {
      if (!ss_.encrypt_and_hash(s_pub_, rest.first(kDhLen + kAeadTagLen))) {
        return fail(Errc::unusable, "nonce exhausted");
      }
      rest = rest.subspan(kDhLen + kAeadTagLen);
      if (!mix_dh(s_priv_, *rs_)) return fail(Errc::low_order_key, "low-order remote static");
    } else if (!mix_dh(e_priv_, *rs_)) {
      return fail(Errc::low_order_key, "low-order remote static");
    }
  }
  if (!ss_.encrypt_and_hash(payload, rest)) return fail(Errc::unusable, "nonce exhausted");
  if (++step_ == 2) wipe_keys();
  return out;
}

Result<Bytes> HandshakeState::read_message(ByteView message) {
  if (failed_) return make_error(Errc::unusable, "noise: handshake state unusable");
  if (step_ != (initiator_ ? 1 : 0)) throw std::logic_error("noise: not this side's turn to read");
  if (message.size() > kMaxMessageLen) return fail(Errc::message_too_long, "message too long");
  const std::size_t fixed = step_ == 0 ? message1_len(pattern_, 0) : message2_len(0);
  if (message.size() < fixed) return fail(Errc::message_size, "handshake message too short");

  std::copy_n(message.begin(), kDhLen, re_.begin());  // e
  ss_.mix_hash(re_);
  ByteView rest = message.subspan(kDhLen);
  // Message 1 (responder): es [, s, ss]. Message 2 (initiator): ee [, se].
  const Key32& local = step_ == 0 ? s_priv_ : e_priv_;
  if (!mix_dh(local, re_)) return fail(Errc::low_order_key, "low-order ephemeral key");
  if (pattern_ == Pattern::IK) {
    if (step_ == 0) {
      Key32 rs{};
      if (!ss_.decrypt_and_hash(rest.first(kDhLen + kAeadTagLen), rs)) {
        return fail(Errc::auth_failed, "static key failed authentication");
      }
      rs_ = rs;
      rest = rest.subspan(kDhLen + kAeadTagLen);
      if (!mix_dh(s_priv_, *rs_)) return fail(Errc::low_order_key, "low-order remote static");
    } else if (!mix_dh(s_priv_, re_)) {
      return fail(Errc::low_order_key, "low-order ephemeral key");
    }
  }
  Bytes payload(rest.size() - kAeadTagLen);
  if (!ss_.decrypt_and_hash(rest, payload)) {
    return fail(Errc::auth_failed, "payload failed authentication");
  }
  if (++step_ == 2) wipe_keys();
  return payload;
}

std::pair<CipherState, CipherState> HandshakeState::split() {
  if (!finished() || split_) throw std::logic_error("noise: split before the handshake finished");
  split_ = true;
  return ss_.split();
}

}  // namespace paniq::crypto::noise
