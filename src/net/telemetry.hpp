// Periodic telemetry logging (PROTOCOL.md 12): PANIQ_KCP_TELEMETRY = "1"/"true"/"yes"/"on" ->
// every second, a positive integer N -> every N seconds, anything else -> off. Each period
// logs one "kcp_telemetry" line per live link. Nothing of it goes on the wire.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "tunnel/link.hpp"

namespace paniq::net {

// The period from the environment; nullopt = telemetry off.
std::optional<std::chrono::seconds> telemetry_interval();

// Logs (info) one line: application bytes, KCP datagrams, retransmissions, RTT/RTO, windows,
// queues and the link's drop counters.
void log_link_telemetry(const char* role, std::uint64_t session, const tunnel::Link& link);

}  // namespace paniq::net
