// Link: KCP + smux + envelope for one conversation, driven through the simulator.
#include "tunnel/link.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <map>

#include "envelope/transport.hpp"
#include "kcp/segment.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::LinkOptions;
using test::LinkPair;

sim::LinkParams clean(std::uint32_t delay = 10) {
  sim::LinkParams p;
  p.delay_ms = delay;
  return p;
}

std::string read_all(mux::Session& m, mux::StreamId id) {
  std::string out;
  std::uint8_t buf[4096];
  for (;;) {
    auto n = m.read(id, buf);
    if (!n || *n == 0) break;
    out.append(reinterpret_cast<const char*>(buf), *n);
  }
  return out;
}

TEST(Link, StreamRoundTrip) {
  LinkPair p(test::link_config(mux::Role::Client), test::link_config(mux::Role::Server),
             test::wire_obf_config(), clean(), clean(), 1);
  auto id = p.a.mux().open_stream(0);
  ASSERT_TRUE(id);
  ASSERT_EQ(*p.a.mux().write(*id, as_bytes("hello"), 0), 5u);
  std::string server_got, client_got;
  bool replied = false;
  for (int i = 0; i < 200 && client_got != "world"; ++i) {
    p.step([&](LinkPair& lp) {
      while (auto e = lp.b.poll_event()) {
        if (e->kind == EventKind::StreamOpened || e->kind == EventKind::Readable) {
          server_got += read_all(lp.b.mux(), e->stream);
          if (server_got == "hello" && !replied) {
            replied = true;
            ASSERT_EQ(*lp.b.mux().write(e->stream, as_bytes("world"), lp.now()), 5u);
          }
        }
      }
      client_got += read_all(lp.a.mux(), *id);
    });
  }
  EXPECT_EQ(server_got, "hello");
  EXPECT_EQ(client_got, "world");
  EXPECT_EQ(p.not_transport, 0u);
  EXPECT_FALSE(p.a.dead());
  EXPECT_FALSE(p.b.dead());
}

// Every datagram is one Transport frame carrying exactly one KCP segment, within the
// configured size, with the counter counting from 0 when transport_replay is on.
TEST(Link, OneSegmentPerDatagramWithCounterAndPadding) {
  LinkOptions o;
  o.padding = true;
  o.replay = true;
  o.s4 = 7;
  LinkConfig cfg = test::link_config(mux::Role::Client, o);
  cfg.mux.stream_outbound_limit = 0;  // one write fills a whole window
  const obf::Framer fr = test::framer([] {
    obf::Config c = test::wire_obf_config();
    c.s[3] = 7;
    return c;
  }());
  SeededRng rng(9);
  Link link(cfg, 0xabcdef01, fr, rng, 0);
  auto id = link.mux().open_stream(0);
  ASSERT_TRUE(id);
  Bytes blob(200'000);
  test::fill_pattern(1, 0, blob);
  std::size_t written = 0;
  while (written < blob.size()) {
    auto n = link.mux().write(*id, ByteView(blob).subspan(written), 0);
    ASSERT_TRUE(n);
    if (*n == 0) break;
    written += *n;
  }
  link.flush(0);
  const auto out = link.transmit();
  ASSERT_GT(out.size(), 100u);  // a window's worth of segments
  std::uint64_t expect_counter = 0;
  for (const ByteView d : out) {
    EXPECT_LE(d.size(), cfg.sizes.max_datagram);
    const auto c = fr.classify(d);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->type, obf::MessageType::Transport);
    const auto v = envelope::decode_transport(c->payload, true);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v->counter, expect_counter++);
    ASSERT_GE(v->inner.size(), 24u);
    EXPECT_EQ(get_u32_le(v->inner.data()), 0xabcdef01u);
    EXPECT_EQ(get_u32_le(v->inner.data() + 20) + 24u, v->inner.size()) << "one segment";
    EXPECT_GE(v->padding_len, 16u);
  }
  EXPECT_EQ(link.stats().datagrams_out, out.size());
  EXPECT_EQ(link.stats().drop_too_large, 0u);
}

