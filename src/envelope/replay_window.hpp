// RFC 6479 sliding anti-replay window over the u64 transport counters (PROTOCOL.md 5.2: an
// optional receiver check; the Rust peer's counters start at 0 per session and every
// retransmission carries a new value, so a per-session window never rejects valid traffic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace paniq::envelope {

class ReplayWindow {
 public:
  static constexpr std::size_t kDefaultBits = 2048;

  // `window_bits` is rounded up to a multiple of 64 (minimum 64). The ring holds one more
  // 64-bit block than the window so advancing never clears a bit still inside it.
  explicit ReplayWindow(std::size_t window_bits = kDefaultBits);

  // Counters at most this far behind the highest one seen are still judged individually.
  std::uint64_t window_size() const { return window_; }

  // True when `counter` would be accepted: newer than any seen, or within the window and not
  // seen yet. Does not record it.
  bool check(std::uint64_t counter) const;
  // check() and, when accepted, records it (advancing the window on a new highest counter).
  // False = duplicate or too old: the caller drops the datagram. No allocation.
  bool check_and_update(std::uint64_t counter);
  // Forgets everything (e.g. a new session).
  void reset();

 private:
  std::vector<std::uint64_t> blocks_;
  std::uint64_t window_;
  std::uint64_t top_ = 0;  // highest counter recorded
  bool empty_ = true;
};

}  // namespace paniq::envelope
