// Session input (session_input.cpp): every kind of bad peer input has a defined outcome and
// never touches other streams' bytes; receive buffers and the session budget stay bounded,
// pauses end within recv_stall_timeout_ms.
#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "mux/session.hpp"
#include "mux_test_util.hpp"

namespace paniq::mux {
namespace {

using test::frame;
using test::has_event;
using test::take_events;
using test::take_frames;
using test::text;

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A server session with client streams 3 and 5 open and some data buffered in each; the
// checks below assert that whatever else happens, exactly these bytes come out of 3 and 5.
struct Victims {
  explicit Victims(Config c = Config::server_defaults()) : s(c, 0) {
    const Bytes in = concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::Syn, 5),
                             encode_frame(Cmd::Psh, 3, text("three-")),
                             encode_frame(Cmd::Psh, 5, text("five-"))});
    EXPECT_EQ(s.input(in, 0), in.size());
    take_events(s);
    take_frames(s);
  }
  // More data for both after the bad input, where the session still runs.
  void more() {
    const Bytes in = concat({encode_frame(Cmd::Psh, 3, text("3")),
                             encode_frame(Cmd::Psh, 5, text("5"))});
    EXPECT_EQ(s.input(in, 0), in.size());
  }
  void expect_intact(bool with_more) {
    EXPECT_EQ(test::read_available(s, 3), with_more ? text("three-3") : text("three-"));
    EXPECT_EQ(test::read_available(s, 5), with_more ? text("five-5") : text("five-"));
  }
  Session s;
};

TEST(SessionInput, WrongVersionFailsTheSessionAndDeliveredDataStaysIntact) {
  Victims v;
  Bytes bad = encode_frame(Cmd::Psh, 3, text("evil"));
  bad[0] = 2;
  EXPECT_LT(v.s.input(concat({bad, encode_frame(Cmd::Psh, 5, text("x"))}), 0), bad.size() + 9);
  EXPECT_TRUE(v.s.failed());
  EXPECT_EQ(v.s.failure(), Errc::bad_version);
  const auto ev = take_events(v.s);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().kind, EventKind::SessionError);
  EXPECT_EQ(ev.back().error, Errc::bad_version);
  v.expect_intact(false);
  std::uint8_t buf[4];
  EXPECT_EQ(v.s.read(3, buf).error().code, Errc::session_failed);
  EXPECT_EQ(v.s.input(encode_frame(Cmd::Psh, 3, text("more")), 0), 0u);  // dead: takes nothing
}

TEST(SessionInput, UnknownCommandFailsTheSessionAndDeliveredDataStaysIntact) {
  Victims v;
  Bytes bad = encode_frame(Cmd::Nop, 0);
  bad[1] = 4;  // xtaci v2 window update: not part of v1
  (void)v.s.input(bad, 0);
  EXPECT_EQ(v.s.failure(), Errc::bad_command);
  v.expect_intact(false);
}

TEST(SessionInput, MaximalFrameLengthIsAccepted) {
  Victims v;
  const Bytes big(kMaxPayload, 0x5a);
  const Bytes in = encode_frame(Cmd::Psh, 3, big);
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_FALSE(v.s.failed());
  EXPECT_EQ(v.s.readable_bytes(3), 6 + kMaxPayload);
}

TEST(SessionInput, DuplicateSynResetsOnlyThatStreamAndIsAnsweredWithFin) {
  Victims v;
  ASSERT_TRUE(v.s.input(concat({encode_frame(Cmd::Syn, 7), encode_frame(Cmd::Psh, 7, text("7"))}),
                        0));
  take_events(v.s);
  // Duplicate SYN for 7 and data that might belong to either "stream 7": none is delivered.
  const Bytes dup = concat({encode_frame(Cmd::Syn, 7), encode_frame(Cmd::Psh, 7, text("??"))});
  EXPECT_EQ(v.s.input(dup, 0), dup.size());
  EXPECT_FALSE(v.s.failed());
  EXPECT_EQ(take_frames(v.s), std::vector{frame(Cmd::Fin, 7)});
  EXPECT_TRUE(has_event(take_events(v.s), EventKind::StreamClosed, 7));
  std::uint8_t buf[8];
  EXPECT_EQ(v.s.read(7, buf).error().code, Errc::duplicate_syn);
  EXPECT_EQ(v.s.write(7, buf, 0).error().code, Errc::duplicate_syn);
  v.s.close(7, 0);
  EXPECT_TRUE(take_frames(v.s).empty());  // FIN already sent
  v.more();
  v.expect_intact(true);
  EXPECT_EQ(v.s.stats().syn_refused, 1u);
}

