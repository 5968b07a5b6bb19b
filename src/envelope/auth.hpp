// The Go original's authenticated Initiation payload (PROTOCOL.md 15):
//
//   payload = [enc_timestamp[85]] || mac1[16]
//   enc_timestamp = 0x01 || E[32] || n[24] || XChaCha20-Poly1305(key, n, tai64n[12])[28]
//   key  = BLAKE2s-256("ts-encrypt" || X25519(e, server_public))
//   mac1 = BLAKE2s-128 keyed with BLAKE2s-256("mac1----" || server_public), over the whole
//          datagram with its last 16 bytes zeroed, then written into those 16 bytes.
//
// The Rust reference neither sends nor checks any of this; it is opt-in (a client with a
// server public key) and serves Go peers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "envelope/errors.hpp"
#include "envelope/tai64n.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kEncTimestampLen = 85;
inline constexpr std::uint8_t kEncTimestampVersion = 0x01;
inline constexpr std::size_t kMac1Len = 16;

using Mac1 = std::array<std::uint8_t, kMac1Len>;

// ---- Encrypted timestamp -------------------------------------------------------------------

// BLAKE2s-256("ts-encrypt" || shared), unkeyed.
crypto::Key32 timestamp_key(const crypto::Key32& shared);

// Writes the 85-byte enc_timestamp of `stamp` into out[0..85). Draws, in the Go client's order,
// the 32-byte ephemeral secret and then the 24-byte nonce from `rng`.
// Failure: low_order_key when X25519 with `server_public` is all zero (a bad configured key; the
// caller must not send an Initiation with it); buffer_too_small when out.size() < 85.
Result<void> seal_timestamp(MutByteView out, const Tai64n& stamp,
                            const crypto::Key32& server_public, Rng& rng);

// Opens the first 85 bytes of `enc` with the server's private key and returns the decoded time.
// Failure (the server drops the Initiation): timestamp_malformed (fewer than 85 bytes or version
// byte not 0x01), low_order_key (all-zero shared secret), timestamp_auth_failed (AEAD open
// failed), timestamp_out_of_range (plaintext not a valid TAI64N time).
Result<WallTime> open_timestamp(ByteView enc, const crypto::Key32& server_private);

// ---- MAC1 ----------------------------------------------------------------------------------

// BLAKE2s-256("mac1----" || server_public), unkeyed.
crypto::Key32 mac1_key(const crypto::Key32& server_public);
// Keyed BLAKE2s-128 of `message` (the primitive of go-mac1-vectors.json).
Mac1 compute_mac1(ByteView message, const crypto::Key32& key);
// Zeroes the last 16 bytes of `datagram`, MACs the whole datagram and writes the MAC into them.
// Precondition: datagram.size() >= 16 (throws std::invalid_argument otherwise: a caller bug).
void write_mac1(MutByteView datagram, const crypto::Key32& key);
// True when the last 16 bytes of `datagram` are the MAC1 of the datagram with those bytes
// zeroed; constant-time comparison. False for datagrams under 16 bytes. No allocation.
bool verify_mac1(ByteView datagram, const crypto::Key32& key);

// ---- Server-side verification --------------------------------------------------------------

struct ServerKeys {
  crypto::Key32 private_key{};
  crypto::Key32 public_key{};
  crypto::Key32 mac1_key{};  // mac1_key(public_key), precomputed
  static ServerKeys from_private(const crypto::Key32& private_key);
};

enum class Mac1Check : std::uint8_t {
  Absent,  // payload shorter than 16 bytes (e.g. the empty payload of Rust clients)
  Valid,
  Invalid,  // wrong MAC: a Go server drops here
};

enum class TimestampCheck : std::uint8_t {
  Absent,      // no MAC1, or the bytes before it are under 85 or do not start with 0x01
  Valid,       // decrypted; InitiationVerdict::time holds it
  Invalid,     // looked like one but did not open (or all-zero shared secret, bad time)
  NotChecked,  // MAC1 invalid (checked first, as Go does) or VerifyOptions::open_timestamp off
};

struct InitiationVerdict {
  Mac1Check mac1 = Mac1Check::Absent;
  TimestampCheck timestamp = TimestampCheck::Absent;
  std::optional<WallTime> time;  // set iff timestamp == Valid
};

struct VerifyOptions {
  // Spend the X25519 + AEAD on an encrypted timestamp (after a valid MAC1). A policy that does
  // not look at timestamps may turn it off.
  bool open_timestamp = true;
};

// Checks an Initiation as a Go server does, reporting facts and leaving the policy (require
// MAC1 / timestamp, skew, replay) to the caller. `payload` must be the classified payload, i.e.
// a suffix of `datagram` (obf::Classified::payload); otherwise MAC1 is reported Invalid.
// Never fails. Cost: one BLAKE2s; X25519 + AEAD only after a valid MAC1 (the only path that
// may allocate, for the error text of a failed open).
InitiationVerdict verify_initiation(ByteView datagram, ByteView payload, const ServerKeys& keys,
                                    const VerifyOptions& options = {});

}  // namespace paniq::envelope
