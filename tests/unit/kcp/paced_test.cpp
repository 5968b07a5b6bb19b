// The paced sender (src/kcp/engine_paced.cpp), datagram by datagram with hand-carried delivery:
// RACK's reordering window, pacing, and the receiver's ACK hold. Whole transfers through a
// bottleneck are in tests/sim/kcp_bottleneck_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "core/bytes.hpp"
#include "kcp/engine.hpp"
#include "kcp/segment.hpp"

namespace paniq::kcp {
namespace {

Config paced(std::uint64_t hint = 0) {
  Config c = Config::reference(0x7E57, 1300, 10, 4096, 4096, 4096);
  c.congestion = Congestion::bbr;
  c.loss_recovery = LossRecovery::rack;
  c.bandwidth_hint = hint;
  return c;
}

using Datagrams = std::vector<Bytes>;

Datagrams take(Engine& e) {
  Datagrams out;
  for (ByteView d : e.output()) out.emplace_back(d.begin(), d.end());
  e.clear_output();
  return out;
}

std::uint32_t sn_of(const Bytes& d) { return get_u32_le(d.data() + 12); }
std::uint8_t cmd_of(const Bytes& d) { return d[4]; }

// What the tunnel's Link does when a timer fires: update() (the flush tick), then flush() if a
// deadline between ticks is due.
void tick(Engine& e, Clock32 now) {
  e.update(now);
  if (time_diff(e.check(now), now) <= 0) e.flush(now);
}

void feed(Engine& to, const Datagrams& ds, Clock32 now) {
  for (const Bytes& d : ds) ASSERT_EQ(to.input(d, now), Errc::ok);
}

// One exchange so both ends know the RTT (50 ms): a request from b, answered by a's ACK.
void warm_up(Engine& a, Engine& b, Clock32& t) {
  const std::uint8_t hello[100] = {};
  ASSERT_EQ(*b.send(ByteView(hello, sizeof hello)), sizeof hello);
  b.flush(t);
  const Datagrams req = take(b);
  t += 25;
  feed(a, req, t);
  std::uint8_t sink[200];
  ASSERT_EQ(*a.recv(sink), sizeof hello);
  a.flush(t);
  const Datagrams ack = take(a);
  t += 25;
  feed(b, ack, t);
  ASSERT_EQ(b.rx_srtt(), 50);
}

// Ten full segments from a, flushed at t.
Datagrams send_ten(Engine& a, Clock32 t) {
  const Bytes data(10 * a.mss(), 0x5A);
  EXPECT_EQ(*a.send(data), data.size());
  a.flush(t);
  return take(a);
}

// Ten segments, the third lost on the way: it is resent once the reordering window after the
// later segments' ACKs has passed (RTT + min RTT / 4), long before the RTO, and only then.
TEST(Paced, RackResendsALossAfterTheReorderingWindow) {
  Engine a(paced()), b(paced());
  Clock32 t = 1000;
  warm_up(a, b, t);
  Datagrams sent = send_ten(a, t);
  ASSERT_EQ(sent.size(), 10u);
  const Clock32 t0 = t;
  const std::uint32_t lost_sn = sn_of(sent[2]);
  sent.erase(sent.begin() + 2);
  t += 25;
  feed(b, sent, t);
  b.flush(t + 20);  // the receiver answers at once or within its hold
  const Datagrams acks = take(b);
  ASSERT_FALSE(acks.empty());
  t = t0 + 50;
  feed(a, acks, t);
  tick(a, t);
  for (const Bytes& d : take(a)) EXPECT_NE(sn_of(d), lost_sn) << "not before the window";
  EXPECT_EQ(a.stats().fast_retransmits, 0u);
  // The deadline is RTT + reordering window (50 + 12) after the segment left.
  const Clock32 due = a.check(t);
  EXPECT_GT(time_diff(due, t), 0);
  EXPECT_LE(time_diff(due, t0), 50 + 50 / 4 + 1);
  a.flush(t0 + 50 + 50 / 4 + 1);
  const Datagrams resent = take(a);
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(sn_of(resent[0]), lost_sn);
  EXPECT_EQ(a.stats().fast_retransmits, 1u);
  EXPECT_EQ(a.stats().retransmits, 0u) << "found by time, not by the RTO";
}

// The same ten segments, the third only delayed by 8 ms (reordering, not loss): its ACK comes
// inside the reordering window and nothing is resent.
TEST(Paced, ReorderingInsideTheWindowResendsNothing) {
  Engine a(paced()), b(paced());
  Clock32 t = 1000;
  warm_up(a, b, t);
  Datagrams sent = send_ten(a, t);
  const Clock32 t0 = t;
  const Bytes late = sent[2];
  sent.erase(sent.begin() + 2);
  feed(b, sent, t0 + 25);
  b.flush(t0 + 25);
  Datagrams acks = take(b);
  feed(b, {late}, t0 + 33);
  b.flush(t0 + 45);
  const Datagrams late_ack = take(b);
  feed(a, acks, t0 + 50);
  for (Clock32 now = t0 + 50; now < t0 + 58; ++now) a.flush(now);
  feed(a, late_ack, t0 + 58);
  for (Clock32 now = t0 + 58; now < t0 + 200; ++now) a.flush(now);
  (void)take(a);
  EXPECT_EQ(a.stats().fast_retransmits + a.stats().retransmits, 0u);
  EXPECT_EQ(a.nsnd_buf(), 0u) << "everything acknowledged";
}

// With a known rate (the hint: 100 segments a second) a full queue leaves at that rate, spread
// over the millisecond ticks, instead of a window-sized burst; between sends check() names the
// moment the budget allows the next one (never "now" right after a flush: no spin).
TEST(Paced, PacingSpreadsTheWindowOverTime) {
  const std::uint64_t rate = 100 * 1324;  // segment bytes per second
  Engine a(paced(rate));
  const Bytes data(60 * a.mss(), 0x33);
  std::size_t queued = 0;
  auto refill = [&] {  // as the Link does before every flush: keep the send queue full
    while (queued < data.size()) {
      auto n = a.send(ByteView(data).subspan(queued));
      ASSERT_TRUE(n);
      if (*n == 0) break;
      queued += *n;
    }
  };
  Clock32 t = 1000;
  std::size_t data_segments = 0, wakeups = 0;
  const Clock32 end = t + 200;
  while (time_diff(end, t) > 0) {
    refill();
    tick(a, t);
    for (const Bytes& d : take(a)) data_segments += cmd_of(d) == static_cast<std::uint8_t>(Cmd::push);
    const Clock32 next = a.check(t);
    ASSERT_GT(time_diff(next, t), 0) << "a flush leaves nothing due at once";
    t = next;
    ASSERT_LT(++wakeups, 1000u);
  }
  // 200 ms at 100 segments/s is 20 segments (+1 for the deficit the budget allows, +1 for the
  // tick grain).
  EXPECT_GE(data_segments, 19u);
  EXPECT_LE(data_segments, 22u);
  EXPECT_GT(a.stats().pacing_waits, 0u);
}

// A receiver that knows the RTT holds its ACKs for srtt/32 (1..8 ms) when it has nothing to
// send, then sends them together; sixteen waiting ACKs go at once.
TEST(Paced, ReceiverHoldsItsAcks) {
  Engine a(paced()), b(paced());
  Clock32 t = 1000;
  warm_up(a, b, t);  // b knows srtt 50: hold 50/32 = 1 ms
  ASSERT_EQ(b.ack_hold_ms(), 1u);
  const Bytes data(3 * a.mss(), 0x11);
  ASSERT_EQ(*a.send(data), data.size());
  a.flush(t);
  const Datagrams sent = take(a);
  feed(b, sent, t + 25);
  b.update(t + 25);
  b.flush(t + 25);
  EXPECT_TRUE(take(b).empty()) << "held";
  EXPECT_TRUE(b.acks_pending());
  EXPECT_EQ(time_diff(b.check(t + 25), t + 25), 1) << "the hold's deadline";
  tick(b, t + 26);
  const Datagrams acks = take(b);
  ASSERT_EQ(acks.size(), 3u) << "one segment per datagram (no packing in this test)";
  for (const Bytes& d : acks) EXPECT_EQ(cmd_of(d), static_cast<std::uint8_t>(Cmd::ack));
  // Sixteen at once are not held.
  const Bytes more(16 * a.mss(), 0x22);
  ASSERT_EQ(*a.send(more), more.size());
  a.flush(t + 30);
  feed(b, take(a), t + 55);
  b.flush(t + 55);
  EXPECT_EQ(take(b).size(), 16u);
}

// On a LAN or loopback (srtt under 3 ms) the hold is what keeps a transfer from costing one
// ACK datagram per wake-up: a few ACKs wait up to 1 ms, sixteen go at once. Before its first
// RTT sample a receiver holds nothing.
TEST(Paced, LanReceiverHoldsAcksByCount) {
  Engine a(paced()), b(paced());
  Clock32 t = 1000;
  // No sample yet: the first data is acknowledged at once.
  const Bytes first(2 * a.mss(), 0x33);
  ASSERT_EQ(*a.send(first), first.size());
  a.flush(t);
  feed(b, take(a), t);
  b.flush(t);
  EXPECT_EQ(take(b).size(), 2u) << "nothing held before the first RTT sample";
  // b learns a 1 ms RTT from its own request.
  const std::uint8_t hello[100] = {};
  ASSERT_EQ(*b.send(ByteView(hello, sizeof hello)), sizeof hello);
  b.flush(t);
  feed(a, take(b), t);
  a.flush(t + 1);
  feed(b, take(a), t + 1);
  ASSERT_LT(b.rx_srtt(), 3);
  ASSERT_EQ(b.ack_hold_ms(), 1u);
  std::uint8_t sink[4096];
  while (*b.recv(sink) > 0) {
  }
  t += 2;
  const Bytes few(3 * a.mss(), 0x44);
  ASSERT_EQ(*a.send(few), few.size());
  a.flush(t);
  feed(b, take(a), t);
  b.update(t);
  b.flush(t);
  EXPECT_TRUE(take(b).empty()) << "three ACKs held on a 1 ms path";
  EXPECT_EQ(time_diff(b.check(t), t), 1) << "for 1 ms at most";
  tick(b, t + 1);
  EXPECT_EQ(take(b).size(), 3u);
  const Bytes many(16 * a.mss(), 0x55);
  ASSERT_EQ(*a.send(many), many.size());
  a.flush(t + 2);
  feed(b, take(a), t + 2);
  b.flush(t + 2);
  EXPECT_EQ(take(b).size(), 16u) << "sixteen waiting ACKs are not held";
}

// A thin sender (a request: one segment, nothing queued) sends it twice, in two datagrams, once
// the path has shown loss; never on a clean path and never for bulk (docs/kcp.md 6.6).
TEST(Paced, AThinSenderSendsItsSegmentsTwiceOnlyWhileThePathShowsLoss) {
  Engine a(paced()), b(paced());
  Clock32 t = 1000;
  warm_up(a, b, t);
  const Bytes request(200, 0x11);
  auto push_copies = [](const Datagrams& ds, std::uint32_t sn) {
    std::size_t n = 0;
    for (const Bytes& d : ds) {
      for (std::size_t off = 0; off + kOverhead <= d.size();) {
        SegmentView seg;
        EXPECT_EQ(decode_segment(ByteView(d).subspan(off), seg), Errc::ok);
        if (seg.header.cmd == static_cast<std::uint8_t>(Cmd::push) && seg.header.sn == sn) ++n;
        off += kOverhead + seg.header.len;
      }
    }
    return n;
  };
  // Clean so far: one copy.
  ASSERT_EQ(*b.send(request), request.size());
  const std::uint32_t first = b.snd_nxt();
  b.flush(t);
  EXPECT_EQ(push_copies(take(b), first), 1u);
  EXPECT_EQ(b.stats().thin_copies, 0u);
  // The peer's segment 1 arrives before its segment 0: the path loses (or reorders) datagrams.
  t += 5;
  const Bytes data(100, 0x22);
  Bytes d1;
  append_segment(d1, SegmentHeader{0x7E57, static_cast<std::uint8_t>(Cmd::push), 0, 4096, t, 2, 0,
                                   static_cast<std::uint32_t>(data.size())}, data);
  ASSERT_EQ(b.input(d1, t), Errc::ok);
  ASSERT_EQ(*b.send(request), request.size());
  const std::uint32_t second = b.snd_nxt();
  b.flush(t);
  const Datagrams two = take(b);
  EXPECT_EQ(push_copies(two, second), 2u);
  std::size_t holding = 0;  // in two different datagrams
  for (const Bytes& d : two) holding += push_copies({d}, second);
  EXPECT_EQ(holding, 2u);
  for (const Bytes& d : two) EXPECT_LE(push_copies({d}, second), 1u);
  EXPECT_EQ(b.stats().thin_copies, 1u);
  // Bulk (more than two new segments at once): no copies.
  const Bytes bulk(5 * b.mss(), 0x33);
  ASSERT_EQ(*b.send(bulk), bulk.size());
  const std::uint32_t bulk_first = b.snd_nxt();
  b.flush(t);
  EXPECT_EQ(push_copies(take(b), bulk_first), 1u);
  EXPECT_EQ(b.stats().thin_copies, 1u);
  // Ten seconds after the last sign of loss: one copy again.
  Engine c(paced()), d(paced());
  Clock32 u = 1000;
  warm_up(c, d, u);
  ASSERT_EQ(d.input(d1, u), Errc::ok);
  u += 10'001;
  ASSERT_EQ(*d.send(request), request.size());
  const std::uint32_t late = d.snd_nxt();
  d.flush(u);
  EXPECT_EQ(push_copies(take(d), late), 1u);
}

}  // namespace
}  // namespace paniq::kcp
