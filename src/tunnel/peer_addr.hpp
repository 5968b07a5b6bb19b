// The server's key for a client's socket address: a small value type the shell fills from an
// IPv4 or IPv6 endpoint (family, 16 address bytes, port). Hashable, comparable, printable.
// No networking headers here: the shell converts to and from its own endpoint type.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace paniq::tunnel {

struct PeerAddr {
  enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

  Family family = Family::v4;
  // v4: the 4 address bytes in addr[0..4), the rest zero. v6: all 16 bytes.
  std::array<std::uint8_t, 16> addr{};
  std::uint16_t port = 0;  // host order
  // Which of the server's sockets the datagram arrived on (proxy-server listening on a port
  // range: 0 = the first port). Replies leave from the same socket, so a client that hops to
  // another server port is a new address, and an encrypted session follows it (roaming).
  std::uint16_t local = 0;

  static PeerAddr v4(std::array<std::uint8_t, 4> a, std::uint16_t port);
  static PeerAddr v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port);

  // Same family and address (the port may differ): the unit of the per-host session cap.
  bool same_host(const PeerAddr& o) const { return family == o.family && addr == o.addr; }
  // "1.2.3.4:5" or "[2001:db8::1]:5" (RFC 5952 shortest form).
  std::string to_string() const;
  // Hash of family and address only (per-host maps) / of everything.
  std::size_t host_hash() const;
  std::size_t hash() const;

  friend bool operator==(const PeerAddr&, const PeerAddr&) = default;
  friend auto operator<=>(const PeerAddr&, const PeerAddr&) = default;  // for ordered containers
};

struct PeerAddrHash {
  std::size_t operator()(const PeerAddr& p) const { return p.hash(); }
};

}  // namespace paniq::tunnel

template <>
struct std::hash<paniq::tunnel::PeerAddr> {
  std::size_t operator()(const paniq::tunnel::PeerAddr& p) const { return p.hash(); }
};
