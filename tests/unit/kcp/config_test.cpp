// Config, bdp_window and resolve_windows (src/kcp/config.hpp), PROTOCOL.md 6.3-6.4.
#include "kcp/config.hpp"

#include <gtest/gtest.h>

#include "kcp/errors.hpp"
#include "support/vectors.hpp"

namespace paniq::kcp {
namespace {

TEST(Config, DefaultsAreTheReferenceParameters) {
  const Config c = Config::defaults();
  EXPECT_EQ(c.nodelay, 1u);
  EXPECT_EQ(c.interval, 10u);
  EXPECT_EQ(c.resend, 2u);
  EXPECT_EQ(c.fast_limit, 5u);
  EXPECT_EQ(c.congestion, Congestion::none);
  EXPECT_EQ(c.loss_recovery, LossRecovery::ikcp);
  EXPECT_TRUE(c.stream);
  EXPECT_EQ(c.snd_wnd, 1024u);
  EXPECT_EQ(c.rcv_wnd, 1024u);
  EXPECT_EQ(c.max_snd_queue, 1024u);
  EXPECT_EQ(c.dead_link, 20u);
  EXPECT_EQ(c.output, OutputMode::one_segment_per_datagram);
  EXPECT_EQ(c.rto_mode, RtoMode::ikcp);
  EXPECT_EQ(c.initial_sn, 0u);
  EXPECT_TRUE(c.validate().ok());
}

TEST(Config, ReferenceTakesProfileValues) {
  const Config c = Config::reference(7, 1203, 1, 2000, 3000, 500);
  EXPECT_EQ(c.conv, 7u);
  EXPECT_EQ(c.mtu, 1203u);
  EXPECT_EQ(c.mss(), 1179u);
  EXPECT_EQ(c.interval, 1u);  // not clamped to 10 as canonical ikcp would
  EXPECT_EQ(c.snd_wnd, 2000u);
  EXPECT_EQ(c.rcv_wnd, 3000u);
  EXPECT_EQ(c.max_snd_queue, 500u);
  EXPECT_TRUE(c.validate().ok());
}

void expect_invalid(const Config& c, const std::string& text) {
  auto r = c.validate();
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.error().code, make_error_code(Errc::invalid_config));
  EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
}

TEST(Config, ValidateNamesFieldAndValue) {
  Config c;
  c.mtu = 49;
  expect_invalid(c, "kcp.mtu: 49:");
  c = Config{};
  c.mtu = 70000;
  expect_invalid(c, "kcp.mtu: 70000:");
  c = Config{};
  c.nodelay = 3;
  expect_invalid(c, "kcp.nodelay: 3:");
  c = Config{};
  c.interval = 0;
  expect_invalid(c, "kcp.interval: 0:");
  c.interval = 5001;
  expect_invalid(c, "kcp.interval: 5001:");
  c = Config{};
  c.snd_wnd = 0;
  expect_invalid(c, "kcp.snd_wnd: 0:");
  c.snd_wnd = 65536;
  expect_invalid(c, "kcp.snd_wnd: 65536:");
  c = Config{};
  c.rcv_wnd = 127;
  expect_invalid(c, "kcp.rcv_wnd: 127:");
  c.rcv_wnd = 65536;
  expect_invalid(c, "kcp.rcv_wnd: 65536:");
  c = Config{};
  c.dead_link = 0;
  expect_invalid(c, "kcp.dead_link: 0:");
  c = Config{};
  c.max_snd_queue = 0;
  expect_invalid(c, "kcp.max_snd_queue: 0:");
  c.max_snd_queue = (1u << 20) + 1;
  expect_invalid(c, "kcp.max_snd_queue: 1048577:");
  c = Config{};
  c.mtu = 1400;
  c.record_stretch = 64136;
  expect_invalid(c, "kcp.record_stretch: 64136:");
  c.record_stretch = 64135;
  EXPECT_TRUE(c.validate().ok());
  c = Config{};
  c.mtu = 50;
  c.interval = 5000;
  c.snd_wnd = 65535;
  c.rcv_wnd = 128;
  EXPECT_TRUE(c.validate().ok());
}

TEST(Config, BdpWindowVectors) {
  const auto v = test::load_vectors("misc-vectors.json").at("bdp_window");
  ASSERT_GE(v.size(), 2u);
  for (const auto& c : v) {
    const auto w = bdp_window(c.at("mtu").get<std::uint32_t>(),
                              c.at("target_bps").get<std::uint64_t>(),
                              c.at("rtt_ms").get<std::uint64_t>());
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(*w, c.at("window").get<std::uint32_t>());
  }
}

TEST(Config, BdpWindowEdges) {
  EXPECT_FALSE(bdp_window(1400, 0, 100));
  EXPECT_FALSE(bdp_window(1400, 80'000'000, 0));
  EXPECT_FALSE(bdp_window(24, 80'000'000, 100));
  EXPECT_FALSE(bdp_window(1400, 7, 100));  // target_bps / 8 == 0
  EXPECT_EQ(bdp_window(1400, 8, 1), 1u);   // 1 byte/s for 1 ms: ceil -> 1 byte -> 1 segment
  EXPECT_EQ(bdp_window(25, 8000, 1000), 1000u);  // mss 1: 1000 bytes in flight
  EXPECT_EQ(bdp_window(1400, UINT64_MAX, UINT64_MAX), UINT32_MAX);  // saturates
}

TEST(Config, ResolveWindows) {
  WindowInputs in;
  EXPECT_EQ(resolve_windows(in), (Windows{1024, 1024, 1024}));

  in.mtu = 1203;
  in.target_bps = 100'000'000;
  in.rtt_ms = 100;  // bdp 1061 (misc-vectors.json)
  EXPECT_EQ(resolve_windows(in), (Windows{1061, 1061, 1061}));

  in.target_bps = 10'000'000;  // bdp 107: max(bdp, 1024)
  EXPECT_EQ(resolve_windows(in), (Windows{1024, 1024, 1024}));

  in.send_window = 300;
  in.recv_window = 64;  // raised to ikcp's floor of 128
  in.max_snd_queue = 77;
  EXPECT_EQ(resolve_windows(in), (Windows{300, 128, 77}));

  WindowInputs big;
  big.mtu = 1400;
  big.target_bps = 10'000'000'000;  // 10 Gbit/s x 1 s: far above what u16 wnd carries
  big.rtt_ms = 1000;
  EXPECT_EQ(resolve_windows(big), (Windows{65535, 65535, 65535}));
  big.send_window = 100000;
  EXPECT_EQ(resolve_windows(big).snd_wnd, 65535u);
  EXPECT_EQ(resolve_windows(big).max_snd_queue, 65535u);
}

TEST(Config, SizeDerivationsGiveValidConfigs) {
  // The MTUs the envelope arithmetic produces (misc-vectors.json size_derivations) are valid
  // KCP MTUs and their MSS is the derived kcp_mss.
  const auto v = test::load_vectors("misc-vectors.json").at("size_derivations");
  for (const auto& c : v) {
    Config cfg = Config::defaults();
    cfg.mtu = c.at("kcp_mtu").get<std::uint32_t>();
    EXPECT_TRUE(cfg.validate().ok());
    EXPECT_EQ(cfg.mss(), c.at("kcp_mss").get<std::uint32_t>());
  }
}

TEST(Config, ErrorCategory) {
  const std::error_code e = make_error_code(Errc::conv_mismatch);
  EXPECT_STREQ(e.category().name(), "paniq.kcp");
  EXPECT_EQ(e.message(), "KCP conversation id mismatch");
  EXPECT_FALSE(make_error_code(Errc::ok));
}

}  // namespace
}  // namespace paniq::kcp
