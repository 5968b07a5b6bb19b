// Daemon configuration files (2.2).
#include "profile/daemon_config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "support/vectors.hpp"

namespace paniq::profile {
namespace {

using std::chrono::milliseconds;

std::string socks_error(const std::string& text) {
  std::vector<std::string> notes;
  auto r = parse_socks5d_config_json(text, notes);
  return r.ok() ? std::string("(valid)") : r.error().message;
}

TEST(DaemonConfig, Socks5dExampleLoads) {
  std::vector<std::string> notes;
  auto r = parse_socks5d_config_json(test::load_vectors("example-socks5d-config.json").dump(), notes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(r->listen_addr, "127.0.0.1:1080");
  EXPECT_FALSE(r->username);
  EXPECT_FALSE(r->password);
  EXPECT_EQ(r->workers, 8u);
  EXPECT_EQ(r->max_connections, 128u);
  EXPECT_EQ(r->dial_timeout, milliseconds(5000));
  EXPECT_EQ(r->accept_timeout, milliseconds(500));
  EXPECT_EQ(r->idle_timeout, milliseconds(120'000));
  EXPECT_EQ(r->metrics_interval, milliseconds(10'000));
  EXPECT_EQ(r->log_level, "info");
  EXPECT_EQ(r->control_socket, "/tmp/socks5d.sock");
}

TEST(DaemonConfig, ProxyServerExamplesLoad) {
  const std::pair<const char*, const char*> files[] = {
      {"example-proxy-server-config.json", "0.0.0.0:9000"},
      {"example-paniq-rs-proxy-config.json", "0.0.0.0:9001"},
  };
  for (const auto& [file, listen] : files) {
    std::vector<std::string> notes;
    auto r = parse_proxy_server_config_json(test::load_vectors(file).dump(), notes);
    ASSERT_TRUE(r.ok()) << file << ": " << r.error().message;
    EXPECT_EQ(r->listen_addr, listen);
    EXPECT_EQ(r->accept_timeout, milliseconds(500));
    EXPECT_EQ(r->idle_timeout, milliseconds(120'000));
    EXPECT_EQ(r->log_level, "info");
    EXPECT_TRUE(r->control_socket.has_value());
  }
}

TEST(DaemonConfig, DefaultsWhenEmpty) {
  std::vector<std::string> notes;
  auto s = parse_socks5d_config_json("{}", notes);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, Socks5dConfig{});
  auto p = parse_proxy_server_config_json("{}", notes);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, ProxyServerConfig{});
  EXPECT_EQ(p->listen_addr, "0.0.0.0:9000");
  EXPECT_FALSE(p->control_socket);
}

TEST(DaemonConfig, ValidationRulesWithFieldPaths) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"workers":0})", "workers: 0: must be > 0"},
      {R"({"max_connections":0})", "max_connections: 0: must be > 0"},
      {R"({"log_level":"verbose"})", R"(log_level: "verbose": must be one of debug, info, warn, error)"},
      {R"({"dial_timeout":"301s"})", R"(dial_timeout: "301s": too long (max 300s))"},
      {R"({"accept_timeout":"61s"})", R"(accept_timeout: "61s": too long (max 60s))"},
      {R"({"accept_timeout":"5h"})", R"(accept_timeout: "5h": unknown duration format: 5h)"},
      {R"({"idle_timeout":120})", R"(idle_timeout: 120: must be a duration string such as "5s" or "500ms")"},
      {R"({"workers":-1})", "workers: -1: must be a non-negative integer"},
      {R"({"workers":"8"})", R"(workers: "8": must be a non-negative integer)"},
      {R"({"username":5})", "username: 5: must be a string or null"},
      {R"({"listen_addr":"localhost:1080"})",
       R"(listen_addr: "localhost:1080": invalid socket address (expected IP:port or [IPv6]:port))"},
      {R"({"listen_addr":"127.0.0.1"})",
       R"(listen_addr: "127.0.0.1": invalid socket address (expected IP:port or [IPv6]:port))"},
      {"[]", "config: []: must be a JSON object"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(socks_error(text), message) << text;
  EXPECT_EQ(socks_error(R"({"dial_timeout":"300.999s","accept_timeout":"60s"})"), "(valid)");
}

TEST(DaemonConfig, LogLevelCaseInsensitiveAndIpv6Listen) {
  std::vector<std::string> notes;
  auto r =
      parse_socks5d_config_json(R"({"log_level":"WaRn","listen_addr":"[::1]:1080","username":"u"})", notes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->log_level, "warn");
  EXPECT_EQ(r->listen_addr, "[::1]:1080");
  EXPECT_EQ(r->username, "u");
}

TEST(DaemonConfig, FastConnectExtension) {
  std::vector<std::string> notes;
  auto on = parse_socks5d_config_json(R"({"fast_connect":true})", notes);
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on->fast_connect);
  EXPECT_FALSE(Socks5dConfig{}.fast_connect);  // off unless asked for
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(socks_error(R"({"fast_connect":"yes"})"), R"(fast_connect: "yes": must be true or false)");
  // Not a proxy-server key.
  auto p = parse_proxy_server_config_json(R"({"fast_connect":true})", notes);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], R"(unknown field "fast_connect" ignored)");
}

TEST(DaemonConfig, MaxStreamsPerUser) {
  std::vector<std::string> notes;
  EXPECT_FALSE(ProxyServerConfig{}.max_streams_per_user);  // derived from max_connections
  auto p = parse_proxy_server_config_json(R"({"max_streams_per_user":20})", notes);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->max_streams_per_user, std::optional<std::uint64_t>(20));
  EXPECT_TRUE(notes.empty());
  auto zero = parse_proxy_server_config_json(R"({"max_streams_per_user":0})", notes);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message, "max_streams_per_user: 0: must be > 0");
  auto text = parse_proxy_server_config_json(R"({"max_streams_per_user":"many"})", notes);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("max_streams_per_user"), std::string::npos);
}

