// A snapshot of one live session for the control socket's status view and the metrics
// (docs/operations.md): who the peer is, how long it has been up, what it carried and how its
// KCP path is doing. Pure: built from the session's Link and the `now` the caller passes.
#pragma once

#include <cstdint>
#include <string>

#include "core/time.hpp"
#include "tunnel/link.hpp"

namespace paniq::tunnel {

struct SessionInfo {
  std::uint64_t id = 0;         // server: ServerSessionId; client: SessionId (never reused)
  std::string peer;             // "1.2.3.4:5" / "[::1]:5"; empty when the layer does not know
                                // it (the client's socket address is the shell's)
  std::string user;             // users-table name of an encrypted IK session, else ""
  bool encrypted = false;       // docs/protocol.md 7
  std::uint32_t conv = 0;
  TimeMs created = 0;           // when the session came to be (server: created; client:
                                // established), on the caller's clock
  TimeMs last_handshake = 0;    // the handshake that keyed it (no rekey time is kept: rekeys
                                // are counted in rekeys)
  TimeMs last_receive = 0;      // the last datagram KCP accepted
  std::uint64_t uptime_ms = 0;  // now - created
  // Whole transport datagrams (after the obfuscation prefix inbound, whole outbound) and the
  // tunnel payload (KCP segment bytes inside the envelope) each way.
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t payload_bytes_in = 0, payload_bytes_out = 0;
  // KCP: smoothed RTT and its variation (0 before the first sample), the RTO, the send window.
  std::uint32_t srtt_ms = 0, rttvar_ms = 0, rto_ms = 0, cwnd = 0;
  // Data segment transmissions (first ones + retransmissions) and retransmissions (timeout +
  // fast, ikcp's xmit); retransmits / segments_sent is the retransmission rate.
  std::uint64_t segments_sent = 0, retransmits = 0;
  std::uint64_t streams = 0;   // smux streams open now
  std::uint64_t rekeys = 0;    // encrypted: key epochs moved, both directions
};

// The fields a Link knows (everything but id, peer, user, created, last_handshake, uptime).
SessionInfo link_session_info(const Link& link);

}  // namespace paniq::tunnel
