#include "socks5/address.hpp"

#include <algorithm>

#include "core/ip_text.hpp"

namespace paniq::socks5 {

Address Address::ipv4(const std::array<std::uint8_t, 4>& ip, std::uint16_t port) {
  Address a;
  std::copy(ip.begin(), ip.end(), a.bytes_.begin());
  a.len_ = 4;
  a.type_ = AddressType::IPv4;
  a.port_ = port;
  return a;
}

Address Address::ipv6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) {
  Address a;
  std::copy(ip.begin(), ip.end(), a.bytes_.begin());
  a.len_ = 16;
  a.type_ = AddressType::IPv6;
  a.port_ = port;
  return a;
}

Result<Address> Address::domain(ByteView name, std::uint16_t port) {
  if (name.empty()) return make_error(Errc::empty_domain, "socks5 address: empty domain name");
  if (name.size() > kMaxDomain) {
    return make_error(Errc::domain_too_long, "socks5 address: domain name of " +
                                                 std::to_string(name.size()) +
                                                 " bytes (at most 255)");
  }
  Address a;
  std::copy(name.begin(), name.end(), a.bytes_.begin());
  a.len_ = static_cast<std::uint8_t>(name.size());
  a.type_ = AddressType::Domain;
  a.port_ = port;
  return a;
}

std::string_view Address::domain_name() const {
  if (type_ != AddressType::Domain) return {};
  return {reinterpret_cast<const char*>(bytes_.data()), len_};
}

bool Address::is_unspecified() const {
  if (type_ == AddressType::Domain) return false;
  return std::all_of(bytes_.begin(), bytes_.begin() + len_, [](std::uint8_t b) { return b == 0; });
}

std::string Address::host_string() const {
  std::string s;
  switch (type_) {
    case AddressType::IPv4: s = ipv4_text(bytes_.data()); break;
    case AddressType::IPv6: s = ipv6_text(bytes_.data()); break;
    case AddressType::Domain: s.assign(domain_name()); break;
  }
  return s;
}

std::string Address::to_string() const {
  std::string s = host_string();
  if (type_ == AddressType::IPv6) s = "[" + s + "]";
  s += ':';
  s += std::to_string(port_);
  return s;
}

std::size_t Address::wire_size() const {
  return 1 + (type_ == AddressType::Domain ? 1u : 0u) + len_ + 2;
}

std::size_t Address::encode(MutByteView out) const {
  const std::size_t n = wire_size();
  if (out.size() < n) return 0;
  std::uint8_t* p = out.data();
  *p++ = static_cast<std::uint8_t>(type_);
  if (type_ == AddressType::Domain) *p++ = len_;
  std::copy_n(bytes_.begin(), len_, p);
  put_u16_be(p + len_, port_);
  return n;
}

void Address::append_to(Bytes& out) const {
  const std::size_t at = out.size();
  out.resize(at + wire_size());
  encode(MutByteView(out).subspan(at));
}

bool operator==(const Address& a, const Address& b) {
  return a.type_ == b.type_ && a.port_ == b.port_ && a.len_ == b.len_ &&
         std::equal(a.bytes_.begin(), a.bytes_.begin() + a.len_, b.bytes_.begin());
}

bool is_valid_utf8(ByteView s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const std::uint8_t b = s[i + k];
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

FieldSize address_field_size(ByteView prefix) {
  if (prefix.empty()) return {};
  switch (prefix[0]) {
    case static_cast<std::uint8_t>(AddressType::IPv4): return {Errc::ok, 1 + 4 + 2};
    case static_cast<std::uint8_t>(AddressType::IPv6): return {Errc::ok, 1 + 16 + 2};
    case static_cast<std::uint8_t>(AddressType::Domain):
      if (prefix.size() < 2) return {};
      if (prefix[1] == 0) return {Errc::empty_domain, 0};
      return {Errc::ok, std::size_t{1} + 1 + prefix[1] + 2};
    default: return {Errc::bad_address_type, 0};
  }
}

AddressDecode decode_address(ByteView in, DomainCheck check) {
  AddressDecode d;
  const FieldSize fs = address_field_size(in);
  if (fs.error != Errc::ok) {
    d.error = fs.error;
    return d;
  }
  if (fs.size == 0 || in.size() < fs.size) {
    d.error = Errc::truncated;
    return d;
  }
  d.size = fs.size;
  const std::uint16_t port = get_u16_be(in.data() + fs.size - 2);
  Address& a = d.address;
  switch (static_cast<AddressType>(in[0])) {
    case AddressType::IPv4:
      std::copy_n(in.begin() + 1, 4, a.bytes_.begin());
      a.len_ = 4;
      break;
    case AddressType::IPv6:
      std::copy_n(in.begin() + 1, 16, a.bytes_.begin());
      a.len_ = 16;
      break;
    case AddressType::Domain: {
      const ByteView name = in.subspan(2, in[1]);
      if (check == DomainCheck::Utf8 && !is_valid_utf8(name)) {
        d.error = Errc::invalid_domain;
        return d;
      }
      std::copy(name.begin(), name.end(), a.bytes_.begin());
      a.len_ = in[1];
      break;
    }
  }
  a.type_ = static_cast<AddressType>(in[0]);
  a.port_ = port;
  return d;
}

}  // namespace paniq::socks5
