// The shell's clocks: the pure layers get `now` from here (STYLE.md 1).
#pragma once

#include <chrono>

#include "core/time.hpp"

namespace paniq::net {

// Monotonic milliseconds since the first call in this process (never 0-based surprises: the
// first value is 1000 so "0" stays free as "never" in the layers that want it).
TimeMs now_ms();
// Converts a TimeMs deadline into a steady_clock time point for timers.
std::chrono::steady_clock::time_point to_time_point(TimeMs t);
// Wall-clock time (Unix epoch), for the layers that put timestamps on the wire.
WallTime wall_now();

}  // namespace paniq::net
