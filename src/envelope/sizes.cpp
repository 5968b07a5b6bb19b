// PROTOCOL.md 5.4: the size arithmetic both peers compute for themselves.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "envelope/config.hpp"

namespace paniq::envelope {
namespace {

using u64 = std::uint64_t;

u64 sat_sub(u64 a, u64 b) { return a > b ? a - b : 0; }

std::uint32_t clamp_u32(u64 v) {
  return static_cast<std::uint32_t>(std::min<u64>(v, std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

std::uint32_t PaddingPolicy::max_padding() const {
  return enabled ? std::max(pad_max, pad_burst_max) : 0;
}

Sizes derive_sizes(const SizeInputs& in) {
  const u64 mps = in.max_packet_size;
  // 1200 is the reference's sentinel for "use max_packet_size".
  const u64 sentinel = in.max_payload == 1200 ? mps : std::min<u64>(in.max_payload, mps);
  const u64 prefix = u64{in.s4} + 4;
  const u64 effective = std::min(sentinel, sat_sub(mps, prefix));
  const u64 overhead = in.transport_replay ? 10 : 2;
  const u64 reserve = in.padding.max_padding();
  const u64 mtu = std::max<u64>(1, sat_sub(sat_sub(std::min(effective, mps), overhead), reserve));

  Sizes s;
  s.effective_max_payload = clamp_u32(effective);
  s.padding_reserve = clamp_u32(reserve);
  s.overhead = clamp_u32(overhead);
  s.kcp_mtu = clamp_u32(mtu);
  s.kcp_mss = clamp_u32(sat_sub(mtu, 24));
  s.max_datagram = clamp_u32(prefix + effective);
  return s;
}

}  // namespace paniq::envelope
