// net/dial: resolution and happy-eyeballs connects against local listeners.
#include "net/dial.hpp"

#include <gtest/gtest.h>

#include "net/endpoint.hpp"
#include "net_test_util.hpp"

namespace paniq::net {
namespace {

using namespace std::chrono_literals;

socks5::Address ip_target(const char* ip, std::uint16_t port) {
  return to_socks_address(asio::ip::make_address(ip), port);
}

TEST(Dial, ConnectsToAnIPv4Listener) {
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), ip_target("127.0.0.1", acc.local_endpoint().port()), 2s);
  }));
  ASSERT_TRUE(d.socket) << d.error.message();
  EXPECT_EQ(d.socket->remote_endpoint().port(), acc.local_endpoint().port());
  EXPECT_TRUE(d.socket->is_open());
}

TEST(Dial, RefusedPortReportsConnectionRefused) {
  asio::io_context io;
  std::uint16_t port;
  {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acc.local_endpoint().port();
  }  // closed again: nothing listens there now
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), ip_target("127.0.0.1", port), 2s);
  }));
  EXPECT_FALSE(d.socket);
  EXPECT_EQ(d.stage, DialOutcome::Stage::connect);
  EXPECT_EQ(d.error, std::errc::connection_refused) << d.error.message();
}

TEST(Dial, NameWithBothFamiliesFallsBackToTheOneThatListens) {
  // localhost usually resolves to ::1 and 127.0.0.1; only the IPv4 one listens here, so the
  // IPv6 attempt fails (refused) and the next family is tried at once.
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto target = socks5::Address::domain("localhost", acc.local_endpoint().port());
  ASSERT_TRUE(target);
  DialOutcome d;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), *target, 3s);
  }));
  ASSERT_TRUE(d.socket) << d.error.message();
  EXPECT_EQ(unmap(d.socket->remote_endpoint().address()), asio::ip::make_address("127.0.0.1"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(Dial, UnresolvableNameFailsAtResolve) {
  asio::io_context io;
  auto target = socks5::Address::domain("no-such-host.invalid", 80);
  ASSERT_TRUE(target);
  DialOutcome d;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    d = co_await dial(io.get_executor(), *target, 3s);
  }));
  EXPECT_FALSE(d.socket);
  EXPECT_EQ(d.stage, DialOutcome::Stage::resolve);
  EXPECT_TRUE(d.error);
}

TEST(Dial, ResolveUdpKeepsIpTargets) {
  asio::io_context io;
  std::pair<std::error_code, udp::endpoint> r;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    r = co_await resolve_udp(io.get_executor(), ip_target("::1", 53), 1s);
  }));
  EXPECT_FALSE(r.first);
  EXPECT_EQ(r.second, udp::endpoint(asio::ip::make_address("::1"), 53));
}

}  // namespace
}  // namespace paniq::net
