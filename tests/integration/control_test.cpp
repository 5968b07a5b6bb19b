// app/control: the control-plane messages (PROTOCOL.md 10.2) and a round trip over a Unix socket.
#include "app/control.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

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
  EXPECT_EQ(j["Stats"].size(), 12u);
  EXPECT_EQ(j["Stats"]["udp_in_bytes"], 7);
  EXPECT_EQ(j["Stats"]["active_connections"], 3);
  for (const char* bad : {"Ping", "{}", "\"Pong\"", ""}) {
    const auto e = nlohmann::json::parse(control_response(bad, s));
    ASSERT_TRUE(e.contains("Error")) << bad;
    EXPECT_EQ(e["Error"].get<std::string>().rfind("Invalid request: ", 0), 0u) << bad;
  }
}

TEST(Control, UnixSocketRoundTrip) {
  const std::string path = ::testing::TempDir() + "paniq-control-" + std::to_string(::getpid()) + ".sock";
  asio::io_context io;
  ControlServer server(io.get_executor(), [] {
    ControlStats s;
    s.udp_out_bytes = 99;
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
  EXPECT_EQ(nlohmann::json::parse(*stats)["Stats"]["udp_out_bytes"], 99);
  server.stop();
  EXPECT_FALSE(control_request(path, "\"Ping\"", 500));  // the file is gone
}

}  // namespace
}  // namespace paniq::app
