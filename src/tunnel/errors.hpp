// Errors of the tunnel layer (STYLE.md 5): one enum, one std::error_category. Session and
// stream events carry these as std::error_code (next to mux:: and kcp:: codes).
#pragma once

#include <system_error>

namespace paniq::tunnel {

enum class Errc {
  // Why a client handshake failed (every open waiting for it fails with the same code).
  handshake_timeout = 1,  // no Response after handshake_attempts Initiations
  initiation_failed,      // the Initiation could not be built (bad server public key)
  // Why an established session ended.
  kcp_dead_link,          // a segment reached kcp.dead_link transmissions
  liveness_timeout,       // data outstanding and nothing received for the liveness bound
  mux_failed,             // the smux session failed (bad frame from the peer)
  idle_timeout,           // server: no inbound transport for idle_timeout_ms
  half_open_timeout,      // server: no transport after the Response for half_open_timeout_ms
  closed,                 // closed by the application (Client/ServerEndpoint close)
  revoked,                // server: the session's user left the allowlist (reload)
  port_unreachable,       // client: ICMP port unreachable from the server (nothing listens)
  hop,                    // client: a plain session replaced to move to another port
  // Stream opens.
  open_failed,            // the session had no mux to open on (a mux refusal carries its code)
  // Configuration.
  invalid_config,
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::tunnel

template <>
struct std::is_error_code_enum<paniq::tunnel::Errc> : std::true_type {};
