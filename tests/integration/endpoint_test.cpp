// net/endpoint: conversions between Asio endpoints and the pure layers' address types.
#include "net/endpoint.hpp"

#include <gtest/gtest.h>

namespace paniq::net {
namespace {

TEST(Endpoint, PeerAddrRoundTripsBothFamilies) {
  for (const char* text : {"1.2.3.4", "127.0.0.1", "::1", "2001:db8::17", "::ffff:10.0.0.1"}) {
    const udp::endpoint ep(asio::ip::make_address(text), 4242);
    const tunnel::PeerAddr p = to_peer(ep);
    EXPECT_EQ(p.port, 4242);
    EXPECT_EQ(p.family == tunnel::PeerAddr::Family::v6, ep.address().is_v6()) << text;
    EXPECT_EQ(to_endpoint(p), ep) << text;
  }
  const auto p = to_peer(udp::endpoint(asio::ip::make_address("1.2.3.4"), 9));
  EXPECT_EQ(p.to_string(), "1.2.3.4:9");
}

TEST(Endpoint, UnmapTurnsMappedIPv4BackIntoIPv4) {
  EXPECT_EQ(unmap(asio::ip::make_address("::ffff:192.0.2.1")), asio::ip::make_address("192.0.2.1"));
  EXPECT_EQ(unmap(asio::ip::make_address("2001:db8::1")), asio::ip::make_address("2001:db8::1"));
  EXPECT_EQ(unmap(asio::ip::make_address("192.0.2.1")), asio::ip::make_address("192.0.2.1"));
}

TEST(Endpoint, SocksAddressConversions) {
  const auto a4 = to_socks_address(asio::ip::make_address("::ffff:127.0.0.1"), 1080);
  EXPECT_EQ(a4.type(), socks5::AddressType::IPv4);
  EXPECT_EQ(a4.to_string(), "127.0.0.1:1080");
  const auto a6 = to_socks_address(asio::ip::make_address("::1"), 53);
  EXPECT_EQ(a6.type(), socks5::AddressType::IPv6);
  EXPECT_EQ(to_ip(a6), asio::ip::make_address("::1"));
  EXPECT_EQ(to_ip(a4), asio::ip::make_address("127.0.0.1"));
  auto d = socks5::Address::domain("example.com", 443);
  ASSERT_TRUE(d);
  EXPECT_FALSE(to_ip(*d).has_value());
}

TEST(Endpoint, ToStringBracketsIPv6) {
  EXPECT_EQ(to_string(asio::ip::make_address("::1"), 80), "[::1]:80");
  EXPECT_EQ(to_string(tcp::endpoint(asio::ip::make_address("10.1.2.3"), 8080)), "10.1.2.3:8080");
}

TEST(Endpoint, SplitHostPort) {
  auto a = split_host_port("example.com:9000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 9000);
  auto b = split_host_port("[2001:db8::1]:443");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "2001:db8::1");
  EXPECT_EQ(b->port, 443);
  for (const char* bad : {"example.com", ":80", "host:", "host:65536", "host:x", "[::1]80", "[::1"}) {
    EXPECT_FALSE(split_host_port(bad)) << bad;
  }
  EXPECT_FALSE(split_host_port("host:0"));
  EXPECT_TRUE(split_host_port("host:0", true));
}

TEST(Endpoint, ResolveUdpEndpointLiteralsAndNames) {
  asio::io_context io;
  auto lit = resolve_udp_endpoint(io, "[::1]:9000");
  ASSERT_TRUE(lit) << lit.error().message;
  EXPECT_EQ(*lit, udp::endpoint(asio::ip::make_address("::1"), 9000));
  auto name = resolve_udp_endpoint(io, "localhost:9001");
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_TRUE(name->address().is_loopback());
  EXPECT_EQ(name->port(), 9001);
  auto bad = resolve_udp_endpoint(io, "no-such-host.invalid:1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no-such-host.invalid"), std::string::npos);
  EXPECT_FALSE(resolve_udp_endpoint(io, "1.2.3.4"));
}

TEST(Endpoint, ToGenericMakesAsioErrorsComparableWithErrc) {
  const std::error_code raw = asio::error::connection_refused;
  EXPECT_EQ(to_generic(raw), std::errc::connection_refused);
  EXPECT_EQ(to_generic(std::error_code{}), std::error_code{});
  const std::error_code other = asio::error::host_not_found;  // netdb category: unchanged
  EXPECT_EQ(to_generic(other), other);
}

}  // namespace
}  // namespace paniq::net