TEST(SessionInput, WrongParitySynIsRefusedWithFinAndItsDataDroppedSilently) {
  Victims v;
  const Bytes in = concat({encode_frame(Cmd::Syn, 4), encode_frame(Cmd::Psh, 4, text("a")),
                           encode_frame(Cmd::Psh, 4, text("b")), encode_frame(Cmd::Syn, 0)});
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_EQ(take_frames(v.s), (std::vector{frame(Cmd::Fin, 4), frame(Cmd::Fin, 0)}));
  EXPECT_FALSE(v.s.contains(4));
  EXPECT_TRUE(take_events(v.s).empty());
  EXPECT_EQ(v.s.stats().dropped_bytes, 2u);
  EXPECT_EQ(v.s.stats().syn_over_limit, 0u);  // not a max_streams refusal
  v.more();
  v.expect_intact(true);
  // A client session refuses odd ids (its own parity) the same way.
  Session client(Config::defaults(), 0);
  (void)client.input(encode_frame(Cmd::Syn, 9), 0);
  EXPECT_EQ(take_frames(client), std::vector{frame(Cmd::Fin, 9)});
  EXPECT_EQ(client.stream_count(), 0u);
}

TEST(SessionInput, SynOverMaxStreamsIsRefusedUntilAStreamIsReleased) {
  Config c = Config::server_defaults();
  c.max_streams = 2;
  Victims v(c);
  const Bytes in = concat({encode_frame(Cmd::Syn, 7), encode_frame(Cmd::Psh, 7, text("x"))});
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_EQ(take_frames(v.s), std::vector{frame(Cmd::Fin, 7)});
  EXPECT_FALSE(v.s.contains(7));
  EXPECT_EQ(v.s.stats().syn_over_limit, 1u);  // counted apart from other refusals
  v.more();
  v.expect_intact(true);
  v.s.close(5, 0);
  take_frames(v.s);
  EXPECT_EQ(v.s.input(encode_frame(Cmd::Syn, 9), 0), kHeaderSize);
  EXPECT_TRUE(has_event(take_events(v.s), EventKind::StreamOpened, 9));
}

TEST(SessionInput, DataForAnUnknownStreamIsAnsweredWithOneFinAndDropped) {
  Victims v;
  const Bytes in = concat({encode_frame(Cmd::Psh, 11, text("lost")),
                           encode_frame(Cmd::Psh, 11, text("lost")),
                           encode_frame(Cmd::Psh, 13, text("x"))});
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_EQ(take_frames(v.s), (std::vector{frame(Cmd::Fin, 11), frame(Cmd::Fin, 13)}));
  EXPECT_EQ(v.s.stats().fin_answers, 2u);
  EXPECT_EQ(v.s.stats().dropped_bytes, 9u);
  EXPECT_FALSE(v.s.contains(11));
  v.more();
  v.expect_intact(true);
}

TEST(SessionInput, FinForAnUnknownStreamAndNopsAreIgnored) {
  Victims v;
  const Bytes in = concat({encode_frame(Cmd::Fin, 21), encode_frame(Cmd::Nop, 0),
                           encode_frame(Cmd::Nop, 3, text("nop payload is skipped"))});
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_TRUE(take_frames(v.s).empty());
  EXPECT_TRUE(take_events(v.s).empty());
  v.more();
  v.expect_intact(true);
}

TEST(SessionInput, DataAfterThePeersFinIsDroppedAndTheStreamKeepsItsData) {
  Victims v;
  const Bytes in = concat({encode_frame(Cmd::Fin, 3), encode_frame(Cmd::Psh, 3, text("after"))});
  EXPECT_EQ(v.s.input(in, 0), in.size());
  EXPECT_EQ(v.s.stats().dropped_bytes, 5u);
  EXPECT_EQ(test::read_available(v.s, 3), text("three-"));
  std::uint8_t buf[4];
  EXPECT_EQ(v.s.read(3, buf).value(), 0u);  // clean end-of-stream
  EXPECT_EQ(test::read_available(v.s, 5), text("five-"));
}

// --- receive limits ---

Config small_limits() {
  Config c = Config::server_defaults();
  c.stream_recv_buffer = 1000;
  c.session_recv_budget = 2500;
  c.recv_stall_timeout_ms = 500;
  return c;
}

// Offers `in` until it is all taken or input pauses; returns what was taken.
std::size_t offer(Session& s, ByteView in, TimeMs now) { return s.input(in, now); }

