// Stream-open protocol between socks5d and proxy-server (PROTOCOL.md 8.1, 8.2): the first
// bytes on a new smux stream are the request
//   | 0x01 version | cmd | ATYP | ADDR | PORT u16 BE |
// and the server answers one byte.
//
// Reply byte: 0x00 success, 0x01 general failure (reference). Our extension: the server may
// send the RFC 1928 reply code of the failure instead, 0x02 not allowed, 0x03 network
// unreachable, 0x04 host unreachable, 0x05 connection refused, 0x06 TTL expired, 0x07 command
// not supported, 0x08 address type not supported, so the client can give the application the
// right SOCKS reply. The byte equals the SOCKS5 REP value. A Rust client treats every non-zero
// byte as failure, and a Rust server only sends 0x00/0x01, so both directions interoperate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "socks5/address.hpp"
#include "socks5/errors.hpp"
#include "socks5/reply.hpp"

namespace paniq::socks5 {

inline constexpr std::uint8_t kOpenVersion = 0x01;
inline constexpr std::uint8_t kOpenSuccess = 0x00;
inline constexpr std::uint8_t kOpenGeneralFailure = 0x01;
// Longest request: version + cmd + the longest address field.
inline constexpr std::size_t kMaxOpenRequestSize = 2 + kMaxAddressWireSize;

struct OpenRequest {
  Command command = Command::Connect;
  Address target;
  friend bool operator==(const OpenRequest&, const OpenRequest&) = default;
};

// Writes the request at the front of `out`. Returns its size, or 0 (nothing written) when
// `out` is shorter than that.
std::size_t encode_open_request(MutByteView out, const OpenRequest& r);
Bytes encode_open_request(const OpenRequest& r);

// Reply byte for a SOCKS reply code (the extension above; Succeeded -> 0x00).
inline std::uint8_t open_reply_byte(ReplyCode code) { return static_cast<std::uint8_t>(code); }
// SOCKS reply code for a received reply byte: 0x00..0x08 map to the same code; any other byte
// is a failure of unknown kind -> GeneralFailure.
ReplyCode reply_code_from_open_reply(std::uint8_t byte);

// Incremental request decoder (server side). It never takes bytes past the request: what
// follows in the same input is pipelined application data for the target.
//   NeedMore  every byte was taken; call again when more arrive.
//   Done      request() is valid; `consumed` ends exactly at the request's last byte.
//   Error     `error`: bad_version (version != 1), bad_address_type, invalid_domain (not
//             UTF-8): the reference drops the stream without a reply; the caller must do the
//             same. empty_domain: the reference tries to resolve "" and answers 0x01; the
//             caller should answer a failure byte (0x01, or 0x08 with the extension) and close.
// The command byte is not checked: the caller answers 0x07 (or 0x01) to commands it does not
// serve. After Done or Error put() consumes nothing and repeats the status.
class OpenRequestDecoder {
 public:
  enum class Status : std::uint8_t { NeedMore, Done, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;
    Errc error = Errc::ok;
  };

  Step put(ByteView in);
  Status status() const { return status_; }
  Errc error() const { return error_; }
  const OpenRequest& request() const { return request_; }

 private:
  std::size_t message_size();
  void finish();

  Status status_ = Status::NeedMore;
  Errc error_ = Errc::ok;
  std::array<std::uint8_t, kMaxOpenRequestSize> buf_{};
  std::size_t have_ = 0;
  OpenRequest request_;
};

}  // namespace paniq::socks5
