// Time as values. Protocol layers never read a clock: the shell passes `now` in.
#pragma once

#include <cstdint>

namespace paniq {

// Monotonic milliseconds since an arbitrary epoch (the shell's steady clock).
using TimeMs = std::uint64_t;

// KCP-style 32-bit wrapping milliseconds and the signed distance between two of them.
using Clock32 = std::uint32_t;
inline std::int32_t time_diff(Clock32 later, Clock32 earlier) {
  return static_cast<std::int32_t>(later - earlier);
}

// Wall-clock time (Unix epoch) for timestamps that cross the wire.
struct WallTime {
  std::int64_t seconds = 0;
  std::uint32_t nanos = 0;  // 0 .. 999'999'999
  friend bool operator==(const WallTime&, const WallTime&) = default;
};

}  // namespace paniq
