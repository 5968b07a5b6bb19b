#include "mux/config.hpp"

#include <gtest/gtest.h>

#include "mux/errors.hpp"

namespace paniq::mux {
namespace {

void expect_invalid(const Config& c, const std::string& message) {
  auto r = c.validate();
  ASSERT_FALSE(r.ok()) << message;
  EXPECT_EQ(r.error().code, Errc::invalid_config);
  EXPECT_EQ(r.error().message, message);
}

TEST(Config, DefaultsAreValidAndInteroperable) {
  EXPECT_TRUE(Config::defaults().validate().ok());
  EXPECT_TRUE(Config::server_defaults().validate().ok());
  EXPECT_EQ(Config::defaults().role, Role::Client);
  EXPECT_EQ(Config::server_defaults().role, Role::Server);
  EXPECT_LE(Config::defaults().max_frame_size, 65535u);
  EXPECT_FALSE(Config::defaults().half_close);  // async_smux semantics unless asked
}

TEST(Config, EachRuleNamesItsFieldAndValue) {
  Config c;
  c.max_frame_size = 0;
  expect_invalid(c, "mux.max_frame_size: 0: must be 1..65535");
  c.max_frame_size = 65536;
  expect_invalid(c, "mux.max_frame_size: 65536: must be 1..65535");
  c = Config{};
  c.max_streams = 0;
  expect_invalid(c, "mux.max_streams: 0: must be 1..1073741824");
  c = Config{};
  c.stream_recv_buffer = 0;
  expect_invalid(c, "mux.stream_recv_buffer: 0: must be positive");
  c = Config{};
  c.session_recv_budget = c.stream_recv_buffer - 1;
  expect_invalid(c, "mux.session_recv_budget: 1048575: must be at least stream_recv_buffer");
  c = Config{};
  c.recv_stall_timeout_ms = 0;
  expect_invalid(c, "mux.recv_stall_timeout_ms: 0: must be positive");
  c = Config{};
  c.outbound_limit = c.max_frame_size + 7;
  expect_invalid(c, "mux.outbound_limit: 16391: must hold one frame (max_frame_size + "
                    "frame_stretch_max + 8)");
  c.outbound_limit = c.max_frame_size + 8;
  EXPECT_TRUE(c.validate().ok());
  c = Config{};
  c.frame_stretch_max = 112;
  expect_invalid(c, "mux.frame_stretch_max: 112: needs stream_offsets");
  c.stream_offsets = true;
  EXPECT_TRUE(c.validate().ok());
  c.outbound_limit = c.max_frame_size + 8 + 111;
  expect_invalid(c, "mux.outbound_limit: 16503: must hold one frame (max_frame_size + "
                    "frame_stretch_max + 8)");
  c = Config{};
  c.stream_offsets = true;
  c.max_frame_size = 65500;
  c.frame_stretch_max = 36;
  expect_invalid(c, "mux.frame_stretch_max: 36: max_frame_size + stretch above 65535");
}

TEST(Config, ErrorCategoryHasMessages) {
  const std::error_code ec = Errc::recv_overflow;
  EXPECT_STREQ(ec.category().name(), "mux");
  EXPECT_NE(ec.message().find("receive buffer"), std::string::npos);
}

}  // namespace
}  // namespace paniq::mux
