// A counter of things in progress held by a coroutine frame: +1 now, -1 when the frame ends —
// also when the frame is destroyed after its owner at shutdown, which `alive` tells (then the
// counter is gone and is left alone).
#pragma once

#include <cstdint>
#include <memory>

namespace paniq::app {

class ActiveCount {
 public:
  ActiveCount(std::uint64_t& n, std::shared_ptr<bool> alive) : n_(n), alive_(std::move(alive)) { ++n_; }
  ~ActiveCount() {
    if (*alive_) --n_;
  }
  ActiveCount(const ActiveCount&) = delete;
  ActiveCount& operator=(const ActiveCount&) = delete;

 private:
  std::uint64_t& n_;
  std::shared_ptr<bool> alive_;
};

}  // namespace paniq::app