// A receiver accepts several segments in one datagram (canonical KCP batching).
TEST(Link, AcceptsSeveralSegmentsPerDatagram) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(4);
  const LinkConfig cc = test::link_config(mux::Role::Client);
  Link a(cc, 77, fr, rng, 0);
  Link b(test::link_config(mux::Role::Server), 77, fr, rng, 0);
  auto id = a.mux().open_stream(0);
  ASSERT_TRUE(id);
  Bytes blob(3000);
  test::fill_pattern(5, 0, blob);
  ASSERT_EQ(*a.mux().write(*id, blob, 0), blob.size());
  a.flush(0);
  const auto out = a.transmit();
  ASSERT_GE(out.size(), 3u);
  Bytes joined;
  for (const ByteView d : out) {
    auto v = envelope::decode_transport(fr.classify(d)->payload, false);
    joined.insert(joined.end(), v->inner.begin(), v->inner.end());
  }
  Bytes payload(joined.size() + 2);
  put_u16_be(payload.data(), static_cast<std::uint16_t>(joined.size()));
  std::copy(joined.begin(), joined.end(), payload.begin() + 2);
  EXPECT_EQ(b.handle_transport(payload, 5), InputResult::accepted);
  EXPECT_EQ(b.kcp().stats().in_segments, out.size());
  b.flush(5);
  auto e = b.poll_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::StreamOpened);
  Bytes got(4000);
  auto n = b.mux().read(e->stream, got);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, blob.size());
  EXPECT_TRUE(std::equal(blob.begin(), blob.end(), got.begin()));
}

TEST(Link, UndecodableInputIsCountedAndNeverAnswered) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(4);
  Link b(test::link_config(mux::Role::Server), 77, fr, rng, 0);
  const Bytes too_short = {0x00};
  EXPECT_EQ(b.handle_transport(too_short, 1), InputResult::invalid_length);
  const Bytes truncated = {0x00, 0x30, 1, 2, 3};
  EXPECT_EQ(b.handle_transport(truncated, 1), InputResult::invalid_length);
  // A well-formed segment of another conversation.
  Bytes seg(2 + 24);
  put_u16_be(seg.data(), 24);
  kcp::SegmentHeader h;
  h.conv = 78;
  h.cmd = 0x51;
  kcp::encode_header(h, seg.data() + 2);
  EXPECT_EQ(b.handle_transport(seg, 1), InputResult::kcp_rejected);
  b.flush(2);
  if (auto t = b.next_timeout()) b.handle_timeout(*t);
  EXPECT_EQ(b.transmit_count(), 0u);
  EXPECT_EQ(b.stats().drop_invalid_length, 2u);
  EXPECT_EQ(b.stats().drop_kcp_rejected, 1u);
  EXPECT_EQ(b.stats().datagrams_in, 3u);
  EXPECT_FALSE(b.dead());
}

// The peer stops answering: the client declares the link dead after the liveness bound
// (min 1.5 s here, RTT tiny), long before KCP's 20 transmissions.
TEST(Link, LivenessDetectsSilentPeer) {
  LinkPair p(test::link_config(mux::Role::Client), test::link_config(mux::Role::Server),
             test::wire_obf_config(), clean(5), clean(5), 2);
  auto id = p.a.mux().open_stream(0);
  ASSERT_TRUE(id);
  ASSERT_TRUE(p.a.mux().write(*id, as_bytes("x"), 0));
  for (int i = 0; i < 100; ++i) p.step([](LinkPair&) {});
  ASSERT_FALSE(p.a.dead());
  p.net.params(sim::Side::b).down = true;  // the server's answers vanish
  const TimeMs cut = p.now();
  ASSERT_TRUE(p.a.mux().write(*id, as_bytes("y"), cut));
  TimeMs died = 0;
  while (!p.a.dead() && p.now() < cut + 20'000) {
    died = p.now();
    p.step([](LinkPair&) {});
  }
  ASSERT_TRUE(p.a.dead());
  EXPECT_EQ(p.a.dead_reason(), make_error_code(Errc::liveness_timeout));
  EXPECT_EQ(died - cut, 1500u) << "the documented minimum bound";
  EXPECT_FALSE(p.b.dead()) << "the server side has no liveness rule";
  // SessionClosed exactly once, then nothing is sent.
  int closed = 0;
  while (auto e = p.a.poll_event()) closed += e->kind == EventKind::SessionClosed;
  EXPECT_EQ(closed, 1);
  p.a.flush(p.now());
  EXPECT_EQ(p.a.transmit_count(), 0u);
  EXPECT_FALSE(p.a.next_timeout());
  EXPECT_EQ(p.a.handle_transport(Bytes{0, 0}, p.now()), InputResult::dead);
}

