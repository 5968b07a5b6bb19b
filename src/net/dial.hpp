// Outgoing TCP connections for the proxy: resolution of domain targets and "happy eyeballs"
// (RFC 8305, simplified): addresses are tried alternating families, starting with the
// resolver's first; the next attempt starts when the previous one failed or `stagger` after
// it started, whichever is first; the first connection wins and the others are closed. The
// whole dial (resolution included) is bounded by `timeout`.
#pragma once

#include <chrono>
#include <optional>
#include <system_error>

#include "net/asio.hpp"
#include "socks5/address.hpp"

namespace paniq::net {

struct DialOutcome {
  enum class Stage : std::uint8_t { resolve, connect };
  std::optional<tcp::socket> socket;  // set on success (TCP_NODELAY on)
  std::error_code error;  // system errors in the generic category (compare with std::errc)
  Stage stage = Stage::connect;       // where it failed
};

// Connects to `target` (IPv4, IPv6 or a domain name). On failure `socket` is empty and
// `error`/`stage` say why: resolve + any code = the name did not resolve (or resolution timed
// out); connect + timed_out = no attempt finished in time; connect + the last attempt's error
// otherwise (connection_refused, host_unreachable, ...).
awaitable<DialOutcome> dial(asio::any_io_executor ex, const socks5::Address& target,
                            std::chrono::milliseconds timeout,
                            std::chrono::milliseconds stagger = std::chrono::milliseconds(250));

// The UDP endpoint of a datagram's target: IP addresses as they are, a domain resolved (first
// address). Errors: the resolver's, timed_out after `timeout`.
awaitable<std::pair<std::error_code, udp::endpoint>> resolve_udp(asio::any_io_executor ex,
                                                                  const socks5::Address& target,
                                                                  std::chrono::milliseconds timeout);

}  // namespace paniq::net
