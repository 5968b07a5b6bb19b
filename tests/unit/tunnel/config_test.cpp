// Tunnel configuration from profiles (PROTOCOL.md 2.1, 5.4, 6.3, 6.4) and validation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "profile/profile.hpp"
#include "tunnel/client.hpp"
#include "tunnel/server.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

profile::Profile load(const std::string& file) {
  std::ifstream in(std::string(PANIQ_VECTOR_DIR) + "/" + file);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> warnings;
  auto p = profile::parse_profile_json(text.str(), warnings);
  if (!p) throw std::runtime_error(p.error().message);
  return *p;
}

TEST(TunnelConfig, ClientFromExampleProfile) {
  const auto p = load("example-profile.json");
  auto c = client_config_from_profile(p);
  ASSERT_TRUE(c) << c.error().message;
  // PROTOCOL.md 5.4 worked example: budget 1309, MTU 1203, largest datagram 1350.
  EXPECT_EQ(c->link.sizes.effective_max_payload, 1309u);
  EXPECT_EQ(c->link.kcp.mtu, 1203u);
  EXPECT_EQ(c->link.sizes.max_datagram, 1350u);
  EXPECT_EQ(c->link.kcp.interval, 20u);
  EXPECT_EQ(c->link.kcp.snd_wnd, 1024u);
  EXPECT_EQ(c->link.kcp.rcv_wnd, 1024u);
  EXPECT_EQ(c->link.kcp.max_snd_queue, 1024u);
  EXPECT_EQ(c->link.kcp.conv, 0u);
  EXPECT_EQ(c->link.kcp.nodelay, 1u);
  EXPECT_EQ(c->link.kcp.resend, 2u);
  EXPECT_EQ(c->link.kcp.congestion, kcp::Congestion::bbr);
  EXPECT_EQ(c->link.kcp.loss_recovery, kcp::LossRecovery::rack);
  EXPECT_EQ(c->link.kcp.output, kcp::OutputMode::one_segment_per_datagram);
  EXPECT_TRUE(c->link.padding.enabled);
  EXPECT_EQ(c->link.padding.pad_burst_max, 104u);
  EXPECT_FALSE(c->link.transport_replay);
  EXPECT_EQ(c->link.mux.role, mux::Role::Client);
  EXPECT_EQ(c->link.mux.keepalive_interval_ms, 20'000u) << "absent keepalive -> 20 s";
  EXPECT_EQ(c->link.mux.max_streams, 256u);
  EXPECT_TRUE(c->link.liveness.enabled);
  EXPECT_EQ(c->handshake_timeout_ms, 5000u);
  EXPECT_EQ(c->handshake_attempts, 3u);
  EXPECT_EQ(c->preamble_delay_ms, 5u);
  EXPECT_EQ(c->preamble_jitter_ms, 5u);
  // Issue #6: a server key in the profile means the Go-style authenticated Initiation.
  ASSERT_TRUE(c->auth.server_public);
  EXPECT_EQ(to_hex(*c->auth.server_public),
            "376abbf00c12cef4f0981f4800474f4eb1c8ce5c8f06fc1442f590bbb7804739");
  EXPECT_TRUE(c->auth.encrypted_timestamp);
  EXPECT_EQ(c->auth.payload_len(), 101u);
}

TEST(TunnelConfig, ServerFromExampleProfile) {
  auto p = load("example-profile.json");
  auto c = server_config_from_profile(p);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->link.mux.role, mux::Role::Server);
  EXPECT_EQ(c->link.mux.keepalive_interval_ms, 0u);
  EXPECT_FALSE(c->link.liveness.enabled);
  EXPECT_EQ(c->idle_timeout_ms, 120'000u) << "absent idle_timeout -> the reference's 120 s";
  EXPECT_EQ(c->link.kcp.mtu, 1203u);

  p.obfuscation.transport_replay = true;
  p.kcp->keepalive = profile::Millis(30'000);
  p.kcp->idle_timeout = profile::Millis(300'000);
  p.kcp->max_streams = 4096;
  c = server_config_from_profile(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->idle_timeout_ms, 300'000u);
  EXPECT_EQ(c->link.kcp.mtu, 1195u) << "misc-vectors: 8 more bytes for the counter";
  EXPECT_EQ(c->link.mux.max_streams, 4096u);
  auto cc = client_config_from_profile(p);
  ASSERT_TRUE(cc);
  EXPECT_EQ(cc->link.mux.keepalive_interval_ms, 30'000u);
  EXPECT_TRUE(cc->link.transport_replay);
}

TEST(TunnelConfig, MinimalProfileUsesDefaults) {
  const auto p = load("example-minimal-profile.json");
  auto c = client_config_from_profile(p);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->link.kcp.mtu, 1344u) << "misc-vectors: no kcp section, no padding, s4 0";
  EXPECT_EQ(c->link.kcp.interval, 10u);
  EXPECT_FALSE(c->link.padding.enabled);
  EXPECT_EQ(c->preamble_delay_ms, 5u) << "null -> 5 ms";
  EXPECT_EQ(c->preamble_jitter_ms, 0u);
  EXPECT_FALSE(c->auth.server_public) << "no key: the Rust-compatible empty Initiation";
  EXPECT_EQ(c->auth.payload_len(), 0u);
  auto s = server_config_from_profile(p);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->auth.authenticates()) << "every require_* false, no key: relaxed";
}

// Segment packing (docs/protocol.md 3.1): on by default (offer + follow on the client, the key
// on the server); kcp.pack_segments = false is exactly the reference: no tag, no packing.
TEST(TunnelConfig, SegmentPackingFromProfile) {
  auto p = load("example-profile.json");
  auto c = client_config_from_profile(p);
  auto s = server_config_from_profile(p);
  ASSERT_TRUE(c && s);
  ASSERT_TRUE(c->auth.capability_key);
  EXPECT_TRUE(c->link.follow_packing);
  ASSERT_TRUE(s->capability_key);
  EXPECT_EQ(*s->capability_key, *c->auth.capability_key) << "both ends derive the same key";
  p.kcp->pack_segments = false;
  c = client_config_from_profile(p);
  s = server_config_from_profile(p);
  ASSERT_TRUE(c && s);
  EXPECT_FALSE(c->auth.capability_key);
  EXPECT_FALSE(c->link.follow_packing);
  EXPECT_FALSE(s->capability_key);
  // The JSON field round-trips (written only when off).
  std::vector<std::string> warnings;
  auto back = profile::parse_profile_json(profile::to_json(p), warnings);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->kcp->pack_segments);
  auto doc = nlohmann::json::parse(profile::to_json(p));
  doc["kcp"]["pack_segments"] = 1;
  auto bad = profile::parse_profile_json(doc.dump(), warnings);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("kcp.pack_segments"), std::string::npos) << bad.error().message;
}

// Stream offsets (docs/protocol.md 7.8): offered and accepted by default; kcp.stream_offsets =
// false turns both off, and the JSON field round-trips (written only when off).
TEST(TunnelConfig, StreamOffsetsFromProfile) {
  auto p = load("example-profile.json");
  auto c = client_config_from_profile(p);
  auto s = server_config_from_profile(p);
  ASSERT_TRUE(c && s);
  EXPECT_TRUE(c->link.stream_offsets);
  EXPECT_TRUE(s->link.stream_offsets);
  p.kcp->stream_offsets = false;
  c = client_config_from_profile(p);
  s = server_config_from_profile(p);
  ASSERT_TRUE(c && s);
  EXPECT_FALSE(c->link.stream_offsets);
  EXPECT_FALSE(s->link.stream_offsets);
  std::vector<std::string> warnings;
  auto back = profile::parse_profile_json(profile::to_json(p), warnings);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->kcp->stream_offsets);
  auto doc = nlohmann::json::parse(profile::to_json(p));
  doc["kcp"]["stream_offsets"] = "no";
  auto bad = profile::parse_profile_json(doc.dump(), warnings);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("kcp.stream_offsets"), std::string::npos) << bad.error().message;
}

