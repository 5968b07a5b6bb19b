// IP socket address literals (proxy_addr, listen_addr) and their canonical text.
#include "profile/addr.hpp"

#include <gtest/gtest.h>

namespace paniq::profile {
namespace {

TEST(SocketAddr, ParsesIpv4) {
  const auto a = parse_socket_addr("127.0.0.1:9000");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->ip[0], 127);
  EXPECT_EQ(a->ip[3], 1);
  EXPECT_EQ(a->port, 9000);
  EXPECT_EQ(a->to_string(), "127.0.0.1:9000");
  EXPECT_EQ(parse_socket_addr("0.0.0.0:0")->to_string(), "0.0.0.0:0");
  EXPECT_EQ(parse_socket_addr("1.2.3.4:09000")->port, 9000);  // leading zeros allowed in the port
  EXPECT_EQ(parse_socket_addr("255.255.255.255:65535")->to_string(), "255.255.255.255:65535");
}

TEST(SocketAddr, ParsesIpv6AndPrintsRfc5952) {
  const std::pair<const char*, const char*> cases[] = {
      {"[2001:db8::1]:443", "[2001:db8::1]:443"},
      {"[2001:DB8:0:0:0:0:0:1]:443", "[2001:db8::1]:443"},
      {"[::]:1", "[::]:1"},
      {"[::1]:1", "[::1]:1"},
      {"[1:0:0:2:0:0:0:3]:5", "[1:0:0:2::3]:5"},
      {"[1:0:0:2:0:0:3:4]:5", "[1::2:0:0:3:4]:5"},  // first of two equal runs
      {"[1:2:3:4:5:6:7:8]:9", "[1:2:3:4:5:6:7:8]:9"},
      {"[1:0:2:3:4:5:6:7]:9", "[1:0:2:3:4:5:6:7]:9"},  // single zero group not compressed
      {"[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]:80"},
      {"[64:ff9b::10.0.0.1]:80", "[64:ff9b::a00:1]:80"},
      {"[1:2:3:4:5:6:7::]:1", "[1:2:3:4:5:6:7:0]:1"},
      {"[::0001]:2", "[::1]:2"},
      {"[fe80::1%3]:80", "[fe80::1%3]:80"},
  };
  for (const auto& [in, out] : cases) {
    const auto a = parse_socket_addr(in);
    ASSERT_TRUE(a) << in;
    EXPECT_TRUE(a->v6);
    EXPECT_EQ(a->to_string(), out) << in;
    EXPECT_EQ(parse_socket_addr(a->to_string()), a) << in;
  }
}

TEST(SocketAddr, RejectsNonLiterals) {
  for (const char* bad : {"",
                          "localhost:80",
                          "my-server:9000",
                          "1.2.3.4",
                          "1.2.3.4:",
                          "1.2.3.4:65536",
                          "01.2.3.4:1",
                          "1.2.3.256:1",
                          "1.2.3:1",
                          "1.2.3.4.5:1",
                          " 1.2.3.4:1",
                          "1.2.3.4:1 ",
                          "2001:db8::1:443",
                          "[2001:db8::1]",
                          "[2001:db8::1]:",
                          "[1::2::3]:1",
                          "[1:2:3:4:5:6:7:8:9]:1",
                          "[12345::]:1",
                          "[1.2.3.4::]:1",
                          "[::1.2.3]:1",
                          "[::ffff:01.2.3.4]:1",
                          "1.2.3.4:+80",
                          "[g::]:1",
                          "[::1]:-1"}) {
    EXPECT_FALSE(parse_socket_addr(bad)) << bad;
  }
}

TEST(IpAddr, ParsesBareAddresses) {
  const auto a = parse_ip_addr("10.1.2.3");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->ip[0], 10);
  EXPECT_EQ(a->ip[3], 3);
  EXPECT_EQ(a->port, 0);
  const auto b = parse_ip_addr("fe80::1");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->v6);
  EXPECT_EQ(b->ip[0], 0xfe);
  EXPECT_EQ(b->ip[1], 0x80);
  EXPECT_EQ(b->ip[15], 1);
  const auto m = parse_ip_addr("::ffff:127.0.0.1");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->v6);
  EXPECT_EQ(m->to_string(), "[::ffff:127.0.0.1]:0");
  EXPECT_TRUE(parse_ip_addr("::"));
  EXPECT_TRUE(parse_ip_addr("1:2:3:4:5:6:7:8"));
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4:80", "[::1]", "::1%1",
                          "1::2::3", "localhost", " ::1", "::1 ", "::g"}) {
    EXPECT_FALSE(parse_ip_addr(bad)) << bad;
  }
}

}  // namespace
}  // namespace paniq::profile
