// Thin wrappers over libsodium (X25519, (X)ChaCha20-Poly1305, ChaCha20 keystream, randomness,
// constant-time compare), intel-ipsec-mb (AES-256-GCM and the AES header-protection block) and
// libb2 (BLAKE2s). No protocol knowledge here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/rng.hpp"

struct gcm_key_data;  // intel-ipsec-mb's expanded AES-GCM key

namespace paniq::crypto {

using Key32 = std::array<std::uint8_t, 32>;

// Initialises libsodium once; safe to call from anywhere, any number of times.
// Throws std::runtime_error if libsodium cannot initialise (a start-up failure).
void init();

// X25519 public key of `secret` (the secret is clamped internally, as RFC 7748 says).
Key32 x25519_public(const Key32& secret);
// X25519(secret, peer_public). Returns nullopt when the result is all zero (low-order point).
std::optional<Key32> x25519(const Key32& secret, const Key32& peer_public);

inline constexpr std::size_t kAeadTagLen = 16;

// ChaCha20-Poly1305 (RFC 8439, 12-byte nonce). `out` must hold plaintext.size() + 16 bytes.
void chacha20poly1305_seal(MutByteView out, ByteView plaintext, ByteView ad,
                           const std::array<std::uint8_t, 12>& nonce, const Key32& key);
// Returns false (and leaves `out` unspecified) when authentication fails.
// `out` must hold ciphertext.size() - 16 bytes; ciphertext shorter than 16 fails.
bool chacha20poly1305_open(MutByteView out, ByteView ciphertext, ByteView ad,
                           const std::array<std::uint8_t, 12>& nonce, const Key32& key);

// XChaCha20-Poly1305 (24-byte nonce). Same contracts as above.
void xchacha20poly1305_seal(MutByteView out, ByteView plaintext, ByteView ad,
                            const std::array<std::uint8_t, 24>& nonce, const Key32& key);
bool xchacha20poly1305_open(MutByteView out, ByteView ciphertext, ByteView ad,
                            const std::array<std::uint8_t, 24>& nonce, const Key32& key);

// True when AES-256-GCM can run here: built with intel-ipsec-mb (x86-64) and the CPU has AES-NI
// and PCLMULQDQ (libsodium's check) and SSE4.1 (the library's oldest GCM code). Without them
// AES-256-GCM is not offered at all, and ChaCha20-Poly1305 is used. Calls init().
bool aes256gcm_available();

// intel-ipsec-mb's AES-256-GCM code paths this build and CPU can run, fastest first
// ("vaes-avx512", "avx2", "avx", "sse"); empty when !aes256gcm_available(). The first is used.
std::vector<const char*> aes256gcm_paths();
// The path in use.
const char* aes256gcm_path();
// Tests: use `name` (one of aes256gcm_paths()) for AeadKeys made from now on; false when it
// cannot run here. Not thread-safe: call before any key exists.
bool use_aes256gcm_path_for_testing(std::string_view name);

// The transport AEADs: 32-byte key, 12-byte nonce, 16-byte tag.
enum class Aead : std::uint8_t { chacha20poly1305, aes256gcm };

// "chacha20-poly1305" or "aes-256-gcm".
const char* to_string(Aead alg);

// The AEAD for the transport when the caller has no other constraint: aes256gcm when
// aes256gcm_available(), else chacha20poly1305. The order comes from bench/bench_aead.cpp
// (bench/results/aead-2026-12-05.md): on the AES-NI machine a 1350-byte datagram seals in about
// 0.17 us with AES-256-GCM (intel-ipsec-mb, VAES/AVX-512 code) against 1.3 us with
// ChaCha20-Poly1305. Both peers must still agree on the algorithm; this only says which one to
// propose.
Aead preferred_aead();

// One direction's AEAD key, with per-key work done once (AES-256-GCM: intel-ipsec-mb's expanded
// key and GHASH tables; ChaCha20-Poly1305: the raw key). Operates in place, for the transport hot
// path.
// The key material is wiped on destruction. Not copyable. Moving copies the state into the
// destination and wipes the source, which may then only be destroyed or assigned to.
class AeadKey {
 public:
  // Throws std::invalid_argument for Aead::aes256gcm when !aes256gcm_available().
  AeadKey(Aead alg, const Key32& key);
  ~AeadKey();
  AeadKey(const AeadKey&) = delete;
  AeadKey& operator=(const AeadKey&) = delete;
  AeadKey(AeadKey&& other) noexcept;
  AeadKey& operator=(AeadKey&& other) noexcept;

