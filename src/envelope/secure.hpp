// Encrypted transport (our extension between paniq-cpp peers, docs/protocol.md 7): after the
// obfuscation prefix random[S4] || u32_LE(h in H4) every byte is ciphertext or masked:
//
//   masked_header[16] || AEAD(key of `epoch`, nonce(counter), ad = header, plain) [len + 16]
//   header = u32_LE receiver_id || u32_LE epoch || u64_LE counter
//   plain  = u16_BE inner_len || inner (KCP segments) || padding (zero bytes, then encrypted)
//   mask   = AES-256-ECB(hp_key, ct[0..16]) for AES-256-GCM sessions, ChaCha20(hp_key, block
//            counter = u32_LE(ct[0..4]), nonce = ct[4..16])[0..16] for ChaCha20-Poly1305 ones,
//            over the first 16 bytes `ct` of the AEAD output (QUIC-style header protection)
//
// The receiver id (chosen by the receiving side in the handshake) routes a datagram to its
// session in O(1) without any clear field: the server's header-protection key for the
// client->server direction is derived from its public key, so it can unmask before it knows
// the session. The counter is the AEAD nonce and passes a sliding replay window; the epoch
// says which key: each direction's key is replaced by Noise's REKEY(k) by time and by volume,
// and the old one is erased (forward secrecy within a session). Pure: `now` and Rng& come in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "envelope/config.hpp"
#include "envelope/replay_window.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kSecureHeaderLen = 16;
inline constexpr std::size_t kSecureTagLen = 16;
// Bytes an encrypted payload adds around the plain transport payload's u16 length + inner +
// padding: the masked header and the AEAD tag.
inline constexpr std::size_t kSecureOverhead = kSecureHeaderLen + kSecureTagLen;
// Replay window over the counters of one direction (docs/protocol.md 7.4).
inline constexpr std::size_t kSecureReplayWindow = 8192;

// When a sender replaces its key (WireGuard's REKEY_AFTER_TIME / REJECT_AFTER_TIME) and after
// how many bytes sent under one key.
struct RekeyPolicy {
  std::uint32_t after_ms = 120'000;
  std::uint64_t after_bytes = std::uint64_t{1} << 30;
  // A receiver refuses datagrams under a key it has held this long; the sender always moves
  // on earlier (after_ms), so only a stale or captured key is refused.
  std::uint32_t reject_after_ms = 180'000;
  // The previous receive key stays usable this long after the next one arrived (datagrams
  // reordered around a rekey).
  std::uint32_t previous_grace_ms = 5'000;
};

// What the handshake hands the transport (tunnel/secure_handshake.hpp derives it).
struct SecureKeys {
  crypto::Aead aead = crypto::Aead::chacha20poly1305;
  crypto::Key32 send{}, recv{};        // epoch-0 keys (Noise Split)
  crypto::Key32 hp_send{}, hp_recv{};  // header-protection keys per direction (masks of the
                                       // `aead` family: AES-256-ECB or ChaCha20)
  std::uint32_t send_rid = 0;          // the peer's receiver id: on every datagram we send
  std::uint32_t recv_rid = 0;          // ours: every datagram we accept carries it
  // Both ends agreed to stream offsets in the handshake (docs/protocol.md 7.8): frames stay
  // within KCP segments and data frames carry their stream offset.
  bool stream_offsets = false;
  void erase();                        // zeroes the key material
};

struct SecureHeader {
  std::uint32_t receiver_id = 0;
  std::uint32_t epoch = 0;
  std::uint64_t counter = 0;
};

// Unmasks the header of an encrypted payload without changing it. nullopt when the payload is
// too short to be one (under header + 2 + tag bytes). Any payload unmasks to something: the
// receiver id is only a routing hint until the AEAD opened.
std::optional<SecureHeader> peek_header(ByteView payload, const crypto::HeaderProtection& hp);

struct SecureStats {
  std::uint64_t rekeys_sent = 0;      // send key replaced
  std::uint64_t rekeys_received = 0;  // receive key moved forward
  std::uint64_t drop_auth = 0;        // AEAD did not open (or unknown epoch)
  std::uint64_t drop_replay = 0;      // counter seen or behind the window
  std::uint64_t drop_stale_key = 0;   // key older than reject_after_ms
  std::uint64_t drop_malformed = 0;   // too short, wrong receiver id, bad inner length
};

