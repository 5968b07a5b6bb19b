#include <gtest/gtest.h>

#include "envelope/config.hpp"
#include "support/vectors.hpp"

namespace paniq::envelope {
namespace {

TEST(Sizes, MatchesEveryVectorField) {
  const auto v = test::load_vectors("misc-vectors.json");
  ASSERT_FALSE(v.at("size_derivations").empty());
  for (const auto& c : v.at("size_derivations")) {
    SCOPED_TRACE(c.at("profile").get<std::string>());
    SizeInputs in;
    in.max_packet_size = c.at("max_packet_size");
    in.max_payload = c.at("kcp.max_payload");
    in.s4 = c.at("s4");
    in.transport_replay = c.at("transport_replay");
    in.padding.enabled = c.at("padding_enabled");
    in.padding.pad_max = c.at("pad_max");
    in.padding.pad_burst_max = c.at("pad_burst_max");
    const Sizes s = derive_sizes(in);
    EXPECT_EQ(s.effective_max_payload, c.at("effective_max_payload").get<std::uint32_t>());
    EXPECT_EQ(s.padding_reserve, c.at("padding_reserve").get<std::uint32_t>());
    EXPECT_EQ(s.kcp_mtu, c.at("kcp_mtu").get<std::uint32_t>());
    EXPECT_EQ(s.kcp_mss, c.at("kcp_mss").get<std::uint32_t>());
    EXPECT_EQ(s.max_datagram, c.at("max_datagram").get<std::uint32_t>());
    EXPECT_EQ(s.overhead, in.transport_replay ? 10u : 2u);
  }
}

TEST(Sizes, MaxPaddingIsLargerRangeEndOrZero) {
  PaddingPolicy p = PaddingPolicy::enabled_defaults();
  EXPECT_EQ(p.max_padding(), 104u);
  p.pad_max = 200;
  EXPECT_EQ(p.max_padding(), 200u);
  EXPECT_EQ(PaddingPolicy::disabled().max_padding(), 0u);
}

TEST(Sizes, SaturatesOnTinyPackets) {
  SizeInputs in;
  in.max_packet_size = 20;
  in.s4 = 30;  // prefix larger than the packet
  in.padding = PaddingPolicy::enabled_defaults();
  const Sizes s = derive_sizes(in);
  EXPECT_EQ(s.effective_max_payload, 0u);
  EXPECT_EQ(s.kcp_mtu, 1u);  // max(1, ...)
  EXPECT_EQ(s.kcp_mss, 0u);  // saturating
  EXPECT_EQ(s.max_datagram, 34u);
}

TEST(Sizes, SentinelOnlyFor1200) {
  SizeInputs in;
  in.max_packet_size = 1350;
  in.max_payload = 1199;
  EXPECT_EQ(derive_sizes(in).effective_max_payload, 1199u);
  in.max_payload = 1200;  // "use max_packet_size"
  EXPECT_EQ(derive_sizes(in).effective_max_payload, 1346u);
  in.max_payload = 5000;  // capped by the packet
  EXPECT_EQ(derive_sizes(in).effective_max_payload, 1346u);
}

}  // namespace
}  // namespace paniq::envelope
