// app/proxy_service with the egress policy, in one process: the tunnel's two drivers over real
// loopback UDP, ProxyService as the server's stream handler, local TCP / UDP targets. The default
// policy answers 0x02 without dialling a loopback target and drops a loopback datagram; an allow
// rule opens exactly what it names. Only loopback targets here (tests never aim at a non-local
// address from the host's namespace): the other ranges are covered by
// tests/unit/tunnel/egress_test.cpp and, inside a namespace, tests/e2e/test_egress.py.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "app/proxy_service.hpp"
#include "net/client_driver.hpp"
#include "net/server_driver.hpp"
#include "net_test_util.hpp"
#include "socks5/stream_open.hpp"
#include "socks5/udp_header.hpp"
#include "socks5/udp_record.hpp"

namespace paniq::app {
namespace {

using namespace std::chrono_literals;
using net::MuxStream;
using net::tcp;
using net::udp;

tunnel::EgressPolicy policy(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
  auto p = tunnel::EgressPolicy::create(tunnel::EgressConfig{std::move(allow), std::move(deny), {}});
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(p.value());
}

struct ProxyPair {
  ProxyPair(asio::io_context& io, tunnel::EgressPolicy egress) : cfgs(test::tunnel_configs(7)) {
    ProxyOptions opt;
    opt.egress = std::move(egress);
    service = std::make_unique<ProxyService>(io.get_executor(), opt);
    auto sock = net::UdpDatagramSocket::bind(io.get_executor(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    if (!sock) throw std::runtime_error(sock.error().message);
    server = std::make_unique<net::ServerDriver>(
        io.get_executor(), cfgs.server, test::framer(cfgs.obf), std::move(sock.value()),
        [this](MuxStream s) { return service->serve(std::move(s)); });
    client = std::make_unique<net::ClientDriver>(io.get_executor(), cfgs.client, test::framer(cfgs.obf),
                                                 server->local_endpoint());
    server->start();
    client->start();
  }
  test::TunnelConfigs cfgs;
  std::unique_ptr<ProxyService> service;
  std::unique_ptr<net::ServerDriver> server;
  std::unique_ptr<net::ClientDriver> client;
};

// A loopback TCP listener that counts the connections it accepted.
struct CountingListener {
  explicit CountingListener(asio::io_context& io)
      : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io, loop(), asio::detached);
  }
  net::awaitable<void> loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) co_return;
      ++accepted;
      held.push_back(std::move(s));
    }
  }
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }
  tcp::acceptor acceptor;
  std::vector<tcp::socket> held;
  int accepted = 0;
};

// Opens a stream, sends a CONNECT for `target` and returns the reply byte (-1: none).
net::awaitable<int> connect_reply(net::ClientDriver& client, const socks5::Address& target) {
  auto s = co_await client.open_stream();
  if (!s) co_return -1;
  const Bytes req = socks5::encode_open_request(socks5::OpenRequest{socks5::Command::Connect, target});
  if (co_await s->write_all(ByteView(req))) co_return -1;
  std::uint8_t b = 0;
  const net::IoResult r = co_await s->read_some(MutByteView(&b, 1));
  co_return r.error || r.count == 0 ? -1 : b;
}

net::awaitable<void> pause(asio::io_context& io, std::chrono::milliseconds d) {
  asio::steady_timer t(io, d);
  co_await t.async_wait(net::use_nothrow);
}

constexpr auto kDefaultRange = static_cast<std::size_t>(tunnel::EgressVerdict::denied_default_range);
constexpr auto kRule = static_cast<std::size_t>(tunnel::EgressVerdict::denied_rule);

