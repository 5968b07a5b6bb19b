// Handshake messages (PROTOCOL.md 4, 15): the Initiation, with an empty payload (what Rust
// clients send) or the Go original's authenticated payload, and the Response carrying the conv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "envelope/auth.hpp"
#include "envelope/capability.hpp"
#include "envelope/errors.hpp"
#include "envelope/tai64n.hpp"
#include "obf/framer.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kConvLen = 4;

// Client authentication settings (obfuscation.server_public_key / encrypted_timestamp).
struct InitiationAuth {
  std::optional<crypto::Key32> server_public;  // none: empty payload, as Rust clients send
  bool encrypted_timestamp = true;             // with a key: enc_timestamp before MAC1
  // Set: the Initiation carries the capability tag (capability.hpp, our extension) saying
  // this client accepts several KCP segments per datagram. Needs S1 >= 24 (else no tag).
  std::optional<crypto::Key32> capability_key;

  // 0 (no key), 16 (MAC1 only) or 101 (enc_timestamp || MAC1).
  std::size_t payload_len() const;
};

// random[S1] || u32_LE(h in H1) || payload. Random draws, in the Go client's order: ephemeral
// secret (32) and nonce (24) when an encrypted timestamp is sent, then the framer's padding and
// header. Send the same bytes again on a retransmission (as Go does).
// Failure: low_order_key when the configured server public key is a low-order point (a
// configuration error; the caller reports it and does not connect).
//
// `noise_message` (encrypted mode, secure_handshake.hpp): placed between the encrypted
// timestamp and MAC1; needs a server key and the encrypted timestamp (precondition, else
// std::invalid_argument).
Result<Bytes> build_initiation(const obf::Framer& framer, Rng& rng, const InitiationAuth& auth,
                               const Tai64n& stamp, ByteView noise_message = {});
// As above with the stamp tai64n_encode(now) (use a Tai64nStamper for strictly rising stamps).
Result<Bytes> build_initiation(const obf::Framer& framer, Rng& rng, const InitiationAuth& auth,
                               WallTime now);

// random[S2] || u32_LE(h in H2) || u32_LE(conv). Never fails.
Bytes build_response(const obf::Framer& framer, std::uint32_t conv, Rng& rng);

// random[S2] || u32_LE(h in H2) || payload (the encrypted Response, secure_handshake.hpp).
Bytes build_response_payload(const obf::Framer& framer, ByteView payload, Rng& rng);

// conv = u32 LE of the Response payload's first 4 bytes; further bytes are ignored.
// Failure: response_too_short (fewer than 4 bytes); the client fails the handshake.
Result<std::uint32_t> parse_response_conv(ByteView payload);

}  // namespace paniq::envelope
