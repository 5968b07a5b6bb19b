#include "tunnel/peer_addr.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

namespace paniq::tunnel {
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

TEST(PeerAddr, ToString) {
  EXPECT_EQ(PeerAddr::v4({127, 0, 0, 1}, 9000).to_string(), "127.0.0.1:9000");
  EXPECT_EQ(PeerAddr::v6(v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), 443).to_string(),
            "[2001:db8::1]:443");
  EXPECT_EQ(PeerAddr::v6(v6({0, 0, 0, 0, 0, 0, 0, 1}), 1).to_string(), "[::1]:1");
  EXPECT_EQ(PeerAddr::v6(v6({0, 0, 0, 0, 0, 0, 0, 0}), 2).to_string(), "[::]:2");
  // A single zero group is not shortened; the first of two equal runs is (RFC 5952).
  EXPECT_EQ(PeerAddr::v6(v6({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}), 3).to_string(),
            "[2001:db8:0:1:1:1:1:1]:3");
  EXPECT_EQ(PeerAddr::v6(v6({1, 0, 0, 2, 0, 0, 3, 4}), 4).to_string(), "[1::2:0:0:3:4]:4");
  EXPECT_EQ(PeerAddr::v6(v6({1, 0, 0, 2, 0, 0, 0, 4}), 5).to_string(), "[1:0:0:2::4]:5");
  EXPECT_EQ(PeerAddr::v6(v6({0, 0, 0, 0, 0, 0xffff, 0x7f00, 1}), 6).to_string(), "[::ffff:127.0.0.1]:6");
}

TEST(PeerAddr, EqualityHashAndHost) {
  const PeerAddr a = PeerAddr::v4({10, 0, 0, 1}, 1);
  const PeerAddr b = PeerAddr::v4({10, 0, 0, 1}, 2);
  std::array<std::uint8_t, 16> mapped{};
  mapped[0] = 10;
  mapped[3] = 1;
  const PeerAddr c = PeerAddr::v6(mapped, 1);  // same bytes, other family
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.same_host(b));
  EXPECT_NE(a, c);
  EXPECT_FALSE(a.same_host(c));
  EXPECT_EQ(a.host_hash(), b.host_hash());
  EXPECT_NE(a.hash(), b.hash());
  std::unordered_set<PeerAddr> set;
  for (std::uint16_t port = 0; port < 1000; ++port) set.insert(PeerAddr::v4({1, 2, 3, 4}, port));
  set.insert(a);
  set.insert(a);
  EXPECT_EQ(set.size(), 1001u);
}

}  // namespace
}  // namespace paniq::tunnel
