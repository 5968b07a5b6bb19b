#include "net/slab.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>

namespace paniq::net {

namespace {

std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

}  // namespace

Slab::Slab(std::size_t object_size, std::size_t align) {
  const long page = ::sysconf(_SC_PAGESIZE);
  chunk_bytes_ = page > 0 ? static_cast<std::size_t>(page) : 4096;
  const std::size_t a = std::max(align, alignof(FreeNode));
  size_ = round_up(std::max(object_size, sizeof(FreeNode)), a);
  first_ = round_up(sizeof(Chunk), a);
  per_chunk_ = chunk_bytes_ > first_ ? (chunk_bytes_ - first_) / size_ : 0;
  if (per_chunk_ == 0 || a > chunk_bytes_) {
    throw std::invalid_argument("Slab: object of " + std::to_string(object_size) +
                                " bytes does not fit in a chunk of " +
                                std::to_string(chunk_bytes_));
  }
}

Slab::~Slab() {
  for (Chunk* list : {open_, full_}) {
    while (list != nullptr) {
      Chunk* next = list->next;
      ::munmap(list, chunk_bytes_);
      list = next;
    }
  }
}

void Slab::unlink(Chunk*& list, Chunk* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (list == c) list = c->next;
  c->prev = c->next = nullptr;
}

void Slab::push(Chunk*& list, Chunk* c) {
  c->prev = nullptr;
  c->next = list;
  if (list != nullptr) list->prev = c;
  list = c;
}

Slab::Chunk* Slab::chunk_of(void* p) const {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<Chunk*>(at - at % chunk_bytes_);
}

void* Slab::allocate() {
  const std::lock_guard lock(mu_);
  Chunk* c = open_;
  if (c == nullptr) {
    void* m = ::mmap(nullptr, chunk_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    c = new (m) Chunk{nullptr, nullptr, nullptr, 0, per_chunk_};
    push(open_, c);
    ++chunks_;
  }
  void* p;
  if (c->free != nullptr) {
    p = c->free;
    c->free = c->free->next;
  } else {
    p = reinterpret_cast<char*>(c) + first_ + (per_chunk_ - c->fresh) * size_;
    --c->fresh;
  }
  if (++c->used == per_chunk_) {
    unlink(open_, c);
    push(full_, c);
  }
  return p;
}

void Slab::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  const std::lock_guard lock(mu_);
  Chunk* c = chunk_of(p);
  if (c->used == per_chunk_) {
    // A full chunk with one slot free goes first in line: filling nearly full chunks leaves
    // the others free to empty and be unmapped.
    unlink(full_, c);
    push(open_, c);
  }
  if (--c->used == 0) {
    unlink(open_, c);
    ::munmap(c, chunk_bytes_);
    --chunks_;
    return;
  }
  auto* n = static_cast<FreeNode*>(p);
  n->next = c->free;
  c->free = n;
}

std::size_t Slab::chunks() const {
  const std::lock_guard lock(mu_);
  return chunks_;
}

}  // namespace paniq::net
