// SessionInfo snapshots (tunnel/session_info.hpp): a client and a server joined by the
// simulator with 25 ms each way and 5 % loss; one stream carries 256 KiB up and back.
#include "tunnel/session_info.hpp"

#include <gtest/gtest.h>

#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::EndToEnd;

sim::LinkParams path(std::uint32_t delay, double loss) {
  sim::LinkParams p;
  p.delay_ms = delay;
  p.jitter_ms = 2;
  p.loss = loss;
  return p;
}

constexpr std::size_t kSize = 256u << 10;

// Client: writes kSize bytes on its stream and counts what comes back.
struct Uploader {
  std::size_t sent = 0, echoed = 0;
  mux::StreamId stream = 0;
  SessionId session = 0;

  void pump(EndToEnd& e) {
    mux::Session* m = e.client.mux(session);
    if (m == nullptr || stream == 0) return;
    Bytes chunk(4096, 0x5a);
    while (sent < kSize) {
      const auto n = m->write(stream, ByteView(chunk).first(std::min(chunk.size(), kSize - sent)), e.now());
      if (!n || *n == 0) break;
      sent += *n;
    }
    std::uint8_t buf[4096];
    for (;;) {
      const auto n = m->read(stream, buf);
      if (!n || *n == 0) break;
      echoed += *n;
    }
  }
};

// Echoes every stream (what write() does not take now waits for Writable); releases a stream
// when the client ends it.
struct EchoServer {
  Bytes pending;

  void operator()(EndToEnd& e, const ServerEvent& ev) {
    mux::Session* m = e.server->mux(ev.session);
    if (m == nullptr) return;
    if (ev.kind == ServerEventKind::StreamClosed) {
      m->close(ev.stream, e.now());
      return;
    }
    std::uint8_t buf[4096];
    for (;;) {
      while (!pending.empty()) {
        const auto n = m->write(ev.stream, pending, e.now());
        if (!n || *n == 0) return;
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(*n));
      }
      const auto n = m->read(ev.stream, buf);
      if (n && *n == 0) m->close(ev.stream, e.now());
      if (!n || *n == 0) return;
      pending.assign(buf, buf + *n);
    }
  }
};

TEST(SessionInfo, SnapshotsOfBothEndsDuringATransfer) {
  EndToEnd e(test::client_config(), test::server_config(), test::wire_obf_config(),
             path(25, 0.05), path(25, 0.05), 7);
  EXPECT_FALSE(e.client.session_info(e.now()));
  EXPECT_TRUE(e.server->session_infos(e.now()).empty());

  Uploader up;
  e.on_client = [&](EndToEnd& env, const ClientEvent& ev) {
    if (ev.kind == ClientEventKind::StreamReady) {
      up.stream = ev.stream;
      up.session = ev.session;
    }
    up.pump(env);
  };
  EchoServer echo;
  e.on_server = std::ref(echo);
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return up.echoed == kSize; }, 120'000, [&](EndToEnd& env) { up.pump(env); }))
      << "sent " << up.sent << ", echoed " << up.echoed;

  const TimeMs now = e.now();
  const auto infos = e.server->session_infos(now);
  ASSERT_EQ(infos.size(), 1u);
  const SessionInfo& s = infos[0];
  EXPECT_EQ(s.id, e.server->session_ids().at(0));
  EXPECT_EQ(s.peer, "10.0.0.1:" + std::to_string(EndToEnd::kBasePort + e.client.current_id()));
  EXPECT_EQ(s.user, "");
  EXPECT_FALSE(s.encrypted);
  EXPECT_EQ(s.conv, *e.server->conv(s.id));
  EXPECT_LE(s.created, now);
  EXPECT_EQ(s.uptime_ms, now - s.created);
  EXPECT_EQ(s.last_handshake, s.created);
  EXPECT_GE(s.payload_bytes_in, kSize) << "the upload, plus KCP headers";
  EXPECT_GE(s.payload_bytes_out, kSize) << "the echo";
  EXPECT_GT(s.bytes_in, s.payload_bytes_in) << "datagrams carry the envelope around KCP";
  EXPECT_GT(s.datagrams_in, kSize / 1500);
  EXPECT_GT(s.datagrams_out, kSize / 1500);
  // 50 ms round trip plus jitter and ACK delays.
  EXPECT_GE(s.srtt_ms, 45u);
  EXPECT_LE(s.srtt_ms, 200u);
  EXPECT_GT(s.rto_ms, 0u);
  EXPECT_GT(s.retransmits, 0u) << "5 % loss";
  EXPECT_GT(s.segments_sent, s.retransmits);
  EXPECT_LT(s.retransmits * 4, s.segments_sent) << "retransmission rate far above the loss";
  EXPECT_EQ(s.streams, 1u);

  const auto c = e.client.session_info(now);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->id, e.client.current_id());
  EXPECT_EQ(c->peer, "") << "the client's server address is the shell's";
  EXPECT_EQ(c->conv, s.conv);
  // Plain mode: the server creates the session at the client's first transport datagram, sent
  // once the client's handshake completed.
  EXPECT_LE(c->created, s.created);
  EXPECT_LE(s.created - c->created, 100u) << "one trip (25 ms) plus jitter";
  EXPECT_EQ(c->uptime_ms, now - c->created);
  EXPECT_GE(c->datagrams_out, s.datagrams_in) << "some were lost on the way";
  EXPECT_GE(c->payload_bytes_out, kSize);
  EXPECT_GE(c->srtt_ms, 45u);
  EXPECT_LE(c->srtt_ms, 200u);
  EXPECT_GT(c->segments_sent, kSize / 1500);
  EXPECT_EQ(c->streams, 1u);

  // Closing the stream shows in the next snapshot.
  e.client.mux(up.session)->close(up.stream, e.now());
  e.run_for(2'000);
  EXPECT_EQ(e.server->session_infos(e.now()).at(0).streams, 0u);
  EXPECT_EQ(e.client.session_info(e.now())->streams, 0u);
}

}  // namespace
}  // namespace paniq::tunnel
