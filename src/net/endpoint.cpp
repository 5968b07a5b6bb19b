#include "net/endpoint.hpp"

#include <charconv>

namespace paniq::net {

tunnel::PeerAddr to_peer(const udp::endpoint& ep) {
  const auto& a = ep.address();
  if (a.is_v4()) return tunnel::PeerAddr::v4(a.to_v4().to_bytes(), ep.port());
  return tunnel::PeerAddr::v6(a.to_v6().to_bytes(), ep.port());
}

udp::endpoint to_endpoint(const tunnel::PeerAddr& peer) {
  if (peer.family == tunnel::PeerAddr::Family::v4) {
    asio::ip::address_v4::bytes_type b{peer.addr[0], peer.addr[1], peer.addr[2], peer.addr[3]};
    return {asio::ip::address_v4(b), peer.port};
  }
  return {asio::ip::address_v6(peer.addr), peer.port};
}

asio::ip::address unmap(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

asio::ip::address to_address(const profile::SocketAddr& a) {
  if (!a.v6) {
    return asio::ip::address_v4(asio::ip::address_v4::bytes_type{a.ip[0], a.ip[1], a.ip[2], a.ip[3]});
  }
  return asio::ip::address_v6(a.ip, a.scope_id);
}

socks5::Address to_socks_address(const asio::ip::address& addr, std::uint16_t port) {
  const auto a = unmap(addr);
  if (a.is_v4()) return socks5::Address::ipv4(a.to_v4().to_bytes(), port);
  return socks5::Address::ipv6(a.to_v6().to_bytes(), port);
}

std::optional<asio::ip::address> to_ip(const socks5::Address& a) {
  const ByteView h = a.host();
  switch (a.type()) {
    case socks5::AddressType::IPv4:
      return asio::ip::address(
          asio::ip::address_v4(asio::ip::address_v4::bytes_type{h[0], h[1], h[2], h[3]}));
    case socks5::AddressType::IPv6: {
      asio::ip::address_v6::bytes_type b{};
      std::copy(h.begin(), h.end(), b.begin());
      return asio::ip::address(asio::ip::address_v6(b));
    }
    case socks5::AddressType::Domain:
      break;
  }
  return std::nullopt;
}

// Built by appending: GCC 12 at -O3 warns (-Wrestrict, a known false positive) on
// `"literal" + std::string` temporaries.
std::string to_string(const asio::ip::address& a, std::uint16_t port) {
  std::string s;
  if (a.is_v6()) s += '[';
  s += a.to_string();
  if (a.is_v6()) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

Result<HostPort> split_host_port(std::string_view text, bool allow_zero_port) {
  const auto bad = [&](const char* why) {
    std::string msg(1, '"');
    msg.append(text).append("\": ").append(why);
    return Error{std::make_error_code(std::errc::invalid_argument), std::move(msg)};
  };
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [IPv6]:port");
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    hp.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("empty host");
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 ||
      (port == 0 && !allow_zero_port)) {
    return bad("port must be a number in 1..65535");
  }
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

Result<udp::endpoint> resolve_udp_endpoint(asio::io_context& io, std::string_view text) {
  if (auto literal = profile::parse_socket_addr(text)) return to_endpoint<udp::endpoint>(*literal);
  auto hp = split_host_port(text);
  if (!hp) return hp.error();
  udp::resolver resolver(io);
  std::error_code ec;
  const auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) {
    return Error{ec ? ec : std::make_error_code(std::errc::host_unreachable),
                 "cannot resolve \"" + std::string(text) + "\": " +
                     (ec ? ec.message() : std::string("no addresses"))};
  }
  return results.begin()->endpoint();
}

}  // namespace paniq::net