// A retransmission deadline that falls between two flush ticks must be acted on when it comes:
// after handle_timeout(t), next_timeout() is later than t, so a shell that sleeps until
// next_timeout() never wakes twice for the same millisecond (no spin). Counts the wake-ups of
// a link whose every datagram is lost, for ikcp's sender and the paced one, and checks the
// retransmissions really happened.
TEST(Link, TimerNeverSpinsOnRetransmissionDeadlines) {
  for (const bool paced : {false, true}) {
    SCOPED_TRACE(paced ? "paced sender" : "ikcp sender");
    LinkConfig cc = test::link_config(mux::Role::Client);
    cc.liveness.enabled = false;
    cc.kcp.interval = 50;  // long ticks: RTO deadlines fall between them
    if (paced) {
      cc.kcp.congestion = kcp::Congestion::bbr;
      cc.kcp.loss_recovery = kcp::LossRecovery::rack;
    }
    LinkPair p(cc, test::link_config(mux::Role::Server), test::wire_obf_config(), clean(7),
               clean(7), 11);
    auto id = p.a.mux().open_stream(0);
    ASSERT_TRUE(id);
    ASSERT_TRUE(p.a.mux().write(*id, as_bytes("answer me"), 0));
    // One exchange so the RTO comes from a measured RTT (not a multiple of the interval).
    for (int i = 0; i < 50 && p.a.kcp().rx_srtt() == 0; ++i) p.step([](LinkPair&) {});
    ASSERT_GT(p.a.kcp().rx_srtt(), 0);
    p.net.params(sim::Side::a).down = true;
    ASSERT_TRUE(p.a.mux().write(*id, as_bytes("lost"), p.now()));
    TimeMs t = p.now();
    p.a.flush(t);
    p.a.consume_transmit(p.a.transmit_count());
    std::uint64_t wakeups = 0, repeats = 0;
    const TimeMs end = t + 5'000;
    while (t < end) {
      const auto next = p.a.next_timeout();
      ASSERT_TRUE(next);
      t = std::max(*next, t);
      p.a.handle_timeout(t);
      p.a.consume_transmit(p.a.transmit_count());
      const auto after = p.a.next_timeout();
      if (after && *after <= t) ++repeats;  // would wake again for the same millisecond
      ASSERT_LT(++wakeups, 10'000u) << "bounded";
    }
    EXPECT_EQ(repeats, 0u) << "next_timeout() returned a time already handled";
    const auto& st = p.a.kcp().stats();
    EXPECT_GE(st.retransmits, 3u) << "the timer retransmitted";
    // 5 s at one flush tick per 50 ms is 100 ticks; deadlines add at most one wake-up per
    // retransmission.
    EXPECT_LE(wakeups, 100u + st.retransmits + 2);
  }
}

TEST(Link, KcpDeadLinkWithoutLiveness) {
  LinkConfig cc = test::link_config(mux::Role::Client);
  cc.liveness.enabled = false;
  cc.kcp.dead_link = 5;
  LinkPair p(cc, test::link_config(mux::Role::Server), test::wire_obf_config(), clean(5),
             clean(5), 3);
  p.net.params(sim::Side::a).down = true;
  auto id = p.a.mux().open_stream(0);
  ASSERT_TRUE(id);
  while (!p.a.dead() && p.now() < 120'000) p.step([](LinkPair&) {});
  ASSERT_TRUE(p.a.dead());
  EXPECT_EQ(p.a.dead_reason(), make_error_code(Errc::kcp_dead_link));
}

TEST(Link, LivenessBoundFollowsRto) {
  LinkConfig cc = test::link_config(mux::Role::Client);
  cc.liveness.min_ms = 100;
  cc.liveness.rto_multiple = 4;
  cc.liveness.max_ms = 100'000;
  LinkPair p(cc, test::link_config(mux::Role::Server), test::wire_obf_config(), clean(400),
             clean(400), 4);
  auto id = p.a.mux().open_stream(0);
  ASSERT_TRUE(id);
  while (p.a.kcp().rx_srtt() == 0 && p.now() < 10'000) p.step([](LinkPair&) {});
  ASSERT_GT(p.a.kcp().rx_srtt(), 0);
  ASSERT_TRUE(p.a.mux().write(*id, as_bytes("z"), p.now()));
  p.net.params(sim::Side::b).down = true;
  p.step([](LinkPair&) {});
  const auto deadline = p.a.liveness_deadline();
  ASSERT_TRUE(deadline);
  EXPECT_GE(*deadline - p.now(), 4u * 800u) << "4 x RTO with an 800 ms RTT";
}

// The server application stops reading for a while: the client's writes stop (mux outbound
// limit, KCP window), nothing grows without bound, the paused receiver still ACKs (liveness
// does not fire), and everything arrives once it reads again.
TEST(Link, BackpressureBothWays) {
  LinkPair p(test::link_config(mux::Role::Client), test::link_config(mux::Role::Server),
             test::wire_obf_config(), clean(5), clean(5), 5);
  auto id = p.a.mux().open_stream(0);
  ASSERT_TRUE(id);
  const std::uint64_t total = test::kSmallRun ? (6u << 20) : (40u << 20);
  std::uint64_t sent = 0, got = 0;
  bool reading = true, corrupt = false;
  Bytes chunk(64 << 10), rbuf(64 << 10);
  std::optional<mux::StreamId> sid;
  auto app = [&](LinkPair& lp) {
    while (sent < total) {
      const std::size_t n0 =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), total - sent));
      test::fill_pattern(7, sent, MutByteView(chunk).first(n0));
      auto n = lp.a.mux().write(*id, ByteView(chunk).first(n0), lp.now());
      if (!n || *n == 0) break;
      sent += *n;
    }
    while (auto e = lp.b.poll_event()) {
      if (e->kind == EventKind::StreamOpened) sid = e->stream;
    }
    while (reading && sid) {
      auto n = lp.b.mux().read(*sid, rbuf);
      if (!n || *n == 0) break;
      corrupt |= !test::matches_pattern(7, got, ByteView(rbuf).first(*n));
      got += *n;
    }
  };
  while (got < (1u << 20) && p.now() < 10'000) p.step(app);
  ASSERT_TRUE(sid);
  reading = false;  // pause for 1.5 s of virtual time (below the mux's 2 s stall reset)
  const TimeMs pause = p.now();
  std::uint64_t sent_at_pause_end = 0;
  while (p.now() < pause + 1500) {
    p.step(app);
    EXPECT_LE(p.b.mux().recv_buffered(), p.b.config().mux.stream_recv_buffer);
    EXPECT_LE(p.a.transmit_count(), 2u * p.a.config().kcp.snd_wnd);
  }
  sent_at_pause_end = sent;
  p.step(app);
  EXPECT_EQ(sent, sent_at_pause_end) << "the writer is held back";
  EXPECT_LT(sent, total);
  EXPECT_GT(p.b.mux().recv_buffered(), 0u);
  EXPECT_GT(p.b.stats().input_pauses, 0u);
  EXPECT_FALSE(p.a.dead()) << "a paused receiver still ACKs";
  reading = true;
  while (got < total && p.now() < pause + 120'000) p.step(app);
  EXPECT_EQ(got, total);
  EXPECT_FALSE(corrupt);
  EXPECT_FALSE(p.a.dead());
}

TEST(Link, CloseReportsOnceAndStopsSending) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(4);
  Link a(test::link_config(mux::Role::Client), 9, fr, rng, 0);
  auto id = a.mux().open_stream(0);
  ASSERT_TRUE(id);
  a.flush(0);
  EXPECT_GT(a.transmit_count(), 0u);
  a.close(make_error_code(Errc::idle_timeout));
  a.close(make_error_code(Errc::closed));
  EXPECT_EQ(a.transmit_count(), 0u);
  EXPECT_EQ(a.dead_reason(), make_error_code(Errc::idle_timeout));
  std::map<EventKind, int> seen;
  while (auto e = a.poll_event()) ++seen[e->kind];
  EXPECT_EQ(seen[EventKind::SessionClosed], 1);
  a.flush(10);
  EXPECT_EQ(a.transmit_count(), 0u);
}

TEST(Link, ConfigValidation) {
  LinkConfig c = test::link_config(mux::Role::Client);
  EXPECT_TRUE(c.validate());
  c.kcp.mtu = 40;
  EXPECT_FALSE(c.validate());
  c = test::link_config(mux::Role::Client);
  c.kcp.mtu += 1;
  auto r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("kcp.mtu"), std::string::npos);
  c = test::link_config(mux::Role::Client);
  c.mux.max_frame_size = 70000;
  EXPECT_FALSE(c.validate());
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(1);
  EXPECT_THROW(Link(c, 1, fr, rng, 0), std::invalid_argument);
}