enum class OpenStatus : std::uint8_t { ok, malformed, wrong_receiver, replayed, stale_key, auth };

struct Opened {
  OpenStatus status = OpenStatus::malformed;
  ByteView inner;               // into the scratch buffer given to open()
  std::size_t padding_len = 0;
  std::uint64_t counter = 0;
  bool newest = false;  // the highest counter accepted so far (roaming follows only these)
};

// One session's encrypted channel, both directions.
class SecureChannel {
 public:
  SecureChannel(const SecureKeys& keys, const RekeyPolicy& policy, TimeMs now);
  ~SecureChannel();
  SecureChannel(const SecureChannel&) = delete;
  SecureChannel& operator=(const SecureChannel&) = delete;

  // Payload bytes in front of the KCP segments the caller writes: header + u16 length.
  static constexpr std::size_t inner_offset() { return kSecureHeaderLen + 2; }

  // Completes a payload whose inner segments (inner_len bytes) the caller wrote at
  // out[inner_offset()]: chooses the padding (choose_padding, as plain mode) within `budget`,
  // encrypts, masks the header. Rekeys first when the send key is due (time or volume).
  // Returns the payload length. Failure, nothing to send: payload_too_large (inner + padding +
  // overhead over budget; the caller drops and counts it, KCP retransmits) or
  // buffer_too_small (a caller bug). The counter is consumed only on success.
  Result<std::size_t> seal(MutByteView out, std::size_t inner_len, const PaddingPolicy& padding,
                           std::size_t budget, Rng& rng, TimeMs now);

  // Opens `payload` (everything after the obfuscation prefix) into `scratch` (at least
  // payload.size() bytes; the caller's reused buffer). Checks, in order: size, receiver id,
  // replay window, key age, AEAD, inner length; records the counter only after the AEAD
  // opened. Any failure is a silent drop for the caller. No allocation. `known`: the header
  // the caller already unmasked with this channel's receive protection (the server's routing
  // step), so it is not unmasked twice.
  Opened open(ByteView payload, MutByteView scratch, TimeMs now,
              const SecureHeader* known = nullptr);

  const SecureStats& stats() const { return stats_; }
  std::uint32_t send_epoch() const { return send_epoch_; }
  std::uint32_t recv_epoch() const { return recv_epoch_; }
  crypto::Aead aead() const { return aead_; }
  // Earliest time the send key is due for a time-based rekey (so an idle link with traffic
  // still rekeys on schedule; it is checked on every seal()).
  TimeMs send_key_due() const { return send_since_ + policy_.after_ms; }

 private:
  struct RecvKey;
  void rekey_send(TimeMs now);
  const crypto::AeadKey* recv_key_for(std::uint32_t epoch, TimeMs now, OpenStatus& why);

  crypto::Aead aead_;
  RekeyPolicy policy_;
  crypto::HeaderProtection hp_send_, hp_recv_;
  std::uint32_t send_rid_, recv_rid_;
  // Send side: the raw key (for REKEY) and its precomputed AEAD state.
  crypto::Key32 send_raw_{};
  std::unique_ptr<crypto::AeadKey> send_key_;
  std::uint32_t send_epoch_ = 0;
  TimeMs send_since_;
  std::uint64_t send_bytes_ = 0;
  std::uint64_t send_counter_ = 0;
  // Receive side: the current key and the previous one (for reordering around a rekey).
  crypto::Key32 recv_raw_{};
  std::unique_ptr<crypto::AeadKey> recv_key_, prev_key_;
  std::uint32_t recv_epoch_ = 0;
  TimeMs recv_since_;
  TimeMs prev_until_ = 0;
  ReplayWindow replay_;
  std::uint64_t highest_ = 0;
  bool any_ = false;
  SecureStats stats_;
};

// Noise's REKEY(k): the first 32 bytes of ChaCha20-Poly1305(k, nonce 2^64 - 1, ad empty,
// 32 zero bytes). The key of epoch e + 1 is REKEY(key of epoch e) in both directions.
crypto::Key32 noise_rekey(const crypto::Key32& k);

}  // namespace paniq::envelope