TEST(SessionInput, AFullStreamPausesInputUntilItsReaderDrainsAQuarter) {
  Session s(small_limits(), 0);
  const Bytes in = concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::Syn, 5),
                           encode_frame(Cmd::Psh, 3, Bytes(1500, 3)),
                           encode_frame(Cmd::Psh, 5, text("behind"))});
  std::size_t taken = offer(s, in, 0);
  EXPECT_LT(taken, in.size());
  EXPECT_TRUE(s.input_blocked());
  EXPECT_EQ(s.readable_bytes(3), 1000u);
  EXPECT_EQ(s.input(ByteView(in).subspan(taken), 10), 0u);  // still paused
  EXPECT_EQ(s.next_timeout(10), TimeMs{500});
  Bytes buf(200);
  ASSERT_EQ(s.read(3, buf).value(), 200u);  // 800 left: above three quarters
  EXPECT_TRUE(s.input_blocked());
  ASSERT_EQ(s.read(3, buf).value(), 200u);  // 600 left
  EXPECT_FALSE(s.input_blocked());
  auto ev = take_events(s);
  EXPECT_EQ(ev.back().kind, EventKind::InputReady);
  EXPECT_EQ(test::read_available(s, 3).size(), 600u);
  taken += offer(s, ByteView(in).subspan(taken), 20);
  EXPECT_EQ(taken, in.size());
  EXPECT_EQ(test::read_available(s, 5), text("behind"));
  EXPECT_EQ(s.stats().input_stalls, 1u);
  EXPECT_EQ(s.stats().streams_reset, 0u);
}

TEST(SessionInput, ATricklingReaderIsResetAfterTheStallTimeoutAndOthersContinue) {
  Session s(small_limits(), 0);
  const Bytes in = concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::Syn, 5),
                           encode_frame(Cmd::Psh, 3, Bytes(1500, 3)),
                           encode_frame(Cmd::Psh, 5, text("behind"))});
  std::size_t taken = offer(s, in, 0);
  ASSERT_TRUE(s.input_blocked());
  take_frames(s);
  std::uint8_t one[1];
  for (TimeMs t = 0; t < 500; t += 50) {  // one byte per 50 ms: the stall clock keeps running
    ASSERT_EQ(s.read(3, one).value(), 1u);
    s.handle_timeout(t);
    ASSERT_TRUE(s.input_blocked());
  }
  s.handle_timeout(500);
  EXPECT_FALSE(s.input_blocked());
  const auto ev = take_events(s);
  EXPECT_TRUE(has_event(ev, EventKind::StreamClosed, 3));
  EXPECT_TRUE(has_event(ev, EventKind::InputReady, 0));
  EXPECT_EQ(take_frames(s), std::vector{frame(Cmd::Fin, 3)});
  EXPECT_EQ(s.read(3, one).error().code, Errc::recv_overflow);
  EXPECT_EQ(s.recv_buffered(), 0u);
  // The rest of the frame for 3 is discarded; 5 gets its data.
  taken += offer(s, ByteView(in).subspan(taken), 600);
  EXPECT_EQ(taken, in.size());
  EXPECT_EQ(test::read_available(s, 5), text("behind"));
  EXPECT_EQ(s.stats().dropped_bytes, 500u);
  // Late data for the reset stream is dropped without another FIN.
  (void)s.input(encode_frame(Cmd::Psh, 3, text("late")), 700);
  s.close(3, 700);
  (void)s.input(encode_frame(Cmd::Psh, 3, text("later")), 700);
  EXPECT_TRUE(take_frames(s).empty());
}

TEST(SessionInput, AnExhaustedBudgetResetsTheLargestBuffersAfterTheStallTimeout) {
  Session s(small_limits(), 0);  // 1000 per stream, 2500 in all
  const Bytes in =
      concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::Syn, 5), encode_frame(Cmd::Syn, 7),
              encode_frame(Cmd::Psh, 3, Bytes(950, 3)), encode_frame(Cmd::Psh, 5, Bytes(900, 5)),
              encode_frame(Cmd::Psh, 7, Bytes(900, 7)), encode_frame(Cmd::Psh, 5, text("tail"))});
  const std::size_t taken = offer(s, in, 0);
  ASSERT_TRUE(s.input_blocked());
  EXPECT_EQ(s.recv_buffered(), 2500u);
  EXPECT_EQ(s.readable_bytes(7), 650u);  // every stream under its own limit
  take_frames(s);
  take_events(s);
  s.handle_timeout(499);
  EXPECT_TRUE(s.input_blocked());
  s.handle_timeout(500);
  EXPECT_FALSE(s.input_blocked());
  // 3 (950 bytes) is the largest: resetting it leaves 1550 <= 1875 (three quarters), enough.
  EXPECT_EQ(take_frames(s), std::vector{frame(Cmd::Fin, 3)});
  EXPECT_EQ(s.recv_buffered(), 1550u);
  EXPECT_EQ(offer(s, ByteView(in).subspan(taken), 500), in.size() - taken);
  EXPECT_EQ(s.readable_bytes(5), 904u);
  EXPECT_EQ(s.readable_bytes(7), 900u);
  EXPECT_EQ(s.stats().streams_reset, 1u);
}

