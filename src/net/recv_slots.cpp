#include "net/recv_slots.hpp"

#include <sys/mman.h>

#include <mutex>
#include <new>

namespace paniq::net {

namespace {

// Every live RecvSlots, for the tick. Loops of other io_contexts may start and end on other
// threads (tests, paniq-ctl), so the list has a lock; the flags belong to the loop's thread.
std::mutex g_mu;
RecvSlots* g_loops = nullptr;

}  // namespace

RecvSlots::RecvSlots(std::size_t count, std::size_t slot_size)
    : count_(count), bytes_(count * slot_size), slots_(std::make_unique<RecvSlot[]>(count)) {
  storage_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (storage_ == MAP_FAILED) throw std::bad_alloc();
  for (std::size_t i = 0; i < count; ++i) {
    slots_[i].buffer = MutByteView(static_cast<std::uint8_t*>(storage_) + i * slot_size, slot_size);
  }
  const std::lock_guard lock(g_mu);
  next_ = g_loops;
  if (next_ != nullptr) next_->prev_ = this;
  g_loops = this;
}

RecvSlots::~RecvSlots() {
  {
    const std::lock_guard lock(g_mu);
    if (prev_ != nullptr) prev_->next_ = next_;
    if (next_ != nullptr) next_->prev_ = prev_;
    if (g_loops == this) g_loops = next_;
  }
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
  const std::lock_guard lock(g_mu);
  for (RecvSlots* s = g_loops; s != nullptr; s = s->next_) released += s->release_if_quiet();
  return released;
}

}  // namespace paniq::net
