// Transport payload (PROTOCOL.md 5.1-5.3, 5.5), the part of a Transport datagram after the
// obfuscation prefix random[S4] || u32_LE(h in H4):
//
//   [u64_BE counter iff transport_replay] || u16_BE inner_len || inner || random padding
//
// Built in place in a caller buffer so the tunnel can write the KCP segment straight to its
// final offset: out = payload area, inner at out[header_len(counter)], then finish_transport().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "envelope/config.hpp"
#include "envelope/errors.hpp"

namespace paniq::envelope {

inline constexpr std::size_t kCounterLen = 8;
inline constexpr std::size_t kLengthLen = 2;
inline constexpr std::size_t kMaxInnerLen = 0xffff;

// Bytes in front of the inner segment: 2, or 10 with the counter.
constexpr std::size_t header_len(bool has_counter) {
  return has_counter ? kCounterLen + kLengthLen : kLengthLen;
}

// Sender-side settings, fixed for a session.
struct TransportOptions {
  bool counter = false;     // obfuscation.transport_replay
  PaddingPolicy padding{};  // tail padding (5.3)
  std::size_t budget = 0;   // Sizes::effective_max_payload
};

// Completes a payload whose inner segment (inner_len bytes) the caller already wrote at
// out[header_len(opts.counter)]: writes the counter (if opts.counter; BE) and the length in
// front, chooses the padding (choose_padding) and fills it with random bytes after the inner.
// Returns the payload length (header + inner + padding).
// Failure, nothing sent: payload_too_large when inner_len > 65535 or header + inner + padding
// exceeds opts.budget (5.3 step 4; the caller drops the datagram and counts it, KCP
// retransmits); buffer_too_small when `out` cannot hold the result (a caller bug: size buffers
// from Sizes). The counter is consumed by the caller either way (it decides). No allocation
// on success.
Result<std::size_t> finish_transport(MutByteView out, std::size_t inner_len, std::uint64_t counter,
                                     const TransportOptions& opts, Rng& rng);

// As finish_transport, copying `inner` into place first (`inner` may overlap `out`).
Result<std::size_t> build_transport(MutByteView out, ByteView inner, std::uint64_t counter,
                                    const TransportOptions& opts, Rng& rng);

// A decoded payload; views point into the decoded bytes.
struct TransportView {
  std::optional<std::uint64_t> counter;  // present iff decoded with has_counter
  ByteView inner;
  std::size_t padding_len = 0;
};

// Decodes a transport payload (5.5 step 2). Trailing bytes after the inner segment are padding
// and accepted whatever their length. Failure (the caller drops the datagram, "invalid length"):
// too_short_for_counter, too_short_for_length, inner_truncated. No allocation, also on failure.
Result<TransportView> decode_transport(ByteView payload, bool has_counter);

}  // namespace paniq::envelope
