// Buffers of the mux session. Steady-state traffic allocates nothing: received payload goes into
// pooled fixed-size chunks, outbound frames into one reusable byte buffer, events into a ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/bytes.hpp"

namespace paniq::mux {

inline constexpr std::size_t kChunkSize = 4096;

struct Chunk {
  Chunk* next = nullptr;
  std::uint32_t begin = 0;  // first unread byte
  std::uint32_t end = 0;    // one past the last written byte
  std::uint8_t data[kChunkSize];
};

// Free list of chunks shared by every stream of a session. Keeps at most `keep_free` idle
// chunks; the rest go back to the allocator.
class ChunkPool {
 public:
  explicit ChunkPool(std::size_t keep_free = 64) : keep_free_(keep_free) {}
  ~ChunkPool();
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  Chunk* get();         // an empty chunk (allocates only when the free list is empty)
  void put(Chunk* c);   // returns a chunk taken with get()
  std::size_t in_use() const { return in_use_; }
  std::size_t idle() const { return free_count_; }

 private:
  Chunk* free_ = nullptr;
  std::size_t free_count_ = 0;
  std::size_t in_use_ = 0;
  std::size_t keep_free_;
};

// FIFO of bytes in pooled chunks. Memory held <= size() + 2 * kChunkSize (the partly read head
// chunk and the partly written tail chunk).
class ChunkQueue {
 public:
  explicit ChunkQueue(ChunkPool& pool) : pool_(&pool) {}
  ~ChunkQueue() { clear(); }
  ChunkQueue(ChunkQueue&& o) noexcept
      : pool_(o.pool_), head_(std::exchange(o.head_, nullptr)),
        tail_(std::exchange(o.tail_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  ChunkQueue& operator=(ChunkQueue&&) = delete;
  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void append(ByteView data);
  // Copies up to out.size() bytes out and removes them; returns how many.
  std::size_t read(MutByteView out);
  void clear();

 private:
  ChunkPool* pool_;
  Chunk* head_ = nullptr;
  Chunk* tail_ = nullptr;
  std::size_t size_ = 0;
};

// Growable FIFO ring (power-of-two capacity). Storage grown past kKeep entries by a burst is
// freed when the ring drains, so that a burst of thousands of stream events leaves nothing
// behind; a ring that never holds more keeps its storage (no allocation in steady traffic).
template <class T>
class RingQueue {
 public:
  static constexpr std::size_t kKeep = 64;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  void push(const T& v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = v;
    ++size_;
  }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  T& back() { return buf_[(head_ + size_ - 1) & (buf_.size() - 1)]; }
  T pop() {
    T v = buf_[head_];
    head_ = (head_ + 1) & (buf_.size() - 1);
    if (--size_ == 0 && buf_.size() > kKeep) {
      // Drained after a burst: the storage goes, the next push starts small again.
      std::vector<T>().swap(buf_);
      head_ = 0;
    }
    return v;
  }
  std::size_t capacity() const { return buf_.size(); }

 private:
  void grow() {
    std::vector<T> bigger(buf_.empty() ? 16 : buf_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = buf_[(head_ + i) & (buf_.size() - 1)];
    buf_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> buf_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// Bytes waiting to be handed to the transport, readable as one contiguous view.
class OutBuffer {
 public:
  explicit OutBuffer(std::size_t reserve)
      : buf_(std::make_unique_for_overwrite<std::uint8_t[]>(reserve)), cap_(reserve) {}
  std::size_t size() const { return tail_ - head_; }
  ByteView view() const { return {buf_.get() + head_, tail_ - head_}; }
  // Room for `n` more bytes at the end (uninitialised); the caller fills all of them.
  std::uint8_t* extend(std::size_t n);
  void consume(std::size_t n);

 private:
  std::unique_ptr<std::uint8_t[]> buf_;
  std::size_t cap_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace paniq::mux
