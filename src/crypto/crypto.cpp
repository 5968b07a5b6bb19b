#include "crypto/crypto.hpp"

#include <blake2.h>
#include <sodium.h>
#if PANIQ_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#include <wmmintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace paniq::crypto {

static_assert(sizeof(blake2s_state) <= 256, "Blake2s state buffer too small");
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

#if PANIQ_HAVE_IPSEC_MB
#if PANIQ_IMB_VAES_GCM
// The library exports its VAES/AVX-512 GCM code (about twice its AVX2 code per 1350-byte
// datagram here) but its header declares only the SSE and AVX variants. The build checks that
// these symbols exist before it defines PANIQ_IMB_VAES_GCM; their types are the library's
// aes_gcm_pre_t and aes_gcm_enc_dec_t.
extern "C" {
void aes_gcm_pre_256_vaes_avx512(const void* key, struct gcm_key_data* key_data);
void aes_gcm_enc_256_vaes_avx512(const struct gcm_key_data*, struct gcm_context_data*, std::uint8_t*,
                                 const std::uint8_t*, std::uint64_t, const std::uint8_t*,
                                 const std::uint8_t*, std::uint64_t, std::uint8_t*, std::uint64_t);
void aes_gcm_dec_256_vaes_avx512(const struct gcm_key_data*, struct gcm_context_data*, std::uint8_t*,
                                 const std::uint8_t*, std::uint64_t, const std::uint8_t*,
                                 const std::uint8_t*, std::uint64_t, std::uint8_t*, std::uint64_t);
}
#endif

namespace {

// intel-ipsec-mb's AES-256-GCM entry points for this CPU, picked once. The library's own
// dispatcher (init_mb_mgr_auto) runs a self-test of every algorithm it carries, which leaves
// about 3 MB of its code resident in each daemon for good; the direct per-architecture calls
// need no manager, so the choice is made here from the CPU's features (as the library makes it)
// and only the GCM code is ever touched.
struct ImbAes {
  const char* name = nullptr;
  aes_gcm_pre_t gcm_pre = nullptr;
  aes_gcm_enc_dec_t gcm_enc = nullptr;
  aes_gcm_enc_dec_t gcm_dec = nullptr;
};

// Every path this build and CPU can run, fastest first, with the CPU features the library
// itself requires for each.
std::vector<ImbAes> runnable_paths() {
  std::vector<ImbAes> out;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("aes") || !__builtin_cpu_supports("pclmul") ||
      !__builtin_cpu_supports("sse4.1")) {
    return out;
  }
#if PANIQ_IMB_VAES_GCM
  if (__builtin_cpu_supports("vaes") && __builtin_cpu_supports("vpclmulqdq") &&
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    out.push_back({"vaes-avx512", aes_gcm_pre_256_vaes_avx512, aes_gcm_enc_256_vaes_avx512,
                   aes_gcm_dec_256_vaes_avx512});
  }
#endif
  if (__builtin_cpu_supports("avx2")) {
    out.push_back(
        {"avx2", aes_gcm_pre_256_avx_gen4, aes_gcm_enc_256_avx_gen4, aes_gcm_dec_256_avx_gen4});
  }
  if (__builtin_cpu_supports("avx")) {
    out.push_back(
        {"avx", aes_gcm_pre_256_avx_gen2, aes_gcm_enc_256_avx_gen2, aes_gcm_dec_256_avx_gen2});
  }
  out.push_back({"sse", aes_gcm_pre_256_sse, aes_gcm_enc_256_sse, aes_gcm_dec_256_sse});
  return out;
}

// The path in use: the fastest, unless a test chose another.
ImbAes& imb_aes() {
  static ImbAes path = [] {
    const auto paths = runnable_paths();
    return paths.empty() ? ImbAes{} : paths.front();
  }();
  return path;
}

// One AES-256 block with AES-NI (the caller has checked for it through aes256gcm_available()),
// from the round keys the library's key expansion wrote. The library offers single blocks only
// through its job manager, whose set-up is the self-test above.
__attribute__((target("aes,sse2"))) void aes256_block(const std::uint8_t* round_keys,
                                                       const std::uint8_t* in, std::uint8_t* out) {
  const auto key = [round_keys](int r) {
    return _mm_load_si128(reinterpret_cast<const __m128i*>(round_keys + 16 * r));
  };
  __m128i b = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in)), key(0));
  for (int r = 1; r < 14; ++r) b = _mm_aesenc_si128(b, key(r));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_aesenclast_si128(b, key(14)));
}

}  // namespace
#endif

bool aes256gcm_available() {
  init();
#if PANIQ_HAVE_IPSEC_MB
  return crypto_aead_aes256gcm_is_available() != 0 && imb_aes().name != nullptr;
#else
  return false;
#endif
}

