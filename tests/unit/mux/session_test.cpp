// Session: application commands, half-close, close races, timers and bulk transfers.
// Peer-input handling (bad frames, receive limits) is in session_input_test.cpp.
#include "mux/session.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <unordered_map>
#include <vector>

#include "core/rng.hpp"
#include "mux_test_util.hpp"
#include "support/vectors.hpp"

namespace paniq::mux {
namespace {

using test::frame;
using test::has_event;
using test::take_events;
using test::take_frames;
using test::text;

Config client_cfg(bool half_close = false) {
  Config c = Config::defaults();
  c.half_close = half_close;
  return c;
}
Config server_cfg(bool half_close = false) {
  Config c = Config::server_defaults();
  c.half_close = half_close;
  return c;
}
Config with_half_close(Config c, bool half_close) {
  c.half_close = half_close;
  return c;
}

// A connected client/server pair with one stream opened by the client.
struct Pair {
  explicit Pair(bool half_close = false, const Config& c = client_cfg(),
                const Config& s = server_cfg())
      : client(with_half_close(c, half_close), 0), server(with_half_close(s, half_close), 0) {
    id = client.open_stream(0).value();
    pump();
    EXPECT_TRUE(has_event(take_events(server), EventKind::StreamOpened, id));
  }
  void pump() { test::pump_both(client, server, now); }
  Session client;
  Session server;
  StreamId id = 0;
  TimeMs now = 0;
};

TEST(Session, ClientOpensOddIdsFromThreeLikeTheVectorAndNeverReusesThem) {
  Session s(Config::defaults(), 0);
  EXPECT_EQ(s.open_stream(0).value(), 3u);
  const auto v = paniq::test::load_vectors("misc-vectors.json").at("smux_frames");
  EXPECT_EQ(to_hex(s.pending_output()), v[0].at("hex").get<std::string>());  // SYN sid=3
  s.close(3, 0);
  EXPECT_EQ(s.open_stream(0).value(), 5u);
  EXPECT_EQ(s.open_stream(0).value(), 7u);
  const auto frames = take_frames(s);
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0], frame(Cmd::Syn, 3));
  EXPECT_EQ(frames[1], frame(Cmd::Fin, 3));
  EXPECT_EQ(frames[2], frame(Cmd::Syn, 5));
  EXPECT_EQ(frames[3], frame(Cmd::Syn, 7));
}

TEST(Session, ServerOpensEvenIdsAndTheClientAcceptsThem) {
  Session client(Config::defaults(), 0), server(Config::server_defaults(), 0);
  EXPECT_EQ(server.open_stream(0).value(), 2u);
  EXPECT_EQ(server.open_stream(0).value(), 4u);
  test::pump_both(client, server, 0);
  const auto ev = take_events(client);
  EXPECT_TRUE(has_event(ev, EventKind::StreamOpened, 2));
  EXPECT_TRUE(has_event(ev, EventKind::StreamOpened, 4));
  EXPECT_EQ(client.stream_count(), 2u);
}

TEST(Session, WritesAreSplitIntoFramesOfMaxFrameSizeAndArriveIntact) {
  Config c = client_cfg();
  c.max_frame_size = 1000;
  Pair p(false, c);
  Bytes data(2500);
  SeededRng(1).fill(data);
  EXPECT_EQ(p.client.write(p.id, data, 0).value(), 2500u);
  const Bytes wire(p.client.pending_output().begin(), p.client.pending_output().end());
  const auto frames = test::decode_all(wire);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].header, (FrameHeader{Cmd::Psh, 1000, p.id}));
  EXPECT_EQ(frames[1].header.length, 1000u);
  EXPECT_EQ(frames[2].header.length, 500u);
  p.pump();
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::Readable, p.id));
  EXPECT_EQ(test::read_available(p.server, p.id), data);
  EXPECT_EQ(p.server.read(p.id, data).error().code, Errc::would_block);
  EXPECT_EQ(p.server.stats().payload_in, 2500u);
}