TEST(DaemonConfig, SpeedtestTargetSetting) {
  std::vector<std::string> notes;
  EXPECT_TRUE(ProxyServerConfig{}.speedtest);  // on unless turned off (docs/speedtest.md)
  auto off = parse_proxy_server_config_json(R"({"speedtest":false})", notes);
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off->speedtest);
  EXPECT_TRUE(notes.empty());
  auto bad = parse_proxy_server_config_json(R"({"speedtest":"no"})", notes);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, R"(speedtest: "no": must be true or false)");
}

TEST(DaemonConfig, EgressTargetLists) {
  std::vector<std::string> notes;
  auto none = parse_proxy_server_config_json("{}", notes);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->allow_targets.empty());
  EXPECT_TRUE(none->deny_targets.empty());
  auto r = parse_proxy_server_config_json(
      R"({"allow_targets":["127.0.0.0/8","[::1]/128"],"deny_targets":["127.0.0.1:22"]})", notes);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(notes.empty());
  EXPECT_EQ(r->allow_targets, (std::vector<std::string>{"127.0.0.0/8", "[::1]/128"}));
  EXPECT_EQ(r->deny_targets, (std::vector<std::string>{"127.0.0.1:22"}));
  auto empty = parse_proxy_server_config_json(R"({"allow_targets":[]})", notes);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->allow_targets.empty());
  auto proxy_error = [](const char* text) {
    std::vector<std::string> n;
    auto p = parse_proxy_server_config_json(text, n);
    return p.ok() ? std::string("(valid)") : p.error().message;
  };
  EXPECT_EQ(proxy_error(R"({"allow_targets":"127.0.0.0/8"})"),
            R"(allow_targets: "127.0.0.0/8": must be an array of strings)");
  EXPECT_EQ(proxy_error(R"({"deny_targets":["10.0.0.0/8", 5]})"), "deny_targets[1]: 5: must be a string");
  // Rule syntax is checked by tunnel::EgressPolicy (tests/unit/tunnel/egress_test.cpp).
  EXPECT_EQ(proxy_error(R"({"allow_targets":["10.0.0.0/33"]})"), "(valid)");
  // Not socks5d keys.
  auto s = parse_socks5d_config_json(R"({"allow_targets":[]})", notes);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(notes.back(), R"(unknown field "allow_targets" ignored)");
}

TEST(DaemonConfig, UnknownKeysAreNotes) {
  std::vector<std::string> notes;
  auto r = parse_proxy_server_config_json(R"({"username":"x","threads":4})", notes);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0], R"(unknown field "threads" ignored)");
  EXPECT_EQ(notes[1], R"(unknown field "username" ignored)");
}

TEST(DaemonConfig, LoadFiles) {
  std::vector<std::string> notes;
  auto none = load_socks5d_config("", notes);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(notes.empty());
  auto missing = load_proxy_server_config("/nonexistent/proxy.json", notes);
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, ProxyServerConfig{});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "config file /nonexistent/proxy.json not found; using defaults");

  const std::string path = ::testing::TempDir() + "daemon_config_test.json";
  {
    std::ofstream out(path);
    out << R"({"workers": 0})";
  }
  auto bad = load_socks5d_config(path, notes);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "config " + path + ": workers: 0: must be > 0");
  {
    std::ofstream out(path);
    out << "{\n  \"workers\": 2,\n";
  }
  auto broken = load_socks5d_config(path, notes);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, make_error_code(Errc::invalid_json));
  {
    std::ofstream out(path);
    out << R"({"workers": 2, "dial_timeout": "1.5s"})";
  }
  auto good = load_socks5d_config(path, notes);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->workers, 2u);
  EXPECT_EQ(good->dial_timeout, milliseconds(1500));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace paniq::profile
