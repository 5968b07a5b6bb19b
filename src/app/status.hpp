// What a daemon reports about itself to `paniq-ctl status` (the control socket's "GetStatus"
// request, our extension of PROTOCOL.md 10) and to the metrics (app/metrics.hpp): its counters
// (ControlStats, as GetStats) and a snapshot of every live session (tunnel::SessionInfo).
// The JSON schema is documented in docs/operations.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/control.hpp"
#include "core/time.hpp"
#include "tunnel/session_info.hpp"

namespace paniq::app {

struct DaemonSnapshot {
  std::string daemon;  // "proxy-server" | "socks5d"
  std::string listen;  // proxy-server: UDP listen address; socks5d: SOCKS5 listen address
  TimeMs now = 0;      // the clock of the sessions' times (net::now_ms)
  std::uint64_t uptime_ms = 0;  // since the daemon started
  ControlStats stats;
  std::vector<tunnel::SessionInfo> sessions;
  // Handshakes completed / failed (proxy-server: sessions created / Noise messages that did not
  // open; socks5d: sessions established / handshakes that timed out or failed), and streams
  // opened through the tunnel since start (proxy-server: accepted; socks5d: opened).
  std::uint64_t handshakes_ok = 0, handshakes_failed = 0;
  std::uint64_t streams_opened = 0;
};

// Schema version of status_json (bumped when a field changes meaning or goes away; new fields
// may be added without a bump).
inline constexpr int kStatusSchema = 1;

// The "Status" object: {"schema", "daemon", "version", "listen", "uptime_ms", "totals": {...},
// "sessions": [{...}, ...]} (docs/operations.md). Times are ages in ms relative to s.now.
std::string status_json(const DaemonSnapshot& s);

// The "GetStatus" answer for a control socket: {"Status": status_json(s)}.
std::string status_response(const DaemonSnapshot& s);

}  // namespace paniq::app