// The paced sender (docs/kcp.md 6): bbr + rack by default, the reference's nc + ikcp on request;
// windows default to 4096 only for the paced sender; the bandwidth hint is converted from wire
// Mbit/s to KCP segment bytes; bad values name the field; non-defaults round-trip.
TEST(TunnelConfig, PacedSenderFromProfile) {
  auto p = load("example-profile.json");
  p.kcp->send_window.reset();
  p.kcp->recv_window.reset();
  p.kcp->max_snd_queue.reset();
  p.kcp->target_bps.reset();
  p.kcp->rtt_ms.reset();
  auto c = client_config_from_profile(p);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->link.kcp.congestion, kcp::Congestion::bbr);
  EXPECT_EQ(c->link.kcp.loss_recovery, kcp::LossRecovery::rack);
  EXPECT_EQ(c->link.kcp.snd_wnd, kcp::kPacedDefaultWindow);
  EXPECT_EQ(c->link.kcp.rcv_wnd, kcp::kPacedDefaultWindow);
  EXPECT_EQ(c->link.kcp.bandwidth_hint, 0u);
  p.kcp->congestion = "none";
  p.kcp->loss_recovery = "ikcp";
  c = client_config_from_profile(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->link.kcp.congestion, kcp::Congestion::none);
  EXPECT_EQ(c->link.kcp.loss_recovery, kcp::LossRecovery::ikcp);
  EXPECT_FALSE(c->link.kcp.paced_sender());
  EXPECT_EQ(c->link.kcp.snd_wnd, 1024u) << "the reference's window with the reference's sender";
  p.kcp->congestion = "ikcp";
  p.kcp->bandwidth_mbps = 20.0;
  c = client_config_from_profile(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->link.kcp.congestion, kcp::Congestion::ikcp);
  // 20 Mbit/s = 2.5 MB/s on the wire; a full datagram carries kcp_mtu 1203 segment bytes in
  // 1350 + 28 wire bytes.
  EXPECT_EQ(c->link.kcp.bandwidth_hint, static_cast<std::uint64_t>(2'500'000.0 * 1203 / 1378));
  std::vector<std::string> warnings;
  auto back = profile::parse_profile_json(profile::to_json(p), warnings);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->kcp->congestion, "ikcp");
  EXPECT_EQ(back->kcp->loss_recovery, "ikcp");
  ASSERT_TRUE(back->kcp->bandwidth_mbps);
  EXPECT_EQ(*back->kcp->bandwidth_mbps, 20.0);
  const auto reject = [&](const char* key, nlohmann::json value, const char* why) {
    auto doc = nlohmann::json::parse(profile::to_json(p));
    doc["kcp"][key] = value;
    auto bad = profile::parse_profile_json(doc.dump(), warnings);
    ASSERT_FALSE(bad) << key;
    EXPECT_NE(bad.error().message.find(std::string("kcp.") + key), std::string::npos)
        << bad.error().message;
    EXPECT_NE(bad.error().message.find(why), std::string::npos) << bad.error().message;
  };
  reject("congestion", "reno", "must be one of \"bbr\", \"ikcp\", \"none\"");
  reject("congestion", 3, "must be one of");
  reject("loss_recovery", "dupack", "must be one of \"rack\", \"ikcp\"");
  reject("bandwidth_mbps", 0, "above 0");
  reject("bandwidth_mbps", "fast", "above 0");
}