std::vector<const char*> aes256gcm_paths() {
  std::vector<const char*> out;
#if PANIQ_HAVE_IPSEC_MB
  if (!aes256gcm_available()) return out;
  for (const ImbAes& p : runnable_paths()) out.push_back(p.name);
#endif
  return out;
}

const char* aes256gcm_path() {
#if PANIQ_HAVE_IPSEC_MB
  if (aes256gcm_available()) return imb_aes().name;
#endif
  return "none";
}

bool use_aes256gcm_path_for_testing(std::string_view name) {
#if PANIQ_HAVE_IPSEC_MB
  if (!aes256gcm_available()) return false;
  for (const ImbAes& p : runnable_paths()) {
    if (name == p.name) {
      imb_aes() = p;
      return true;
    }
  }
#endif
  (void)name;
  return false;
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
#if PANIQ_HAVE_IPSEC_MB
      gcm_ = new (std::align_val_t{64}) gcm_key_data;
      imb_aes().gcm_pre(key.data(), gcm_);
#endif
      return;
  }
  throw std::invalid_argument("AeadKey: unknown algorithm");
}

void AeadKey::release() noexcept {
  sodium_memzero(key_.data(), key_.size());
#if PANIQ_HAVE_IPSEC_MB
  if (gcm_ != nullptr) {
    sodium_memzero(gcm_, sizeof(gcm_key_data));
    ::operator delete(gcm_, std::align_val_t{64});
  }
#endif
  gcm_ = nullptr;
}

AeadKey::~AeadKey() { release(); }

AeadKey::AeadKey(AeadKey&& other) noexcept : key_(other.key_), gcm_(other.gcm_), alg_(other.alg_) {
  sodium_memzero(other.key_.data(), other.key_.size());
  other.gcm_ = nullptr;
}

AeadKey& AeadKey::operator=(AeadKey&& other) noexcept {
  if (this != &other) {
    release();
    key_ = other.key_;
    gcm_ = other.gcm_;
    alg_ = other.alg_;
    sodium_memzero(other.key_.data(), other.key_.size());
    other.gcm_ = nullptr;
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
#if PANIQ_HAVE_IPSEC_MB
  gcm_context_data ctx;
  imb_aes().gcm_enc(gcm_, &ctx, p, p, len, nonce.data(), ad.data(), ad.size(), p + len, kAeadTagLen);
  sodium_memzero(&ctx, sizeof(ctx));
#endif
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
#if PANIQ_HAVE_IPSEC_MB
  // The library decrypts and computes the tag (it writes only out[0..len), so the received tag
  // at in[len..] is intact even in place); the tags are compared in constant time.
  std::array<std::uint8_t, kAeadTagLen> computed{};
  gcm_context_data ctx;
  imb_aes().gcm_dec(gcm_, &ctx, o, c, len, nonce.data(), ad.data(), ad.size(), computed.data(),
                    kAeadTagLen);
  sodium_memzero(&ctx, sizeof(ctx));
  return sodium_memcmp(c + len, computed.data(), kAeadTagLen) == 0;
#else
  return false;
#endif
}

HeaderProtection::HeaderProtection(Aead alg, const Key32& key) : key_(key), alg_(alg) {
  init();
  if (alg != Aead::aes256gcm) return;
  if (!aes256gcm_available()) throw std::invalid_argument("aes-256 is not available on this CPU");
#if PANIQ_HAVE_IPSEC_MB
  // The expansion writes the decryption schedule too; only the encryption one is kept.
  alignas(16) std::array<std::uint8_t, 240> dec_keys{};
  aes_keyexp_256_sse(key.data(), enc_keys_.data(), dec_keys.data());
  sodium_memzero(dec_keys.data(), dec_keys.size());
#endif
}

HeaderProtection::~HeaderProtection() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(enc_keys_.data(), enc_keys_.size());
}

HeaderProtection::HeaderProtection(HeaderProtection&& other) noexcept
    : key_(other.key_), enc_keys_(other.enc_keys_), alg_(other.alg_) {
  sodium_memzero(other.key_.data(), other.key_.size());
  sodium_memzero(other.enc_keys_.data(), other.enc_keys_.size());
}

HeaderProtection& HeaderProtection::operator=(HeaderProtection&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    enc_keys_ = other.enc_keys_;
    alg_ = other.alg_;
    sodium_memzero(other.key_.data(), other.key_.size());
    sodium_memzero(other.enc_keys_.data(), other.enc_keys_.size());
  }
  return *this;
}

std::array<std::uint8_t, 16> HeaderProtection::mask(ByteView sample) const {
  if (sample.size() < 16) throw std::length_error("HeaderProtection: sample under 16 bytes");
  std::array<std::uint8_t, 16> m{};
  if (alg_ == Aead::aes256gcm) {
#if PANIQ_HAVE_IPSEC_MB
    aes256_block(enc_keys_.data(), sample.data(), m.data());
#endif
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