TEST(Session, ReadableIsReportedOnceUntilTheReaderAsksAgain) {
  Pair p;
  ASSERT_TRUE(p.client.write(p.id, text("ab"), 0));
  p.pump();
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::Readable, p.id));
  ASSERT_TRUE(p.client.write(p.id, text("cd"), 0));
  p.pump();
  EXPECT_TRUE(take_events(p.server).empty());  // not drained yet: no new event
  EXPECT_EQ(test::read_available(p.server, p.id), text("abcd"));  // ends in would_block
  ASSERT_TRUE(p.client.write(p.id, text("e"), 0));
  p.pump();
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::Readable, p.id));
}

TEST(Session, WriteStopsAtTheOutboundLimitAndWritersAreWokenInTheOrderTheyBlocked) {
  Config c = client_cfg();
  c.max_frame_size = 1000;
  c.outbound_limit = 4096;
  Session s(c, 0);
  const StreamId a = s.open_stream(0).value(), b = s.open_stream(0).value();
  const Bytes big(10000, 1);
  const std::size_t first = s.write(a, big, 0).value();
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, big.size());
  EXPECT_LE(s.pending_output().size(), c.outbound_limit);
  EXPECT_EQ(s.write(b, big, 0).value(), 0u);
  EXPECT_EQ(s.write_room(), 0u);
  s.consume_output(1000);  // still above half the limit: nobody woken
  EXPECT_TRUE(take_events(s).empty());
  s.consume_output(s.pending_output().size());
  const auto ev = take_events(s);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, EventKind::Writable);
  EXPECT_EQ(ev[0].id, a);
  EXPECT_EQ(ev[1].id, b);
  EXPECT_GT(s.write(b, big, 0).value(), 0u);
}

TEST(Session, PollOutputCopiesInOrderAndWakesWriters) {
  Config c = client_cfg();
  c.max_frame_size = 100;
  c.outbound_limit = 300;
  Session s(c, 0);
  const StreamId id = s.open_stream(0).value();
  const Bytes data(1000, 9);
  const std::size_t took = s.write(id, data, 0).value();
  ASSERT_LT(took, data.size());
  const Bytes expected(s.pending_output().begin(), s.pending_output().end());
  Bytes got(expected.size());
  EXPECT_EQ(s.poll_output(MutByteView(got).first(10)), 10u);
  EXPECT_EQ(s.poll_output(MutByteView(got).subspan(10)), expected.size() - 10);
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(has_event(take_events(s), EventKind::Writable, id));
  EXPECT_EQ(s.poll_output(got), 0u);
}

TEST(Session, ShutdownInAsyncSmuxModeClosesBothDirectionsAndTheFinIsNotEchoed) {
  Pair p(false);
  ASSERT_TRUE(p.client.write(p.id, text("request"), 0));
  ASSERT_TRUE(p.server.write(p.id, text("early"), 0));
  ASSERT_TRUE(p.client.shutdown_write(p.id, 0));
  EXPECT_EQ(p.client.write(p.id, text("x"), 0).error().code, Errc::stream_closed);
  const auto out = take_frames(p.client);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], frame(Cmd::Fin, p.id));  // FIN after the data
  const Bytes wire = encode_frame(Cmd::Psh, p.id, text("request"));
  const Bytes fin = encode_frame(Cmd::Fin, p.id);
  p.server.input(wire, 0);
  p.server.input(fin, 0);
  EXPECT_EQ(test::read_available(p.server, p.id), text("request"));
  std::uint8_t buf[16];
  EXPECT_EQ(p.server.read(p.id, buf).value(), 0u);  // end-of-stream
  EXPECT_EQ(p.server.write(p.id, text("late"), 0).error().code, Errc::stream_closed);
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::StreamClosed, p.id));
  p.server.close(p.id, 0);
  // The server's "early" data is still sent; no FIN follows it.
  const auto server_out = take_frames(p.server);
  ASSERT_EQ(server_out.size(), 1u);
  EXPECT_EQ(server_out[0].header.cmd, Cmd::Psh);
  // The client's read side ended with its FIN: the in-flight data is dropped silently.
  p.client.input(encode_frame(Cmd::Psh, p.id, text("early")), 0);
  EXPECT_EQ(p.client.read(p.id, buf).value(), 0u);
  EXPECT_EQ(p.client.stats().dropped_bytes, 5u);
  EXPECT_TRUE(take_frames(p.client).empty());
}

