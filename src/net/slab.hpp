// A fixed-size object allocator on pages of its own (anonymous mmap, 64 KiB at a time), for
// small objects that live long and must not be scattered through the heap (see asio_impl.cpp).
// Pages are touched only as objects are handed out; freed objects are reused first. Chunks are
// returned to the system when the slab is destroyed. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

namespace paniq::net {

class Slab {
 public:
  static constexpr std::size_t kChunkBytes = 64 * 1024;

  Slab(std::size_t object_size, std::size_t align);
  ~Slab();
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  void* allocate();  // throws std::bad_alloc when the system has no memory
  void deallocate(void* p) noexcept;

  std::size_t chunks() const;

 private:
  struct FreeNode {
    FreeNode* next;
  };
  std::size_t size_;
  mutable std::mutex mu_;
  std::vector<void*> chunks_;
  std::size_t next_offset_ = kChunkBytes;  // in the newest chunk; kChunkBytes = none left
  FreeNode* free_ = nullptr;
};

}  // namespace paniq::net