  // Seals in place: buf[0..len) is the plaintext; writes the ciphertext over it and the 16-byte
  // tag at buf[len..len+16). Throws std::length_error when buf.size() < len + 16 (a caller bug).
  // The caller must never reuse a nonce under one key.
  void seal(MutByteView buf, std::size_t len, ByteView ad,
            const std::array<std::uint8_t, 12>& nonce) const;
  // Opens in place: buf is ciphertext || tag. On success the plaintext is in
  // buf[0..buf.size() - 16) and it returns true. Returns false when authentication fails or buf
  // is shorter than the tag; buf's contents are then unspecified and the caller drops the datagram.
  bool open(MutByteView buf, ByteView ad, const std::array<std::uint8_t, 12>& nonce) const;
  // The same out of place: `in` is ciphertext || tag, the plaintext goes to out[0..in.size() -
  // 16) (out must hold that many bytes; it may not overlap `in` partially). Saves the copy a
  // receiver would otherwise make of a datagram it must not modify.
  bool open(MutByteView out, ByteView in, ByteView ad, const std::array<std::uint8_t, 12>& nonce) const;

  Aead algorithm() const { return alg_; }

 private:
  void release() noexcept;
  // ChaCha20-Poly1305: the raw key (libsodium). AES-256-GCM: intel-ipsec-mb's key schedule and
  // GHASH tables, computed once (its direct GCM calls are about 3x OpenSSL's EVP and 5x
  // libsodium's on this project's machine: bench/results/aead-2026-12-05.md).
  Key32 key_{};
  gcm_key_data* gcm_ = nullptr;
  Aead alg_;
};

// Header protection (QUIC-style, RFC 9001 5.4): a 16-byte mask from a 16-byte sample of the
// ciphertext. Aead::aes256gcm: AES-256-ECB(key, sample) (intel-ipsec-mb's key expansion, one
// AES-NI block); chacha20poly1305: the first 16 bytes of ChaCha20(key, block counter =
// u32_LE(sample[0..4]), nonce = sample[4..16]). The key schedule is computed once. Move-only; zeroes its key.
class HeaderProtection {
 public:
  HeaderProtection(Aead alg, const Key32& key);
  ~HeaderProtection();
  HeaderProtection(const HeaderProtection&) = delete;
  HeaderProtection& operator=(const HeaderProtection&) = delete;
  HeaderProtection(HeaderProtection&& other) noexcept;
  HeaderProtection& operator=(HeaderProtection&& other) noexcept;

  // `sample` must hold at least 16 bytes (the first 16 are used).
  std::array<std::uint8_t, 16> mask(ByteView sample) const;
  Aead algorithm() const { return alg_; }

 private:
  Key32 key_{};
  // AES-256 round keys (15 x 16 bytes) for encryption.
  alignas(16) std::array<std::uint8_t, 240> enc_keys_{};
  Aead alg_;
};

// XORs `data` in place with the ChaCha20 keystream (RFC 8439: 12-byte nonce, 32-bit block counter
// starting at `counter`). For header protection as QUIC does it with ChaCha20 (RFC 9001 5.4.4):
// mask = chacha20_xor over zero bytes (5 in QUIC), counter = sample[0..4) little-endian,
// nonce = sample[4..16). Not authenticated; never use it alone to encrypt payload.
void chacha20_xor(MutByteView data, const Key32& key, const std::array<std::uint8_t, 12>& nonce,
                  std::uint32_t counter);

// BLAKE2s, unkeyed or keyed (key up to 32 bytes), output length 1..32. `out.size()` selects the
// digest length, which is a parameter of BLAKE2s (a 16-byte BLAKE2s is NOT a truncated 32-byte one).
void blake2s(MutByteView out, ByteView data, ByteView key = {});

// Incremental BLAKE2s for inputs given in pieces (e.g. a label followed by a key).
class Blake2s {
 public:
  explicit Blake2s(std::size_t out_len, ByteView key = {});
  Blake2s& update(ByteView data);
  void final(MutByteView out);  // out.size() must equal out_len

 private:
  alignas(64) std::uint8_t state_[256];
  std::size_t out_len_;
};

// Zeroes secret material in a way the compiler does not elide (sodium_memzero).
void secure_zero(MutByteView data);

// Constant-time equality; false when the sizes differ.
bool ct_equal(ByteView a, ByteView b);

// Operating-system randomness (libsodium's randombytes_buf). The production Rng.
class OsRng final : public Rng {
 public:
  OsRng();
  void fill(MutByteView out) override;
};

// A buffered CSPRNG for hot paths (padding, header values): the ChaCha20 keystream under a key
// drawn from OsRng, refilled 4 KiB at a time and re-keyed every refill from its own output
// (fast key erasure). One instance per thread; not thread-safe.
class FastRng final : public Rng {
 public:
  FastRng();
  ~FastRng() override;
  FastRng(const FastRng&) = delete;
  FastRng& operator=(const FastRng&) = delete;
  void fill(MutByteView out) override;

 private:
  void refill();
  std::array<std::uint8_t, 4096> buf_{};
  std::size_t pos_ = sizeof(buf_);
  Key32 key_{};
};

// Standard base64 with '=' padding (RFC 4648 section 4).
std::string base64_encode(ByteView data);
// Strict standard base64 with padding; nullopt on any other input.
std::optional<Bytes> base64_decode(std::string_view text);

}  // namespace paniq::crypto