TEST(Session, HalfCloseModeKeepsTheOtherDirectionOpen) {
  Pair p(true);
  ASSERT_TRUE(p.client.write(p.id, text("request"), 0));
  ASSERT_TRUE(p.client.shutdown_write(p.id, 0));
  p.pump();
  EXPECT_EQ(test::read_available(p.server, p.id), text("request"));
  std::uint8_t buf[16];
  EXPECT_EQ(p.server.read(p.id, buf).value(), 0u);
  // The server keeps answering after the client's FIN, then ends its direction.
  ASSERT_TRUE(p.server.write(p.id, text("response"), 0));
  ASSERT_TRUE(p.server.shutdown_write(p.id, 0));
  p.pump();
  EXPECT_EQ(test::read_available(p.client, p.id), text("response"));
  EXPECT_EQ(p.client.read(p.id, buf).value(), 0u);
  EXPECT_TRUE(has_event(take_events(p.client), EventKind::StreamClosed, p.id));
  EXPECT_TRUE(has_event(take_events(p.server), EventKind::StreamClosed, p.id));
  p.client.close(p.id, 0);
  p.server.close(p.id, 0);
  EXPECT_TRUE(take_frames(p.client).empty());  // both FINs already sent
  EXPECT_TRUE(take_frames(p.server).empty());
}

TEST(Session, HalfCloseModeStopsWritingAfterASecondFinFromAnAsyncSmuxPeer) {
  Session s(server_cfg(true), 0);
  s.input(encode_frame(Cmd::Syn, 3), 0);
  s.input(encode_frame(Cmd::Fin, 3), 0);
  take_events(s);
  EXPECT_TRUE(s.write(3, text("still open"), 0));
  // A Rust peer answers data for its closed stream with FIN.
  s.input(encode_frame(Cmd::Fin, 3), 0);
  EXPECT_EQ(s.write(3, text("x"), 0).error().code, Errc::stream_closed);
  EXPECT_TRUE(has_event(take_events(s), EventKind::StreamClosed, 3));
  s.close(3, 0);
  const auto out = take_frames(s);
  ASSERT_EQ(out.size(), 2u);  // the data, then our FIN when released
  EXPECT_EQ(out[1], frame(Cmd::Fin, 3));
}

TEST(Session, CrossingFinsCloseCleanlyInBothModes) {
  for (bool half : {false, true}) {
    SCOPED_TRACE(half ? "half-close" : "async_smux");
    Pair p(half);
    ASSERT_TRUE(p.client.write(p.id, text("c2s"), 0));
    ASSERT_TRUE(p.server.write(p.id, text("s2c"), 0));
    ASSERT_TRUE(p.client.shutdown_write(p.id, 0));
    ASSERT_TRUE(p.server.shutdown_write(p.id, 0));
    p.pump();
    // In half-close mode the data crossing the FIN is delivered; in async_smux mode it is
    // dropped by the side that already shut down, exactly like the Rust peer.
    EXPECT_EQ(test::read_available(p.server, p.id), half ? text("c2s") : Bytes{});
    EXPECT_EQ(test::read_available(p.client, p.id), half ? text("s2c") : Bytes{});
    std::uint8_t buf[4];
    EXPECT_EQ(p.client.read(p.id, buf).value(), 0u);
    EXPECT_EQ(p.server.read(p.id, buf).value(), 0u);
    p.client.close(p.id, 0);
    p.server.close(p.id, 0);
    p.pump();
    EXPECT_EQ(p.client.stats().fin_answers + p.server.stats().fin_answers, 0u);
    EXPECT_EQ(p.client.stream_count() + p.server.stream_count(), 0u);
  }
}

