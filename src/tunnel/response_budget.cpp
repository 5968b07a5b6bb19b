#include "tunnel/response_budget.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "tunnel/bounded_table.hpp"
#include "tunnel/errors.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::uint64_t kMilli = 1000;
constexpr std::uint32_t kMaxBurst = 4u << 20;  // bytes * 1000 must fit a u32
constexpr std::uint32_t kMaxRate = 1u << 30;
constexpr std::uint32_t kMinSlots = 16, kMaxSlots = 1u << 24;
constexpr std::size_t kWays = 16;
// Slot tag bits: used, proven, and the source's Initiations so far (0..3, saturating).
constexpr std::uint32_t kUsed = 1, kProven = 2, kContacts = 0xC, kFlags = 0xF;
// A source's second Initiation still counts as fresh after this much silence (a client's
// retransmission; a flood source sending faster never gets there).
constexpr std::uint32_t kQuietMs = 1000;

Error bad(const char* field, std::uint64_t value, const char* why) {
  return make_error(Errc::invalid_config, std::string("server.response_budget.") + field + ": " +
                                              std::to_string(value) + ": " + why);
}

std::size_t table_size(std::uint32_t slots) {
  std::size_t n = kMinSlots;
  while (n < slots) n <<= 1;
  return n;
}

// The key's tag as stored: never 0, the low bits left for the flags.
std::uint32_t tag_of(std::uint64_t hash) {
  return (static_cast<std::uint32_t>(hash >> 32) & ~kFlags) | kUsed;
}

std::uint32_t contacts(std::uint32_t tag) { return (tag & kContacts) >> 2; }
std::uint32_t with_contacts(std::uint32_t tag, std::uint32_t n) {
  return (tag & ~kContacts) | (std::min<std::uint32_t>(n, 3) << 2);
}

}  // namespace

Result<void> ResponseBudgetConfig::validate() const {
  const std::pair<const char*, std::uint32_t> bursts[] = {
      {"source_burst", source_burst}, {"prefix_burst", prefix_burst}, {"proven_burst", proven_burst},
      {"fresh_burst", fresh_burst},   {"seen_burst", seen_burst}};
  for (const auto& [name, v] : bursts) {
    if (v == 0 || v > kMaxBurst) return bad(name, v, "must be 1..4194304 bytes");
  }
  const std::pair<const char*, std::uint32_t> rates[] = {
      {"source_per_second", source_per_second}, {"prefix_per_second", prefix_per_second},
      {"proven_per_second", proven_per_second}, {"fresh_per_second", fresh_per_second},
      {"seen_per_second", seen_per_second}};
  for (const auto& [name, v] : rates) {
    if (v > kMaxRate) return bad(name, v, "must be at most 1073741824 bytes");
  }
  if (source_slots < kMinSlots || source_slots > kMaxSlots) {
    return bad("source_slots", source_slots, "must be 16..16777216");
  }
  if (prefix_slots < kMinSlots || prefix_slots > kMaxSlots) {
    return bad("prefix_slots", prefix_slots, "must be 16..16777216");
  }
  if (fresh_after_ms == 0 || fresh_after_ms > (1u << 31)) {
    return bad("fresh_after_ms", fresh_after_ms, "must be 1..2147483648");
  }
  return {};
}

std::uint32_t ResponseBudgetConfig::min_burst() const {
  return std::min({source_burst, prefix_burst, proven_burst, fresh_burst, seen_burst});
}

ResponseBudget::ResponseBudget(const ResponseBudgetConfig& cfg, std::uint64_t seed)
    : cfg_(cfg),
      seed_(seed),
      proven_(cfg.proven_per_second, cfg.proven_burst),
      fresh_(cfg.fresh_per_second, cfg.fresh_burst),
      seen_(cfg.seen_per_second, cfg.seen_burst) {
  if (auto ok = cfg_.validate(); !ok) throw std::invalid_argument(ok.error().message);
  if (cfg_.enabled) {
    sources_.resize(table_size(cfg_.source_slots));
    prefixes_.resize(table_size(cfg_.prefix_slots));
  }
  proven_state_ = proven_.full(0);
  fresh_state_ = fresh_.full(0);
  seen_state_ = seen_.full(0);
}

std::uint64_t ResponseBudget::source_hash(const PeerAddr& peer) const {
  std::array<std::uint8_t, 17> k{};
  k[0] = static_cast<std::uint8_t>(peer.family);
  std::copy(peer.addr.begin(), peer.addr.end(), k.begin() + 1);
  return seeded_hash(k, seed_);
}

std::uint64_t ResponseBudget::prefix_hash(const PeerAddr& peer) const {
  std::array<std::uint8_t, 9> k{};
  k[0] = static_cast<std::uint8_t>(peer.family);
  const std::size_t n = peer.family == PeerAddr::Family::v4 ? 3 : 8;  // /24, /64
  std::copy(peer.addr.begin(), peer.addr.begin() + static_cast<std::ptrdiff_t>(n), k.begin() + 1);
  return seeded_hash(k, seed_ ^ 0x5bd1e9955bd1e995ULL);
}

bool ResponseBudget::stale(const Slot& s, std::uint32_t now32) const {
  return now32 - s.stamp >= cfg_.fresh_after_ms;
}

void ResponseBudget::refill(Slot& s, std::uint32_t now32, std::uint32_t burst, std::uint32_t rate) {
  const std::uint64_t elapsed = now32 - s.stamp;  // wrapping: `now` never goes back
  s.stamp = now32;
  const std::uint64_t cap = burst * kMilli;
  s.milli = static_cast<std::uint32_t>(std::min(cap, s.milli + elapsed * rate));
}

