#include "net/recv_slots.hpp"

#include <sys/mman.h>

#include <new>

namespace paniq::net {

namespace {

RecvSlots* g_loops = nullptr;  // every live RecvSlots, for the tick

}  // namespace

RecvSlots::RecvSlots(std::size_t count, std::size_t slot_size)
    : count_(count), bytes_(count * slot_size) {
  storage_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (storage_ == MAP_FAILED) throw std::bad_alloc();
  slots_ = new RecvSlot[count];
  for (std::size_t i = 0; i < count; ++i) {
    slots_[i].buffer = MutByteView(static_cast<std::uint8_t*>(storage_) + i * slot_size, slot_size);
  }
  next_ = g_loops;
  if (next_ != nullptr) next_->prev_ = this;
  g_loops = this;
}

RecvSlots::~RecvSlots() {
  if (prev_ != nullptr) prev_->next_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  if (g_loops == this) g_loops = next_;
  delete[] slots_;
  ::munmap(storage_, bytes_);
}

std::size_t RecvSlots::release_if_quiet() {
  if (in_batch_) return 0;
  if (received_) {  // traffic since the last tick: wait for a quiet one
    received_ = false;
    touched_ = true;
    return 0;
  }
  if (!touched_) return 0;  // given back already, and nothing came since
  touched_ = false;
  ::madvise(storage_, bytes_, MADV_DONTNEED);
  return bytes_;
}

std::size_t release_quiet_recv_slots() {
  std::size_t released = 0;
  for (RecvSlots* s = g_loops; s != nullptr; s = s->next_) released += s->release_if_quiet();
  return released;
}

}  // namespace paniq::net
