#include "net/clock.hpp"

namespace paniq::net {
namespace {
const std::chrono::steady_clock::time_point kEpoch =
    std::chrono::steady_clock::now() - std::chrono::seconds(1);
}

TimeMs now_ms() {
  const auto d = std::chrono::steady_clock::now() - kEpoch;
  return static_cast<TimeMs>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

std::chrono::steady_clock::time_point to_time_point(TimeMs t) {
  return kEpoch + std::chrono::milliseconds(t);
}

WallTime wall_now() {
  const auto d = std::chrono::system_clock::now().time_since_epoch();
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return WallTime{static_cast<std::int64_t>(ns / 1'000'000'000),
                  static_cast<std::uint32_t>(ns % 1'000'000'000)};
}

}  // namespace paniq::net
