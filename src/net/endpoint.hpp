// Conversions between Asio endpoints and the pure layers' address types (tunnel::PeerAddr,
// socks5::Address, profile::SocketAddr), and start-up resolution of "host:port" text.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "profile/addr.hpp"
#include "socks5/address.hpp"
#include "tunnel/peer_addr.hpp"

namespace paniq::net {

// Exact conversions (an IPv4-mapped IPv6 endpoint stays IPv6, so a dual-stack server answers
// through the same socket family it received on). No allocation.
tunnel::PeerAddr to_peer(const udp::endpoint& ep);
udp::endpoint to_endpoint(const tunnel::PeerAddr& peer);

// An IP address with IPv4-mapped IPv6 (::ffff:a.b.c.d) turned back into IPv4 (what a
// dual-stack socket reports for IPv4 peers); other addresses unchanged.
asio::ip::address unmap(const asio::ip::address& a);

asio::ip::address to_address(const profile::SocketAddr& a);
template <class Endpoint>
Endpoint to_endpoint(const profile::SocketAddr& a) {
  return Endpoint(to_address(a), a.port);
}

// SOCKS address of an IP endpoint (IPv4-mapped shown as IPv4).
socks5::Address to_socks_address(const asio::ip::address& a, std::uint16_t port);
// The IP address of an IPv4/IPv6 socks5::Address; nullopt for a domain.
std::optional<asio::ip::address> to_ip(const socks5::Address& a);

// "a.b.c.d:p" or "[v6]:p".
std::string to_string(const asio::ip::address& a, std::uint16_t port);
template <class Endpoint>
std::string to_string(const Endpoint& ep) {
  return to_string(ep.address(), ep.port());
}

// Splits "host:port" / "[v6]:port" into host and port. Errors (Errc-less, message only, code
// std::errc::invalid_argument): no port, port not a number in 1..65535 (0 allowed when
// `allow_zero_port`), empty host.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
Result<HostPort> split_host_port(std::string_view text, bool allow_zero_port = false);

// An IP literal with port (profile::parse_socket_addr grammar) or "hostname:port" resolved
// once, now, with the system resolver (blocking; start-up only). The first address returned
// is used. Errors: bad syntax, resolution failure (message names the text).
Result<udp::endpoint> resolve_udp_endpoint(asio::io_context& io, std::string_view text);

}  // namespace paniq::net