// Two Links in memory carrying one stream from `a` to `b`. step(): write up to `max_writes`
// 16 KiB chunks (until the mux takes no more), optionally run due timers, move the datagrams
// both ways and read everything `b` received.
struct BulkPair {
  BulkPair(const obf::Framer& framer, SeededRng& rng, const LinkOptions& o = {})
      : fr(framer),
        a(test::link_config(mux::Role::Client, o), 5, fr, rng, 0),
        b(test::link_config(mux::Role::Server, o), 5, fr, rng, 0),
        id(*a.mux().open_stream(0)) {}

  void deliver(Link& from, Link& to, TimeMs now) {
    const auto out = from.transmit();
    for (const ByteView d : out) (void)to.handle_transport(fr.classify(d)->payload, now);
    datagrams += out.size();
    from.consume_transmit(out.size());
  }
  void step(TimeMs now, int max_writes, bool timers) {
    for (int k = 0; k < max_writes; ++k) {
      auto n = a.mux().write(id, chunk, now);
      if (!n || *n == 0) break;
    }
    for (Link* l : {&a, &b}) {
      if (auto t = l->next_timeout(); timers && t && *t <= now) l->handle_timeout(now);
    }
    a.flush(now);
    deliver(a, b, now);
    b.flush(now);
    while (auto e = b.poll_event()) {
      if (e->kind == EventKind::StreamOpened) sid = e->stream;
    }
    while (sid) {
      auto n = b.mux().read(*sid, rbuf);
      if (!n || *n == 0) break;
    }
    b.flush(now);
    deliver(b, a, now);
    while (a.poll_event()) {
    }
  }

