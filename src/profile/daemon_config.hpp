// Daemon configuration files (`--config/-c`, PROTOCOL.md 2.2): socks5d and proxy-server. Separate
// from the profile; every key optional; durations use the daemon syntax ("5s", "500ms", "1.5s",
// "2m"). Precedence (STYLE.md 4): defaults < profile < this file < command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "profile/duration.hpp"
#include "profile/errors.hpp"

namespace paniq::profile {

struct Socks5dConfig {
  std::string listen_addr = "127.0.0.1:1080";  // TCP listen (IP:port or [IPv6]:port)
  std::optional<std::string> username;         // reference: unused (auth only from the CLI)
  std::optional<std::string> password;
  std::uint64_t workers = 8;
  std::uint64_t max_connections = 128;
  Millis dial_timeout{5000};
  Millis accept_timeout{500};
  Millis idle_timeout{120'000};
  Millis metrics_interval{10'000};
  std::string log_level = "info";  // stored lower-cased: debug | info | warn | error
  std::optional<std::string> control_socket;
  // Prometheus metrics address IP:port (app/metrics.hpp, docs/operations.md); unset = off.
  std::optional<std::string> metrics_listen;
  // Extension (docs/protocol.md): answer CONNECT with success at once and send the stream-open
  // request together with the application's first bytes, saving one tunnel round trip per
  // connection; a failed connect then shows as a reset connection instead of a SOCKS error code.
  bool fast_connect = false;
  friend bool operator==(const Socks5dConfig&, const Socks5dConfig&) = default;
};

// proxy-server listens on at most this many ports of a range (one socket each).
inline constexpr std::uint32_t kMaxListenPorts = 256;

struct ProxyServerConfig {
  // UDP bind: IP:port, [IPv6]:port, or (our extension, port hopping) IP:PORT-PORT, one socket
  // per port, at most kMaxListenPorts.
  std::string listen_addr = "0.0.0.0:9000";
  std::uint64_t workers = 8;
  std::uint64_t max_connections = 128;
  Millis dial_timeout{5000};
  Millis accept_timeout{500};
  Millis idle_timeout{120'000};
  Millis metrics_interval{10'000};
  std::string log_level = "info";
  std::optional<std::string> control_socket;
  // Prometheus metrics address IP:port (app/metrics.hpp, docs/operations.md); unset = off.
  std::optional<std::string> metrics_listen;
  // Egress policy (our extension, docs/egress.md): rules "CIDR", "CIDR:PORT" or
  // "CIDR:PORT-PORT" ("[v6/len]:PORT" with a port). Deny rules win; allow rules open what they
  // name, also inside the ranges refused by default (loopback, link-local, RFC 1918, CGNAT,
  // ULA, multicast, unspecified, the server's own addresses). Here only the JSON types are
  // checked; tunnel::EgressPolicy::create checks the rules (errors `allow_targets[2]: ...`).
  std::vector<std::string> allow_targets;
  std::vector<std::string> deny_targets;
  // Encrypted mode's allowlist of client keys (profile/users.hpp, docs/protocol.md 7.7): only
  // listed users are served; re-read on SIGHUP. Needs obfuscation.encryption not "off".
  std::optional<std::string> users_file;
  // Streams one user of users_file may have served at once across all of that user's sessions
  // (docs/tunnel.md "Stream limits"); unset = max(256, max_connections / 4). A users-file
  // entry's `max_streams` overrides it for that user. Must be > 0.
  std::optional<std::uint64_t> max_streams_per_user;
  // Admit handshakes that carry no MAC1 (clients that cannot authenticate, such as paniq-rs)
  // although the profile requires authentication; what they do send is still checked
  // (tunnel::AuthConfig::accept_unauthenticated, README "Migrating from paniq-rs").
  bool accept_unauthenticated_clients = false;
  // The built-in speedtest target for `paniq-ctl speedtest` (our extension, docs/speedtest.md):
  // only authenticated tunnel peers reach it; false refuses its streams with reply 0x02.
  bool speedtest = true;
  friend bool operator==(const ProxyServerConfig&, const ProxyServerConfig&) = default;
};

// Parse + validate JSON text. Unknown keys add `unknown field "x" ignored` to `notes`. Errors name
// the field and value: `workers: 0: must be > 0`, `log_level: "loud": must be one of debug, info,
// warn, error`, `dial_timeout: "301s": too long (max 300s)`, `accept_timeout: "5h": unknown
// duration format: 5h`, `listen_addr: "localhost:1080": invalid socket address (expected IP:port
// or [IPv6]:port)`, `allow_targets: "127.0.0.0/8": must be an array of strings`,
// `deny_targets[1]: 5: must be a string`. The caller must abort startup on error.
Result<Socks5dConfig> parse_socks5d_config_json(std::string_view text, std::vector<std::string>& notes);
Result<ProxyServerConfig> parse_proxy_server_config_json(std::string_view text,
                                                         std::vector<std::string>& notes);

// Loads a config file. An empty path means "no file": defaults, no note. A path that does not
// exist gives the defaults (as the reference) plus the note "config file <path> not found; using
// defaults". An existing but unreadable file is an Errc::io error naming the path; other errors
// as the parse functions, prefixed with "config <path>: ".
Result<Socks5dConfig> load_socks5d_config(const std::string& path, std::vector<std::string>& notes);
Result<ProxyServerConfig> load_proxy_server_config(const std::string& path, std::vector<std::string>& notes);

}  // namespace paniq::profile
