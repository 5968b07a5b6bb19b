// SOCKS5 server messages (RFC 1928 3 and 6, RFC 1929 2) built in fixed buffers (no heap), and
// the mapping from connect/resolve errors to RFC 1928 reply codes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "core/bytes.hpp"
#include "socks5/address.hpp"

namespace paniq::socks5 {

inline constexpr std::uint8_t kSocksVersion = 0x05;
inline constexpr std::uint8_t kMethodNoAuth = 0x00;
inline constexpr std::uint8_t kMethodUserPass = 0x02;
inline constexpr std::uint8_t kMethodNoAcceptable = 0xFF;
// RFC 1929 sub-negotiation. Any non-zero status is a failure; we send 0x01. The reference
// (fast-socks5) sends 0xFF (misc-vectors.json socks5_replies.userpass_fail); clients only test
// for zero, so both interoperate.
inline constexpr std::uint8_t kAuthVersion = 0x01;
inline constexpr std::uint8_t kAuthSuccess = 0x00;
inline constexpr std::uint8_t kAuthFailure = 0x01;

// RFC 1928 6 REP field.
enum class ReplyCode : std::uint8_t {
  Succeeded = 0x00,
  GeneralFailure = 0x01,
  NotAllowed = 0x02,
  NetworkUnreachable = 0x03,
  HostUnreachable = 0x04,
  ConnectionRefused = 0x05,
  TtlExpired = 0x06,
  CommandNotSupported = 0x07,
  AddressTypeNotSupported = 0x08,
};
const char* to_string(ReplyCode c);

// Reply code for the error of a connect or resolve attempt (compared as std::errc conditions,
// so system and Asio error codes map too): no error -> Succeeded; connection_refused ->
// ConnectionRefused; network_unreachable / network_down -> NetworkUnreachable;
// host_unreachable -> HostUnreachable; timed_out -> TtlExpired; address_family_not_supported
// -> AddressTypeNotSupported; permission_denied / operation_not_permitted -> NotAllowed;
// anything else (resolver failures included) -> GeneralFailure.
ReplyCode reply_code_for(std::error_code ec);

// A short message in a fixed buffer.
template <std::size_t N>
struct SmallMessage {
  std::array<std::uint8_t, N> data{};
  std::size_t size = 0;
  ByteView bytes() const { return {data.data(), size}; }
};

// Largest reply: VER REP RSV + the longest address field.
inline constexpr std::size_t kMaxReplySize = 3 + kMaxAddressWireSize;
using ReplyMessage = SmallMessage<kMaxReplySize>;

// `05 REP 00 | ATYP BND.ADDR BND.PORT`. CONNECT success echoes the requested target as the
// reference does; UDP ASSOCIATE success carries the relay (127.0.0.1:port).
ReplyMessage reply(ReplyCode code, const Address& bound);
// Failure reply `05 REP 00 01 00000000 0000`.
ReplyMessage error_reply(ReplyCode code);
// Method selection `05 METHOD`.
std::array<std::uint8_t, 2> method_selection(std::uint8_t method);
// Username/password status `01 STATUS`.
std::array<std::uint8_t, 2> auth_status(std::uint8_t status);

}  // namespace paniq::socks5
