// Client: sessions on demand, opens waiting for one handshake, failure of all of them
// together, replacement sessions on fresh sockets.
#include "tunnel/client.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr WallTime kWall{1'700'000'000, 0};

std::vector<ClientEvent> drain(Client& c) {
  std::vector<ClientEvent> out;
  while (auto e = c.poll_event()) out.push_back(*e);
  return out;
}

std::size_t count(const std::vector<ClientEvent>& es, ClientEventKind k) {
  std::size_t n = 0;
  for (const auto& e : es) n += e.kind == k;
  return n;
}

Bytes response(std::uint32_t conv) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(conv);
  return envelope::build_response(fr, conv, rng);
}

TEST(Client, ConcurrentOpensShareOneHandshake) {
  SeededRng rng(1);
  Client c(test::client_config(), test::framer(test::wire_obf_config()), rng);
  std::vector<OpenTicket> tickets;
  for (int i = 0; i < 5; ++i) tickets.push_back(c.open_stream(10 + i, kWall));
  auto es = drain(c);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].kind, ClientEventKind::NeedSocket);
  const SessionId sid = es[0].session;
  EXPECT_EQ(sid, c.current_id());
  // The Initiation goes out on that session's socket.
  const auto tx = c.transmit();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(tx[0].session, sid);
  c.consume_transmit(1);
  EXPECT_EQ(c.mux(sid), nullptr) << "no mux before the handshake";
  c.handle_datagram(sid, response(0xabc), 50);
  es = drain(c);
  ASSERT_EQ(es.size(), 6u);
  EXPECT_EQ(es[0].kind, ClientEventKind::SessionReady);
  std::set<OpenTicket> ready;
  std::set<mux::StreamId> streams;
  for (std::size_t i = 1; i < es.size(); ++i) {
    EXPECT_EQ(es[i].kind, ClientEventKind::StreamReady);
    EXPECT_EQ(es[i].session, sid);
    ready.insert(es[i].ticket);
    streams.insert(es[i].stream);
  }
  EXPECT_EQ(ready, std::set<OpenTicket>(tickets.begin(), tickets.end()));
  EXPECT_EQ(streams, (std::set<mux::StreamId>{3, 5, 7, 9, 11}));
  ASSERT_NE(c.mux(sid), nullptr);
  // SYNs of all five go out together with the next flush.
  c.flush(50);
  EXPECT_FALSE(c.transmit().empty());
  // An open on the established session is answered at once, without a new session.
  const OpenTicket t6 = c.open_stream(60, kWall);
  es = drain(c);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].kind, ClientEventKind::StreamReady);
  EXPECT_EQ(es[0].ticket, t6);
  EXPECT_EQ(es[0].stream, 13u);
  EXPECT_EQ(c.stats().sessions_started, 1u);
}

TEST(Client, FailedHandshakeFailsAllWaitingOpensThenRetriesOnNextOpen) {
  SeededRng rng(2);
  ClientConfig cfg = test::client_config();
  cfg.handshake_timeout_ms = 500;
  cfg.handshake_attempts = 2;
  Client c(cfg, test::framer(test::wire_obf_config()), rng);
  for (int i = 0; i < 3; ++i) (void)c.open_stream(0, kWall);
  const SessionId first = c.current_id();
  TimeMs t = 0;
  int sends = 0;
  while (auto next = c.next_timeout()) {
    sends += static_cast<int>(c.transmit().size());
    c.consume_transmit(c.transmit().size());
    t = *next;
    c.handle_timeout(t);
    ASSERT_LT(t, 10'000u);
  }
  EXPECT_EQ(sends, 2);
  auto es = drain(c);
  EXPECT_EQ(count(es, ClientEventKind::OpenFailed), 3u);
  EXPECT_EQ(count(es, ClientEventKind::SessionClosed), 1u);
  for (const auto& e : es) {
    if (e.kind == ClientEventKind::OpenFailed || e.kind == ClientEventKind::SessionClosed) {
      EXPECT_EQ(e.error, make_error_code(Errc::handshake_timeout));
      EXPECT_EQ(e.session, first);
    }
  }
  EXPECT_GE(t, 1000u);
  EXPECT_LE(t, 1200u);
  EXPECT_EQ(c.stats().sessions_failed, 1u);
  // The next open starts a fresh session on a fresh socket.
  (void)c.open_stream(t, kWall);
  es = drain(c);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].kind, ClientEventKind::NeedSocket);
  EXPECT_EQ(es[0].session, first + 1);
  // Datagrams still arriving on the old socket are ignored.
  c.handle_datagram(first, response(1), t);
  EXPECT_EQ(c.stats().datagrams_stale, 1u);
  EXPECT_TRUE(drain(c).empty());
}

TEST(Client, CancelledOpenGetsNoEvent) {
  SeededRng rng(3);
  Client c(test::client_config(), test::framer(test::wire_obf_config()), rng);
  const OpenTicket a = c.open_stream(0, kWall);
  const OpenTicket b = c.open_stream(0, kWall);
  c.cancel_open(a);
  drain(c);
  c.handle_datagram(c.current_id(), response(7), 5);
  const auto es = drain(c);
  ASSERT_EQ(count(es, ClientEventKind::StreamReady), 1u);
  for (const auto& e : es) {
    if (e.kind == ClientEventKind::StreamReady) {
      EXPECT_EQ(e.ticket, b);
    }
  }
  // Cancelling after the answer was queued releases the stream.
  const OpenTicket d = c.open_stream(6, kWall);
  c.cancel_open(d);
  EXPECT_TRUE(drain(c).empty());
  EXPECT_EQ(c.mux(c.current_id())->stream_count(), 1u);
}

TEST(Client, CloseFailsWaitingOpens) {
  SeededRng rng(4);
  Client c(test::client_config(), test::framer(test::wire_obf_config()), rng);
  (void)c.open_stream(0, kWall);
  drain(c);
  c.close(1);
  const auto es = drain(c);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].kind, ClientEventKind::SessionClosed);
  EXPECT_EQ(es[1].kind, ClientEventKind::OpenFailed);
  EXPECT_EQ(es[1].error, make_error_code(Errc::closed));
  EXPECT_TRUE(c.transmit().empty());
}

TEST(Client, InvalidConfigThrows) {
  SeededRng rng(5);
  ClientConfig cfg = test::client_config();
  cfg.handshake_attempts = 0;
  EXPECT_THROW(Client(cfg, test::framer(test::wire_obf_config()), rng), std::invalid_argument);
}

}  // namespace
}  // namespace paniq::tunnel