TEST(Session, DataInFlightToAClosedStreamIsDroppedWithoutAFinStorm) {
  Pair p;
  p.client.close(p.id, 0);  // FIN queued
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(p.server.write(p.id, text("late"), 0));
  test::pump(p.server, p.client, 0);  // crosses the FIN
  EXPECT_EQ(p.client.stats().dropped_bytes, 20u);
  EXPECT_EQ(p.client.stats().fin_answers, 0u);
  const auto out = take_frames(p.client);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], frame(Cmd::Fin, p.id));
}

TEST(Session, OpenWriteAndCloseBeforeAnythingIsSentStillDeliversInOrder) {
  Session client(client_cfg(), 0), server(server_cfg(), 0);
  const StreamId id = client.open_stream(0).value();
  ASSERT_TRUE(client.write(id, text("all of it"), 0));
  client.close(id, 0);
  EXPECT_EQ(client.stream_count(), 0u);
  test::pump_both(client, server, 0);
  const auto ev = take_events(server);
  EXPECT_TRUE(has_event(ev, EventKind::StreamOpened, id));
  EXPECT_TRUE(has_event(ev, EventKind::StreamClosed, id));
  EXPECT_EQ(test::read_available(server, id), text("all of it"));
  std::uint8_t buf[4];
  EXPECT_EQ(server.read(id, buf).value(), 0u);
}

TEST(Session, PeerFinWakesABlockedWriterWhichThenSeesTheStreamClosed) {
  Config c = client_cfg();
  c.max_frame_size = 1000;
  c.outbound_limit = 2000;
  Pair p(false, c);
  const Bytes big(5000, 7);
  ASSERT_LT(p.client.write(p.id, big, 0).value(), big.size());
  p.client.input(encode_frame(Cmd::Fin, p.id), 0);
  EXPECT_TRUE(has_event(take_events(p.client), EventKind::Writable, p.id));
  EXPECT_EQ(p.client.write(p.id, big, 0).error().code, Errc::stream_closed);
}

TEST(Session, DataAndFinInOneInputAreReadThenEndOfStream) {
  Session s(server_cfg(), 0);
  Bytes in = encode_frame(Cmd::Syn, 3);
  for (const Bytes& f : {encode_frame(Cmd::Psh, 3, text("xyz")), encode_frame(Cmd::Fin, 3)}) {
    in.insert(in.end(), f.begin(), f.end());
  }
  EXPECT_EQ(s.input(in, 0), in.size());
  EXPECT_EQ(test::read_available(s, 3), text("xyz"));
  std::uint8_t buf[4];
  EXPECT_EQ(s.read(3, buf).value(), 0u);
}

TEST(Session, KeepaliveSendsANopOnlyAfterAQuietInterval) {
  Config c = client_cfg();
  c.keepalive_interval_ms = 1000;
  Session s(c, 0);
  EXPECT_EQ(s.next_timeout(0), TimeMs{1000});
  s.handle_timeout(999);
  EXPECT_TRUE(take_frames(s).empty());
  s.handle_timeout(1000);
  EXPECT_EQ(take_frames(s), std::vector{frame(Cmd::Nop, 0)});
  (void)s.open_stream(1500);  // any frame restarts the interval
  EXPECT_EQ(s.next_timeout(1500), TimeMs{2500});
  s.handle_timeout(2400);
  EXPECT_EQ(take_frames(s).size(), 1u);  // only the SYN
  (void)s.open_stream(2500);  // not drained: the pending SYN is the keepalive, no NOP added
  s.handle_timeout(3500);
  EXPECT_EQ(take_frames(s), std::vector{frame(Cmd::Syn, 5)});
  EXPECT_EQ(s.next_timeout(3500), TimeMs{4500});
  c.keepalive_interval_ms = 0;
  Session off(c, 0);
  EXPECT_EQ(off.next_timeout(0), std::nullopt);
}

