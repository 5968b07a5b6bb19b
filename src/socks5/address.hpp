// Target addresses in SOCKS "ATYP" form, shared by every codec of this layer: the SOCKS5
// request and reply (RFC 1928 4, 6), the SOCKS5 UDP header (RFC 1928 7) and the stream-open
// request (PROTOCOL.md 8.1):
//   | ATYP u8 | ADDR | PORT u16 BE |
//   ATYP 0x01 IPv4   ADDR = 4 bytes
//   ATYP 0x03 domain ADDR = LEN u8 (1..255) || LEN name bytes (no terminator)
//   ATYP 0x04 IPv6   ADDR = 16 bytes
// An Address is a fixed-size value (no heap), so decoding one per datagram does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "socks5/errors.hpp"

namespace paniq::socks5 {

// Command byte, same values in the SOCKS5 request (CMD) and the stream-open request (cmd).
// Other byte values may be stored (a decoder reports what it read; the caller rejects).
enum class Command : std::uint8_t { Connect = 0x01, Bind = 0x02, UdpAssociate = 0x03 };

enum class AddressType : std::uint8_t { IPv4 = 0x01, Domain = 0x03, IPv6 = 0x04 };

inline constexpr std::size_t kMaxDomain = 255;
// Longest ATYP|ADDR|PORT field: 1 + 1 + 255 + 2.
inline constexpr std::size_t kMaxAddressWireSize = 1 + 1 + kMaxDomain + 2;

enum class DomainCheck : std::uint8_t { Raw, Utf8 };
struct AddressDecode;

class Address {
 public:
  Address() = default;  // 0.0.0.0:0

  static Address ipv4(const std::array<std::uint8_t, 4>& ip, std::uint16_t port);
  static Address ipv6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port);
  // Keeps the raw name bytes (no case folding, no UTF-8 check; see is_valid_utf8).
  // Fails with Errc::empty_domain or Errc::domain_too_long; the caller must not use the name.
  static Result<Address> domain(ByteView name, std::uint16_t port);
  static Result<Address> domain(std::string_view name, std::uint16_t port) {
    return domain(as_bytes(name), port);
  }

  AddressType type() const { return type_; }
  std::uint16_t port() const { return port_; }
  void set_port(std::uint16_t port) { port_ = port; }
  // 4 bytes (IPv4), 16 bytes (IPv6) or the 1..255 name bytes (domain). Valid while *this is.
  ByteView host() const { return {bytes_.data(), len_}; }
  // The name for a domain, empty for IP addresses.
  std::string_view domain_name() const;
  // True for 0.0.0.0 and :: (what SOCKS clients send as UDP ASSOCIATE DST).
  bool is_unspecified() const;

  // "1.2.3.4", "2001:db8::1" (RFC 5952), or the domain's bytes.
  std::string host_string() const;
  // "1.2.3.4:80", "[::1]:80", "example.com:443".
  std::string to_string() const;

  // Size of the ATYP|ADDR|PORT encoding.
  std::size_t wire_size() const;
  // Writes ATYP|ADDR|PORT at the front of `out`. Returns wire_size(), or 0 (nothing written)
  // when `out` is shorter; the caller must supply a larger span.
  std::size_t encode(MutByteView out) const;
  void append_to(Bytes& out) const;

  friend bool operator==(const Address& a, const Address& b);
  friend AddressDecode decode_address(ByteView in, DomainCheck check);

 private:
  std::array<std::uint8_t, kMaxDomain> bytes_{};
  std::uint8_t len_ = 4;
  AddressType type_ = AddressType::IPv4;
  std::uint16_t port_ = 0;
};

// Strict UTF-8 as Rust's str::from_utf8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(ByteView s);

// Size of the ATYP|ADDR|PORT field starting at `prefix[0]` (the ATYP byte), from as many bytes
// of it as are known. `size` is 0 when more bytes are needed to tell (empty prefix, or a domain
// without its length byte yet). Errors: bad_address_type, empty_domain; the field cannot be
// skipped and the caller must treat the whole message as malformed.
struct FieldSize {
  Errc error = Errc::ok;
  std::size_t size = 0;
};
FieldSize address_field_size(ByteView prefix);

// Decodes the ATYP|ADDR|PORT field at the front of `in`. On success `size` is the number of
// bytes it took. Errors: truncated (need more bytes), bad_address_type, empty_domain,
// invalid_domain (only with DomainCheck::Utf8). On error `address` is unspecified.
struct AddressDecode {
  Errc error = Errc::ok;
  std::size_t size = 0;
  Address address;
};
AddressDecode decode_address(ByteView in, DomainCheck check);

}  // namespace paniq::socks5
