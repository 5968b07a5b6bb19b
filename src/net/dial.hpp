// Outgoing TCP connections for the proxy: resolution of domain targets and "happy eyeballs"
// (RFC 8305, simplified): addresses are tried alternating families, starting with the
// resolver's first; the next attempt starts when the previous one failed or `stagger` after
// it started, whichever is first; the first connection wins and the others are closed. The
// whole dial (resolution included) is bounded by `timeout`.
#pragma once

#include <chrono>
#include <optional>
#include <system_error>
#include <vector>

#include "net/asio.hpp"
#include "socks5/address.hpp"

namespace paniq::net {

struct DialOutcome {
  enum class Stage : std::uint8_t { resolve, connect };
  std::optional<tcp::socket> socket;  // set on success (TCP_NODELAY on)
  std::error_code error;  // system errors in the generic category (compare with std::errc)
  Stage stage = Stage::connect;       // where it failed
};

using DialClock = std::chrono::steady_clock;

// The resolution step of dial(): an IP target as it is; a name through the system resolver,
// bounded by `deadline`, its addresses in happy-eyeballs order (alternating families, starting
// with the resolver's first). Errors: the resolver's, timed_out at the deadline, host_not_found
// for an empty answer. The proxy checks these addresses against its egress policy before it
// connects to any (app/proxy_service.hpp).
awaitable<std::pair<std::error_code, std::vector<tcp::endpoint>>> resolve_tcp(
    asio::any_io_executor ex, const socks5::Address& target, DialClock::time_point deadline);

// The connect step of dial(): `eps` (not empty) raced as described above until `deadline`.
// Errors: as dial() with Stage::connect.
awaitable<DialOutcome> connect_any(asio::any_io_executor ex, const std::vector<tcp::endpoint>& eps,
                                   DialClock::time_point deadline,
                                   std::chrono::milliseconds stagger = std::chrono::milliseconds(250));

// Connects to `target` (IPv4, IPv6 or a domain name): resolve_tcp + connect_any. On failure `socket` is empty and
// `error`/`stage` say why: resolve + any code = the name did not resolve (or resolution timed
// out); connect + timed_out = no attempt finished in time; connect + the last attempt's error
// otherwise (connection_refused, host_unreachable, ...).
awaitable<DialOutcome> dial(asio::any_io_executor ex, const socks5::Address& target,
                            std::chrono::milliseconds timeout,
                            std::chrono::milliseconds stagger = std::chrono::milliseconds(250));

// Every UDP endpoint of a datagram's target, in the resolver's order: an IP address as it is, a
// domain resolved. Errors: the resolver's, timed_out after `timeout`, host_not_found for an
// empty answer.
awaitable<std::pair<std::error_code, std::vector<udp::endpoint>>> resolve_udp_all(
    asio::any_io_executor ex, const socks5::Address& target, std::chrono::milliseconds timeout);

// The UDP endpoint of a datagram's target: IP addresses as they are, a domain resolved (first
// address). Errors: the resolver's, timed_out after `timeout`.
awaitable<std::pair<std::error_code, udp::endpoint>> resolve_udp(asio::any_io_executor ex,
                                                                  const socks5::Address& target,
                                                                  std::chrono::milliseconds timeout);

}  // namespace paniq::net
