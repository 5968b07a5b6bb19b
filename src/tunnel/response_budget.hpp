// The reflection budget of plain Responses (docs/tunnel.md "Reflection budget"). A plain
// Initiation costs nothing to forge with a spoofed source, so the bytes the server sends back
// are bounded four ways, with token buckets in bytes (a plain Response is always S2 + 8 bytes):
//
//  * per source IP address (any port): every Initiation that reaches the budget takes its
//    Response's bytes, answered or not, so a source over its budget stays "seen";
//  * per prefix (/24 IPv4, /64 IPv6): every Response sent;
//  * in total, in three lanes: `proven` for sources that completed a handshake before (a
//    session was created from that IP) or hold a live session; `fresh` for a source's first
//    Initiation (the server has not heard from it within fresh_after_ms) and, once, for its
//    second one after at least a second of silence (a client's retransmission); `seen` for
//    everything else. A flood from spoofed sources can never prove them, and its sources move
//    from `fresh` to `seen` after their first Initiation: past its first pass over its sources
//    it drains `seen` only, and new clients get `fresh`; returning clients get `proven`
//    throughout.
//
// Memory is fixed at construction: two set-associative tables of 12-byte slots (16 per set).
// A full set reuses an empty or forgettable slot (a stale unproven source, a refilled prefix),
// else evicts the most recently seen unproven source (so a flood cycling through more sources
// than a set holds churns one slot, not the set) / the least recently refilled prefix. A source
// that could only be remembered by evicting another one is not fresh: a flood larger than the
// table cannot turn its own churn into fresh Initiations. Pure: `now` from the caller; the
// hashing seed from its Rng.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "tunnel/peer_addr.hpp"
#include "tunnel/rate_limit.hpp"

namespace paniq::tunnel {

struct ResponseBudgetConfig {
  bool enabled = true;
  // Token buckets in bytes: at most `burst` at once, refilled at `per_second` bytes a second.
  // With the 392-byte Responses of a generated profile: per source 41 Responses at once, then
  // 5 a second; the fresh lane 167, then 83 a second.
  std::uint32_t source_burst = 16 << 10, source_per_second = 2 << 10;
  std::uint32_t prefix_burst = 64 << 10, prefix_per_second = 8 << 10;
  std::uint32_t proven_burst = 64 << 10, proven_per_second = 16 << 10;
  std::uint32_t fresh_burst = 64 << 10, fresh_per_second = 32 << 10;
  std::uint32_t seen_burst = 16 << 10, seen_per_second = 4 << 10;
  // A source not heard from for this long counts as new again.
  std::uint32_t fresh_after_ms = 300'000;
  // Table sizes (rounded up to a power of two, at least 16): 12 bytes per slot.
  std::uint32_t source_slots = 1u << 17, prefix_slots = 1u << 14;

  // First broken rule (bursts 1..4 MiB, rates at most 1 GiB/s, slots 16..2^24);
  // Errc::invalid_config naming server.response_budget.<field>.
  Result<void> validate() const;
  // The smallest burst: a Response larger than this is never sent.
  std::uint32_t min_burst() const;
};

enum class BudgetVerdict : std::uint8_t {
  ok,
  over_source,
  over_prefix,
  over_proven,
  over_fresh,
  over_seen
};

struct ResponseBudgetStats {
  std::uint64_t allowed = 0;
  std::uint64_t over_source = 0, over_prefix = 0, over_proven = 0, over_fresh = 0, over_seen = 0;
  std::uint64_t proven_allowed = 0, fresh_allowed = 0;  // of `allowed`, by lane
  std::uint64_t source_evictions = 0;  // sources forgotten before they went stale
  std::uint64_t prefix_evictions = 0;
};

class ResponseBudget {
 public:
  // `cfg` must pass validate() (std::invalid_argument otherwise). `seed` keys the tables' hash.
  ResponseBudget(const ResponseBudgetConfig& cfg, std::uint64_t seed);

  // A Response of `bytes` about to be sent to `peer` (`live`: the endpoint holds a session of
  // its IP). ok = send it (the tokens are taken); anything else = drop it silently. Always ok
  // when disabled. No allocation.
  BudgetVerdict charge(const PeerAddr& peer, bool live, std::uint32_t bytes, TimeMs now);
  // `peer` completed a handshake (a session was created from its address): its next
  // Initiations use the proven lane for as long as the table keeps it.
  void proven(const PeerAddr& peer, TimeMs now);

  const ResponseBudgetStats& stats() const { return stats_; }
  // Sources currently remembered (not stale), for tests: O(slots).
  std::size_t tracked_sources(TimeMs now) const;
  std::size_t memory_bytes() const { return (sources_.size() + prefixes_.size()) * sizeof(Slot); }

 private:
  // The slot tables' memory comes zeroed from calloc, and value-initialising a Slot writes
  // nothing (an all-zero Slot is empty), so a large table's pages are not touched, and cost no
  // resident memory, until sources land in them (1.8 MB at the defaults). Only valid for the
  // one resize of an empty vector in the constructor: a vector shrunk and grown again in place
  // would keep stale slots.
  template <class T>
  struct ZeroedAllocator {
    using value_type = T;
    ZeroedAllocator() = default;
    template <class U>
    ZeroedAllocator(const ZeroedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
      if (void* p = std::calloc(n, sizeof(T))) return static_cast<T*>(p);
      throw std::bad_alloc();
    }
    void deallocate(T* p, std::size_t) noexcept { std::free(p); }
    template <class U>
    void construct(U*) noexcept {}  // calloc's zeros are the value-initialised state
    template <class U, class... A>
    void construct(U* p, A&&... a) {
      ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
    }
    friend bool operator==(const ZeroedAllocator&, const ZeroedAllocator&) { return true; }
  };
  struct Slot {
    std::uint32_t tag = 0;    // 0 = empty; bit 0 used; sources: bit 1 proven, bits 2-3 the
                              // Initiations since it was new (saturating at 3)
    std::uint32_t milli = 0;  // bytes * 1000
    std::uint32_t stamp = 0;  // low 32 bits of `now` at the last refill (for sources also the
                              // last Initiation)
  };
  struct Found {
    Slot* slot;
    bool inserted;  // a new slot: its state is that of an unknown key
    bool evicted;   // ... taken from a live entry
  };
  using Table = std::vector<Slot, ZeroedAllocator<Slot>>;
  Found find_or_claim(Table& table, std::uint64_t hash, bool sources, TimeMs now);
  bool stale(const Slot& s, std::uint32_t now32) const;
  static bool refilled(const Slot& s, std::uint32_t now32, std::uint32_t burst, std::uint32_t rate);
  static void refill(Slot& s, std::uint32_t now32, std::uint32_t burst, std::uint32_t rate);
  std::uint64_t source_hash(const PeerAddr& peer) const;
  std::uint64_t prefix_hash(const PeerAddr& peer) const;

  ResponseBudgetConfig cfg_;
  std::uint64_t seed_;
  Table sources_, prefixes_;
  TokenBucket proven_, fresh_, seen_;
  TokenBucket::State proven_state_, fresh_state_, seen_state_;
  ResponseBudgetStats stats_;
};

}  // namespace paniq::tunnel
