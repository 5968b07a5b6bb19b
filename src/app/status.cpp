#include "app/status.hpp"

#include <nlohmann/json.hpp>

#include "app/common.hpp"

namespace paniq::app {
namespace {

std::uint64_t age(TimeMs now, TimeMs t) { return now > t ? now - t : 0; }

nlohmann::ordered_json session_json(const tunnel::SessionInfo& i, TimeMs now) {
  return nlohmann::ordered_json{
      {"id", i.id},
      {"peer", i.peer},
      {"user", i.user},
      {"mode", i.encrypted ? "encrypted" : "plain"},
      {"conv", i.conv},
      {"uptime_ms", i.uptime_ms},
      {"last_handshake_ms_ago", age(now, i.last_handshake)},
      {"last_receive_ms_ago", age(now, i.last_receive)},
      {"rx_bytes", i.bytes_in},
      {"tx_bytes", i.bytes_out},
      {"rx_payload_bytes", i.payload_bytes_in},
      {"tx_payload_bytes", i.payload_bytes_out},
      {"rx_datagrams", i.datagrams_in},
      {"tx_datagrams", i.datagrams_out},
      {"srtt_ms", i.srtt_ms},
      {"rttvar_ms", i.rttvar_ms},
      {"rto_ms", i.rto_ms},
      {"cwnd", i.cwnd},
      {"segments_sent", i.segments_sent},
      {"retransmits", i.retransmits},
      {"streams", i.streams},
      {"rekeys", i.rekeys},
  };
}

}  // namespace

std::string status_json(const DaemonSnapshot& s) {
  const ControlStats& c = s.stats;
  std::uint64_t streams = 0;
  nlohmann::ordered_json sessions = nlohmann::ordered_json::array();
  for (const tunnel::SessionInfo& i : s.sessions) {
    streams += i.streams;
    sessions.push_back(session_json(i, s.now));
  }
  nlohmann::ordered_json totals{
      {"sessions", c.sessions_active},
      {"sessions_created", c.sessions_created},
      {"streams", streams},
      {"active_connections", c.active_connections},
      {"udp_in_bytes", c.udp_in_bytes},
      {"udp_out_bytes", c.udp_out_bytes},
      {"datagrams_in", c.datagrams_in},
      {"datagrams_out", c.datagrams_out},
      {"payload_in_bytes", c.transport_payload_in_bytes},
      {"payload_out_bytes", c.transport_payload_out_bytes},
      {"handshakes_ok", s.handshakes_ok},
      {"handshakes_failed", s.handshakes_failed},
  };
  nlohmann::ordered_json j{
      {"schema", kStatusSchema},
      {"daemon", s.daemon},
      {"version", PANIQ_VERSION},
      {"listen", s.listen},
      {"uptime_ms", s.uptime_ms},
      {"totals", std::move(totals)},
      {"sessions", std::move(sessions)},
  };
  return j.dump();
}

std::string status_response(const DaemonSnapshot& s) { return "{\"Status\":" + status_json(s) + "}"; }

}  // namespace paniq::app
