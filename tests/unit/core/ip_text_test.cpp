// core/ip_text: IPv4 and RFC 5952 IPv6 text.
#include "core/ip_text.hpp"

#include <gtest/gtest.h>

#include <array>
#include <initializer_list>

namespace paniq {
namespace {

std::array<std::uint8_t, 16> v6(std::initializer_list<std::uint16_t> groups) {
  std::array<std::uint8_t, 16> a{};
  std::size_t i = 0;
  for (std::uint16_t g : groups) {
    a[i++] = static_cast<std::uint8_t>(g >> 8);
    a[i++] = static_cast<std::uint8_t>(g);
  }
  return a;
}

TEST(IpText, Ipv4) {
  const std::uint8_t a[4] = {10, 0, 255, 1};
  EXPECT_EQ(ipv4_text(a), "10.0.255.1");
}

TEST(IpText, Ipv6Rfc5952) {
  EXPECT_EQ(ipv6_text(v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}).data()), "2001:db8::1");
  EXPECT_EQ(ipv6_text(v6({0, 0, 0, 0, 0, 0, 0, 0}).data()), "::");
  EXPECT_EQ(ipv6_text(v6({0, 0, 0, 0, 0, 0, 0, 1}).data()), "::1");
  EXPECT_EQ(ipv6_text(v6({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}).data()), "2001:db8:0:1:1:1:1:1")
      << "a single zero group stays";
  EXPECT_EQ(ipv6_text(v6({1, 0, 0, 2, 0, 0, 3, 4}).data()), "1::2:0:0:3:4") << "first run on a tie";
  EXPECT_EQ(ipv6_text(v6({1, 0, 0, 2, 0, 0, 0, 4}).data()), "1:0:0:2::4") << "longest run";
  EXPECT_EQ(ipv6_text(v6({0xABCD, 0x0f0, 0, 0, 0, 0, 0, 0}).data()), "abcd:f0::");
  EXPECT_EQ(ipv6_text(v6({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201}).data()), "::ffff:192.0.2.1");
}

}  // namespace
}  // namespace paniq
