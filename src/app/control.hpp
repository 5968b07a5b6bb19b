// The control plane (PROTOCOL.md 10): a Unix stream socket; per connection one read of at most
// 1024 bytes holding a JSON request ("Ping" or "GetStats", and our "GetStatus": set_status),
// one JSON response, then the server shuts down its write side. No authentication (filesystem
// permissions; the socket is created 0600). An existing file at the path is replaced, as the
// reference does.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "tunnel/link.hpp"

namespace paniq::app {

using net::awaitable;

// What GetStats answers: {"Stats": {...}}. First the 12 counters of PROTOCOL.md 10.2 / 12, in the
// reference's order (a Rust paniq-ctl reads them; serde ignores the fields after them), then
// our extension counters in the order of extension_fields(), then "auth".
//
// Extension counters (process-wide since start; "server" = proxy-server only, 0 in socks5d):
//   datagrams_in, datagrams_out   UDP datagrams received / sent on the tunnel socket(s), every
//                                 kind (handshake, transport, probes)
//   send_errors                   datagrams the kernel refused to send
//   sessions_created              server: sessions created (encrypted: by their Initiation;
//                                 plain: by their first transport datagram); socks5d:
//                                 handshakes started
//   sessions_active               sessions open now (socks5d: 1 while its session is up; spread:
//                                 one per server in use)
//   sessions_closed               server: sessions removed; socks5d: handshakes failed + dead
//                                 sessions
//   initiation_repeats            server: byte-identical Initiations answered again, no state
//   drop_unclassified             datagrams that matched no message type (junk, signatures,
//                                 probes); socks5d: those of its current session only
//   drop_unexpected_type          server: a Response / CookieReply sent to the server
//   drop_policy                   server: Initiations refused by the handshake policy (the
//                                 reasons are in "auth")
//   drop_cap_total, drop_cap_host server: Initiations refused by max_sessions /
//                                 max_sessions_per_host
//   drop_unknown_session          server: transport for no (source, conv) session
//   drop_kcp_rejected             transport whose segments KCP refused
//   drop_repeat_limit             server: identical Initiations past max_response_repeats
//   drop_backlog                  server: Responses not queued (1 MiB of Responses unsent)
//   drop_transport_replay         transport counters replayed or behind the replay window
//                                 (transport_replay; the same number as
//                                 transport_counter_reject)
//   streams_accepted              server: smux streams opened by clients
//   egress_refused_default_range  server: CONNECTs answered 0x02 by the egress policy
//   egress_refused_rule           (docs/egress.md), by reason: a default-denied range, a
//   egress_refused_own_address    deny_targets rule, one of the server's own addresses
//   egress_udp_dropped_default_range  server: UDP ASSOCIATE datagrams dropped by the egress
//   egress_udp_dropped_rule           policy, by the same reasons
//   egress_udp_dropped_own_address
//   sessions_encrypted            server: sessions created in encrypted mode (docs/protocol.md 7);
//                                 socks5d: 1 while its session is encrypted
//   drop_plain_refused            server: plain Initiations/transport while encryption is required
//   drop_secure_handshake         server: encrypted offers whose Noise message did not open
//   drop_unknown_user             server: clients not in the users file (IK key unknown, or none)
//   drop_transport_auth           server: encrypted datagrams that did not open
//   sessions_roamed               server: sessions moved to a new client address
//   sessions_revoked              server: sessions ended because their user was removed
//   rekeys_sent, rekeys_received  encrypted mode: send / receive keys replaced, all sessions
//   refused_max_connections       connections (socks5d) / streams (proxy-server) refused because
//                                 max_connections were being served
//   refused_user_streams          server: streams refused (reply 0x01) because their user held
//                                 max_streams_per_user streams (users file; per user in "users")
//   refused_session_streams       server: stream opens (SYN) the mux refused because the session
//                                 held kcp.max_streams streams (answered FIN, data dropped)
//   server_changes                socks5d: sessions started on another server than the last
//                                 (failover; profile `servers`); spread: servers marked down
//   hops                          socks5d: port hops (profile `servers` with a port range)
// "servers" (socks5d with several servers): [{address, in_use, failures, down_ms,
// last_failure}] in profile order; with server_select "spread" also sessions (live sessions
// on it, 0 or 1) and streams (open streams on it).
//   initiations_answered          server: plain Initiations answered without keeping state
//                                 (docs/tunnel.md "Server")
//   sessions_lazy_created         server: plain sessions created by their first transport
//                                 datagram (of sessions_created)
//   responses_out, response_bytes server: Responses queued (plain and encrypted), their bytes
//   drop_response_budget          server: plain Responses over the reflection budget
//   drop_conv_busy                server: plain Initiations with every conv of their source
//                                 taken by live or recently closed sessions
// "auth": {reason: count} for every handshake-policy reason (tunnel::to_string(AuthReason):
// mac1_invalid, rate_limited, replay, ..., and the notes skew_soft, legacy_accepted,
// wall_unknown, unauthenticated_accepted) whose count is not zero; {} otherwise.
struct ControlStats {
  // Reference counters (PROTOCOL.md 12).
  std::uint64_t udp_in_bytes = 0, udp_out_bytes = 0;
  std::uint64_t transport_payload_in_bytes = 0, transport_payload_out_bytes = 0;
  std::uint64_t transport_padding_in_bytes = 0, transport_padding_out_bytes = 0;
  std::uint64_t transport_frame_in_bytes = 0, transport_frame_out_bytes = 0;
  std::uint64_t transport_invalid_length = 0;
  std::uint64_t transport_counter_reject = 0;
  std::uint64_t transport_payload_too_large = 0;
  std::uint64_t active_connections = 0;
  // Extension counters (meanings above).
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t sessions_created = 0, sessions_active = 0, sessions_closed = 0;
  std::uint64_t initiation_repeats = 0;
  std::uint64_t drop_unclassified = 0;
  std::uint64_t drop_unexpected_type = 0;
  std::uint64_t drop_policy = 0;
  std::uint64_t drop_cap_total = 0, drop_cap_host = 0;
  std::uint64_t drop_unknown_session = 0;
  std::uint64_t drop_kcp_rejected = 0;
  std::uint64_t drop_repeat_limit = 0;
  std::uint64_t drop_backlog = 0;
  std::uint64_t drop_transport_replay = 0;
  std::uint64_t streams_accepted = 0;
  std::uint64_t egress_refused_default_range = 0, egress_refused_rule = 0, egress_refused_own_address = 0;
  std::uint64_t egress_udp_dropped_default_range = 0, egress_udp_dropped_rule = 0,
                egress_udp_dropped_own_address = 0;
  std::uint64_t sessions_encrypted = 0;
  std::uint64_t drop_plain_refused = 0, drop_secure_handshake = 0, drop_unknown_user = 0;
  std::uint64_t drop_transport_auth = 0;
  std::uint64_t sessions_roamed = 0, sessions_revoked = 0;
  std::uint64_t rekeys_sent = 0, rekeys_received = 0;
  std::uint64_t server_changes = 0, hops = 0;
  std::uint64_t refused_max_connections = 0;
  std::uint64_t refused_user_streams = 0, refused_session_streams = 0;
  std::uint64_t initiations_answered = 0, sessions_lazy_created = 0;
  std::uint64_t responses_out = 0, response_bytes = 0;
  std::uint64_t drop_response_budget = 0, drop_conv_busy = 0;
  // Handshake-policy reasons with their counts, in the order given (zero counts are left out
  // of the JSON).
  std::vector<std::pair<std::string, std::uint64_t>> auth;
  // proxy-server: per user name ("" = sessions without a user) -> "users": {name: {...}}.
  struct User {
    std::string name;
    std::uint64_t sessions_live = 0, sessions_total = 0, bytes_in = 0, bytes_out = 0;
    std::uint64_t streams_active = 0, streams_refused = 0;  // max_streams_per_user
  };
  std::vector<User> users;
  struct Server {
    std::string address;
    bool in_use = false;
    std::uint64_t failures = 0, down_ms = 0;
    std::string last_failure;
    std::optional<std::uint64_t> sessions, streams;  // spread mode only
  };
  std::vector<Server> servers;
};

// Sets the reference counters that are plain sums of the sessions' Link counters (both
// daemons): transport payload and padding bytes in/out, transport frame bytes in, payload too
// large. The caller sets the rest.
void set_link_counters(ControlStats& s, const tunnel::LinkStats& links);

struct ControlField {
  const char* name;
  std::uint64_t ControlStats::*member;
};
// The 12 reference counters in the reference's order.
std::span<const ControlField> reference_fields();
// Our extension counters, in the order they follow the reference ones.
std::span<const ControlField> extension_fields();

// The response text for a request text: "\"Pong\"", {"Stats": {...}} or
// {"Error": "Invalid request: ..."}. Pure.
std::string control_response(std::string_view request, const ControlStats& stats);

// Control socket path precedence (PROTOCOL.md 2.3): command line, config, PANIQ_CONTROL_SOCKET;
// empty = no control socket.
std::string control_socket_path(const std::string& cli, const std::optional<std::string>& config);

class ControlServer {
 public:
  // `stats` builds the answer to GetStats.
  ControlServer(asio::any_io_executor ex, std::function<ControlStats()> stats);
  // Answers "GetStatus" (our extension, app/status.hpp: per-session detail for `paniq-ctl
  // status`) with what `status` returns; without it GetStatus is an unknown request, as it is
  // for the reference.
  void set_status(std::function<std::string()> status) { status_ = std::move(status); }
  ~ControlServer();
  // Binds the socket at `path` (replacing a file there). Error message names the path.
  Result<void> listen(const std::string& path);
  // The daemons' start-up: listen() at control_socket_path(cli, config) and start(), or
  // nothing when no path is set. Errors as listen(); the daemon exits with them.
  Result<void> open(const std::string& cli, const std::optional<std::string>& config);
  void start();
  // Closes the socket and removes the file. Idempotent.
  void stop();

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(asio::local::stream_protocol::socket s);

  asio::any_io_executor ex_;
  std::function<ControlStats()> stats_;
  std::function<std::string()> status_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

// paniq-ctl: sends `request` to the socket at `path`, shuts down the write side and reads the
// response to EOF (bounded by `timeout_ms`). Errors: connect/read failures naming the path.
Result<std::string> control_request(const std::string& path, std::string_view request,
                                    int timeout_ms = 5000);

}  // namespace paniq::app
