#include "envelope/replay_window.hpp"

#include <algorithm>

namespace paniq::envelope {

namespace {
constexpr unsigned kBlockShift = 6;  // 64 bits per block
constexpr std::uint64_t kBitMask = 63;
}  // namespace

ReplayWindow::ReplayWindow(std::size_t window_bits) {
  const std::size_t blocks = std::max<std::size_t>(1, (window_bits + kBitMask) >> kBlockShift);
  window_ = std::uint64_t{blocks} << kBlockShift;
  blocks_.assign(blocks + 1, 0);
}

void ReplayWindow::reset() {
  std::fill(blocks_.begin(), blocks_.end(), 0);
  top_ = 0;
  empty_ = true;
}

bool ReplayWindow::check(std::uint64_t counter) const {
  if (empty_ || counter > top_) return true;
  if (top_ - counter >= window_) return false;
  const std::uint64_t block = (counter >> kBlockShift) % blocks_.size();
  return (blocks_[block] & (std::uint64_t{1} << (counter & kBitMask))) == 0;
}

bool ReplayWindow::check_and_update(std::uint64_t counter) {
  const std::size_t n = blocks_.size();
  if (empty_ || counter > top_) {
    const std::uint64_t new_block = counter >> kBlockShift;
    if (empty_) {
      std::fill(blocks_.begin(), blocks_.end(), 0);
    } else {
      // Clear the blocks the window slides over; at most the whole ring.
      const std::uint64_t old_block = top_ >> kBlockShift;
      const std::uint64_t steps = std::min<std::uint64_t>(new_block - old_block, n);
      for (std::uint64_t i = 1; i <= steps; ++i) blocks_[(old_block + i) % n] = 0;
    }
    top_ = counter;
    empty_ = false;
  } else if (top_ - counter >= window_) {
    return false;  // too old
  }
  std::uint64_t& bits = blocks_[(counter >> kBlockShift) % n];
  const std::uint64_t bit = std::uint64_t{1} << (counter & kBitMask);
  if (bits & bit) return false;  // duplicate
  bits |= bit;
  return true;
}

}  // namespace paniq::envelope
