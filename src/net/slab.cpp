#include "net/slab.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace paniq::net {

Slab::Slab(std::size_t object_size, std::size_t align) {
  const std::size_t a = std::max(align, alignof(FreeNode));
  size_ = (std::max(object_size, sizeof(FreeNode)) + a - 1) / a * a;
}

Slab::~Slab() {
  for (void* c : chunks_) ::munmap(c, kChunkBytes);
}

void* Slab::allocate() {
  const std::lock_guard lock(mu_);
  if (free_ != nullptr) {
    FreeNode* n = free_;
    free_ = n->next;
    return n;
  }
  if (next_offset_ + size_ > kChunkBytes) {
    void* c = ::mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED) throw std::bad_alloc();
    chunks_.push_back(c);
    next_offset_ = 0;
  }
  void* p = static_cast<char*>(chunks_.back()) + next_offset_;
  next_offset_ += size_;
  return p;
}

void Slab::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  const std::lock_guard lock(mu_);
  auto* n = static_cast<FreeNode*>(p);
  n->next = free_;
  free_ = n;
}

std::size_t Slab::chunks() const {
  const std::lock_guard lock(mu_);
  return chunks_.size();
}

}  // namespace paniq::net
