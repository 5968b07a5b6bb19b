// net/client_driver, net/server_driver, net/mux_stream, net/relay: both drivers in one process
// over real loopback UDP, streams used through the awaitable MuxStream.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "core/rng.hpp"
#include "net/client_driver.hpp"
#include "net/endpoint.hpp"
#include "net/memory_link.hpp"
#include "net/relay.hpp"
#include "net/server_driver.hpp"
#include "net_test_util.hpp"

namespace paniq::net {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

// Echoes every byte back; on end-of-stream ends its own direction.
awaitable<void> echo(MuxStream s) {
  std::vector<std::uint8_t> buf(32 * 1024);
  for (;;) {
    const IoResult r = co_await s.read_some(MutByteView(buf));
    if (r.error || r.count == 0) break;
    if (co_await s.write_all(ByteView(buf.data(), r.count))) break;
  }
  s.shutdown_write();
}

struct Pair {
  explicit Pair(asio::io_context& io, std::uint64_t seed = 1,
                ServerDriver::StreamHandler handler = echo)
      : cfgs(test::tunnel_configs(seed)) {
    auto sock = UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (!sock) throw std::runtime_error(sock.error().message);
    server = std::make_unique<ServerDriver>(io.get_executor(), cfgs.server, test::framer(cfgs.obf),
                                            std::move(sock.value()), std::move(handler));
    client = std::make_unique<ClientDriver>(io.get_executor(), cfgs.client, test::framer(cfgs.obf),
                                            server->local_endpoint());
    server->start();
    client->start();
  }
  test::TunnelConfigs cfgs;
  std::unique_ptr<ServerDriver> server;
  std::unique_ptr<ClientDriver> client;
};

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  SeededRng rng(seed);
  Bytes b(n);
  rng.fill(b);
  return b;
}

// Writes `data` in uneven chunks while reading the echo back into `out`.
awaitable<void> echo_round_trip(MuxStream& s, const Bytes& data, Bytes& out) {
  auto writer = [&]() -> awaitable<void> {
    std::size_t off = 0, step = 1;
    while (off < data.size()) {
      const std::size_t n = std::min(data.size() - off, step * 977);
      EXPECT_FALSE(co_await s.write_all(ByteView(data.data() + off, n)));
      off += n;
      step = step % 64 + 1;
    }
  };
  auto reader = [&]() -> awaitable<void> {
    std::vector<std::uint8_t> buf(20000);
    while (out.size() < data.size()) {
      const IoResult r = co_await s.read_some(MutByteView(buf));
      EXPECT_FALSE(r.error) << r.error.message();
      if (r.error || r.count == 0) co_return;
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r.count));
    }
  };
  co_await (writer() && reader());
}

TEST(TunnelDrivers, EchoOfFourMebibytesIsByteExact) {
  asio::io_context io;
  Pair p(io);
  const Bytes data = random_bytes(4u << 20, 11);
  Bytes back;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto s = co_await p.client->open_stream();
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    if (!s) co_return;
    co_await echo_round_trip(*s, data, back);
    // Our FIN (async_smux semantics) ends both directions: read reports end-of-stream.
    EXPECT_FALSE(s->shutdown_write());
    std::array<std::uint8_t, 16> tail;
    const IoResult r = co_await s->read_some(MutByteView(tail));
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.count, 0u);
  }, 60s));
  EXPECT_EQ(back, data);
  EXPECT_EQ(p.client->client().stats().sessions_established, 1u);
  EXPECT_GE(p.server->stats().streams_accepted, 1u);
}

TEST(TunnelDrivers, FortyConcurrentStreamsShareOneSession) {
  asio::io_context io;
  Pair p(io, 2);
  constexpr int kStreams = 40;
  std::vector<Bytes> data, back(kStreams);
  for (int i = 0; i < kStreams; ++i) data.push_back(random_bytes(64 * 1024 + 13 * i, 100 + i));
  int finished = 0;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto one = [&](int i) -> awaitable<void> {
      auto s = co_await p.client->open_stream();
      EXPECT_TRUE(s);
      if (!s) co_return;
      co_await echo_round_trip(*s, data[static_cast<std::size_t>(i)], back[static_cast<std::size_t>(i)]);
      ++finished;
    };
    // Opens issued together wait for one shared handshake.
    auto group = one(0) && one(1);
    for (int i = 2; i < kStreams; ++i) group = std::move(group) && one(i);
    co_await std::move(group);
  }, 60s));
  EXPECT_EQ(finished, kStreams);
  for (int i = 0; i < kStreams; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], data[static_cast<std::size_t>(i)]) << i;
  EXPECT_EQ(p.client->client().stats().sessions_started, 1u);
}

