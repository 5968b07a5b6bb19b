#include "crypto/crypto.hpp"

#include <blake2.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace paniq::crypto {

static_assert(sizeof(blake2s_state) <= 256, "Blake2s state buffer too small");
static_assert(sizeof(crypto_aead_aes256gcm_state) <= 512, "AeadKey state buffer too small");
static_assert(alignof(crypto_aead_aes256gcm_state) <= 16, "AeadKey state under-aligned");
static_assert(crypto_aead_aes256gcm_ABYTES == kAeadTagLen &&
              crypto_aead_chacha20poly1305_ietf_ABYTES == kAeadTagLen);
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12 &&
              crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12 &&
              crypto_stream_chacha20_ietf_NONCEBYTES == 12);

void init() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

void secure_zero(MutByteView data) {
  if (!data.empty()) sodium_memzero(data.data(), data.size());
}

Key32 x25519_public(const Key32& secret) {
  init();
  Key32 pub{};
  crypto_scalarmult_curve25519_base(pub.data(), secret.data());
  return pub;
}

std::optional<Key32> x25519(const Key32& secret, const Key32& peer_public) {
  init();
  Key32 shared{};
  if (crypto_scalarmult_curve25519(shared.data(), secret.data(), peer_public.data()) != 0) {
    return std::nullopt;
  }
  return shared;
}

void chacha20poly1305_seal(MutByteView out, ByteView plaintext, ByteView ad,
                           const std::array<std::uint8_t, 12>& nonce, const Key32& key) {
  if (out.size() < plaintext.size() + kAeadTagLen) throw std::length_error("seal: out too small");
  unsigned long long len = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(), plaintext.size(),
                                            ad.data(), ad.size(), nullptr, nonce.data(), key.data());
}

bool chacha20poly1305_open(MutByteView out, ByteView ciphertext, ByteView ad,
                           const std::array<std::uint8_t, 12>& nonce, const Key32& key) {
  if (ciphertext.size() < kAeadTagLen || out.size() < ciphertext.size() - kAeadTagLen) return false;
  unsigned long long len = 0;
  return crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ciphertext.data(),
                                                   ciphertext.size(), ad.data(), ad.size(),
                                                   nonce.data(), key.data()) == 0;
}

void xchacha20poly1305_seal(MutByteView out, ByteView plaintext, ByteView ad,
                            const std::array<std::uint8_t, 24>& nonce, const Key32& key) {
  if (out.size() < plaintext.size() + kAeadTagLen) throw std::length_error("seal: out too small");
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &len, plaintext.data(), plaintext.size(),
                                             ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.data());
}

bool xchacha20poly1305_open(MutByteView out, ByteView ciphertext, ByteView ad,
                            const std::array<std::uint8_t, 24>& nonce, const Key32& key) {
  if (ciphertext.size() < kAeadTagLen || out.size() < ciphertext.size() - kAeadTagLen) return false;
  unsigned long long len = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &len, nullptr, ciphertext.data(),
                                                    ciphertext.size(), ad.data(), ad.size(),
                                                    nonce.data(), key.data()) == 0;
}

bool aes256gcm_available() {
  init();
  return crypto_aead_aes256gcm_is_available() != 0;
}

const char* to_string(Aead alg) {
  switch (alg) {
    case Aead::chacha20poly1305:
      return "chacha20-poly1305";
    case Aead::aes256gcm:
      return "aes-256-gcm";
  }
  return "unknown";
}

Aead preferred_aead() {
  return aes256gcm_available() ? Aead::aes256gcm : Aead::chacha20poly1305;
}

namespace {

EVP_CIPHER_CTX* aes_gcm_ctx(const Key32& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) throw std::bad_alloc();
  const int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr)
                         : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nullptr);
  if (ok != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("OpenSSL: cannot set up AES-256-GCM");
  }
  return ctx;
}

int len_int(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw std::length_error("AEAD input too long");
  }
  return static_cast<int>(n);
}

}  // namespace

AeadKey::AeadKey(Aead alg, const Key32& key) : alg_(alg) {
  init();
  switch (alg) {
    case Aead::chacha20poly1305:
      key_ = key;
      return;
    case Aead::aes256gcm:
      if (!aes256gcm_available()) {
        throw std::invalid_argument("aes-256-gcm is not available on this CPU");
      }
      enc_ = aes_gcm_ctx(key, true);
      dec_ = aes_gcm_ctx(key, false);
      return;
  }
  throw std::invalid_argument("AeadKey: unknown algorithm");
}

