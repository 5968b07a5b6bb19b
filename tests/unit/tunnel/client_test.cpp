// Client: sessions on demand, opens waiting for one handshake, failure of all of them
// together, replacement sessions on fresh sockets.
#include "tunnel/client.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::kWall;
using test::drain;

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

// The client never serves a stream the server opens (docs/tunnel.md "Client", as the Rust
// client): it closes it at once, its application hears nothing of it, and the server sees the
// stream end while the client's own stream goes on working.
TEST(Client, RefusesServerOpenedStreams) {
  sim::LinkParams p;
  p.delay_ms = 10;
  test::EndToEnd e(test::client_config(), test::server_config(), test::wire_obf_config(), p, p, 3);
  std::optional<ServerSessionId> session;
  std::optional<mux::StreamId> pushed;
  bool pushed_ended = false;
  std::string server_got;
  e.on_server = [&](test::EndToEnd& ee, const ServerEvent& ev) {
    mux::Session* m = ee.server->mux(ev.session);
    if (ev.kind == ServerEventKind::StreamOpened && !pushed) {
      session = ev.session;
      auto id = m->open_stream(ee.now());
      ASSERT_TRUE(id);
      pushed = *id;
      ASSERT_TRUE(m->write(*id, as_bytes("unsolicited"), ee.now()));
      return;
    }
    if (pushed && ev.stream == *pushed) {
      std::uint8_t buf[64];
      auto r = m->read(*pushed, MutByteView(buf, sizeof buf));
      const bool would_block = !r && r.error().code == mux::make_error_code(mux::Errc::would_block);
      if (ev.kind == ServerEventKind::StreamClosed || (r && *r == 0) || (!r && !would_block)) {
        pushed_ended = true;
      }
    } else if (ev.kind == ServerEventKind::Readable) {
      std::uint8_t buf[64];
      if (auto r = m->read(ev.stream, MutByteView(buf, sizeof buf)); r && *r > 0) {
        server_got.append(reinterpret_cast<const char*>(buf), *r);
      }
    }
  };
  (void)e.client.open_stream(e.now(), e.wall());
  std::optional<mux::StreamId> own;
  ASSERT_TRUE(e.run_until(
      [&] {
        for (const auto& ev : e.client_events) {
          if (ev.kind == ClientEventKind::StreamReady) own = ev.stream;
        }
        return own.has_value();
      },
      5000));
  ASSERT_TRUE(e.run_until([&] { return pushed_ended; }, 5000)) << "the server's stream never ended";
  ASSERT_TRUE(pushed);
  EXPECT_EQ(*pushed % 2, 0u) << "server-opened ids are even";
  // No open reaches the application. (An edge event the mux had queued behind the SYN, e.g.
  // Readable for the data that came with it, may still name the stream; the shell ignores
  // edges of streams it does not hold.)
  for (const auto& ev : e.client_events) {
    if (ev.stream != *pushed) continue;
    EXPECT_TRUE(ev.kind == ClientEventKind::Readable || ev.kind == ClientEventKind::Writable ||
                ev.kind == ClientEventKind::StreamClosed)
        << "the client application was handed the server's stream: event " << static_cast<int>(ev.kind);
  }
  mux::Session* cm = e.client.mux(e.client.current_id());
  ASSERT_NE(cm, nullptr);
  EXPECT_FALSE(cm->contains(*pushed)) << "the client keeps no state for it";
  std::uint8_t buf[16];
  EXPECT_FALSE(cm->read(*pushed, MutByteView(buf, sizeof buf))) << "its data is not readable";
  // The client's own stream still works on the same session.
  ASSERT_TRUE(cm->write(*own, as_bytes("still here"), e.now()));
  ASSERT_TRUE(e.run_until([&] { return server_got == "still here"; }, 5000)) << server_got;
  EXPECT_EQ(e.client.current_id(), SessionId{1});
  EXPECT_EQ(e.client.stats().sessions_died, 0u);
}

}  // namespace
}  // namespace paniq::tunnel
