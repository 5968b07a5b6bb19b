// Allocation-free steady state for the engine: sequence-number-indexed rings instead of ikcp's
// linked lists, recycled fixed-size data blocks instead of one malloc per segment, and one
// output arena holding every pending datagram back to back.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/bytes.hpp"

namespace paniq::kcp::detail {

// Slots addressed by a 32-bit wrapping sequence number: slot(sn) = slots[sn & mask]. Holds any
// window of at most capacity() consecutive sequence numbers; the owner tracks which window.
template <class T>
class SnRing {
 public:
  T& operator[](std::uint32_t sn) { return slots_[sn & mask_]; }
  const T& operator[](std::uint32_t sn) const { return slots_[sn & mask_]; }
  std::size_t capacity() const { return slots_.size(); }
  std::span<T> slots() { return slots_; }

  // Makes room for `span` consecutive sequence numbers from `first`. Every slot of the window
  // [first, first + capacity()) keeps its contents at its sequence number.
  void reserve(std::uint32_t first, std::size_t span) {
    if (span <= slots_.size()) return;
    const std::size_t size = std::bit_ceil(std::max<std::size_t>(span, 16));
    std::vector<T> grown(size);
    const std::uint32_t new_mask = static_cast<std::uint32_t>(size - 1);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const std::uint32_t sn = first + static_cast<std::uint32_t>(i);
      grown[sn & new_mask] = std::move(slots_[sn & mask_]);
    }
    slots_.swap(grown);
    mask_ = new_mask;
  }

 private:
  std::vector<T> slots_;
  std::uint32_t mask_ = 0;
};

// Data blocks of at least block_size() bytes, recycled through a free list. Each block carries
// its capacity in a small header so blocks from before a grow_block_size() are freed on release.
class BlockPool {
 public:
  explicit BlockPool(std::size_t block_size) : block_size_(block_size) {}
  ~BlockPool() {
    for (std::uint8_t* p : free_) destroy(p);
  }
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  std::size_t block_size() const { return block_size_; }
  std::size_t cached() const { return free_.size(); }

  std::uint8_t* acquire() {
    if (!free_.empty()) {
      std::uint8_t* p = free_.back();
      free_.pop_back();
      return p;
    }
    auto* base = new std::uint8_t[block_size_ + kHeader];
    std::memcpy(base, &block_size_, sizeof block_size_);
    return base + kHeader;
  }

  // Returns a block from acquire(); nullptr is ignored.
  void release(std::uint8_t* p) {
    if (p == nullptr) return;
    if (capacity_of(p) < block_size_) {
      destroy(p);
    } else {
      free_.push_back(p);
    }
  }

  // Future blocks hold at least n bytes; cached smaller blocks are freed now, blocks in use
  // when they come back.
  void grow_block_size(std::size_t n) {
    if (n <= block_size_) return;
    block_size_ = (n + 63) & ~std::size_t{63};
    for (std::uint8_t* p : free_) destroy(p);
    free_.clear();
  }

  // Frees the cached blocks (an idle session giving memory back).
  void trim() {
    for (std::uint8_t* p : free_) destroy(p);
    free_.clear();
    free_.shrink_to_fit();
  }

 private:
  static constexpr std::size_t kHeader = 16;
  static std::size_t capacity_of(const std::uint8_t* p) {
    std::size_t cap = 0;
    std::memcpy(&cap, p - kHeader, sizeof cap);
    return cap;
  }
  static void destroy(std::uint8_t* p) { delete[] (p - kHeader); }

  std::size_t block_size_;
  std::vector<std::uint8_t*> free_;
};

// Pending datagrams, stored back to back in one growing buffer. The engine writes a segment at
// reserve()/commit() and closes a datagram with close(); the caller reads views() and drains
// with consume().
class OutputArena {
 public:
  // Room for `need` more bytes in the open datagram; the pointer is valid until the next call.
  std::uint8_t* reserve(std::size_t need) {
    if (len_ + need > cap_) grow(len_ + need);
    return buf_.get() + len_;
  }
  void commit(std::size_t n) { len_ += n; }
  std::size_t open_size() const { return len_ - open_start_; }
  void close() {
    if (len_ == open_start_) return;
    spans_.emplace_back(open_start_, len_ - open_start_);
    open_start_ = len_;
  }

  std::size_t count() const { return spans_.size(); }
  std::size_t bytes() const { return len_; }

  std::span<const ByteView> views() {
    views_.clear();
    for (const auto& [off, n] : spans_) views_.emplace_back(buf_.get() + off, n);
    return views_;
  }

  // Drops the first n datagrams (all of them when n >= count()).
  void consume(std::size_t n) {
    if (n >= spans_.size()) {
      spans_.clear();
      len_ = open_start_ = 0;
      return;
    }
    if (n == 0) return;
    const std::size_t shift = spans_[n].first;
    std::memmove(buf_.get(), buf_.get() + shift, len_ - shift);
    len_ -= shift;
    open_start_ -= shift;
    spans_.erase(spans_.begin(), spans_.begin() + static_cast<std::ptrdiff_t>(n));
    for (auto& s : spans_) s.first -= shift;
  }

 private:
  void grow(std::size_t need) {
    std::size_t cap = cap_ == 0 ? 4096 : cap_;
    while (cap < need) cap *= 2;
    auto grown = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    if (len_ > 0) std::memcpy(grown.get(), buf_.get(), len_);
    buf_ = std::move(grown);
    cap_ = cap;
  }

  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t cap_ = 0;
  std::size_t len_ = 0;
  std::size_t open_start_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::vector<ByteView> views_;
};

}  // namespace paniq::kcp::detail