void AeadKey::release() noexcept {
  sodium_memzero(key_.data(), key_.size());
  EVP_CIPHER_CTX_free(enc_);  // cleanses the key schedule
  EVP_CIPHER_CTX_free(dec_);
  enc_ = dec_ = nullptr;
}

AeadKey::~AeadKey() { release(); }

AeadKey::AeadKey(AeadKey&& other) noexcept
    : key_(other.key_), enc_(other.enc_), dec_(other.dec_), alg_(other.alg_) {
  sodium_memzero(other.key_.data(), other.key_.size());
  other.enc_ = other.dec_ = nullptr;
}

AeadKey& AeadKey::operator=(AeadKey&& other) noexcept {
  if (this != &other) {
    release();
    key_ = other.key_;
    enc_ = other.enc_;
    dec_ = other.dec_;
    alg_ = other.alg_;
    sodium_memzero(other.key_.data(), other.key_.size());
    other.enc_ = other.dec_ = nullptr;
  }
  return *this;
}

void AeadKey::seal(MutByteView buf, std::size_t len, ByteView ad,
                   const std::array<std::uint8_t, 12>& nonce) const {
  if (buf.size() < kAeadTagLen || len > buf.size() - kAeadTagLen) {
    throw std::length_error("AeadKey::seal: buffer too small for payload and tag");
  }
  std::uint8_t* p = buf.data();
  if (alg_ == Aead::chacha20poly1305) {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(p, p + len, nullptr, p, len, ad.data(),
                                                       ad.size(), nullptr, nonce.data(), key_.data());
    return;
  }
  int n = 0;
  const bool ok = EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
                  (ad.empty() || EVP_EncryptUpdate(enc_, nullptr, &n, ad.data(), len_int(ad.size())) == 1) &&
                  EVP_EncryptUpdate(enc_, p, &n, p, len_int(len)) == 1 &&
                  EVP_EncryptFinal_ex(enc_, p + n, &n) == 1 &&
                  EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, kAeadTagLen, p + len) == 1;
  if (!ok) throw std::runtime_error("OpenSSL: AES-256-GCM seal failed");
}

bool AeadKey::open(MutByteView buf, ByteView ad, const std::array<std::uint8_t, 12>& nonce) const {
  return open(buf, ByteView(buf), ad, nonce);
}

bool AeadKey::open(MutByteView out, ByteView in, ByteView ad,
                   const std::array<std::uint8_t, 12>& nonce) const {
  if (in.size() < kAeadTagLen) return false;
  const std::size_t len = in.size() - kAeadTagLen;
  if (out.size() < len) return false;
  std::uint8_t* o = out.data();
  const std::uint8_t* c = in.data();
  if (alg_ == Aead::chacha20poly1305) {
    return crypto_aead_chacha20poly1305_ietf_decrypt_detached(o, nullptr, c, len, c + len, ad.data(),
                                                              ad.size(), nonce.data(), key_.data()) == 0;
  }
  // OpenSSL's SET_TAG takes a non-const pointer but only reads the tag.
  std::array<std::uint8_t, kAeadTagLen> tag{};
  std::copy(c + len, c + len + kAeadTagLen, tag.begin());
  int n = 0;
  return EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
         (ad.empty() || EVP_DecryptUpdate(dec_, nullptr, &n, ad.data(), len_int(ad.size())) == 1) &&
         EVP_DecryptUpdate(dec_, o, &n, c, len_int(len)) == 1 &&
         EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, kAeadTagLen, tag.data()) == 1 &&
         EVP_DecryptFinal_ex(dec_, o + n, &n) == 1;
}

HeaderProtection::HeaderProtection(Aead alg, const Key32& key) : key_(key), alg_(alg) {
  init();
  if (alg != Aead::aes256gcm) return;
  ecb_ = EVP_CIPHER_CTX_new();
  if (ecb_ == nullptr) throw std::bad_alloc();
  if (EVP_EncryptInit_ex(ecb_, EVP_aes_256_ecb(), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ecb_, 0) != 1) {
    EVP_CIPHER_CTX_free(ecb_);
    throw std::runtime_error("OpenSSL: cannot set up AES-256-ECB");
  }
}

HeaderProtection::~HeaderProtection() {
  sodium_memzero(key_.data(), key_.size());
  EVP_CIPHER_CTX_free(ecb_);
}