TEST(Session, IdleIsReportedOnceAfterTheTimeoutAndNopsDoNotCount) {
  Config c = client_cfg();
  c.keepalive_interval_ms = 100;
  c.idle_timeout_ms = 1000;
  Session s(c, 0);
  for (TimeMs t = 100; t < 1000; t += 100) s.handle_timeout(t);  // NOPs only
  EXPECT_TRUE(take_events(s).empty());
  s.handle_timeout(1000);
  auto ev = take_events(s);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, EventKind::Idle);
  s.handle_timeout(3000);
  EXPECT_TRUE(take_events(s).empty());
  s.input(encode_frame(Cmd::Syn, 2), 3500);  // activity re-arms it
  take_events(s);
  s.handle_timeout(4500);
  EXPECT_EQ(take_events(s).size(), 1u);
}

TEST(Session, OpenStreamEnforcesMaxStreams) {
  Config c = client_cfg();
  c.max_streams = 2;
  Session s(c, 0);
  ASSERT_TRUE(s.open_stream(0));
  const StreamId second = s.open_stream(0).value();
  EXPECT_EQ(s.open_stream(0).error().code, Errc::too_many_streams);
  s.close(second, 0);
  EXPECT_EQ(s.open_stream(0).value(), 7u);
}

TEST(Session, TransportLossFailsEveryStreamAfterItsBufferedData) {
  Pair p;
  ASSERT_TRUE(p.client.write(p.id, text("partial"), 0));
  p.pump();
  p.server.transport_closed();
  const auto ev = take_events(p.server);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().kind, EventKind::SessionError);
  EXPECT_EQ(ev.back().error, Errc::transport_closed);
  EXPECT_EQ(test::read_available(p.server, p.id), text("partial"));
  std::uint8_t buf[4];
  EXPECT_EQ(p.server.read(p.id, buf).error().code, Errc::session_failed);  // not a clean EOF
  EXPECT_EQ(p.server.write(p.id, buf, 0).error().code, Errc::session_failed);
  EXPECT_EQ(p.server.open_stream(0).error().code, Errc::session_failed);
  EXPECT_EQ(p.server.next_timeout(0), std::nullopt);
}

TEST(Session, UnknownIdsAreReportedToTheCaller) {
  Session s(client_cfg(), 0);
  std::uint8_t buf[4];
  EXPECT_EQ(s.read(9, buf).error().code, Errc::unknown_stream);
  EXPECT_EQ(s.write(9, buf, 0).error().code, Errc::unknown_stream);
  EXPECT_EQ(s.shutdown_write(9, 0).error().code, Errc::unknown_stream);
  s.close(9, 0);  // ignored
  EXPECT_TRUE(take_frames(s).empty());
}

// --- outbound order: young streams' frames go ahead of older streams' queued frames ---

// The stream ids and commands of `frames`, PSH frames merged per run of one stream.
std::vector<std::pair<Cmd, StreamId>> order_of(const std::vector<test::Frame>& frames) {
  std::vector<std::pair<Cmd, StreamId>> v;
  for (const auto& f : frames) {
    const std::pair<Cmd, StreamId> k{f.header.cmd, f.header.stream_id};
    if (k.first == Cmd::Psh && !v.empty() && v.back() == k) continue;
    v.push_back(k);
  }
  return v;
}