TEST(SessionInput, ReleasingTheStreamThatBlocksInputResumesItAtOnce) {
  Session s(small_limits(), 0);
  const Bytes in = concat({encode_frame(Cmd::Syn, 3), encode_frame(Cmd::Psh, 3, Bytes(1200, 3)),
                           encode_frame(Cmd::Psh, 3, text("more"))});
  const std::size_t taken = offer(s, in, 0);
  ASSERT_TRUE(s.input_blocked());
  s.close(3, 0);
  EXPECT_FALSE(s.input_blocked());
  EXPECT_EQ(s.recv_buffered(), 0u);
  EXPECT_EQ(offer(s, ByteView(in).subspan(taken), 0), in.size() - taken);
  EXPECT_EQ(take_frames(s), std::vector{frame(Cmd::Fin, 3)});  // one FIN, none for the rest
}

TEST(SessionInput, FinAnswersAreSkippedWhileOutboundIsFull) {
  Config c = Config::server_defaults();
  c.max_frame_size = 100;
  c.outbound_limit = 200;
  Session s(c, 0);
  (void)s.input(encode_frame(Cmd::Syn, 3), 0);
  (void)s.write(3, Bytes(500, 1), 0);
  ASSERT_GE(s.pending_output().size(), c.outbound_limit - kHeaderSize);
  const std::size_t before = s.pending_output().size();
  (void)s.input(concat({encode_frame(Cmd::Psh, 99, text("x")), encode_frame(Cmd::Syn, 4)}), 0);
  EXPECT_EQ(s.pending_output().size(), before);
  EXPECT_EQ(s.stats().answers_dropped, 2u);
}

// Random peer input and random reads against small limits: memory never exceeds the bounds
// and input is never paused past the stall timeout.
TEST(SessionInput, RandomTrafficStaysWithinTheReceiveBounds) {
  const Config c = small_limits();
  SeededRng rng(11);
  Session s(c, 0);
  TimeMs now = 0;
  Bytes pending, buf(700);
  TimeMs paused_since = 0;
  bool paused = false;
  for (int step = 0; step < 4000; ++step) {
    if (pending.size() < 4000) {
      const auto id = static_cast<StreamId>(1 + 2 * rng.uniform(0, 7));
      const auto cmd = static_cast<Cmd>(rng.uniform(0, 9) < 7 ? 2 : rng.uniform(0, 3));
      Bytes payload(cmd == Cmd::Psh ? rng.uniform(0, 600) : 0);
      pending = concat({pending, encode_frame(cmd, id, payload)});
    }
    const std::size_t piece = std::min<std::size_t>(rng.uniform(1, 900), pending.size());
    const std::size_t n = s.input(ByteView(pending).first(piece), now);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
    ASSERT_LE(s.recv_buffered(), c.session_recv_budget);
    for (StreamId id = 1; id < 17; id += 2) ASSERT_LE(s.readable_bytes(id), c.stream_recv_buffer);
    if (rng.uniform(0, 3) == 0) {
      const auto id = static_cast<StreamId>(1 + 2 * rng.uniform(0, 7));
      (void)s.read(id, MutByteView(buf).first(rng.uniform(1, buf.size())));
      if (rng.uniform(0, 20) == 0) s.close(id, now);
    }
    now += rng.uniform(0, 40);
    if (auto t = s.next_timeout(now); t && *t <= now) s.handle_timeout(now);
    if (s.input_blocked() && !paused) paused_since = now;
    paused = s.input_blocked();
    if (paused) {
      ASSERT_LE(now - paused_since, c.recv_stall_timeout_ms + 40);
    }
    take_events(s);
    take_frames(s);
    ASSERT_FALSE(s.failed());
  }
  EXPECT_GT(s.stats().input_stalls, 0u);
}

}  // namespace
}  // namespace paniq::mux
