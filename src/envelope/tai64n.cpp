#include "envelope/tai64n.hpp"

#include <limits>

namespace paniq::envelope {
namespace {

constexpr std::uint32_t kNanosPerSecond = 1'000'000'000U;

Tai64n make(std::uint64_t label, std::uint32_t nanos) {
  Tai64n t;
  put_u64_be(t.bytes.data(), label);
  put_u32_be(t.bytes.data() + 8, nanos);
  return t;
}

// The stamp one grain after `t` (carrying into the seconds past the last valid grain).
Tai64n next_grain(const Tai64n& t) {
  std::uint64_t label = get_u64_be(t.bytes.data());
  std::uint64_t nanos =
      std::uint64_t{get_u32_be(t.bytes.data() + 8) & kTai64nNanosMask} + kTai64nGrain;
  if (nanos >= kNanosPerSecond) {
    nanos = 0;
    ++label;
  }
  return make(label, static_cast<std::uint32_t>(nanos));
}

}  // namespace

Tai64n tai64n_encode(WallTime t) {
  const std::uint32_t nanos = t.nanos < kNanosPerSecond ? t.nanos : kNanosPerSecond - 1;
  return make(kTai64Base + static_cast<std::uint64_t>(t.seconds), nanos & kTai64nNanosMask);
}

Result<WallTime> tai64n_decode(ByteView bytes) {
  if (bytes.size() != kTai64nLen) {
    return make_error(Errc::timestamp_malformed, "TAI64N timestamp must be 12 bytes");
  }
  const std::uint64_t label = get_u64_be(bytes.data());
  const std::uint32_t nanos = get_u32_be(bytes.data() + 8);
  if (label < kTai64Base ||
      label - kTai64Base > std::uint64_t{std::numeric_limits<std::int64_t>::max()} ||
      nanos >= kNanosPerSecond) {
    return make_error(Errc::timestamp_out_of_range, "TAI64N timestamp out of range");
  }
  return WallTime{static_cast<std::int64_t>(label - kTai64Base), nanos};
}

Tai64n Tai64nStamper::stamp(WallTime now) {
  Tai64n t = tai64n_encode(now);
  if (last_ && t <= *last_) t = next_grain(*last_);
  last_ = t;
  return t;
}

}  // namespace paniq::envelope
