#include "net/socket_records.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace paniq::net {
namespace {

using namespace std::chrono_literals;

// Runs `io` until one timer wait completes and calls the release from that completion, as the
// daemons' trim loop does. Returns what the release destroyed.
std::size_t release_on_a_tick(asio::io_context& io) {
  asio::steady_timer timer(io, 1ms);
  std::size_t released = 0;
  bool fired = false;
  timer.async_wait([&](std::error_code) {
    released = release_retired_socket_records(io);
    fired = true;
  });
  io.restart();
  for (int i = 0; i < 1000 && !fired; ++i) io.run_one_for(100ms);
  EXPECT_TRUE(fired);
  return released;
}

std::vector<std::unique_ptr<udp::socket>> open_udp(asio::io_context& io, std::size_t n) {
  std::vector<std::unique_ptr<udp::socket>> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(std::make_unique<udp::socket>(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)));
  }
  return out;
}

TEST(SocketRecords, AClosedSocketsRecordIsDestroyedOnTheSecondTickAndItsPagesGoBack) {
  asio::io_context io(1);
  release_on_a_tick(io);  // the reactor exists from here on
  const SocketRecordCounts base = socket_record_counts();

  auto socks = open_udp(io, 300);
  const SocketRecordCounts held = socket_record_counts();
  EXPECT_EQ(held.live, base.live + 300);
  EXPECT_GE(held.chunks, base.chunks + 300 / 23);

  socks.clear();
  const SocketRecordCounts closed = socket_record_counts();
  EXPECT_EQ(closed.live, base.live);
  EXPECT_EQ(closed.retired, base.retired + 300);
  EXPECT_EQ(closed.chunks, held.chunks);  // Asio would keep them all for the next sockets

  // The first tick only marks them: an event collected before they closed could still name one.
  EXPECT_EQ(release_on_a_tick(io), 0u);
  EXPECT_EQ(socket_record_counts().retired, base.retired + 300);
  // The second destroys them, and their pages are unmapped.
  EXPECT_EQ(release_on_a_tick(io), 300u);
  const SocketRecordCounts after = socket_record_counts();
  EXPECT_EQ(after.retired, base.retired);
  EXPECT_EQ(after.chunks, base.chunks);
}

TEST(SocketRecords, ANewSocketReusesARetiredRecordAsAsioWould) {
  asio::io_context io(1);
  auto first = open_udp(io, 50);
  const SocketRecordCounts held = socket_record_counts();
  first.resize(10);  // 40 close
  EXPECT_EQ(socket_record_counts().retired, held.retired + 40);
  auto again = open_udp(io, 40);
  const SocketRecordCounts reopened = socket_record_counts();
  EXPECT_EQ(reopened.retired, held.retired);
  EXPECT_EQ(reopened.live, held.live);
  EXPECT_EQ(reopened.chunks, held.chunks);  // no new record was made
  // Records that were reused are live again: no tick destroys them.
  EXPECT_EQ(release_on_a_tick(io), 0u);
  EXPECT_EQ(release_on_a_tick(io), 0u);
  EXPECT_EQ(socket_record_counts().live, held.live);
}

TEST(SocketRecords, DestroyingTheContextDestroysItsRetiredRecords) {
  const SocketRecordCounts base = socket_record_counts();
  {
    asio::io_context io(1);
    auto socks = open_udp(io, 100);
    socks.resize(30);
    EXPECT_EQ(release_on_a_tick(io), 0u);  // 70 retired, now waiting for the next tick
    auto more = open_udp(io, 5);
  }
  const SocketRecordCounts after = socket_record_counts();
  EXPECT_EQ(after.live, base.live);
  EXPECT_EQ(after.retired, base.retired);
  EXPECT_EQ(after.chunks, base.chunks);
}

TEST(SocketRecords, OnlyTheGivenContextsRecordsAreReleased) {
  asio::io_context one(1);
  asio::io_context two(1);
  auto a = open_udp(one, 20);
  auto b = open_udp(two, 20);
  a.clear();
  b.clear();
  EXPECT_EQ(release_on_a_tick(one), 0u);
  EXPECT_EQ(release_on_a_tick(one), 20u);
  EXPECT_EQ(release_on_a_tick(two), 0u);
  EXPECT_EQ(release_on_a_tick(two), 20u);
}

// Connections that open, exchange bytes and close while a 1 ms timer releases retired records
// all the time: sockets close inside handlers whose reactor pass also collected events for
// them, which is what the two-tick rule is for. Every byte must come back, and every record
// must be accounted for at the end.
TEST(SocketRecords, ChurnOfConnectionsWithReleasesEveryMillisecond) {
  asio::io_context io(1);
  const SocketRecordCounts base = socket_record_counts();
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const tcp::endpoint at = acceptor.local_endpoint();
  constexpr int kConnections = 600;
  constexpr int kAtOnce = 40;
  int echoed = 0;
  int verified = 0;
  std::size_t released = 0;
  bool done = false;

  asio::co_spawn(io, [&]() -> awaitable<void> {
    for (int i = 0; i < kConnections; ++i) {
      auto [ec, peer] = co_await acceptor.async_accept(use_nothrow);
      if (ec) co_return;
      asio::co_spawn(io, [&, s = std::move(peer)]() mutable -> awaitable<void> {
        std::array<std::uint8_t, 1024> buf{};
        auto [rec, n] = co_await asio::async_read(s, asio::buffer(buf), use_nothrow);
        if (rec) co_return;
        co_await asio::async_write(s, asio::buffer(buf, n), use_nothrow);
        ++echoed;
      }, asio::detached);
    }
  }, asio::detached);

  auto client = [&](int id) -> awaitable<void> {
    tcp::socket s(io);
    auto [cec] = co_await s.async_connect(at, use_nothrow);
    if (cec) co_return;
    std::array<std::uint8_t, 1024> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(id * 31 + i);
    co_await asio::async_write(s, asio::buffer(out), use_nothrow);
    std::array<std::uint8_t, 1024> in{};
    auto [rec, n] = co_await asio::async_read(s, asio::buffer(in), use_nothrow);
    if (!rec && n == in.size() && in == out) ++verified;
  };
  asio::co_spawn(io, [&]() -> awaitable<void> {
    for (int started = 0; started < kConnections; started += kAtOnce) {
      int finished = 0;
      for (int i = 0; i < kAtOnce; ++i) {
        asio::co_spawn(io, client(started + i), [&](std::exception_ptr) { ++finished; });
      }
      asio::steady_timer wait(io);
      for (int spins = 0; spins < 10000 && finished < kAtOnce; ++spins) {
        wait.expires_after(1ms);
        co_await wait.async_wait(use_nothrow);
      }
    }
    done = true;
  }, asio::detached);

  asio::co_spawn(io, [&]() -> awaitable<void> {
    asio::steady_timer tick(io);
    while (!done) {
      tick.expires_after(1ms);
      co_await tick.async_wait(use_nothrow);
      released += release_retired_socket_records(io);
    }
  }, asio::detached);

  io.run_for(60s);
  EXPECT_TRUE(done);
  EXPECT_EQ(verified, kConnections);
  EXPECT_EQ(echoed, kConnections);
  EXPECT_GT(released, 0u);
  acceptor.close();
  release_on_a_tick(io);  // two ticks: every record retired by now is destroyed
  release_on_a_tick(io);
  const SocketRecordCounts after = socket_record_counts();
  EXPECT_EQ(after.live, base.live);
  EXPECT_EQ(after.retired, base.retired);
}

}  // namespace
}  // namespace paniq::net