TEST(Session, AYoungStreamGoesAheadOfABulkStreamAtTheNextFrameBoundary) {
  Config c = client_cfg();
  c.stream_outbound_limit = 0;
  Session s(c, 0);
  const StreamId bulk = s.open_stream(0).value();
  Bytes data(c.priority_bytes + 3 * c.max_frame_size);
  SeededRng(2).fill(data);
  ASSERT_EQ(s.write(bulk, data, 0).value(), data.size());
  // Its SYN and first priority_bytes (one frame) go first; three older frames follow.
  EXPECT_EQ(s.pending_output().size(), kHeaderSize + kHeaderSize + c.priority_bytes);
  s.consume_output(s.pending_output().size());
  EXPECT_EQ(s.pending_output().size(), 3 * (kHeaderSize + c.max_frame_size));
  // The transport takes 100 bytes of the first old frame; then a new stream writes a reply.
  s.consume_output(100);
  const StreamId fresh = s.open_stream(0).value();
  const Bytes reply = text("HTTP/1.1 200 OK\r\n\r\nsmall");
  ASSERT_EQ(s.write(fresh, reply, 0).value(), reply.size());
  EXPECT_EQ(s.pending_output().size(), kHeaderSize + c.max_frame_size - 100)
      << "only the rest of the frame in progress";
  s.consume_output(s.pending_output().size());
  const auto rest = test::take_frames_in_chunks(s, 777);
  const std::vector<std::pair<Cmd, StreamId>> want = {
      {Cmd::Syn, fresh}, {Cmd::Psh, fresh}, {Cmd::Psh, bulk}};
  EXPECT_EQ(order_of(rest), want);
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[1].payload, reply);
}

TEST(Session, AStreamCrossingThePriorityLimitKeepsItsOrderAndItsFinComesLast) {
  for (const std::uint32_t prio : {0u, 1000u}) {
    Config c = client_cfg();
    c.max_frame_size = 600;
    c.priority_bytes = prio;
    c.stream_outbound_limit = 0;
    Pair p(false, c);
    // An older stream (its first priority_bytes already sent) with frames queued.
    const Bytes warm(prio, 0x5a);
    if (prio > 0) {
      ASSERT_EQ(p.client.write(p.id, warm, 0).value(), warm.size());
      p.pump();
      ASSERT_EQ(test::read_available(p.server, p.id), warm);
    }
    Bytes old_data(3000);
    SeededRng(3).fill(old_data);
    ASSERT_EQ(p.client.write(p.id, old_data, 0).value(), old_data.size());
    const StreamId fresh = p.client.open_stream(0).value();
    Bytes data(2500);
    SeededRng(4).fill(data);
    ASSERT_EQ(p.client.write(fresh, data, 0).value(), data.size());
    ASSERT_TRUE(p.client.shutdown_write(fresh, 0));
    // Taken in odd-sized pieces, so frames are split wherever a piece ends.
    Bytes wire;
    for (int i = 0; i < 10000 && !p.client.pending_output().empty(); ++i) {
      const ByteView v = p.client.pending_output();
      const std::size_t n = std::min<std::size_t>(v.size(), 37 + i % 500);
      wire.insert(wire.end(), v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
      p.client.consume_output(n);
    }
    const auto frames = test::decode_all(wire);
    Bytes fresh_payload;
    std::size_t first_old = frames.size(), fin_at = frames.size(), fresh_syn = frames.size();
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const auto& f = frames[i];
      if (f.header.stream_id == p.id && first_old == frames.size()) first_old = i;
      if (f.header.stream_id != fresh) continue;
      if (f.header.cmd == Cmd::Syn) fresh_syn = i;
      if (f.header.cmd == Cmd::Fin) fin_at = i;
      if (f.header.cmd == Cmd::Psh) {
        EXPECT_LT(i, fin_at) << "data after FIN";
        fresh_payload.insert(fresh_payload.end(), f.payload.begin(), f.payload.end());
      }
    }
    EXPECT_EQ(fresh_payload, data) << "priority_bytes " << prio;
    ASSERT_LT(fin_at, frames.size());
    if (prio == 0) {
      EXPECT_LT(first_old, fresh_syn) << "one queue: first in, first out";
    } else {
      EXPECT_LT(fresh_syn, first_old) << "the young stream goes first";
    }
    // And the peer reads both streams intact.
    const auto n = p.server.input(wire, 0);
    EXPECT_EQ(n, wire.size());
    EXPECT_EQ(test::read_available(p.server, fresh), data);
    EXPECT_EQ(test::read_available(p.server, p.id), old_data);
  }
}