  const obf::Framer& fr;
  Link a, b;
  mux::StreamId id;
  std::optional<mux::StreamId> sid;
  Bytes chunk = Bytes(16u << 10, 0x33), rbuf = Bytes(64u << 10);
  std::uint64_t datagrams = 0;
};

// Steady-state bulk transfer between two Links in memory allocates nothing per datagram:
// buffers, rings and pools are reused.
TEST(Link, SteadyStateDoesNotAllocatePerDatagram) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(12);
  LinkOptions o;
  o.padding = true;
  BulkPair p(fr, rng, o);
  constexpr int kUnbounded = 1 << 30;  // until the mux takes no more
  TimeMs now = 0;
  for (int i = 0; i < 200; ++i) p.step(++now, kUnbounded, false);  // warm-up: pools reach their size
  p.datagrams = 0;
  const std::uint64_t before = test::allocations();
  for (int i = 0; i < 400; ++i) p.step(++now, kUnbounded, false);
  const std::uint64_t allocations = test::allocations() - before;
  ASSERT_GT(p.datagrams, 25'000u);  // 400 rounds, each at most a 64 KiB stream share
  EXPECT_EQ(allocations, 0u) << allocations << " allocations for " << p.datagrams << " datagrams";
  RecordProperty("allocations", static_cast<int>(allocations));
  RecordProperty("datagrams", static_cast<int>(p.datagrams));
}

