// app/control: the control-plane messages (PROTOCOL.md 10.2) with our extension counters, and a
// round trip over a Unix socket.
#include "app/control.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "net_test_util.hpp"

namespace paniq::app {
namespace {

TEST(Control, PingAndStatsAndErrors) {
  ControlStats s;
  s.udp_in_bytes = 7;
  s.active_connections = 3;
  EXPECT_EQ(control_response("\"Ping\"", s), "\"Pong\"");
  const auto j = nlohmann::json::parse(control_response(" \"GetStats\" ", s));
  ASSERT_TRUE(j.contains("Stats"));
  EXPECT_EQ(j["Stats"].size(), 12u + extension_fields().size() + 1u);
  EXPECT_EQ(j["Stats"]["udp_in_bytes"], 7);
  EXPECT_EQ(j["Stats"]["active_connections"], 3);
  for (const char* bad : {"Ping", "{}", "\"Pong\"", ""}) {
    const auto e = nlohmann::json::parse(control_response(bad, s));
    ASSERT_TRUE(e.contains("Error")) << bad;
    EXPECT_EQ(e["Error"].get<std::string>().rfind("Invalid request: ", 0), 0u) << bad;
  }
}

// A Rust paniq-ctl reads the 12 reference counters: they come first, in the reference's order,
// then the extension counters, then "auth" with only the non-zero reasons.
TEST(Control, StatsFieldOrderAndValues) {
  ControlStats s;
  std::uint64_t v = 1000;
  for (const ControlField& f : reference_fields()) s.*f.member = v++;
  for (const ControlField& f : extension_fields()) s.*f.member = v++;
  s.auth = {{"mac1_invalid", 5}, {"policy", 0}, {"rate_limited", 7}};
  const auto j = nlohmann::ordered_json::parse(control_response("\"GetStats\"", s));
  const auto& st = j["Stats"];
  const std::vector<std::string> reference{
      "udp_in_bytes", "udp_out_bytes", "transport_payload_in_bytes",
      "transport_payload_out_bytes", "transport_padding_in_bytes", "transport_padding_out_bytes",
      "transport_frame_in_bytes", "transport_frame_out_bytes", "transport_invalid_length",
      "transport_counter_reject", "transport_payload_too_large", "active_connections"};
  ASSERT_EQ(reference_fields().size(), reference.size());
  std::vector<std::string> keys;
  for (auto it = st.begin(); it != st.end(); ++it) keys.push_back(it.key());
  ASSERT_EQ(keys.size(), 12u + extension_fields().size() + 1u);
  for (std::size_t i = 0; i < reference.size(); ++i) EXPECT_EQ(keys[i], reference[i]) << i;
  for (std::size_t i = 0; i < extension_fields().size(); ++i) {
    EXPECT_EQ(keys[12 + i], extension_fields()[i].name) << i;
  }
  EXPECT_EQ(keys.back(), "auth");
  v = 1000;
  for (const auto& k : std::vector<std::string>(keys.begin(), keys.end() - 1)) {
    EXPECT_EQ(st[k].get<std::uint64_t>(), v++) << k;
  }
  for (const char* name : {"datagrams_in", "datagrams_out", "sessions_created", "sessions_active",
                           "drop_unclassified", "drop_policy", "drop_transport_replay",
                           "drop_cap_total", "drop_cap_host"}) {
    EXPECT_TRUE(st.contains(name)) << name;
  }
  EXPECT_EQ(st["auth"], (nlohmann::ordered_json{{"mac1_invalid", 5}, {"rate_limited", 7}}));
  const auto empty = nlohmann::json::parse(control_response("\"GetStats\"", ControlStats{}));
  EXPECT_TRUE(empty["Stats"]["auth"].is_object());
  EXPECT_TRUE(empty["Stats"]["auth"].empty());
}

TEST(Control, UnixSocketRoundTrip) {
  const std::string path = ::testing::TempDir() + "paniq-control-" + std::to_string(::getpid()) + ".sock";
  asio::io_context io;
  ControlServer server(io.get_executor(), [] {
    ControlStats s;
    s.udp_out_bytes = 99;
    s.drop_policy = 4;
    s.auth = {{"replay", 3}};
    return s;
  });
  ASSERT_TRUE(server.listen(path));
  server.start();
  std::thread t([&] { io.run_for(std::chrono::seconds(10)); });
  auto pong = control_request(path, "\"Ping\"");
  auto stats = control_request(path, "\"GetStats\"");
  io.stop();
  t.join();
  ASSERT_TRUE(pong) << pong.error().message;
  EXPECT_EQ(*pong, "\"Pong\"");
  ASSERT_TRUE(stats);
  const auto j = nlohmann::json::parse(*stats);
  EXPECT_EQ(j["Stats"]["udp_out_bytes"], 99);
  EXPECT_EQ(j["Stats"]["drop_policy"], 4);
  EXPECT_EQ(j["Stats"]["auth"]["replay"], 3);
  server.stop();
  EXPECT_FALSE(control_request(path, "\"Ping\"", 500));  // the file is gone
}

}  // namespace
}  // namespace paniq::app
