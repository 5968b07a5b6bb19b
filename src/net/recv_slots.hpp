// The receive buffers of one UDP receive loop, which give their memory back when the socket is
// quiet.
//
// A loop receives up to `count` datagrams per recvmmsg into slots of `slot_size` bytes (64 KiB:
// receivers accept any datagram size). The slots are not zero-filled, so only the pages that
// datagrams were written to are resident: about one page per slot that a batch ever filled. A
// burst fills many slots at once, and without a release those pages stay for the life of the
// loop. release_quiet_recv_slots(), from the daemons' 2 s trim tick, drops the pages (madvise
// MADV_DONTNEED; the next datagram faults in a zeroed page) of every loop that received nothing
// since the previous tick.
//
// Single-threaded: the loop and the tick run on the same io_context thread. A loop processes a
// batch inside a Batch scope, and a tick never releases inside one, so the pages are only given
// back while the loop waits for the socket, when they hold nothing that is still needed.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "net/datagram.hpp"

namespace paniq::net {

class RecvSlots {
 public:
  RecvSlots(std::size_t count, std::size_t slot_size);  // throws std::bad_alloc
  ~RecvSlots();
  RecvSlots(const RecvSlots&) = delete;
  RecvSlots& operator=(const RecvSlots&) = delete;

  std::span<RecvSlot> slots() { return {slots_.get(), count_}; }

  // Marks one received batch: the loop holds it while it handles the datagrams.
  class Batch {
   public:
    explicit Batch(RecvSlots& s) : s_(s) {
      s_.in_batch_ = true;
      s_.received_ = true;
    }
    ~Batch() { s_.in_batch_ = false; }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    RecvSlots& s_;
  };

  // The tick's part: gives the pages back when something was received before the previous call
  // but nothing since, and no batch is in hand. Returns the size of the storage it released
  // (only pages that were resident cost anything), or 0.
  std::size_t release_if_quiet();

 private:
  friend std::size_t release_quiet_recv_slots();

  std::size_t count_;
  std::size_t bytes_;
  std::unique_ptr<RecvSlot[]> slots_;
  void* storage_ = nullptr;
  bool in_batch_ = false;
  bool received_ = false;  // since the last tick
  bool touched_ = false;   // since the last release
  RecvSlots* prev_ = nullptr;
  RecvSlots* next_ = nullptr;
};

// Releases the pages of every quiet receive loop of the process (see above). Call from a handler
// on the thread that runs the loops: a process whose loops run on several threads must not
// (the daemons run one). Returns the bytes given back.
std::size_t release_quiet_recv_slots();

}  // namespace paniq::net
