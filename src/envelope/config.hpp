// Transport envelope configuration: padding policy and the size arithmetic of PROTOCOL.md 5.4.
#pragma once

#include <cstdint>

#include "core/result.hpp"

namespace paniq::envelope {

// Tail padding of transport payloads (PROTOCOL.md 2.1.3, 5.3). Disabled = no padding at all.
struct PaddingPolicy {
  bool enabled = false;
  std::uint32_t pad_min = 16, pad_max = 96;
  std::uint32_t pad_burst_min = 96, pad_burst_max = 104;
  double pad_burst_prob = 0.02;

  static PaddingPolicy disabled() { return PaddingPolicy{}; }
  static PaddingPolicy enabled_defaults() {
    PaddingPolicy p;
    p.enabled = true;
    return p;
  }
  // max(pad_max, pad_burst_max) when enabled, else 0: the MTU reserve.
  std::uint32_t max_padding() const;
};

// Inputs of the size derivation (after profile defaulting).
struct SizeInputs {
  std::uint32_t max_packet_size = 1350;
  std::uint32_t max_payload = 1200;  // 1200 is the reference's "use max_packet_size" sentinel
  std::uint32_t s4 = 0;
  bool transport_replay = false;
  PaddingPolicy padding{};
};

struct Sizes {
  std::uint32_t effective_max_payload = 0;  // transport payload budget
  std::uint32_t padding_reserve = 0;        // = padding.max_padding()
  std::uint32_t overhead = 0;               // 2 (+8 with counter)
  std::uint32_t kcp_mtu = 0;                // max(1, ...)
  std::uint32_t kcp_mss = 0;                // kcp_mtu - 24 (saturating)
  std::uint32_t max_datagram = 0;           // S4 + 4 + effective_max_payload
};

// PROTOCOL.md 5.4, exactly as the reference computes it (saturating arithmetic).
Sizes derive_sizes(const SizeInputs& in);

}  // namespace paniq::envelope