HeaderProtection::HeaderProtection(HeaderProtection&& other) noexcept
    : key_(other.key_), ecb_(other.ecb_), alg_(other.alg_) {
  sodium_memzero(other.key_.data(), other.key_.size());
  other.ecb_ = nullptr;
}

HeaderProtection& HeaderProtection::operator=(HeaderProtection&& other) noexcept {
  if (this != &other) {
    sodium_memzero(key_.data(), key_.size());
    EVP_CIPHER_CTX_free(ecb_);
    key_ = other.key_;
    ecb_ = other.ecb_;
    alg_ = other.alg_;
    sodium_memzero(other.key_.data(), other.key_.size());
    other.ecb_ = nullptr;
  }
  return *this;
}

std::array<std::uint8_t, 16> HeaderProtection::mask(ByteView sample) const {
  if (sample.size() < 16) throw std::length_error("HeaderProtection: sample under 16 bytes");
  std::array<std::uint8_t, 16> m{};
  if (alg_ == Aead::aes256gcm) {
    int n = 0;
    if (EVP_EncryptUpdate(ecb_, m.data(), &n, sample.data(), 16) != 1 || n != 16) {
      throw std::runtime_error("OpenSSL: AES-256-ECB failed");
    }
    return m;
  }
  std::array<std::uint8_t, 12> nonce{};
  std::copy(sample.begin() + 4, sample.begin() + 16, nonce.begin());
  crypto_stream_chacha20_ietf_xor_ic(m.data(), m.data(), m.size(), nonce.data(),
                                     get_u32_le(sample.data()), key_.data());
  return m;
}

void chacha20_xor(MutByteView data, const Key32& key, const std::array<std::uint8_t, 12>& nonce,
                  std::uint32_t counter) {
  init();  // selects libsodium's SIMD ChaCha20; a guard check after the first call
  crypto_stream_chacha20_ietf_xor_ic(data.data(), data.data(), data.size(), nonce.data(), counter,
                                     key.data());
}

void blake2s(MutByteView out, ByteView data, ByteView key) {
  Blake2s h(out.size(), key);
  h.update(data);
  h.final(out);
}

Blake2s::Blake2s(std::size_t out_len, ByteView key) : out_len_(out_len) {
  if (out_len == 0 || out_len > BLAKE2S_OUTBYTES || key.size() > BLAKE2S_KEYBYTES) {
    throw std::invalid_argument("blake2s: bad output or key length");
  }
  auto* st = reinterpret_cast<blake2s_state*>(state_);
  int rc = key.empty() ? blake2s_init(st, out_len) : blake2s_init_key(st, out_len, key.data(), key.size());
  if (rc != 0) throw std::runtime_error("blake2s: init failed");
}

Blake2s& Blake2s::update(ByteView data) {
  blake2s_update(reinterpret_cast<blake2s_state*>(state_), data.data(), data.size());
  return *this;
}

void Blake2s::final(MutByteView out) {
  if (out.size() != out_len_) throw std::invalid_argument("blake2s: output size mismatch");
  blake2s_final(reinterpret_cast<blake2s_state*>(state_), out.data(), out.size());
}

bool ct_equal(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  init();
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

OsRng::OsRng() { init(); }

void OsRng::fill(MutByteView out) { randombytes_buf(out.data(), out.size()); }

FastRng::FastRng() {
  init();
  randombytes_buf(key_.data(), key_.size());
}

FastRng::~FastRng() {
  sodium_memzero(buf_.data(), buf_.size());
  sodium_memzero(key_.data(), key_.size());
}

void FastRng::refill() {
  static constexpr std::uint8_t kNonce[crypto_stream_chacha20_NONCEBYTES] = {};
  crypto_stream_chacha20(buf_.data(), buf_.size(), kNonce, key_.data());
  // The first 32 bytes become the next key and are never handed out.
  std::memcpy(key_.data(), buf_.data(), key_.size());
  sodium_memzero(buf_.data(), key_.size());
  pos_ = key_.size();
}

void FastRng::fill(MutByteView out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (pos_ == buf_.size()) refill();
    const std::size_t n = std::min(out.size() - done, buf_.size() - pos_);
    std::memcpy(out.data() + done, buf_.data() + pos_, n);
    sodium_memzero(buf_.data() + pos_, n);
    pos_ += n;
    done += n;
  }
}

std::string base64_encode(ByteView data) {
  init();
  std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // drop the terminating NUL
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  init();
  Bytes out(text.size() / 4 * 3 + 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace paniq::crypto
