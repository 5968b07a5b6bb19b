#include "socks5/udp_header.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::socks5 {
namespace {

using paniq::test::hex;

TEST(UdpHeader, ParsesAndBuildsTheVectorDatagrams) {
  // The datagram part of misc-vectors.json udp_associate_stream_records (after the length).
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("udp_associate_stream_records");
  const Address addrs[] = {Address::ipv4({127, 0, 0, 1}, 5353), Address::ipv4({8, 8, 8, 8}, 53)};
  const char* payloads[] = {"hi", "ok"};
  ASSERT_EQ(v.size(), 2u);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const Bytes record = hex(v[i].at("hex").get<std::string>());
    const ByteView datagram = ByteView(record).subspan(2);
    const UdpDatagram d = parse_udp_datagram(datagram);
    ASSERT_EQ(d.error, Errc::ok);
    EXPECT_EQ(d.address, addrs[i]);
    EXPECT_EQ(d.header_size, 10u);
    EXPECT_EQ(std::string(d.data.begin(), d.data.end()), payloads[i]);
    EXPECT_EQ(build_udp_datagram(addrs[i], as_bytes(payloads[i])),
              Bytes(datagram.begin(), datagram.end()));
  }
}

TEST(UdpHeader, DomainAndIpv6Targets) {
  const Bytes dg = hex("000000030b6578616d706c652e636f6d0035" "abcd");
  const UdpDatagram d = parse_udp_datagram(dg);
  ASSERT_EQ(d.error, Errc::ok);
  EXPECT_EQ(d.address.to_string(), "example.com:53");
  EXPECT_EQ(to_hex(d.data), "abcd");
  const Bytes v6 = hex("00000004" "00000000000000000000000000000001" "0035");
  const UdpDatagram e = parse_udp_datagram(v6);
  ASSERT_EQ(e.error, Errc::ok);
  EXPECT_EQ(e.address.to_string(), "[::1]:53");
  EXPECT_TRUE(e.data.empty());
  // Domain bytes are not UTF-8 checked here.
  EXPECT_EQ(parse_udp_datagram(hex("0000000302c3280035")).error, Errc::ok);
}

TEST(UdpHeader, Rejections) {
  const std::pair<const char*, Errc> cases[] = {
      {"", Errc::truncated},
      {"000000", Errc::truncated},
      {"000000017f000001", Errc::truncated},
      {"0000000300", Errc::empty_domain},
      {"000100017f0000010035", Errc::bad_reserved},
      {"010000017f0000010035", Errc::bad_reserved},
      {"000001017f0000010035", Errc::fragmented},
      {"000080017f0000010035", Errc::fragmented},
      {"000000027f0000010035", Errc::bad_address_type},
      {"000000030b6578616d706c65", Errc::truncated},
  };
  for (const auto& [h, err] : cases) EXPECT_EQ(parse_udp_datagram(hex(h)).error, err) << h;
}

TEST(UdpHeader, EncodeIntoShortSpanWritesNothing) {
  const Address a = Address::ipv4({10, 0, 0, 1}, 9);
  Bytes out(udp_header_size(a) - 1, 0xEE);
  EXPECT_EQ(encode_udp_header(out, a), 0u);
  EXPECT_EQ(out, Bytes(out.size(), 0xEE));
  out.resize(udp_header_size(a));
  EXPECT_EQ(encode_udp_header(out, a), 10u);
  EXPECT_EQ(to_hex(out), "000000010a0000010009");
}

TEST(UdpHeader, RandomDatagramsRoundTrip) {
  SeededRng rng(0xD6);
  for (int i = 0; i < 500; ++i) {
    Address a;
    const auto port = static_cast<std::uint16_t>(rng.next_u32());
    if (rng.uniform(0, 1)) {
      Bytes name(rng.uniform(1, 255));
      rng.fill(name);
      a = *Address::domain(ByteView(name), port);
    } else {
      std::array<std::uint8_t, 16> ip{};
      rng.fill(ip);
      a = Address::ipv6(ip, port);
    }
    Bytes data(rng.uniform(0, 300));
    rng.fill(data);
    const Bytes dg = build_udp_datagram(a, data);
    const UdpDatagram d = parse_udp_datagram(dg);
    ASSERT_EQ(d.error, Errc::ok);
    EXPECT_EQ(d.address, a);
    EXPECT_EQ(Bytes(d.data.begin(), d.data.end()), data);
  }
}

}  // namespace
}  // namespace paniq::socks5
