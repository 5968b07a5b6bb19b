// A KCP bulk transfer through a bottleneck (rate + drop-tail queue) with random loss, in
// virtual time: the scenario of docs/kcp.md "Bottleneck suite". Shared by the bottleneck tests.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kcp/engine.hpp"
#include "sim/kcp_pair.hpp"

namespace paniq::sim {

struct PathSpec {
  std::uint64_t rate_bps = 100'000'000;  // bottleneck, bits per second, both directions
  std::uint32_t rtt_ms = 20;             // base round trip (propagation)
  std::uint32_t jitter_ms = 0;           // order-preserving, each way
  double loss = 0;                       // each way, after the bottleneck
  std::uint32_t queue_ms = 50;           // drop-tail queue: this much of the rate ...
  std::uint32_t queue_extra = 64 * 1024; // ... plus a burst allowance (tbf's "latency 50ms,
                                         // burst 64kb")
  std::uint32_t burst = 0;               // token bucket in front of the rate (tbf's burst)
  std::uint64_t rate_bytes() const { return rate_bps / 8; }
  std::size_t queue_bytes() const {
    return static_cast<std::size_t>(rate_bytes() * queue_ms / 1000 + queue_extra);
  }
  LinkParams link() const {
    LinkParams p;
    p.delay_ms = rtt_ms / 2;
    p.jitter_ms = jitter_ms;
    p.loss = loss;
    p.rate_bytes_per_sec = rate_bytes();
    p.queue_bytes = queue_bytes();
    p.burst_bytes = burst;
    return p;
  }
};

struct FlowResult {
  bool complete = false;
  bool corrupt = false;
  std::uint64_t bytes = 0;
  SimTime finished_ms = 0;
  std::uint64_t bytes_at_mark = 0;  // received by mark_ms (run_bottleneck)
  double goodput() const {  // payload bytes per second
    return finished_ms == 0 ? 0 : static_cast<double>(bytes) * 1000.0 / static_cast<double>(finished_ms);
  }
};

struct BottleneckResult {
  std::vector<FlowResult> flows;
  LinkStats forward, reverse;  // sender -> receiver, receiver -> sender
  kcp::Stats sender;           // the first flow's sender
  SimTime end_ms = 0;
  // Bytes offered to the forward bottleneck (drops included) per payload byte delivered.
  double wire_per_payload() const;
  double drop_share() const {  // forward bottleneck drops / datagrams offered
    return forward.sent == 0 ? 0 : static_cast<double>(forward.queue_drops) / static_cast<double>(forward.sent);
  }
};

// Called once per virtual millisecond step with the first flow's sender (diagnostics).
using Probe = std::function<void(SimTime, const kcp::Engine&, const Network&)>;

struct RunOptions {
  Probe probe;                // diagnostics, once per step
  SimTime mark_ms = 0;        // record each flow's received bytes at this time (bytes_at_mark)
  // Before the bulk data, each sender sends 1 KB every `prelude_gap_ms` until this time (an
  // application-limited start, like a session opened by small requests); the bulk bytes follow.
  SimTime prelude_ms = 0;
  SimTime prelude_gap_ms = 200;
};

// `flows` senders (side A) each move `bytes` to their receiver (side B) over one shared path.
// Every byte is checked. Stops when all are done or at limit_ms.
BottleneckResult run_bottleneck(const kcp::Config& sender, const kcp::Config& receiver,
                                const PathSpec& path, std::uint64_t bytes, std::size_t flows,
                                std::uint64_t seed, SimTime limit_ms, const RunOptions& opt = {});

}  // namespace paniq::sim
