// A fixed-size object allocator on pages of its own (anonymous mmap, one page per chunk), for
// small objects that must not be scattered through the heap (see asio_impl.cpp). Each chunk
// starts with a small header and holds as many objects as fit after it; a chunk's pages are
// touched only as its objects are handed out. Freed objects are reused before a chunk is added,
// from the chunk that most recently stopped being full. A chunk goes back to the system as soon as its last object is freed,
// so a burst of objects costs nothing once they are all gone. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>

namespace paniq::net {

class Slab {
 public:
  // Throws std::invalid_argument when not even one object fits in a chunk after its header.
  Slab(std::size_t object_size, std::size_t align);
  ~Slab();  // unmaps every chunk, objects still handed out included
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  void* allocate();  // throws std::bad_alloc when the system has no memory
  void deallocate(void* p) noexcept;  // p from allocate(), or nullptr (a no-op)

  std::size_t chunks() const;      // chunks mapped now
  std::size_t per_chunk() const { return per_chunk_; }
  std::size_t chunk_bytes() const { return chunk_bytes_; }  // the page size
  std::size_t object_size() const { return size_; }         // rounded up to the alignment

 private:
  struct FreeNode {
    FreeNode* next;
  };
  // At the start of each chunk. A chunk with room is on the `open_` list, a full one on
  // `full_`; both are doubly linked so that a chunk can leave either in constant time.
  struct Chunk {
    Chunk* prev;
    Chunk* next;
    FreeNode* free;     // freed objects of this chunk
    std::size_t used;   // objects handed out and not freed
    std::size_t fresh;  // objects never handed out yet, from the end of the used span
  };

  Chunk* chunk_of(void* p) const;
  static void unlink(Chunk*& list, Chunk* c);
  static void push(Chunk*& list, Chunk* c);

  std::size_t chunk_bytes_;
  std::size_t size_;
  std::size_t first_;  // offset of the first object in a chunk
  std::size_t per_chunk_;
  mutable std::mutex mu_;
  Chunk* open_ = nullptr;
  Chunk* full_ = nullptr;
  std::size_t chunks_ = 0;
};

}  // namespace paniq::net
