// The encrypted-mode handshake (our extension, docs/protocol.md 7): a Noise IK or NK message
// pair carried inside the Initiation and the Response, behind the Go original's encrypted
// timestamp and MAC1 (auth.hpp), so every existing defence still runs before any Noise work.
//
//   Initiation payload = enc_timestamp[85] || noise_msg1 || mac1[16]
//     NK (no client key): msg1 = e || enc(payload1)                 56 bytes
//     IK (client key):    msg1 = e || enc(s) || enc(payload1)       104 bytes
//     payload1 = u32_LE client_receiver_id || u8 version (1) || u8 flags (bit 0: AES-GCM fast,
//                bit 1: stream offsets offered) || u16 zero
//   Response payload   = random[4] || noise_msg2 (e || enc(payload2), 60 bytes)
//     payload2 = u32_LE server_receiver_id || u32_LE conv || u8 aead (0 ChaCha20-Poly1305,
//                1 AES-256-GCM) || u8 features (bit 0: stream offsets on) || u16 zero
//
// The pattern is told by the payload length (157 or 205 bytes; 0 is a Rust client, 101 the Go
// original's plain authenticated Initiation). The Initiation also carries the capability tag
// (capability.hpp), and only then does our server look at the Noise message; a Rust server
// ignores the payload and answers with a plain 4-byte Response, which our client recognises
// (and refuses when the profile requires encryption). Prologue: "paniq-cpp noise v1" ||
// capability_key(obfuscation parameters), binding the handshake to the profile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "crypto/crypto.hpp"
#include "crypto/noise.hpp"
#include "envelope/auth.hpp"
#include "envelope/secure.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kNoisePayload1Len = 8;
inline constexpr std::size_t kNoisePayload2Len = 12;
inline constexpr std::size_t kNoiseMsg1NkLen = 32 + kNoisePayload1Len + 16;
inline constexpr std::size_t kNoiseMsg1IkLen = 32 + 48 + kNoisePayload1Len + 16;
inline constexpr std::size_t kNoiseMsg2Len = 32 + kNoisePayload2Len + 16;
inline constexpr std::size_t kSecureResponsePayloadLen = 4 + kNoiseMsg2Len;

// The Noise pattern an Initiation payload of this length carries (nullopt: none, i.e. plain).
std::optional<crypto::noise::Pattern> secure_pattern_of(std::size_t initiation_payload_len);

// The client->server header-protection key: BLAKE2s-256("paniq-cpp hp c2s v1" || server
// public key). Known to every holder of the profile; it hides ids and counters from
// observers, not from them (docs/protocol.md 7.6).
crypto::Key32 hp_key_c2s(const crypto::Key32& server_public);
// "paniq-cpp noise v1" || capability key.
Bytes secure_prologue(const crypto::Key32& capability_key);

struct SecureClientParams {
  crypto::Key32 server_public{};
  std::optional<crypto::Key32> client_private;  // set: IK, else NK
  crypto::Key32 capability_key{};               // for the prologue
  bool aes_fast = false;                        // this machine has AES-GCM in hardware
  bool stream_offsets = true;                   // offer stream offsets (docs/protocol.md 7.8)
};

struct SecureEstablished {
  std::uint32_t conv = 0;
  SecureKeys keys;
};

// Client side: message 1 at construction, message 2 on the Response.
class SecureClientHandshake {
 public:
  // Draws the ephemeral key and the receiver id from `rng`. Failure: low_order_key (the
  // configured server key is a low-order point; the client must not connect).
  static Result<std::unique_ptr<SecureClientHandshake>> start(const SecureClientParams& p, Rng& rng);
  ~SecureClientHandshake();

  ByteView message1() const { return msg1_; }
  crypto::noise::Pattern pattern() const { return pattern_; }

  // The Response payload (after the obfuscation prefix). nullopt when it is not an encrypted
  // Response of this handshake (wrong length, Noise did not open, unknown AEAD): the caller
  // ignores it and keeps waiting. The handshake state is kept, so a forged Response costs
  // nothing.
  std::optional<SecureEstablished> finish(ByteView response_payload);

 private:
  SecureClientHandshake() = default;
  crypto::noise::Pattern pattern_ = crypto::noise::Pattern::NK;
  std::unique_ptr<crypto::noise::HandshakeState> hs_;
  Bytes msg1_;
  crypto::Key32 server_public_{};
  std::uint32_t rid_ = 0;
  bool offer_offsets_ = false;
};

struct SecureServerParams {
  crypto::Key32 server_private{};
  crypto::Key32 server_public{};
  crypto::Key32 capability_key{};
  bool aes_fast = false;
  bool stream_offsets = true;  // accept a client's offer of stream offsets
};

struct SecureAccepted {
  SecureKeys keys;
  std::optional<crypto::Key32> client_public;  // IK: the client's static key (the user)
  Bytes response_payload;                      // random[4] || msg2
};

// Server side: reads message 1 (the slice of the Initiation payload between the encrypted
// timestamp and MAC1) and writes message 2 with `conv` and `server_rid`; the caller decides
// about the user (client_public) before it answers. Failure (noise_failed: the message does
// not open, a low-order key, an unknown version; the caller drops the Initiation silently).
Result<SecureAccepted> accept_secure_initiation(const SecureServerParams& p,
                                                crypto::noise::Pattern pattern, ByteView msg1,
                                                std::uint32_t conv, std::uint32_t server_rid,
                                                Rng& rng);

}  // namespace paniq::envelope
