// TAI64N timestamps as the Go original encodes them (PROTOCOL.md 15): 12 bytes,
// u64_BE(0x400000000000000a + unix_seconds) || u32_BE(nanoseconds & 0xff000000).
// Clearing the low 24 bits of the nanoseconds gives a grain of 2^24 ns (about 16.8 ms).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "envelope/errors.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kTai64nLen = 12;
inline constexpr std::uint64_t kTai64Base = 0x400000000000000aULL;
inline constexpr std::uint32_t kTai64nNanosMask = 0xff000000U;
inline constexpr std::uint32_t kTai64nGrain = 0x01000000U;

// Big-endian bytes, so byte-wise comparison is time order.
struct Tai64n {
  std::array<std::uint8_t, kTai64nLen> bytes{};
  friend auto operator<=>(const Tai64n&, const Tai64n&) = default;
};

// Encodes `t` (nanoseconds above 999'999'999 are clamped to it). Never fails.
Tai64n tai64n_encode(WallTime t);
// Decodes 12 bytes (a shorter/longer view is an error). Failure: timestamp_malformed for a
// wrong length, timestamp_out_of_range when the label is below the 1970 base or the time does
// not fit WallTime, or the nanoseconds field is 1e9 or more. The caller drops the message.
Result<WallTime> tai64n_decode(ByteView bytes);

// Hands out strictly increasing stamps from a wall clock that may step backwards or be read
// twice within one grain: each stamp is the encoding of `now`, or the previous stamp plus one
// grain when that would not be later. Pure: the caller passes `now`.
class Tai64nStamper {
 public:
  Tai64n stamp(WallTime now);
  const std::optional<Tai64n>& last() const { return last_; }

 private:
  std::optional<Tai64n> last_;
};

}  // namespace paniq::envelope
