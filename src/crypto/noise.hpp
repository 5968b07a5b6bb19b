// The Noise protocol framework (revision 34), for exactly two handshake patterns:
//   Noise_NK_25519_ChaChaPoly_BLAKE2s   -> e, es        <- e, ee
//   Noise_IK_25519_ChaChaPoly_BLAKE2s   -> e, es, s, ss <- e, ee, se
// (both with the pre-message `<- s`: the initiator knows the responder's static key).
// CipherState, SymmetricState and HandshakeState follow the spec's sections 5.1-5.3 and keep
// its names; Rekey is section 11.3. Pure: no randomness inside, the caller passes the ephemeral
// private key (production code draws 32 bytes from an Rng, tests pass a vector's ephemeral).
// All secret material (k, ck, e, s, DH outputs) is zeroed when no longer needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>
#include <utility>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "crypto/crypto.hpp"

namespace paniq::crypto::noise {

enum class Errc {
  message_too_long = 1,  // over the Noise maximum of 65535 bytes
  message_size,          // a handshake message of the wrong length for its pattern
  low_order_key,         // a DH gave the all-zero output (low-order public key)
  auth_failed,           // AEAD authentication failed (tampered or wrong keys)
  unusable,              // an earlier read or write failed; the state must be discarded
};
const std::error_category& error_category();
std::error_code make_error_code(Errc e);

enum class Pattern : std::uint8_t { NK, IK };

inline constexpr std::size_t kMaxMessageLen = 65535;
inline constexpr std::size_t kDhLen = 32;
inline constexpr std::size_t kHashLen = 32;
inline constexpr std::uint64_t kMaxNonce = ~std::uint64_t{0};  // reserved, never used to encrypt

// The protocol name, e.g. "Noise_IK_25519_ChaChaPoly_BLAKE2s".
const char* protocol_name(Pattern p);

// k and n (spec 5.1). Move-only; a moved-from CipherState has no key. Zeroes its key on
// destruction.
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(const Key32& k) { initialize_key(k); }
  ~CipherState() { erase(); }
  CipherState(CipherState&& o) noexcept;
  CipherState& operator=(CipherState&& o) noexcept;
  CipherState(const CipherState&) = delete;
  CipherState& operator=(const CipherState&) = delete;

  void initialize_key(const Key32& k);  // sets k, n = 0
  bool has_key() const { return has_key_; }
  std::uint64_t nonce() const { return n_; }
  void set_nonce(std::uint64_t n) { n_ = n; }  // for transports that carry the counter
  const Key32& key() const { return k_; }      // all zero when !has_key()

  // EncryptWithAd: `out` must hold plaintext.size() + 16 bytes (plaintext.size() without a
  // key, when the plaintext is copied through unchanged); out may be exactly plaintext (in
  // place). Returns false, writing nothing and keeping n, when n has reached 2^64-1 (the
  // caller must rekey or start a new handshake). Throws std::length_error if `out` is small.
  bool encrypt_with_ad(ByteView ad, ByteView plaintext, MutByteView out);
  // DecryptWithAd: `out` must hold ciphertext.size() - 16 bytes (ciphertext.size() without a
  // key). Returns false on authentication failure, a too-short ciphertext or an exhausted
  // nonce; n is then unchanged and `out` unspecified (the caller drops the message).
  bool decrypt_with_ad(ByteView ad, ByteView ciphertext, MutByteView out);
  // k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes) (spec 11.3); n unchanged.
  // No effect without a key.
  void rekey();
  // Zeroes k and forgets it (has_key() becomes false); n = 0.
  void erase();

 private:
  Key32 k_{};
  std::uint64_t n_ = 0;
  bool has_key_ = false;
};

// ck, h and a CipherState (spec 5.2). Zeroes ck on destruction. Copyable only so that
// HandshakeState can be (see there).
class SymmetricState {
 public:
  explicit SymmetricState(Pattern p);
  ~SymmetricState();
  SymmetricState(SymmetricState&&) noexcept = default;
  SymmetricState(const SymmetricState& o);
  SymmetricState& operator=(const SymmetricState&) = delete;