TEST(ProxyEgress, DefaultPolicyRefusesLoopbackWithoutDialling) {
  asio::io_context io;
  ProxyPair p(io, tunnel::EgressPolicy{});
  CountingListener target(io);
  int reply = -2, reply_name = -2;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> net::awaitable<void> {
    reply = co_await connect_reply(*p.client, socks5::Address::ipv4({127, 0, 0, 1}, target.port()));
    reply_name = co_await connect_reply(*p.client, *socks5::Address::domain("localhost", target.port()));
    co_await pause(io, 100ms);  // a dial the policy let through would be accepted by now
  }));
  EXPECT_EQ(reply, 0x02);
  EXPECT_EQ(reply_name, 0x02) << "localhost resolves to loopback addresses only";
  EXPECT_EQ(target.accepted, 0);
  EXPECT_EQ(p.service->egress_stats().connect_refused[kDefaultRange], 2u);
  EXPECT_EQ(p.service->stats().connect_ok, 0u);
}

TEST(ProxyEgress, AllowRuleOpensItsPortAndDenyWins) {
  asio::io_context io;
  CountingListener target(io), other(io);
  const std::string port = std::to_string(target.port());
  ProxyPair p(io, policy({"127.0.0.0/8:" + port}, {"127.0.0.2:" + port}));
  int ok = -2, other_port = -2, denied = -2;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> net::awaitable<void> {
    ok = co_await connect_reply(*p.client, socks5::Address::ipv4({127, 0, 0, 1}, target.port()));
    other_port = co_await connect_reply(*p.client, socks5::Address::ipv4({127, 0, 0, 1}, other.port()));
    denied = co_await connect_reply(*p.client, socks5::Address::ipv4({127, 0, 0, 2}, target.port()));
    co_await pause(io, 100ms);
  }));
  EXPECT_EQ(ok, 0x00);
  EXPECT_EQ(target.accepted, 1);
  EXPECT_EQ(other_port, 0x02);
  EXPECT_EQ(other.accepted, 0);
  EXPECT_EQ(denied, 0x02);
  EXPECT_EQ(p.service->egress_stats().connect_refused[kDefaultRange], 1u);
  EXPECT_EQ(p.service->egress_stats().connect_refused[kRule], 1u);
}

TEST(ProxyEgress, UdpDatagramsToRefusedDestinationsAreDropped) {
  asio::io_context io;
  udp::socket allowed(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  udp::socket refused(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ProxyPair p(io, policy({"127.0.0.1:" + std::to_string(allowed.local_endpoint().port())}));
  std::string got;
  bool refused_got_one = false;
  ASSERT_TRUE(test::run_coroutine(io, [&]() -> net::awaitable<void> {
    auto s = co_await p.client->open_stream();
    EXPECT_TRUE(s);
    if (!s) co_return;
    const Bytes req = socks5::encode_open_request(
        socks5::OpenRequest{socks5::Command::UdpAssociate, socks5::Address::ipv4({0, 0, 0, 0}, 0)});
    Bytes out = req;
    const auto add = [&out](const socks5::Address& to, std::string_view text) {
      const Bytes d = socks5::build_udp_datagram(to, as_bytes(text));
      const Bytes rec = socks5::encode_udp_record(ByteView(d));
      out.insert(out.end(), rec.begin(), rec.end());
    };
    // Refused first: the allowed one arriving proves the ones ahead of it were handled.
    add(socks5::Address::ipv4({127, 0, 0, 1}, refused.local_endpoint().port()), "refused");
    add(*socks5::Address::domain("localhost", refused.local_endpoint().port()), "refused name");
    add(socks5::Address::ipv4({127, 0, 0, 1}, allowed.local_endpoint().port()), "allowed");
    EXPECT_FALSE(co_await s->write_all(ByteView(out)));
    std::array<char, 64> buf;
    udp::endpoint from;
    asio::steady_timer guard(io, 5s);
    guard.async_wait([&allowed](std::error_code ec) {
      if (!ec) allowed.close();
    });
    auto [ec, n] = co_await allowed.async_receive_from(asio::buffer(buf), from, net::use_nothrow);
    guard.cancel();
    if (!ec) got.assign(buf.data(), n);
    std::error_code ignored;
    refused_got_one = refused.available(ignored) > 0;
    s->close();
  }));
  EXPECT_EQ(got, "allowed");
  EXPECT_FALSE(refused_got_one);
  EXPECT_EQ(p.service->egress_stats().udp_dropped[kDefaultRange], 2u);
}

}  // namespace
}  // namespace paniq::app