TEST(TunnelConfig, BdpWindowsAndNullHandshakeTimeout) {
  auto p = load("example-profile.json");
  p.kcp->send_window.reset();
  p.kcp->recv_window.reset();
  p.kcp->target_bps = 800'000'000;
  p.kcp->rtt_ms = 100;
  p.handshake_timeout.reset();
  p.handshake_attempts = 0;
  auto c = client_config_from_profile(p);
  ASSERT_TRUE(c);
  // ceil(ceil(10^8 * 100 / 1000) / 1179) = 8482 segments.
  EXPECT_EQ(c->link.kcp.snd_wnd, 8482u);
  EXPECT_EQ(c->link.kcp.rcv_wnd, 8482u);
  EXPECT_EQ(c->handshake_timeout_ms, 5000u);
  EXPECT_EQ(c->handshake_attempts, 1u);
}

TEST(TunnelConfig, UnusableDerivedSizesAreRejectedWithTheField) {
  auto p = load("example-profile.json");
  p.kcp->max_packet_size = 64;
  p.obfuscation.s4 = 10;
  auto c = link_config_from_profile(p, mux::Role::Client);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("kcp.mtu"), std::string::npos) << c.error().message;
}

TEST(TunnelConfig, ErrorCategoryNamesEveryCode) {
  for (int i = 1; i <= static_cast<int>(Errc::invalid_config); ++i) {
    const std::string m = make_error_code(static_cast<Errc>(i)).message();
    EXPECT_FALSE(m.empty());
    EXPECT_EQ(m.find("unknown"), std::string::npos) << i;
  }
  EXPECT_STREQ(make_error_code(Errc::closed).category().name(), "tunnel");
}

}  // namespace
}  // namespace paniq::tunnel
