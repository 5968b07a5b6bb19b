// Thin wrappers over libsodium (X25519, (X)ChaCha20-Poly1305, randomness, constant-time compare)
// and libb2 (BLAKE2s). No protocol knowledge here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/rng.hpp"

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
