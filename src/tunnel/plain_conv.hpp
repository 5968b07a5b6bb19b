// Stateless convs of plain-mode sessions (SYN-cookie style; docs/protocol.md 2, docs/tunnel.md
// "Server"). The conv a plain Response carries is a keyed MAC of the client's address (IP and
// port) and a coarse time bucket, so answering an Initiation leaves no state; the first
// transport datagram whose conv verifies for its source creates the session. The low 4 bits
// carry the session's packing choice and a generation (so one source can hold several live
// sessions), masked by MAC bits so every conv looks uniformly random on the wire:
//
//   d     = BLAKE2s-64(key = conv_key, family || addr[16] || u16_LE port || u64_LE bucket)
//   conv  = (u32_LE(d[0..4]) & ~0xF) | ((packing | gen << 1) XOR (d[4] & 0xF))
//   bucket = floor(now / bucket_ms); a conv verifies in its bucket and the next one
//
// A forged conv for a source the forger cannot receive at verifies with probability 2^-28 per
// bucket tried (two). Pure: the keys come from the caller's Rng.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "crypto/crypto.hpp"
#include "tunnel/peer_addr.hpp"

namespace paniq::tunnel {

class PlainConv {
 public:
  static constexpr std::uint32_t kGenerations = 8;  // convs per (source, bucket, packing)

  struct Grant {
    bool packing = false;
    std::uint32_t generation = 0;
    TimeMs valid_until = 0;  // the conv stops verifying at this time
  };

  // `bucket_ms` >= 1 (std::invalid_argument otherwise); both keys are drawn from `rng`.
  PlainConv(TimeMs bucket_ms, Rng& rng);
  ~PlainConv();
  PlainConv(const PlainConv&) = delete;
  PlainConv& operator=(const PlainConv&) = delete;

  // The conv of `peer` in the bucket of `now`, with the packing flag and generation `gen`
  // (< kGenerations; taken modulo otherwise).
  std::uint32_t issue(const PeerAddr& peer, TimeMs now, bool packing, std::uint32_t gen) const;
  // What `conv` was issued with, when it was issued to `peer` in the bucket of `now` or the
  // one before; nullopt otherwise (two BLAKE2s at most).
  std::optional<Grant> verify(const PeerAddr& peer, std::uint32_t conv, TimeMs now) const;
  // When a conv issued at `now` stops verifying: between one and two buckets later.
  TimeMs valid_until(TimeMs now) const { return (now / bucket_ms_ + 2) * bucket_ms_; }
  TimeMs bucket_ms() const { return bucket_ms_; }

  // The randomness of the Response answering the Initiation with BLAKE2s-128 `digest` from
  // `peer` with `conv`: a ChaCha20 keystream under a second key, so a retransmitted Initiation
  // gets a byte-identical Response without the server storing it.
  class ResponseRng final : public Rng {
   public:
    ResponseRng(const crypto::Key32& key, const std::array<std::uint8_t, 12>& nonce)
        : key_(key), nonce_(nonce) {}
    ~ResponseRng() override;
    void fill(MutByteView out) override;

   private:
    crypto::Key32 key_;
    std::array<std::uint8_t, 12> nonce_;
    std::array<std::uint8_t, 64> block_{};
    std::size_t avail_ = 0;
    std::uint32_t counter_ = 0;
  };
  ResponseRng response_rng(const PeerAddr& peer, const std::array<std::uint8_t, 16>& digest,
                           std::uint32_t conv) const;

 private:
  struct Mac {
    std::uint32_t check;  // the upper 28 bits of the conv
    std::uint8_t mask;    // XORed onto the 4 flag bits
  };
  Mac mac(const PeerAddr& peer, std::uint64_t bucket) const;

  TimeMs bucket_ms_;
  crypto::Key32 conv_key_{};
  crypto::Key32 response_key_{};
};

}  // namespace paniq::tunnel
