#include "envelope/padding.hpp"

#include <algorithm>

namespace paniq::envelope {

std::uint32_t choose_padding(const PaddingPolicy& policy, std::size_t inner_len, std::size_t budget,
                             Rng& rng) {
  if (!policy.enabled) return 0;
  const double prob = policy.pad_burst_prob;
  bool burst = false;
  if (prob >= 1.0) {
    burst = true;
  } else if (prob > 0.0) {  // false for NaN and for prob <= 0
    burst = rng.next_double() < prob;
  }
  const std::uint32_t lo = burst ? policy.pad_burst_min : policy.pad_min;
  const std::uint32_t hi = burst ? policy.pad_burst_max : policy.pad_max;
  std::uint64_t pad = hi <= lo ? lo : rng.uniform(lo, hi);
  if (inner_len + pad > budget) pad = budget > inner_len ? budget - inner_len : 0;
  return static_cast<std::uint32_t>(pad);
}

}  // namespace paniq::envelope
