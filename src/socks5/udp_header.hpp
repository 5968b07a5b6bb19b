// SOCKS5 UDP datagram header (RFC 1928 7), the payload of every UDP ASSOCIATE relay datagram
// and record (PROTOCOL.md 8.5):
//   | RSV u16 = 0 | FRAG u8 | ATYP | DST.ADDR | DST.PORT u16 BE | DATA |
// Parsing and building never allocate.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "socks5/address.hpp"
#include "socks5/errors.hpp"

namespace paniq::socks5 {

// RSV RSV FRAG.
inline constexpr std::size_t kUdpFixedHeader = 3;

struct UdpDatagram {
  Errc error = Errc::ok;
  std::size_t header_size = 0;  // bytes before DATA
  Address address;              // DST (client -> target) or source (target -> client)
  ByteView data;                // views the input
};

// Parses a whole datagram. Errors: truncated, bad_reserved (RSV != 0), fragmented (FRAG != 0:
// fragmentation is not supported; RFC 1928 lets a server drop such datagrams), bad_address_type,
// empty_domain. Domain bytes are kept raw (not UTF-8 checked): the resolver rejects names it
// cannot resolve. On error the caller must drop the datagram (and nothing else).
UdpDatagram parse_udp_datagram(ByteView in);

inline std::size_t udp_header_size(const Address& a) { return kUdpFixedHeader + a.wire_size(); }
// Writes `00 00 00 | ATYP ADDR PORT` at the front of `out`. Returns udp_header_size(a), or 0
// (nothing written) when `out` is shorter.
std::size_t encode_udp_header(MutByteView out, const Address& a);
// Header + data in a new buffer (tests, tools).
Bytes build_udp_datagram(const Address& a, ByteView data);

}  // namespace paniq::socks5
