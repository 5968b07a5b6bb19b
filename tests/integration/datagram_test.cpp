// net/datagram: batched UDP send/receive over loopback, IPv4 and dual-stack IPv6.
#include "net/datagram.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "core/rng.hpp"
#include "net/endpoint.hpp"
#include "net_test_util.hpp"

namespace paniq::net {
namespace {

bool have_ipv6() {
  asio::io_context io;
  udp::socket s(io);
  std::error_code ec;
  s.open(udp::v6(), ec);
  if (!ec) s.bind(udp::endpoint(asio::ip::make_address("::1"), 0), ec);
  return !ec;
}

// Sends `count` numbered datagrams of varying sizes from `from` to `to` in batches and checks
// they arrive whole (loopback does not drop at this volume: the socket buffers are 4 MiB).
awaitable<void> send_and_check(DatagramSocket& from, const udp::endpoint* to, DatagramSocket& sink,
                               std::size_t count, udp::endpoint* seen_from) {
  SeededRng rng(7);
  std::vector<Bytes> sent(count);
  std::vector<ByteView> views;
  for (std::size_t i = 0; i < count; ++i) {
    sent[i].resize(8 + rng.uniform(0, 1400));
    rng.fill(sent[i]);
    put_u32_be(sent[i].data(), static_cast<std::uint32_t>(i));
    views.emplace_back(sent[i]);
  }
  std::size_t done = 0;
  while (done < count) {
    const IoResult r = from.try_send(std::span<const ByteView>(views).subspan(done), to);
    done += r.count;
    if (r.error) {
      EXPECT_TRUE(r.error == asio::error::would_block || r.error == asio::error::try_again) << r.error.message();
      EXPECT_FALSE(co_await from.wait_writable());
    }
  }
  std::vector<std::uint8_t> storage(32 * 2048);
  std::array<RecvSlot, 32> slots;
  for (std::size_t i = 0; i < slots.size(); ++i) slots[i].buffer = MutByteView(storage.data() + i * 2048, 2048);
  std::size_t got = 0;
  std::size_t batches = 0;
  while (got < count) {
    const IoResult r = co_await sink.receive(slots);
    EXPECT_FALSE(r.error) << r.error.message();
    if (r.error) co_return;
    ++batches;
    for (std::size_t i = 0; i < r.count; ++i) {
      const ByteView d(slots[i].buffer.data(), slots[i].size);
      EXPECT_GE(d.size(), 4u);
      if (d.size() < 4) co_return;
      const std::uint32_t n = get_u32_be(d.data());
      EXPECT_LT(n, count);
      if (n >= count) co_return;
      EXPECT_TRUE(std::equal(d.begin(), d.end(), sent[n].begin(), sent[n].end())) << "datagram " << n;
      if (seen_from) *seen_from = slots[i].from;
      ++got;
    }
  }
  EXPECT_EQ(got, count);
  EXPECT_LT(batches, count);  // at least one batch held more than one datagram
}

TEST(Datagram, ConnectedClientToBoundServerIPv4) {
  asio::io_context io;
  auto server = UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ASSERT_TRUE(server) << server.error().message;
  auto client = UdpDatagramSocket::connect(io.get_executor(), (*server)->local_endpoint());
  ASSERT_TRUE(client) << client.error().message;
  udp::endpoint seen;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    co_await send_and_check(**client, nullptr, **server, 500, &seen);
  }));
  EXPECT_EQ(seen, (*client)->local_endpoint());
  // And back: the server answers the client's address.
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    co_await send_and_check(**server, &seen, **client, 200, nullptr);
  }));
}

TEST(Datagram, DualStackServerSeesIPv4ClientsAsMapped) {
  if (!have_ipv6()) GTEST_SKIP() << "no IPv6 on this host";
  asio::io_context io;
  auto server = UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(udp::v6(), 0));
  ASSERT_TRUE(server) << server.error().message;
  const auto port = (*server)->local_endpoint().port();
  auto client = UdpDatagramSocket::connect(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  ASSERT_TRUE(client) << client.error().message;
  udp::endpoint seen;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    co_await send_and_check(**client, nullptr, **server, 50, &seen);
  }));
  ASSERT_TRUE(seen.address().is_v6());
  EXPECT_TRUE(seen.address().to_v6().is_v4_mapped());
  EXPECT_EQ(unmap(seen.address()), asio::ip::make_address("127.0.0.1"));
  // The mapped address round-trips through PeerAddr and reaches the client.
  const udp::endpoint back = to_endpoint(to_peer(seen));
  EXPECT_EQ(back, seen);
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    co_await send_and_check(**server, &back, **client, 50, nullptr);
  }));
}

TEST(Datagram, BindReportsPortInUse) {
  asio::io_context io;
  auto first = UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ASSERT_TRUE(first);
  auto second = UdpDatagramSocket::bind(io.get_executor(), (*first)->local_endpoint());
  ASSERT_FALSE(second);
  EXPECT_EQ(to_generic(second.error().code), std::errc::address_in_use);
  EXPECT_NE(second.error().message.find("127.0.0.1:"), std::string::npos) << second.error().message;
}

TEST(Datagram, CloseEndsAPendingReceive) {
  asio::io_context io;
  auto s = UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ASSERT_TRUE(s);
  std::array<std::uint8_t, 64> buf;
  std::array<RecvSlot, 1> slots{RecvSlot{MutByteView(buf), 0, {}}};
  IoResult r;
  asio::steady_timer t(io, std::chrono::milliseconds(20));
  t.async_wait([&](std::error_code) { (*s)->close(); });
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> { r = co_await (*s)->receive(slots); }));
  EXPECT_EQ(r.count, 0u);
  EXPECT_EQ(r.error, asio::error::operation_aborted);
}

}  // namespace
}  // namespace paniq::net
