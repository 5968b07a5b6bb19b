// SessionInfo snapshots (session_info.hpp) for both roles.
#include "tunnel/session_info.hpp"

#include <algorithm>

#include "tunnel/client.hpp"
#include "tunnel/server.hpp"
#include "tunnel/server_session.hpp"

namespace paniq::tunnel {
namespace {

std::uint32_t clamp_ms(std::int64_t v) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(v, 0, INT32_MAX));
}

}  // namespace

SessionInfo link_session_info(const Link& link) {
  SessionInfo i;
  const LinkStats& ls = link.stats();
  const kcp::Engine& k = link.kcp();
  const kcp::Stats& ks = k.stats();
  i.encrypted = link.encrypted();
  i.conv = link.conv();
  i.last_receive = link.last_receive();
  i.datagrams_in = ls.datagrams_in;
  i.datagrams_out = ls.datagrams_out;
  i.bytes_in = ls.bytes_in;
  i.bytes_out = ls.bytes_out;
  i.payload_bytes_in = ls.segment_bytes_in;
  i.payload_bytes_out = ls.segment_bytes_out;
  i.srtt_ms = clamp_ms(k.rx_srtt());
  i.rttvar_ms = clamp_ms(k.rx_rttval());
  i.rto_ms = k.rx_rto();
  i.cwnd = k.cwnd();
  i.retransmits = ks.retransmits + ks.fast_retransmits;
  i.segments_sent = ks.out_data_segments + i.retransmits;
  i.streams = link.mux().stream_count();
  i.rekeys = ls.rekeys_sent + ls.rekeys_received;
  return i;
}

std::vector<SessionInfo> ServerEndpoint::session_infos(TimeMs now) const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) {
    SessionInfo i = link_session_info(s->link);
    i.id = id;
    i.peer = s->peer.to_string();
    i.user = s->user;
    i.created = s->created;
    i.last_handshake = s->created;
    i.uptime_ms = now > s->created ? now - s->created : 0;
    out.push_back(std::move(i));
  }
  std::sort(out.begin(), out.end(),
            [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  return out;
}

std::optional<SessionInfo> Client::session_info(TimeMs now) const {
  const ClientSession* s = current();
  if (s == nullptr || s->state() != ClientState::Established || s->link() == nullptr) {
    return std::nullopt;
  }
  SessionInfo i = link_session_info(*s->link());
  i.id = current_id();
  i.created = s->established_at();
  i.last_handshake = s->established_at();
  i.uptime_ms = now > i.created ? now - i.created : 0;
  return i;
}

}  // namespace paniq::tunnel