  void mix_key(ByteView input_key_material);
  void mix_hash(ByteView data);
  // out.size() must be plaintext.size() (+16 with a key). False only on nonce exhaustion.
  bool encrypt_and_hash(ByteView plaintext, MutByteView out);
  // out.size() must be ciphertext.size() (-16 with a key). False when decryption fails.
  bool decrypt_and_hash(ByteView ciphertext, MutByteView out);
  bool has_key() const { return cs_.has_key(); }
  // (initiator->responder, responder->initiator); zeroes ck.
  std::pair<CipherState, CipherState> split();
  const Key32& h() const { return h_; }

 private:
  Key32 ck_{};
  Key32 h_{};
  CipherState cs_;
};

// One side of an NK or IK handshake (spec 5.3): two messages, initiator first. Zeroes every
// secret on destruction. Copyable so a caller can try a message on a copy and keep the
// original when the message fails (a forged message 2 must not spoil the real one still to
// come). Never WRITE from two copies: they share the ephemeral key, and two different
// payloads would be encrypted under the same key and nonce.
class HandshakeState {
 public:
  // s_priv is the initiator's static private key: required for IK (std::invalid_argument
  // without it), ignored for NK. rs_pub is the responder's static public key.
  static HandshakeState initiator(Pattern p, ByteView prologue, std::optional<Key32> s_priv,
                                  const Key32& rs_pub, const Key32& e_priv);
  static HandshakeState responder(Pattern p, ByteView prologue, const Key32& s_priv,
                                  const Key32& e_priv);
  ~HandshakeState();
  HandshakeState(HandshakeState&&) noexcept = default;
  HandshakeState(const HandshakeState&) = default;
  HandshakeState& operator=(const HandshakeState&) = delete;

  // Writes the next handshake message carrying `payload`. Errors: message_too_long (the
  // state stays usable), low_order_key (the remote static key is a low-order point; the
  // state becomes unusable), unusable. Throws std::logic_error when it is not this side's
  // turn to write (initiator: message 1, responder: message 2) or the handshake is finished.
  Result<Bytes> write_message(ByteView payload);
  // Reads the peer's handshake message and returns its payload. Errors: message_too_long,
  // message_size, low_order_key, auth_failed, unusable; after any of them the state is
  // unusable and the caller discards it (and, on a server, stays silent). Throws
  // std::logic_error when it is not this side's turn to read.
  Result<Bytes> read_message(ByteView message);

  bool finished() const { return step_ == 2 && !failed_; }
  bool failed() const { return failed_; }
  Pattern pattern() const { return pattern_; }
  bool is_initiator() const { return initiator_; }
  // h: after the handshake, the value both sides share (channel binding).
  const Key32& handshake_hash() const { return ss_.h(); }
  // The peer's static public key: the initiator's rs from the start, the IK responder's once
  // message 1 was read; nullopt otherwise (NK responder).
  std::optional<Key32> remote_static() const { return rs_; }
  // (initiator->responder, responder->initiator), nonces 0, and zeroes the remaining
  // handshake secrets. Throws std::logic_error unless finished() and not split before.
  std::pair<CipherState, CipherState> split();

  static constexpr std::size_t message1_len(Pattern p, std::size_t payload_len) {
    return kDhLen + (p == Pattern::IK ? kDhLen + kAeadTagLen : 0) + payload_len + kAeadTagLen;
  }
  static constexpr std::size_t message2_len(std::size_t payload_len) {
    return kDhLen + payload_len + kAeadTagLen;
  }

 private:
  HandshakeState(Pattern p, bool initiator, ByteView prologue);
  Result<void> mix_dh(const Key32& priv, const Key32& pub);
  Result<Bytes> fail(Errc e, const char* what);
  void wipe_keys();  // zeroes s_priv and e_priv

  SymmetricState ss_;
  Pattern pattern_;
  bool initiator_;
  int step_ = 0;  // messages done: 0, 1, 2
  bool failed_ = false;
  bool split_ = false;
  Key32 s_priv_{};
  Key32 s_pub_{};
  Key32 e_priv_{};
  Key32 e_pub_{};
  std::optional<Key32> rs_;
  Key32 re_{};
};

}  // namespace paniq::crypto::noise

template <>
struct std::is_error_code_enum<paniq::crypto::noise::Errc> : std::true_type {};
