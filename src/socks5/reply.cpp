#include "socks5/reply.hpp"

namespace paniq::socks5 {

const char* to_string(ReplyCode c) {
  switch (c) {
    case ReplyCode::Succeeded: return "succeeded";
    case ReplyCode::GeneralFailure: return "general SOCKS server failure";
    case ReplyCode::NotAllowed: return "connection not allowed by ruleset";
    case ReplyCode::NetworkUnreachable: return "network unreachable";
    case ReplyCode::HostUnreachable: return "host unreachable";
    case ReplyCode::ConnectionRefused: return "connection refused";
    case ReplyCode::TtlExpired: return "TTL expired";
    case ReplyCode::CommandNotSupported: return "command not supported";
    case ReplyCode::AddressTypeNotSupported: return "address type not supported";
  }
  return "unknown reply code";
}

ReplyCode reply_code_for(std::error_code ec) {
  if (!ec) return ReplyCode::Succeeded;
  if (ec == std::errc::connection_refused) return ReplyCode::ConnectionRefused;
  if (ec == std::errc::network_unreachable || ec == std::errc::network_down) {
    return ReplyCode::NetworkUnreachable;
  }
  if (ec == std::errc::host_unreachable) return ReplyCode::HostUnreachable;
  if (ec == std::errc::timed_out) return ReplyCode::TtlExpired;
  if (ec == std::errc::address_family_not_supported) return ReplyCode::AddressTypeNotSupported;
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) {
    return ReplyCode::NotAllowed;
  }
  return ReplyCode::GeneralFailure;
}

ReplyMessage reply(ReplyCode code, const Address& bound) {
  ReplyMessage m;
  m.data[0] = kSocksVersion;
  m.data[1] = static_cast<std::uint8_t>(code);
  m.data[2] = 0x00;
  m.size = 3 + bound.encode(MutByteView(m.data).subspan(3));
  return m;
}

ReplyMessage error_reply(ReplyCode code) { return reply(code, Address{}); }

std::array<std::uint8_t, 2> method_selection(std::uint8_t method) {
  return {kSocksVersion, method};
}

std::array<std::uint8_t, 2> auth_status(std::uint8_t status) { return {kAuthVersion, status}; }

}  // namespace paniq::socks5
