// Tail-padding length choice for transport payloads (PROTOCOL.md 5.3 steps 1-3).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/rng.hpp"
#include "envelope/config.hpp"

namespace paniq::envelope {

// Padding length for an inner segment of `inner_len` bytes under `budget` (the effective max
// payload). Disabled policy: 0, no draw. Enabled: burst range with probability
// clamp(pad_burst_prob, 0, 1) (one rng.next_double() draw, skipped when the probability is 0 or
// 1 or NaN = 0), else (pad_min, pad_max); max <= min gives min, otherwise one rng.uniform draw in
// [min, max]; finally clamped to budget - inner_len (saturating at 0). Like the reference, the
// clamp ignores the length field and counter: a clamped payload then fails the budget check of
// step 4 (build_transport reports payload_too_large). Never fails; no allocation.
std::uint32_t choose_padding(const PaddingPolicy& policy, std::size_t inner_len, std::size_t budget,
                             Rng& rng);

}  // namespace paniq::envelope