TEST(TunnelDrivers, OpenFailsWithHandshakeTimeoutWhenNobodyAnswers) {
  asio::io_context io;
  auto cfgs = test::tunnel_configs(3);
  cfgs.client.handshake_timeout_ms = 100;
  cfgs.client.handshake_attempts = 2;
  // A bound socket that never answers (no ICMP either).
  udp::socket silent(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ClientDriver client(io.get_executor(), cfgs.client, test::framer(cfgs.obf), silent.local_endpoint());
  client.start();
  std::error_code why;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto s = co_await client.open_stream();
    EXPECT_FALSE(s);
    if (!s) why = s.error().code;
  }, 10s));
  EXPECT_EQ(why, tunnel::make_error_code(tunnel::Errc::handshake_timeout)) << why.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(TunnelDrivers, StopWakesPendingReadsAndOpens) {
  asio::io_context io;
  // The server accepts streams and never answers on them.
  Pair p(io, 4, [](MuxStream s) -> awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, 10s);
    co_await t.async_wait(use_nothrow);
    s.close();
  });
  IoResult r;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto s = co_await p.client->open_stream();
    EXPECT_TRUE(s);
    if (!s) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor, 100ms);
    t.async_wait([&](std::error_code) { p.client->stop(); });
    std::array<std::uint8_t, 8> buf;
    r = co_await s->read_some(MutByteView(buf));
    auto again = co_await p.client->open_stream();
    EXPECT_FALSE(again);
  }, 10s));
  EXPECT_EQ(r.error, asio::error::operation_aborted);
  p.server->stop();
}

// The server relays each stream to a local TCP echo server; the client checks the bytes and
// the half-close path (client FIN -> shutdown(send) towards the target -> target EOF -> FIN).
TEST(TunnelDrivers, RelayCarriesBytesAndHalfClose) {
  asio::io_context io;
  tcp::acceptor target(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  bool target_saw_eof = false;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    auto [ec, sock] = co_await target.async_accept(use_nothrow);
    if (ec) co_return;
    std::vector<std::uint8_t> buf(8192);
    for (;;) {
      auto [rec, n] = co_await sock.async_read_some(asio::buffer(buf), use_nothrow);
      if (rec) {
        target_saw_eof = rec == asio::error::eof;
        break;
      }
      co_await asio::async_write(sock, asio::buffer(buf.data(), n), use_nothrow);
    }
  }, asio::detached);
  RelayStats server_side;
  bool relay_done = false;
  const auto target_ep = target.local_endpoint();
  Pair p(io, 5, [&](MuxStream s) -> awaitable<void> {
    tcp::socket sock(co_await asio::this_coro::executor);
    auto [ec] = co_await sock.async_connect(target_ep, use_nothrow);
    if (ec) co_return;
    server_side = co_await relay(sock, s);
    relay_done = true;
  });
  const Bytes data = random_bytes(1u << 20, 21);
  Bytes back;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto s = co_await p.client->open_stream();
    EXPECT_TRUE(s);
    if (!s) co_return;
    co_await echo_round_trip(*s, data, back);
    s->shutdown_write();
    for (int i = 0; i < 200 && !relay_done; ++i) {
      asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
      co_await t.async_wait(use_nothrow);
    }
  }, 60s));
  EXPECT_EQ(back, data);
  EXPECT_TRUE(target_saw_eof);
  EXPECT_TRUE(relay_done);
  EXPECT_EQ(server_side.stream_to_tcp, data.size());
  EXPECT_EQ(server_side.tcp_to_stream, data.size());

  // The relays gave their buffers back to this thread's pool. The first idle check only notes
  // the borrows since the last one; the next, with no borrow in between, frees the buffers.
  const std::size_t pooled = relay_pool_free_buffers();
  EXPECT_GT(pooled, 0u);
  EXPECT_EQ(relay_pool_release_if_idle(), 0u) << "buffers were borrowed since the last check";
  EXPECT_EQ(relay_pool_free_buffers(), pooled);
  EXPECT_EQ(relay_pool_release_if_idle(), pooled);
  EXPECT_EQ(relay_pool_free_buffers(), 0u);
  EXPECT_EQ(relay_pool_release_if_idle(), 0u) << "nothing left to free";
}

}  // namespace
}  // namespace paniq::net

namespace paniq::net {
namespace {

// The same drivers over the in-memory network with 5 % loss each way: KCP recovers every byte.
TEST(TunnelDrivers, EchoOverALossyMemoryLink) {
  asio::io_context io;
  auto cfgs = test::tunnel_configs(6);
  MemoryNetwork net(io.get_executor(), 0.05, 99);
  const udp::endpoint server_ep(asio::ip::make_address("10.0.0.1"), 9000);
  auto sock = net.open(server_ep);
  ASSERT_TRUE(sock);
  ServerDriver server(io.get_executor(), cfgs.server, test::framer(cfgs.obf), std::move(sock.value()), echo);
  ClientDriver client(io.get_executor(), cfgs.client, test::framer(cfgs.obf), server_ep,
                      [&](const udp::endpoint& remote) {
                        return net.open(udp::endpoint(asio::ip::make_address("10.0.0.2"), 0), remote);
                      });
  server.start();
  client.start();
  const Bytes data = random_bytes(1u << 20, 31);
  Bytes back;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> awaitable<void> {
    auto s = co_await client.open_stream();
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    if (!s) co_return;
    co_await echo_round_trip(*s, data, back);
  }, 60s));
  EXPECT_EQ(back, data);
  EXPECT_GT(net.dropped(), 0u);
  EXPECT_EQ(to_string(server.endpoint().peer(1).has_value() ? to_endpoint(*server.endpoint().peer(1)) : udp::endpoint{}),
            "10.0.0.2:40000");
}

}  // namespace
}  // namespace paniq::net