TEST(Session, RejectsAnInvalidConfig) {
  Config c;
  c.max_frame_size = 0;
  EXPECT_THROW(Session(c, 0), std::invalid_argument);
}

// --- bulk transfers over an in-memory pipe with random split points ---

// Full size (1000 streams x 1 MiB, ~1 GB) in optimised builds without sanitizers; the Debug and
// sanitizer builds shrink it unless PANIQ_MUX_STRESS_FULL=1 is defined.
#ifndef PANIQ_MUX_STRESS_FULL
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define PANIQ_MUX_STRESS_FULL 1
#else
#define PANIQ_MUX_STRESS_FULL 0
#endif
#endif

// One direction of one stream: the writer's side sends `total` pattern bytes, then FIN.
struct Flow {
  StreamId id = 0;
  int writer = 0;  // 0 client, 1 server
  std::uint64_t seed = 0;
  std::size_t sent = 0, received = 0;
  bool blocked = false, shut = false, eof = false, closed[2] = {false, false};
};

class Stress {
 public:
  Stress(std::size_t streams, std::size_t total, bool half_close, std::uint64_t seed)
      : total_(total), rng_(seed),
        sides_{Session(client_cfg(half_close), 0), Session(server_cfg(half_close), 0)},
        wbuf_(65536), rbuf_(65536), expect_(65536) {
    for (std::size_t i = 0; i < streams; ++i) {
      const StreamId id = sides_[0].open_stream(0).value();
      // async_smux mode: one direction per stream (alternating); half-close: both directions.
      for (int w = 0; w < 2; ++w) {
        if (!half_close && w != static_cast<int>(i % 2)) continue;
        flows_.push_back(Flow{id, w, rng_.next_u64()});
      }
      by_id_[id] = {flows_.size() - (half_close ? 2 : 1), half_close ? 2u : 1u};
    }
  }

  void run() {
    std::size_t done = 0, rounds = 0;
    while (done < flows_.size()) {
      ASSERT_LT(++rounds, 1000000u) << "no progress";
      for (int side = 0; side < 2; ++side) write_some(side);
      for (int side = 0; side < 2; ++side) pipe(side, 1 - side);
      for (int side = 0; side < 2; ++side) handle_events(side, done);
      if (::testing::Test::HasFatalFailure()) return;
    }
    for (auto& s : sides_) {
      EXPECT_EQ(s.stream_count(), 0u);
      EXPECT_EQ(s.stats().dropped_bytes, 0u);
      EXPECT_EQ(s.stats().streams_reset, 0u);
      EXPECT_EQ(s.recv_buffered(), 0u);
    }
  }

 private:
  void write_some(int side) {
    Session& s = sides_[side];
    const std::size_t n = flows_.size();
    const std::size_t start = rng_.uniform(0, n - 1);  // rotate who writes first
    for (std::size_t k = 0; k < n && s.write_room() > 0; ++k) {
      Flow& f = flows_[(start + k) % n];
      if (f.writer != side || f.blocked || f.shut || !s.contains(f.id)) continue;
      const std::size_t len = std::min<std::size_t>(rng_.uniform(1, wbuf_.size()), total_ - f.sent);
      test::fill_pattern(f.seed, f.sent, MutByteView(wbuf_).first(len));
      const std::size_t took = s.write(f.id, ByteView(wbuf_).first(len), 0).value();
      f.sent += took;
      f.blocked = took < len;
      if (f.sent == total_) {
        ASSERT_TRUE(s.shutdown_write(f.id, 0));
        f.shut = true;
        maybe_close(side, f.id);
      }
    }
  }

