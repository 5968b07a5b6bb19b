// Cross-field validation (2.1.4 reference rules + size checks) and the per-layer conversions.
#include "profile/validate.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::profile {
namespace {

Profile base() {
  Profile p;
  // Strings are move-assigned in this file: GCC 12 at -O3 gives a false -Wrestrict on some
  // `std::string = "literal"` assignments.
  p.name = std::string("t");
  p.proxy_addr = std::string("127.0.0.1:9000");
  return p;
}

std::string error_of(const Profile& p) {
  std::vector<std::string> warnings;
  auto r = validate_profile(p, warnings);
  return r.ok() ? std::string("(valid)") : r.error().message;
}

Profile with_kcp(std::uint64_t mps) {
  Profile p = base();
  p.kcp.emplace().max_packet_size = mps;
  return p;
}

TEST(Validate, DefaultsAndExamplesAreValid) {
  EXPECT_EQ(error_of(base()), "(valid)");
  for (const char* file : {"example-profile.json", "example-minimal-profile.json"}) {
    std::vector<std::string> warnings;
    auto p = parse_profile_json_unvalidated(test::load_vectors(file).dump(), warnings);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(error_of(*p), "(valid)") << file;
  }
}

TEST(Validate, HeaderSpecsWithFieldPath) {
  Profile p = base();
  p.obfuscation.h2 = std::string("9-3");
  EXPECT_EQ(error_of(p), R"(obfuscation.h2: "9-3": start above end)");
  p.obfuscation.h2 = std::string("1-2-3");
  EXPECT_EQ(error_of(p), R"(obfuscation.h2: "1-2-3": bad format)");
  p.obfuscation.h2 = std::string("x");
  EXPECT_EQ(error_of(p).rfind(R"(obfuscation.h2: "x": failed to parse x)", 0), 0u) << error_of(p);
  p.obfuscation.h2 = std::string("");
  p.obfuscation.h4 = std::string("4294967296");
  EXPECT_EQ(error_of(p).rfind(R"(obfuscation.h4: "4294967296": failed to parse)", 0), 0u) << error_of(p);
}

TEST(Validate, HeadersMustNotOverlapIncludingDefaults) {
  Profile p = base();
  p.obfuscation.h1 = std::string("1-10");  // h2 empty -> "2" which lies inside
  EXPECT_EQ(error_of(p), R"(obfuscation.h1/obfuscation.h2: headers must not overlap ("1-10" and "2"))");
  p.obfuscation.h1 = std::string("100-200");
  p.obfuscation.h3 = std::string("200-300");
  EXPECT_EQ(error_of(p),
            R"(obfuscation.h1/obfuscation.h3: headers must not overlap ("100-200" and "200-300"))");
}

TEST(Validate, FullRangeHeaderIsAllowed) {
  // 0-4294967295 parses (the reference overflows on it); it can only clash with the other ranges.
  Profile p = base();
  p.obfuscation.h4 = std::string("0-4294967295");
  EXPECT_EQ(error_of(p),
            R"(obfuscation.h1/obfuscation.h4: headers must not overlap ("1" and "0-4294967295"))");
  Profile q = base();
  q.obfuscation.h1 = "0-1000";
  q.obfuscation.h2 = "1001-2000";
  q.obfuscation.h3 = "2001-3000";
  q.obfuscation.h4 = "3001-4294967295";
  EXPECT_EQ(error_of(q), "(valid)");
  EXPECT_EQ(obf_config(q).h[3].width(), 4294967295ull - 3001 + 1);
}

TEST(Validate, JunkAndPrefixRules) {
  const std::pair<void (*)(Profile&), const char*> cases[] = {
      {[](Profile& p) { p.obfuscation.jc = -1; }, "obfuscation.jc: -1: must be non-negative"},
      {[](Profile& p) { p.obfuscation.jmin = -2; }, "obfuscation.jmin: -2: must be non-negative"},
      {[](Profile& p) { p.obfuscation.jmax = -3; }, "obfuscation.jmax: -3: must be non-negative"},
      {[](Profile& p) { p.obfuscation.jmin = 10, p.obfuscation.jmax = 5; },
       "obfuscation.jmin: 10: must be <= jmax (5)"},
      {[](Profile& p) { p.obfuscation.s1 = -1; }, "obfuscation.s1: -1: must be non-negative"},
      {[](Profile& p) { p.obfuscation.s4 = -4; }, "obfuscation.s4: -4: must be non-negative"},
  };
  for (const auto& [mutate, message] : cases) {
    Profile p = base();
    mutate(p);
    EXPECT_EQ(error_of(p), message);
  }
  Profile off = base();
  off.obfuscation.jmin = 50;  // jmax 0: junk off, any jmin accepted (reference rule 3)
  EXPECT_EQ(error_of(off), "(valid)");
}

TEST(Validate, ChainsParseAndFit) {
  Profile p = base();
  p.obfuscation.i2 = std::string("<b 0x01");
  EXPECT_EQ(error_of(p), R"(obfuscation.i2: "<b 0x01": missing enclosing >)");
  p.obfuscation.i2 = std::string("<zz>");
  EXPECT_EQ(error_of(p), R"(obfuscation.i2: "<zz>": unknown tag <zz>)");
  p.obfuscation.i2 = std::string("<r 1346><t>");
  EXPECT_EQ(error_of(p), "(valid)");                                // exactly 1350 bytes
  p.obfuscation.i3 = std::string("<r 18446744073709551615><r 2>");  // must not wrap around to 1
  EXPECT_EQ(error_of(p).rfind(R"(obfuscation.i3: "<r 18446744073709551615><r 2>": )", 0), 0u) << error_of(p);
  p.obfuscation.i3 = std::string("");
  p.obfuscation.i2 = std::string("<r 1347><t>");
  EXPECT_EQ(
      error_of(p),
      R"(obfuscation.i2: "<r 1347><t>": signature datagram of 1351 bytes exceeds kcp.max_packet_size 1350)");
}

TEST(Validate, PacketSizeBounds) {
  EXPECT_EQ(error_of(with_kcp(63)), "kcp.max_packet_size: 63: must be between 64 and 65507");
  EXPECT_EQ(error_of(with_kcp(65508)), "kcp.max_packet_size: 65508: must be between 64 and 65507");
  EXPECT_EQ(error_of(with_kcp(65507)), "(valid)");
  Profile p = with_kcp(1350);
  p.kcp->flush_interval_ms = 0;
  EXPECT_EQ(error_of(p), "kcp.flush_interval_ms: 0: must be at least 1");
}

TEST(Validate, WindowsZeroIsErrorLargeIsWarning) {
  Profile p = with_kcp(1350);
  p.kcp->send_window = 0;
  EXPECT_EQ(error_of(p), "kcp.send_window: 0: must be > 0");
  p.kcp->send_window = 100;
  p.kcp->recv_window = 0;
  EXPECT_EQ(error_of(p), "kcp.recv_window: 0: must be > 0");
  p.kcp->recv_window = 70000;
  std::vector<std::string> warnings;
  ASSERT_TRUE(validate_profile(p, warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "kcp.recv_window: 70000: larger than 65535, clamped by the KCP engine");
  p.kcp->max_snd_queue = 0;
  EXPECT_EQ(error_of(p), "kcp.max_snd_queue: 0: must be > 0");
}

TEST(Validate, PrefixPaddingAgainstPacketSize) {
  Profile p = with_kcp(1350);
  p.obfuscation.s1 = 1245;  // 1245 + 4 + 101 = 1350
  EXPECT_EQ(error_of(p), "(valid)");
  p.obfuscation.s1 = 1246;
  EXPECT_EQ(error_of(p),
            "obfuscation.s1: 1246: Initiation datagram of 1351 bytes (s1 + 4 + 101) exceeds "
            "kcp.max_packet_size 1350");
  p.obfuscation.s1 = 0;
  p.obfuscation.s2 = 1343;
  EXPECT_EQ(
      error_of(p),
      "obfuscation.s2: 1343: Response datagram of 1351 bytes (s2 + 8) exceeds kcp.max_packet_size 1350");
  p.obfuscation.s2 = 1342;
  EXPECT_EQ(error_of(p), "(valid)");
  p.obfuscation.s3 = 1347;
  EXPECT_EQ(
      error_of(p),
      "obfuscation.s3: 1347: CookieReply datagram of 1351 bytes (s3 + 4) exceeds kcp.max_packet_size 1350");
  p.obfuscation.s3 = 1346;
  EXPECT_EQ(error_of(p), "(valid)");
}

TEST(Validate, TransportPrefixLeavesRoomForOneSegment) {
  Profile p = with_kcp(1350);
  p.obfuscation.s4 = 1319;  // 1319 + 4 + 2 + 24 + 1 = 1350
  EXPECT_EQ(error_of(p), "(valid)");
  p.obfuscation.s4 = 1320;
  EXPECT_EQ(error_of(p),
            "obfuscation.s4: 1320: transport datagram with one data byte needs 1351 bytes "
            "(s4 + 4 + 2 + 24 + 1), more than kcp.max_packet_size 1350");
  p.obfuscation.s4 = 1312;
  p.obfuscation.transport_replay = true;  // counter adds 8
  EXPECT_EQ(error_of(p),
            "obfuscation.s4: 1312: transport datagram with one data byte needs 1351 bytes "
            "(s4 + 4 + 10 + 24 + 1), more than kcp.max_packet_size 1350");
  p.obfuscation.s4 = 1311;
  EXPECT_EQ(error_of(p), "(valid)");
}

TEST(Validate, JunkAgainstPacketSize) {
  Profile p = with_kcp(1000);
  p.obfuscation.jc = 3;
  p.obfuscation.jmax = 1000;
  EXPECT_EQ(error_of(p), "(valid)");
  p.obfuscation.jmax = 1001;
  EXPECT_EQ(error_of(p), "obfuscation.jmax: 1001: junk datagram exceeds kcp.max_packet_size 1000");
}

TEST(Validate, PaddingAgainstPacketSizeAndMtu) {
  Profile p = with_kcp(1350);
  p.transport_padding.emplace();
  p.transport_padding->pad_burst_max = 1351;
  EXPECT_EQ(error_of(p), "transport_padding.pad_burst_max: 1351: exceeds kcp.max_packet_size 1350");
  p.transport_padding->pad_burst_max = 1320;  // MTU 1350 - 4 - 2 - 1320 = 24: no room for data
  EXPECT_EQ(error_of(p),
            "transport_padding: padding reserve 1320: leaves a KCP MTU of 24 bytes (must be > 24)");
  p.transport_padding->pad_burst_max = 1319;
  EXPECT_EQ(error_of(p), "(valid)");
  p.transport_padding->pad_burst_prob = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_of(p), "transport_padding.pad_burst_prob: NaN: must be a finite number");
  p.transport_padding->pad_burst_prob = 1.5;
  std::vector<std::string> warnings;
  ASSERT_TRUE(validate_profile(p, warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "transport_padding.pad_burst_prob: 1.5: outside [0, 1], clamped when used");
  EXPECT_EQ(padding_policy(p).pad_burst_prob, 1.0);
}

TEST(Validate, MaxPayloadSentinelAndTinyPayload) {
  Profile p = with_kcp(1350);
  p.kcp->max_payload = 1200;  // sentinel: use max_packet_size
  EXPECT_EQ(envelope::derive_sizes(size_inputs(p)).effective_max_payload, 1346u);
  p.kcp->max_payload = 1201;
  EXPECT_EQ(envelope::derive_sizes(size_inputs(p)).effective_max_payload, 1201u);
  p.kcp->max_payload = 26;  // 26 - 2 = 24: no data byte fits
  EXPECT_EQ(error_of(p), "kcp.max_payload: 26: leaves a KCP MTU of 24 bytes (must be > 24)");
  p.kcp->max_payload = 27;
  EXPECT_EQ(error_of(p), "(valid)");
  p.kcp->max_payload = 0;
  EXPECT_EQ(error_of(p), "kcp.max_payload: 0: leaves a KCP MTU of 1 bytes (must be > 24)");
}

TEST(Validate, SizeDerivationVectors) {
  const auto vectors = test::load_vectors("misc-vectors.json")["size_derivations"];
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    Profile p = with_kcp(v["max_packet_size"].get<std::uint64_t>());
    p.kcp->max_payload = v["kcp.max_payload"].get<std::uint64_t>();
    p.obfuscation.s4 = v["s4"].get<std::int32_t>();
    p.obfuscation.transport_replay = v["transport_replay"].get<bool>();
    if (v["padding_enabled"].get<bool>()) {
      p.transport_padding.emplace();
      p.transport_padding->pad_max = v["pad_max"].get<std::uint64_t>();
      p.transport_padding->pad_burst_max = v["pad_burst_max"].get<std::uint64_t>();
    }
    EXPECT_EQ(error_of(p), "(valid)");
    const envelope::Sizes s = envelope::derive_sizes(size_inputs(p));
    EXPECT_EQ(s.effective_max_payload, v["effective_max_payload"].get<std::uint32_t>());
    EXPECT_EQ(s.padding_reserve, v["padding_reserve"].get<std::uint32_t>());
    EXPECT_EQ(s.kcp_mtu, v["kcp_mtu"].get<std::uint32_t>());
    EXPECT_EQ(s.kcp_mss, v["kcp_mss"].get<std::uint32_t>());
    EXPECT_EQ(s.max_datagram, v["max_datagram"].get<std::uint32_t>());
  }
}

TEST(Convert, ObfConfigAppliesHeaderDefaults) {
  Profile p = base();
  p.obfuscation.h1 = std::string("100-199");
  p.obfuscation.h3 = std::string("300");
  p.obfuscation.s1 = 3;
  p.obfuscation.s4 = 9;
  p.obfuscation.i1 = std::string("<t>");
  p.obfuscation.jc = 2;
  p.obfuscation.classify_mode = obf::ClassifyMode::Strict;
  const obf::Config c = obf_config(p);
  EXPECT_EQ(c.h[0], (obf::HeaderRange{100, 199}));
  EXPECT_EQ(c.h[1], (obf::HeaderRange{2, 2}));
  EXPECT_EQ(c.h[2], (obf::HeaderRange{300, 300}));
  EXPECT_EQ(c.h[3], (obf::HeaderRange{4, 4}));
  EXPECT_EQ(c.s[0], 3u);
  EXPECT_EQ(c.s[3], 9u);
  EXPECT_EQ(c.i[0], "<t>");
  EXPECT_EQ(c.jc, 2);
  EXPECT_EQ(c.classify, obf::ClassifyMode::Strict);
  EXPECT_TRUE(c.validate().ok());
}

TEST(Convert, PaddingPolicyAndSizeInputs) {
  Profile p = base();
  EXPECT_FALSE(padding_policy(p).enabled);
  const envelope::SizeInputs none = size_inputs(p);
  EXPECT_EQ(none.max_packet_size, 1350u);
  EXPECT_EQ(none.max_payload, 1200u);
  p.transport_padding.emplace();
  p.transport_padding->pad_min = 3;
  p.transport_padding->pad_burst_prob = -0.5;
  p.obfuscation.s4 = 7;
  p.obfuscation.transport_replay = true;
  const envelope::PaddingPolicy pol = padding_policy(p);
  EXPECT_TRUE(pol.enabled);
  EXPECT_EQ(pol.pad_min, 3u);
  EXPECT_EQ(pol.pad_max, 96u);
  EXPECT_EQ(pol.pad_burst_prob, 0.0);
  const envelope::SizeInputs in = size_inputs(p);
  EXPECT_EQ(in.s4, 7u);
  EXPECT_TRUE(in.transport_replay);
  EXPECT_TRUE(in.padding.enabled);
}

TEST(Convert, ClientProxyAddr) {
  Profile p = base();
  auto a = client_proxy_addr(p);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 9000);
  p.proxy_addr = "my-server:9000";
  auto bad = client_proxy_addr(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            R"(proxy_addr: "my-server:9000": invalid socket address (expected IP:port or [IPv6]:port))");
}

}  // namespace
}  // namespace paniq::profile
