// UDP ASSOCIATE stream records (PROTOCOL.md 8.5), both directions of the smux stream:
//   | u16 BE length L | L bytes = one complete SOCKS5 UDP datagram (udp_header.hpp) |
// The decoder keeps one reusable buffer for records split across reads; records that arrive
// whole are handed out without a copy.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "socks5/address.hpp"
#include "socks5/errors.hpp"
#include "socks5/udp_header.hpp"

namespace paniq::socks5 {

inline constexpr std::size_t kRecordLengthSize = 2;
// Longest record the proxy accepts (reference library runtime: 32 KiB + 512). socks5d uses
// effective_max_payload + 512 (PROTOCOL.md 8.5).
inline constexpr std::size_t kDefaultMaxRecord = 32768 + 512;

// Writes the record prefix `u16 BE (header + data_len) | 00 00 00 | ATYP ADDR PORT`; DATA
// follows it. Returns the prefix size, or 0 (nothing written) when `out` is too short or the
// record would exceed 65535 bytes (the caller must drop the datagram).
std::size_t encode_udp_record_prefix(MutByteView out, const Address& a, std::size_t data_len);
// `u16 BE length || datagram` for a datagram forwarded verbatim. Returns false (nothing
// written) when the datagram is longer than 65535 bytes.
bool encode_record_length(std::array<std::uint8_t, kRecordLengthSize>& out,
                          std::size_t datagram_len);
// Length prefix + datagram in a new buffer (tests, tools). Throws std::length_error above 65535.
Bytes encode_udp_record(ByteView datagram);

// Incremental record decoder over the stream's bytes, any split. Each next() call makes one
// step over the front of `in`:
//   NeedMore  every byte was taken; call again with more.
//   Record    `record` is one complete datagram (the L bytes, not validated: parse it with
//             parse_udp_datagram). It views `in` when the record arrived whole, else the
//             decoder's buffer; valid until the next call or until `in` is.
//   Error     Errc::record_too_large: L above the limit. The decoder stays failed; the caller
//             must end the association (there is no way to resynchronise).
// `consumed` says how many bytes of `in` the step used; the caller advances by it.
class UdpRecordDecoder {
 public:
  enum class Status : std::uint8_t { NeedMore, Record, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;
    ByteView record;
    Errc error = Errc::ok;
  };

  explicit UdpRecordDecoder(std::size_t max_record = kDefaultMaxRecord) : max_(max_record) {}

  Step next(ByteView in);
  bool failed() const { return failed_; }
  // Bytes of an incomplete record held (length bytes included).
  std::size_t buffered() const { return len_have_ + body_.size(); }

 private:
  std::size_t max_;
  std::array<std::uint8_t, kRecordLengthSize> len_buf_{};
  std::size_t len_have_ = 0;
  std::size_t length_ = 0;
  Bytes body_;
  bool delivered_from_body_ = false;
  bool failed_ = false;
};

}  // namespace paniq::socks5