  // Moves `from`'s output into `to` in random pieces: mostly KCP-segment sized, sometimes a
  // few bytes so frame headers are cut everywhere.
  void pipe(int from, int to) {
    const ByteView out = sides_[from].pending_output();
    std::size_t pos = 0;
    while (pos < out.size()) {
      const std::size_t piece =
          rng_.uniform(0, 19) == 0 ? rng_.uniform(1, 9) : rng_.uniform(1, 3000);
      const ByteView in = out.subspan(pos, std::min(piece, out.size() - pos));
      const std::size_t n = sides_[to].input(in, 0);
      pos += n;
      if (n < in.size()) break;  // paused: keep the rest for later
    }
    sides_[from].consume_output(pos);
  }

  void handle_events(int side, std::size_t& done) {
    Session& s = sides_[side];
    while (auto e = s.poll_event()) {
      ASSERT_NE(e->kind, EventKind::SessionError) << e->error.message();
      auto it = by_id_.find(e->id);
      if (it == by_id_.end()) continue;
      for (std::size_t k = 0; k < it->second.second; ++k) {
        Flow& f = flows_[it->second.first + k];
        if (e->kind == EventKind::Writable && f.writer == side) f.blocked = false;
        if (e->kind == EventKind::Readable && f.writer != side) read_flow(side, f, done);
      }
    }
  }

  void read_flow(int side, Flow& f, std::size_t& done) {
    Session& s = sides_[side];
    for (;;) {
      const std::size_t want = rng_.uniform(1, rbuf_.size());
      auto r = s.read(f.id, MutByteView(rbuf_).first(want));
      if (!r) {
        ASSERT_EQ(r.error().code, Errc::would_block);
        return;
      }
      if (*r == 0) {
        ASSERT_EQ(f.received, total_) << "early end-of-stream on " << f.id;
        f.eof = true;
        ++done;
        maybe_close(side, f.id);
        return;
      }
      test::fill_pattern(f.seed, f.received, MutByteView(expect_).first(*r));
      ASSERT_EQ(std::memcmp(rbuf_.data(), expect_.data(), *r), 0)
          << "stream " << f.id << " corrupted near offset " << f.received;
      f.received += *r;
      ASSERT_LE(f.received, total_);
    }
  }

  // A side releases a stream once it has written and read everything it takes part in.
  void maybe_close(int side, StreamId id) {
    const auto [first, count] = by_id_.at(id);
    for (std::size_t k = 0; k < count; ++k) {
      const Flow& f = flows_[first + k];
      if (f.writer == side ? !f.shut : !f.eof) return;
    }
    if (flows_[first].closed[side]) return;
    flows_[first].closed[side] = true;
    sides_[side].close(id, 0);
  }

  std::size_t total_;
  SeededRng rng_;
  Session sides_[2];
  std::vector<Flow> flows_;
  std::unordered_map<StreamId, std::pair<std::size_t, std::size_t>> by_id_;  // first flow, count
  Bytes wbuf_, rbuf_, expect_;
};

TEST(Session, ThousandStreamsMoveAMegabyteEachThroughRandomSplits) {
  const std::size_t streams = 1000;
  const std::size_t total = PANIQ_MUX_STRESS_FULL ? (1u << 20) : (16u << 10);
  Stress(streams, total, /*half_close=*/false, 2024).run();
}

TEST(Session, HalfCloseStreamsMoveDataBothWaysThroughRandomSplits) {
  const std::size_t streams = PANIQ_MUX_STRESS_FULL ? 200 : 50;
  const std::size_t total = PANIQ_MUX_STRESS_FULL ? (256u << 10) : (16u << 10);
  Stress(streams, total, /*half_close=*/true, 77).run();
}

}  // namespace
}  // namespace paniq::mux
