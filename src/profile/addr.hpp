// IP socket address literals ("1.2.3.4:9000", "[2001:db8::1]:9000") as the reference accepts them
// for `proxy_addr` and daemon `listen_addr` (PROTOCOL.md 2.1.1, 2.2), and their canonical text
// (RFC 5952 for IPv6) used when the compact profile carries an address as bytes (11.1, 11.2).
// Pure parsing: no name resolution, no sockets.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paniq::profile {

struct SocketAddr {
  bool v6 = false;
  std::array<std::uint8_t, 16> ip{};  // IPv4 uses ip[0..3]
  std::uint16_t port = 0;
  std::uint32_t scope_id = 0;  // IPv6 "%N" zone, 0 = none

  // "a.b.c.d:port" or "[v6]:port" (lower-case, longest zero run compressed, IPv4-mapped
  // addresses as ::ffff:a.b.c.d; "%scope" only when scope_id != 0).
  std::string to_string() const;
  friend bool operator==(const SocketAddr&, const SocketAddr&) = default;
};

// Parses an IP socket address literal with the reference's grammar: IPv4 octets are 1-3 decimal
// digits without a leading zero; IPv6 groups are 1-4 hex digits with one optional "::" and an
// optional embedded IPv4 tail; an optional numeric "%scope" inside the brackets; the port is
// decimal (leading zeros allowed) and must fit 16 bits. Returns nullopt on anything else
// (including host names); the caller reports the error with its field path.
std::optional<SocketAddr> parse_socket_addr(std::string_view text);

// A bare IP address with the same grammar: "a.b.c.d" or an IPv6 address without brackets, zone
// or port ("2001:db8::1", "::ffff:1.2.3.4"). The result has port 0 and scope_id 0. Returns
// nullopt on anything else.
std::optional<SocketAddr> parse_ip_addr(std::string_view text);

// "IP:PORT" or "IP:PORT-PORT" (a port range to listen on or to hop across: our extension for
// proxy-server `--listen` / `listen_addr` and the profile's `servers`). `first` carries the
// first port; last_port >= first.port (equal for a single port). nullopt when the address part
// fails parse_socket_addr, a port is not 0..65535, or the range runs backwards.
struct SocketAddrRange {
  SocketAddr first;
  std::uint16_t last_port = 0;
  std::uint32_t size() const { return std::uint32_t{last_port} - first.port + 1; }
};
std::optional<SocketAddrRange> parse_socket_addr_range(std::string_view text);

// The same grammar with a host name allowed in place of the IP ("example.org:443-450"), for
// the profile's `servers` entries (resolved by the daemon). `host` is the text before the last
// ':' (brackets kept for IPv6). nullopt when the host is empty or the ports are invalid.
struct HostPortRange {
  std::string host;
  std::uint16_t first_port = 0, last_port = 0;
};
std::optional<HostPortRange> parse_host_port_range(std::string_view text);

}  // namespace paniq::profile