bool ResponseBudget::refilled(const Slot& s, std::uint32_t now32, std::uint32_t burst,
                              std::uint32_t rate) {
  Slot copy = s;
  refill(copy, now32, burst, rate);
  return copy.milli >= burst * kMilli;
}

// The slot of `hash` in its set; else an empty one, a forgettable one (a stale unproven
// source, a refilled prefix), else (an eviction) for sources the most recently seen unproven
// one, for prefixes the least recently refilled one.
ResponseBudget::Found ResponseBudget::find_or_claim(Table& table, std::uint64_t hash,
                                                    bool sources, TimeMs now) {
  const std::uint32_t now32 = static_cast<std::uint32_t>(now);
  const std::uint32_t tag = tag_of(hash);
  const std::size_t sets = table.size() / kWays;
  Slot* set = table.data() + (static_cast<std::size_t>(hash) & (sets - 1)) * kWays;
  Slot* victim = nullptr;
  bool forgettable = false;
  std::uint64_t victim_rank = 0;  // the highest goes
  for (std::size_t i = 0; i < kWays; ++i) {
    Slot& s = set[i];
    if (s.tag != 0 && (s.tag & ~kFlags) == (tag & ~kFlags)) return Found{&s, false, false};
    if (forgettable) continue;
    const bool proven = (s.tag & kProven) != 0;
    if (s.tag == 0 ||
        (sources ? !proven && stale(s, now32)
                 : refilled(s, now32, cfg_.prefix_burst, cfg_.prefix_per_second))) {
      victim = &s;
      forgettable = true;
      continue;
    }
    // Sources: unproven before proven; among unproven the youngest, among proven the oldest.
    const std::uint32_t age = now32 - s.stamp;
    const std::uint64_t rank = !sources || proven ? age : (1ULL << 32) | (0xFFFFFFFFu - age);
    if (victim == nullptr || rank > victim_rank) {
      victim = &s;
      victim_rank = rank;
    }
  }
  if (!forgettable) ++(sources ? stats_.source_evictions : stats_.prefix_evictions);
  *victim = Slot{tag, 0, now32};
  return Found{victim, true, !forgettable};
}

BudgetVerdict ResponseBudget::charge(const PeerAddr& peer, bool live, std::uint32_t bytes,
                                     TimeMs now) {
  if (!cfg_.enabled) {
    ++stats_.allowed;
    return BudgetVerdict::ok;
  }
  const std::uint32_t now32 = static_cast<std::uint32_t>(now);
  const std::uint64_t cost = static_cast<std::uint64_t>(bytes) * kMilli;
  const Found src = find_or_claim(sources_, source_hash(peer), true, now);
  Slot& s = *src.slot;
  const bool unknown = src.inserted || stale(s, now32);
  const std::uint32_t quiet = now32 - s.stamp;
  if (unknown) {  // a full bucket, no Initiations yet (a proven flag stays)
    s.tag = with_contacts(s.tag, src.evicted ? 3 : 0);
    s.milli = static_cast<std::uint32_t>(cfg_.source_burst * kMilli);
    s.stamp = now32;
  }
  // Fresh: the source's first Initiation, or its second after a second of silence.
  const std::uint32_t n = contacts(s.tag);
  const bool fresh = n == 0 || (n == 1 && quiet >= kQuietMs);
  s.tag = with_contacts(s.tag, fresh ? n + 1 : 3);
  refill(s, now32, cfg_.source_burst, cfg_.source_per_second);
  const bool proven = live || (s.tag & kProven) != 0;
  if (s.milli < cost) {
    ++stats_.over_source;
    return BudgetVerdict::over_source;
  }
  s.milli -= static_cast<std::uint32_t>(cost);  // every Initiation that got this far
  const Found pre = find_or_claim(prefixes_, prefix_hash(peer), false, now);
  Slot& p = *pre.slot;
  if (pre.inserted) p.milli = static_cast<std::uint32_t>(cfg_.prefix_burst * kMilli);
  refill(p, now32, cfg_.prefix_burst, cfg_.prefix_per_second);
  if (p.milli < cost) {
    ++stats_.over_prefix;
    return BudgetVerdict::over_prefix;
  }
  if (proven ? !proven_.take(proven_state_, now, bytes)
             : fresh ? !fresh_.take(fresh_state_, now, bytes) : !seen_.take(seen_state_, now, bytes)) {
    ++(proven ? stats_.over_proven : fresh ? stats_.over_fresh : stats_.over_seen);
    return proven ? BudgetVerdict::over_proven
                  : fresh ? BudgetVerdict::over_fresh : BudgetVerdict::over_seen;
  }
  p.milli -= static_cast<std::uint32_t>(cost);
  ++stats_.allowed;
  if (proven) {
    ++stats_.proven_allowed;
  } else if (fresh) {
    ++stats_.fresh_allowed;
  }
  return BudgetVerdict::ok;
}

void ResponseBudget::proven(const PeerAddr& peer, TimeMs now) {
  if (!cfg_.enabled) return;
  const std::uint32_t now32 = static_cast<std::uint32_t>(now);
  const Found src = find_or_claim(sources_, source_hash(peer), true, now);
  Slot& s = *src.slot;
  if (src.inserted) {
    s.milli = static_cast<std::uint32_t>(cfg_.source_burst * kMilli);
  } else {
    refill(s, now32, cfg_.source_burst, cfg_.source_per_second);
  }
  s.tag |= kProven;
}

std::size_t ResponseBudget::tracked_sources(TimeMs now) const {
  const std::uint32_t now32 = static_cast<std::uint32_t>(now);
  return static_cast<std::size_t>(std::count_if(sources_.begin(), sources_.end(), [&](const Slot& s) {
    return s.tag != 0 && !stale(s, now32);
  }));
}

}  // namespace paniq::tunnel