// After a bulk burst, KCP's segment block caches (a window of blocks) are returned once the
// link has been quiet for Link::kQuietTrimMs, and not while the transfer only pauses between
// bursts. Measured as the heap bytes in use (glibc mallinfo2) and the allocations the next
// burst makes.
TEST(Link, BlockCachesAreReturnedAfterAQuietPeriod) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(13);
  BulkPair p(fr, rng);
  TimeMs now = 0;
  for (int i = 0; i < 300; ++i) p.step(++now, 64, true);  // a burst: the pools reach the window
  for (int i = 0; i < 200; ++i) p.step(++now, 0, true);   // drain
  const std::size_t busy = mallinfo2().uordblks;
  // A pause shorter than the quiet period keeps the caches: the next burst allocates nothing.
  now += Link::kQuietTrimMs / 2;
  p.step(now, 0, true);
  const std::uint64_t before = test::allocations();
  for (int i = 0; i < 50; ++i) p.step(++now, 64, true);
  for (int i = 0; i < 200; ++i) p.step(++now, 0, true);
  EXPECT_EQ(test::allocations() - before, 0u) << "caches kept across a short pause";
  // Quiet for the whole period: both ends give their caches back (the deadline is reported).
  const auto ta = p.a.next_timeout();
  ASSERT_TRUE(ta.has_value());
  EXPECT_LE(*ta, now + Link::kQuietTrimMs);
  now += Link::kQuietTrimMs;
  p.step(now, 0, true);
  const std::size_t quiet = mallinfo2().uordblks;
  EXPECT_GT(busy, quiet + (64u << 10)) << "busy " << busy << " B, after the quiet period " << quiet << " B";
  // And they come back with the next burst, which still arrives whole.
  const std::uint64_t regrow = test::allocations();
  for (int i = 0; i < 50; ++i) p.step(++now, 64, true);
  EXPECT_GT(test::allocations() - regrow, 0u);
  EXPECT_FALSE(p.a.dead());
  EXPECT_FALSE(p.b.dead());
}

TEST(DatagramQueue, KeepsOrderAcrossPartialConsumeAndGrowth) {
  DatagramQueue q;
  for (std::uint8_t i = 0; i < 10; ++i) {
    std::uint8_t* p = q.reserve(100);
    std::fill(p, p + i + 1, i);
    q.commit(i + 1u);
  }
  q.consume(4);
  ASSERT_EQ(q.count(), 6u);
  for (int i = 0; i < 50; ++i) {  // forces compaction and growth
    std::uint8_t* p = q.reserve(4000);
    std::fill(p, p + 4000, 0xee);
    q.commit(4000);
  }
  const auto v = q.views();
  ASSERT_EQ(v.size(), 56u);
  for (std::uint8_t i = 4; i < 10; ++i) {
    ASSERT_EQ(v[i - 4].size(), i + 1u);
    EXPECT_EQ(v[i - 4][0], i);
  }
  EXPECT_EQ(v[6].size(), 4000u);
  q.consume(1000);
  EXPECT_EQ(q.count(), 0u);
  EXPECT_EQ(q.bytes(), 0u);
}

