#include "socks5/udp_header.hpp"

#include <algorithm>

namespace paniq::socks5 {

UdpDatagram parse_udp_datagram(ByteView in) {
  UdpDatagram d;
  if (in.size() < kUdpFixedHeader + 1) {
    d.error = Errc::truncated;
    return d;
  }
  if (in[0] != 0 || in[1] != 0) {
    d.error = Errc::bad_reserved;
    return d;
  }
  if (in[2] != 0) {
    d.error = Errc::fragmented;
    return d;
  }
  AddressDecode a = decode_address(in.subspan(kUdpFixedHeader), DomainCheck::Raw);
  if (a.error != Errc::ok) {
    d.error = a.error;
    return d;
  }
  d.header_size = kUdpFixedHeader + a.size;
  d.address = a.address;
  d.data = in.subspan(d.header_size);
  return d;
}

std::size_t encode_udp_header(MutByteView out, const Address& a) {
  const std::size_t n = udp_header_size(a);
  if (out.size() < n) return 0;
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  a.encode(out.subspan(kUdpFixedHeader));
  return n;
}

Bytes build_udp_datagram(const Address& a, ByteView data) {
  Bytes out(udp_header_size(a) + data.size());
  const std::size_t h = encode_udp_header(out, a);
  std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(h));
  return out;
}

}  // namespace paniq::socks5
