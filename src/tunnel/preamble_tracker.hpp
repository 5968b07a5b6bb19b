// Per-source record of the signature datagrams (obfuscation.i1..i5, PROTOCOL.md 3.2) a client
// sends before its Initiation, for `signature_validate` (docs/auth.md). The server hands every
// datagram that did not classify to observe(); a datagram that is exactly the signature of a
// configured chain (the chain obfuscated with an empty payload: its length, and every tag's
// check) marks that chain as seen for the source address (IP and port), and a <t> tag's value
// is kept. Junk and probes that match no chain leave no state at all. The table is a bounded
// LRU: at most `table_size` sources, each record valid for `ttl_ms` after its latest signature.
// No allocation after construction.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/time.hpp"
#include "obf/framer.hpp"
#include "tunnel/bounded_table.hpp"
#include "tunnel/peer_addr.hpp"

namespace paniq::tunnel {

struct PreambleConfig {
  std::size_t table_size = 4096;
  std::uint32_t ttl_ms = 10'000;
};

class PreambleTracker {
 public:
  // The chains of `framer` whose spec is non-empty (the ones a client sends, in order).
  // `cfg.table_size` >= 1 and `cfg.ttl_ms` >= 1 (std::invalid_argument otherwise).
  PreambleTracker(const obf::Framer& framer, const PreambleConfig& cfg, std::uint64_t seed);

  // At least one signature chain configured.
  bool active() const { return required_ != 0; }
  // Bit k set = chain I(k+1) must be seen.
  std::uint8_t required_mask() const { return required_; }
  // True when some configured chain contains a <t> tag.
  bool has_timestamp_chain() const;

  // A datagram from `peer` that classified as nothing. Returns the index (0..4 = I1..I5) of
  // the chain it is the signature of (the first one not yet seen from this source, in order),
  // or nullopt (junk, probes: nothing recorded). Cheap: a length compare per chain, then the
  // tag checks of a chain with that length.
  std::optional<std::size_t> observe(const PeerAddr& peer, ByteView datagram, TimeMs now);

  struct Status {
    bool complete = false;                  // every configured chain seen within the TTL
    std::optional<std::uint32_t> timestamp; // the latest <t> value seen (Unix seconds)
  };
  // What `peer` sent so far (nothing when its record expired or was evicted).
  Status status(const PeerAddr& peer, TimeMs now) const;
  // Forgets `peer`'s record (its signatures authorised one session).
  void consume(const PeerAddr& peer);

  std::size_t size() const { return table_.size(); }
  std::size_t capacity() const { return table_.capacity(); }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct Step {
    const obf::Tag* tag;
    std::size_t offset;
    std::size_t len;
  };
  struct Signature {
    bool configured = false;
    std::size_t len = 0;                  // datagram length (the chain with an empty payload)
    std::size_t first_step = 0, steps = 0;
    std::optional<std::size_t> time_at;   // offset of the first <t>
  };
  struct Record {
    std::uint8_t seen = 0;
    bool has_time = false;
    std::uint32_t time = 0;
    TimeMs last = 0;
  };
  struct PeerHash {
    std::uint64_t operator()(const PeerAddr& p, std::uint64_t seed) const;
  };

  bool matches(const Signature& sig, ByteView datagram) const;
  bool live(const Record& r, TimeMs now) const { return now <= r.last + ttl_ms_; }

  std::array<obf::Chain, 5> chains_;  // keeps the tags alive
  std::array<Signature, 5> sigs_{};
  std::vector<Step> steps_;
  std::uint8_t required_ = 0;
  TimeMs ttl_ms_;
  BoundedLru<PeerAddr, Record, PeerHash> table_;
  mutable Bytes scratch_;  // data tags' output (always empty for a signature)
  std::uint64_t evictions_ = 0;
};

}  // namespace paniq::tunnel
