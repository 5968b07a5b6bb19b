// A fixed-capacity map with least-recently-used eviction, for the server's per-source state
// that a prober must not be able to grow (preamble records, rate-limit buckets, the replay
// cache). All storage is allocated by the constructor; lookups, inserts, evictions and erases
// never allocate. The storage comes zeroed from calloc and an all-zero slot means empty, and
// entries are built only when first used, so a table's pages cost no resident memory until
// sources land in them (a server's tables are about 0.7 MB at the defaults, mostly untouched
// by ordinary use). Keys are hashed with a per-table secret seed (drawn by the owner from its
// Rng), so a prober cannot aim many keys at one probe sequence without knowing it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "core/bytes.hpp"

namespace paniq::tunnel {

// Keyed 64-bit mix of `data` (not cryptographic; the seed stays inside the process).
inline std::uint64_t seeded_hash(ByteView data, std::uint64_t seed) {
  auto mix = [](std::uint64_t x) {
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
  };
  std::uint64_t h = mix(seed ^ (data.size() * 0x9e3779b97f4a7c15ULL));
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = mix(h ^ w) + seed;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, data.data() + i, data.size() - i);
  return mix(h ^ w ^ (seed << 1));
}

// `Hash` is a functor `std::uint64_t(const Key&, std::uint64_t seed)`; Key needs ==.
template <class Key, class Value, class Hash>
class BoundedLru {
 public:
  // `capacity` >= 1 entries (std::invalid_argument otherwise: a configuration bug).
  BoundedLru(std::size_t capacity, std::uint64_t seed) : capacity_(capacity), seed_(seed) {
    if (capacity == 0 || capacity > (kNone >> 2)) {
      throw std::invalid_argument("BoundedLru: capacity out of range");
    }
    std::size_t slots = 2;
    while (slots < capacity * 2) slots <<= 1;
    mask_ = slots - 1;
    nodes_.reset(static_cast<Node*>(std::calloc(capacity, sizeof(Node))));
    slots_.reset(static_cast<std::uint32_t*>(std::calloc(slots, sizeof(std::uint32_t))));
    if (!nodes_ || !slots_) throw std::bad_alloc();
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool full() const { return size_ == capacity_; }

  // The value of `key`, or nullptr. Does not change the eviction order.
  Value* find(const Key& key) {
    const std::uint32_t n = lookup(key);
    return n == kNone ? nullptr : &nodes_[n].value;
  }
  const Value* find(const Key& key) const {
    const std::uint32_t n = lookup(key);
    return n == kNone ? nullptr : &nodes_[n].value;
  }
  // As find(), and makes `key` the most recently used entry.
  Value* touch(const Key& key) {
    const std::uint32_t n = lookup(key);
    if (n == kNone) return nullptr;
    unlink(n);
    push_front(n);
    return &nodes_[n].value;
  }

  // Inserts `key` -> `value` as the most recently used entry; an existing entry is replaced.
  // When the table is full the least recently used entry is evicted first (returns true then).
  bool insert(const Key& key, const Value& value) {
    if (const std::uint32_t n = lookup(key); n != kNone) {
      nodes_[n].value = value;
      unlink(n);
      push_front(n);
      return false;
    }
    bool evicted = false;
    if (free_ == kNone && built_ == capacity_) {
      pop_oldest();
      evicted = true;
    }
    std::uint32_t n;
    if (free_ != kNone) {
      n = free_;
      free_ = nodes_[n].next;
    } else {
      n = static_cast<std::uint32_t>(built_++);
      ::new (static_cast<void*>(&nodes_[n])) Node{};
    }
    nodes_[n].key = key;
    nodes_[n].value = value;
    std::size_t s = slot_of(key);
    while (slots_[s] != kEmpty) s = (s + 1) & mask_;
    slots_[s] = n + 1;
    push_front(n);
    ++size_;
    return evicted;
  }

  void erase(const Key& key) {
    const std::size_t s = find_slot(key);
    if (s == kNoSlot) return;
    remove_at(s);
  }

  // The least recently used entry (nullptr when empty), for expiry sweeps from the old end.
  const Key* oldest_key() const { return tail_ == kNone ? nullptr : &nodes_[tail_].key; }
  const Value* oldest() const { return tail_ == kNone ? nullptr : &nodes_[tail_].value; }
  void pop_oldest() {
    if (tail_ == kNone) return;
    remove_at(find_slot(nodes_[tail_].key));
  }

 private:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::uint32_t kEmpty = 0;  // a slot holds node index + 1
  static constexpr std::size_t kNoSlot = std::numeric_limits<std::size_t>::max();

  struct Node {
    Key key{};
    Value value{};
    std::uint32_t prev = kNone;
    std::uint32_t next = kNone;
  };
  // Nodes live in calloc'd storage and are never destroyed one by one.
  static_assert(std::is_trivially_destructible_v<Node>);
  struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
  };

  std::size_t slot_of(const Key& key) const {
    return static_cast<std::size_t>(Hash{}(key, seed_)) & mask_;
  }
  std::size_t find_slot(const Key& key) const {
    for (std::size_t s = slot_of(key);; s = (s + 1) & mask_) {
      const std::uint32_t v = slots_[s];
      if (v == kEmpty) return kNoSlot;
      if (nodes_[v - 1].key == key) return s;
    }
  }
  std::uint32_t lookup(const Key& key) const {
    const std::size_t s = find_slot(key);
    return s == kNoSlot ? kNone : slots_[s] - 1;
  }

  // Removes the entry in slot `s`: list, free list, then backward-shift deletion so linear
  // probing needs no tombstones.
  void remove_at(std::size_t s) {
    const std::uint32_t n = slots_[s] - 1;
    unlink(n);
    nodes_[n].next = free_;
    free_ = n;
    --size_;
    std::size_t hole = s;
    for (std::size_t j = (s + 1) & mask_; slots_[j] != kEmpty; j = (j + 1) & mask_) {
      const std::size_t home = slot_of(nodes_[slots_[j] - 1].key);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kEmpty;
  }

  void unlink(std::uint32_t n) {
    Node& x = nodes_[n];
    if (x.prev != kNone) nodes_[x.prev].next = x.next; else head_ = x.next;
    if (x.next != kNone) nodes_[x.next].prev = x.prev; else tail_ = x.prev;
    x.prev = x.next = kNone;
  }
  void push_front(std::uint32_t n) {
    nodes_[n].prev = kNone;
    nodes_[n].next = head_;
    if (head_ != kNone) nodes_[head_].prev = n;
    head_ = n;
    if (tail_ == kNone) tail_ = n;
  }

  std::unique_ptr<Node[], FreeDeleter> nodes_;
  std::unique_ptr<std::uint32_t[], FreeDeleter> slots_;
  std::size_t capacity_;
  std::size_t built_ = 0;  // nodes [0, built_) have been constructed; the rest are calloc's zeros
  std::size_t mask_ = 0;
  std::uint64_t seed_;
  std::uint32_t head_ = kNone, tail_ = kNone, free_ = kNone;
  std::size_t size_ = 0;
};

}  // namespace paniq::tunnel