// Issue #6: with transport_replay, received counters pass an RFC 6479 window of
// transport_replay_window counters (0 = 2048); garbage cannot move it.
TEST(Link, TransportReplayWindowDropsReinjectedDatagrams) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(11);
  test::LinkOptions o;
  o.replay = true;
  LinkConfig sc = test::link_config(mux::Role::Server, o);
  sc.transport_replay_window = 64;
  Link a(test::link_config(mux::Role::Client, o), 90, fr, rng, 0);
  Link b(sc, 90, fr, rng, 0);
  auto id = a.mux().open_stream(0);
  ASSERT_TRUE(id);
  Bytes blob(4000);
  test::fill_pattern(1, 0, blob);
  ASSERT_EQ(*a.mux().write(*id, blob, 0), blob.size());
  a.flush(0);
  std::vector<Bytes> payloads;
  for (const ByteView d : a.transmit()) {
    const auto c = fr.classify(d);
    payloads.emplace_back(c->payload.begin(), c->payload.end());
  }
  ASSERT_GE(payloads.size(), 3u);
  EXPECT_EQ(b.handle_transport(payloads[1], 1), InputResult::accepted);
  EXPECT_EQ(b.handle_transport(payloads[0], 1), InputResult::accepted) << "reordered within the window";
  EXPECT_EQ(b.handle_transport(payloads[1], 1), InputResult::replayed);
  EXPECT_EQ(b.handle_transport(payloads[0], 1), InputResult::replayed);
  // A far-future counter on a segment KCP refuses (another conv) does not advance the window.
  Bytes forged = payloads[2];
  put_u64_be(forged.data(), 1'000'000);
  put_u32_le(forged.data() + 10, 91);
  EXPECT_EQ(b.handle_transport(forged, 1), InputResult::kcp_rejected);
  EXPECT_EQ(b.handle_transport(payloads[2], 1), InputResult::accepted);
  // A datagram behind the window (counter 200 accepted first; 200 - 64 - 1 is too old).
  Bytes ahead = payloads[2];
  put_u64_be(ahead.data(), 200);
  EXPECT_EQ(b.handle_transport(ahead, 1), InputResult::accepted);
  Bytes old = payloads[2];
  put_u64_be(old.data(), 200 - 65);
  EXPECT_EQ(b.handle_transport(old, 1), InputResult::replayed);
  put_u64_be(old.data(), 200 - 63);
  EXPECT_EQ(b.handle_transport(old, 1), InputResult::accepted);
  EXPECT_EQ(b.stats().drop_replay, 3u);
  // Without transport_replay there is no counter and KCP sees duplicates (it ACKs them again).
  Link plain_a(test::link_config(mux::Role::Client), 92, fr, rng, 0);
  Link plain_b(test::link_config(mux::Role::Server), 92, fr, rng, 0);
  ASSERT_TRUE(plain_a.mux().open_stream(0));
  plain_a.flush(0);
  ASSERT_GE(plain_a.transmit().size(), 1u);
  const Bytes first(fr.classify(plain_a.transmit()[0])->payload.begin(), fr.classify(plain_a.transmit()[0])->payload.end());
  EXPECT_EQ(plain_b.handle_transport(first, 1), InputResult::accepted);
  EXPECT_EQ(plain_b.handle_transport(first, 1), InputResult::accepted);
  EXPECT_EQ(plain_b.stats().drop_replay, 0u);
}

TEST(Link, TransportReplayWindowLimitIsValidated) {
  test::LinkOptions o;
  o.replay = true;
  LinkConfig c = test::link_config(mux::Role::Server, o);
  c.transport_replay_window = LinkConfig::kMaxReplayWindow;
  EXPECT_TRUE(c.validate());
  c.transport_replay_window = LinkConfig::kMaxReplayWindow + 1;
  const auto r = c.validate();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("obfuscation.transport_replay_limit: 65537"), std::string::npos);
}

}  // namespace
}  // namespace paniq::tunnel
