// The KCP engine (src/kcp/engine.hpp): the scripted exchanges of
// tests/vectors/kcp-segment-vectors.json, then ikcp's behaviours one by one. Long transfers over
// loss, reordering and duplication live in tests/sim.
#include "kcp/engine.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <new>
#include <stdexcept>
#include <string>

#include "core/rng.hpp"
#include "support/vectors.hpp"

// Counts heap allocations so a test can prove the steady state allocates nothing. GCC's
// -Wmismatched-new-delete cannot see that these replacements pair malloc with free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::size_t g_allocations = 0;
}  // namespace
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace paniq::kcp {
namespace {

using test::hex;

constexpr std::uint32_t kConv = 0x12345678;

Config base() {
  Config c = Config::defaults();
  c.conv = kConv;
  return c;
}

Bytes segment(Cmd cmd, std::uint16_t wnd, std::uint32_t ts, std::uint32_t sn, std::uint32_t una,
              ByteView data = {}, std::uint32_t conv = kConv, std::uint8_t frg = 0) {
  Bytes out;
  append_segment(out, SegmentHeader{conv, static_cast<std::uint8_t>(cmd), frg, wnd, ts, sn, una, 0},
                 data);
  return out;
}

std::vector<Bytes> drain(Engine& e) {
  std::vector<Bytes> out;
  for (ByteView d : e.output()) out.emplace_back(d.begin(), d.end());
  e.clear_output();
  return out;
}

std::vector<SegmentHeader> headers(const std::vector<Bytes>& datagrams) {
  std::vector<SegmentHeader> out;
  for (const Bytes& d : datagrams) {
    ByteView rest = d;
    while (rest.size() >= kOverhead) {
      SegmentView s;
      EXPECT_EQ(decode_segment(rest, s), Errc::ok);
      out.push_back(s.header);
      rest = rest.subspan(kOverhead + s.header.len);
    }
  }
  return out;
}

// --- vectors ----------------------------------------------------------------------------------

Config config_of(const nlohmann::json& j) {
  Config c = Config::defaults();
  c.conv = j.at("conv").get<std::uint32_t>();
  c.mtu = j.at("mtu").get<std::uint32_t>();
  c.snd_wnd = j.at("snd_wnd").get<std::uint32_t>();
  c.rcv_wnd = j.at("rcv_wnd").get<std::uint32_t>();
  c.interval = j.at("interval").get<std::uint32_t>();
  c.output = j.at("output") == "batched" ? OutputMode::batched
                                         : OutputMode::one_segment_per_datagram;
  if (j.contains("stream")) c.stream = j.at("stream").get<bool>();
  return c;
}

std::int64_t state_field(const Engine& e, const std::string& name) {
  if (name == "snd_una") return e.snd_una();
  if (name == "snd_nxt") return e.snd_nxt();
  if (name == "rmt_wnd") return e.rmt_wnd();
  if (name == "rx_srtt") return e.rx_srtt();
  if (name == "rx_rto") return e.rx_rto();
  if (name == "nsnd_buf") return e.nsnd_buf();
  if (name == "nsnd_que") return e.nsnd_que();
  throw std::runtime_error("unknown state field in vector: " + name);
}

TEST(Engine, VectorExchanges) {
  const auto v = test::load_vectors("kcp-segment-vectors.json").at("exchanges");
  ASSERT_GE(v.size(), 10u);
  for (const auto& x : v) {
    SCOPED_TRACE(x.at("name").get<std::string>());
    Engine e(config_of(x.at("config")));
    for (const auto& step : x.at("steps")) {
      const std::string op = step.at("op");
      if (op == "send") {
        const Bytes data = hex(step.at("hex"));
        auto n = e.send(data);
        ASSERT_TRUE(n.ok());
        EXPECT_EQ(*n, data.size());
      } else if (op == "input") {
        EXPECT_EQ(e.input(hex(step.at("hex")), step.at("now").get<std::uint32_t>()), Errc::ok);
      } else if (op == "recv") {
        Bytes buf(65536);
        auto n = e.recv(buf);
        ASSERT_TRUE(n.ok());
        buf.resize(*n);
        EXPECT_EQ(to_hex(buf), step.at("expect_hex").get<std::string>());
      } else if (op == "update") {
        e.update(step.at("now").get<std::uint32_t>());
      } else if (op == "flush") {
        e.flush(step.at("now").get<std::uint32_t>());
      } else if (op == "expect_output") {
        std::vector<std::string> got;
        for (const Bytes& d : drain(e)) got.push_back(to_hex(d));
        EXPECT_EQ(got, step.at("datagrams").get<std::vector<std::string>>());
      } else if (op == "expect_state") {
        for (const auto& [k, want] : step.items()) {
          if (k != "op") {
            EXPECT_EQ(state_field(e, k), want.get<std::int64_t>()) << k;
          }
        }
      } else {
        FAIL() << "unknown op " << op;
      }
    }
  }
}

TEST(Engine, InvalidDatagramsLeaveTheEngineUntouched) {
  const auto v = test::load_vectors("kcp-segment-vectors.json").at("invalid");
  const std::map<std::string, Errc> errs{{"short_datagram", Errc::short_datagram},
                                         {"truncated_segment", Errc::truncated_segment},
                                         {"unknown_command", Errc::unknown_command},
                                         {"conv_mismatch", Errc::conv_mismatch}};
  for (const auto& c : v) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    Engine e(base());
    EXPECT_EQ(e.input(hex(c.at("hex")), 5), errs.at(c.at("error")));
    EXPECT_EQ(e.stats().in_bad_datagrams, 1u);
    EXPECT_EQ(e.stats().in_segments, 0u);
    EXPECT_EQ(e.rmt_wnd(), 128u);
    e.flush(6);
    EXPECT_EQ(e.output_count(), 0u);  // nothing acknowledged, no WINS
  }
}

// --- construction and application side ----------------------------------------------------------

TEST(Engine, RejectsInvalidConfig) {
  Config c = base();
  c.mtu = 10;
  EXPECT_THROW(Engine{c}, std::invalid_argument);
}

TEST(Engine, StreamSendRespectsMaxSndQueue) {
  Config c = base();
  c.max_snd_queue = 3;
  Engine e(c);
  const Bytes big(10 * e.mss(), 0xAB);
  auto n = e.send(big);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u * e.mss());
  EXPECT_FALSE(e.writable());
  EXPECT_EQ(*e.send(big), 0u);
  EXPECT_EQ(e.nsnd_que(), 3u);
  e.update(0);  // moves them into snd_buf (window 128): the queue has room again
  EXPECT_TRUE(e.writable());
  EXPECT_EQ(e.wait_snd(), 3u);
  EXPECT_EQ(*e.send(ByteView(big).first(5)), 5u);
  EXPECT_EQ(*e.send({}), 0u);
}

TEST(Engine, StreamRecvAllowsPartialReads) {
  Engine e(base());
  const Bytes data = {1, 2, 3, 4, 5, 6, 7};
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 0, 0, data), 0), Errc::ok);
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 1, 0, data), 0), Errc::ok);
  EXPECT_EQ(e.peek_size(), 7u);
  Bytes buf(4);
  EXPECT_EQ(*e.recv(buf), 4u);
  EXPECT_EQ(buf, (Bytes{1, 2, 3, 4}));
  EXPECT_EQ(e.peek_size(), 3u);
  Bytes rest(100);
  EXPECT_EQ(*e.recv(rest), 10u);  // the rest of the first segment and the whole second
  EXPECT_EQ((Bytes(rest.begin(), rest.begin() + 10)), (Bytes{5, 6, 7, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(*e.recv(rest), 0u);
  EXPECT_FALSE(e.peek_size());
  EXPECT_EQ(e.stats().bytes_received, 14u);
}

TEST(Engine, MessageModeFragmentsAndReassembles) {
  Config c = base();
  c.stream = false;
  Engine tx(c), rx(c);
  Bytes msg(3 * tx.mss() + 10);
  SeededRng(1).fill(msg);
  ASSERT_EQ(*tx.send(msg), msg.size());
  ASSERT_EQ(*tx.send(ByteView(msg).first(9)), 9u);
  tx.update(0);
  const auto out = drain(tx);
  ASSERT_EQ(out.size(), 5u);
  const auto hs = headers(out);
  EXPECT_EQ(hs[0].frg, 3);
  EXPECT_EQ(hs[3].frg, 0);
  EXPECT_EQ(hs[4].frg, 0);
  // Deliver the last fragment first: nothing is ready until all four are in.
  ASSERT_EQ(rx.input(out[3], 1), Errc::ok);
  ASSERT_EQ(rx.input(out[1], 1), Errc::ok);
  EXPECT_FALSE(rx.peek_size());
  ASSERT_EQ(rx.input(out[0], 1), Errc::ok);
  ASSERT_EQ(rx.input(out[2], 1), Errc::ok);
  ASSERT_EQ(rx.input(out[4], 1), Errc::ok);
  EXPECT_EQ(rx.peek_size(), msg.size());
  Bytes small(msg.size() - 1);
  auto r = rx.recv(small);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(Errc::buffer_too_small));
  Bytes buf(msg.size());
  EXPECT_EQ(*rx.recv(buf), msg.size());
  EXPECT_EQ(buf, msg);
  EXPECT_EQ(*rx.recv(buf), 9u);
  EXPECT_EQ(*rx.recv(buf), 0u);
}

TEST(Engine, MessageModeLimits) {
  Config c = base();
  c.stream = false;
  c.max_snd_queue = 200;
  Engine e(c);
  const Bytes too_big(128 * e.mss());
  auto r = e.send(too_big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(Errc::message_too_large));
  const Bytes max(127 * e.mss());
  EXPECT_EQ(*e.send(max), max.size());
  EXPECT_EQ(*e.send(ByteView(max).first(100 * e.mss())), 0u);  // no room: would block
  EXPECT_EQ(e.nsnd_que(), 127u);
}

// --- timers, retransmission, RTO ---------------------------------------------------------------

TEST(Engine, CheckSchedulesTheNextUpdate) {
  Engine e(base());
  EXPECT_EQ(e.check(500), 500u);  // never updated: now
  e.update(500);
  EXPECT_EQ(e.check(500), 510u);  // next flush tick
  EXPECT_EQ(e.check(505), 510u);
  EXPECT_EQ(e.check(510), 510u);
  ASSERT_EQ(*e.send(Bytes{1}), 1u);
  e.update(510);
  drain(e);
  EXPECT_EQ(e.check(511), 520u);        // interval caps it
  EXPECT_EQ(e.check(709), 709u);        // tick overdue
  EXPECT_EQ(e.check(30000), 30000u);    // more than 10 s away: resync, due now
  EXPECT_EQ(e.check(0xFFFFFFFFu), 9u);  // 521 ms before the tick: interval ahead, wrapping
}

TEST(Engine, TimeoutRetransmissionBacksOffAndDeclaresDeadLink) {
  Config c = base();
  c.dead_link = 4;
  Engine e(c);
  const std::uint32_t t0 = 0xFFFFFF00u;  // the deadlines wrap past 2^32
  ASSERT_EQ(*e.send(Bytes{9}), 1u);
  e.update(t0);
  ASSERT_EQ(drain(e).size(), 1u);
  // rto 200 (initial); nodelay 1 backs off by half of it each time: 300, then 450.
  std::vector<std::uint32_t> sent_at;
  for (std::uint32_t t = t0 + 1; t != t0 + 2000 && !e.dead(); ++t) {
    e.update(t);
    if (!drain(e).empty()) sent_at.push_back(t - t0);
  }
  EXPECT_EQ(sent_at, (std::vector<std::uint32_t>{200, 500, 950}));
  EXPECT_TRUE(e.dead());
  EXPECT_EQ(e.stats().retransmits, 3u);
}

TEST(Engine, RtoFormulas) {
  // One ACK with rtt 8 ms, interval 10: ikcp: 8 + max(10, 4*4) = 24 -> min RTO 30;
  // reference: 8 + 4*max(4, 10) = 48.
  for (RtoMode mode : {RtoMode::ikcp, RtoMode::reference}) {
    Config c = base();
    c.rto_mode = mode;
    Engine e(c);
    ASSERT_EQ(*e.send(Bytes{1}), 1u);
    e.update(1000);
    ASSERT_EQ(e.input(segment(Cmd::ack, 128, 1000, 0, 1), 1008), Errc::ok);
    EXPECT_EQ(e.rx_srtt(), 8);
    EXPECT_EQ(e.rx_rttval(), 4);
    EXPECT_EQ(e.rx_rto(), mode == RtoMode::ikcp ? 30u : 48u);
  }
}

TEST(Engine, FastResendAfterTwoLaterAcks) {
  Engine e(base());
  ASSERT_EQ(*e.send(Bytes(4 * e.mss(), 1)), 4 * e.mss());
  e.update(0);
  ASSERT_EQ(drain(e).size(), 4u);
  // sn 0 lost: ACKs for 1 and 2 arrive in separate datagrams (una stays 0).
  ASSERT_EQ(e.input(segment(Cmd::ack, 128, 0, 1, 0), 20), Errc::ok);
  e.flush(20);
  EXPECT_TRUE(drain(e).empty());
  ASSERT_EQ(e.input(segment(Cmd::ack, 128, 0, 2, 0), 21), Errc::ok);
  e.flush(21);
  const auto hs = headers(drain(e));
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].sn, 0u);
  EXPECT_EQ(hs[0].ts, 21u);
  EXPECT_EQ(e.stats().fast_retransmits, 1u);
  EXPECT_EQ(e.stats().retransmits, 0u);
  EXPECT_EQ(e.snd_una(), 0u);
  EXPECT_EQ(e.nsnd_buf(), 2u);
}

TEST(Engine, FastResendDisabledWithZero) {
  Config c = base();
  c.resend = 0;
  Engine e(c);
  ASSERT_EQ(*e.send(Bytes(4 * e.mss(), 1)), 4 * e.mss());
  e.update(0);
  drain(e);
  for (std::uint32_t sn = 1; sn < 4; ++sn) {
    ASSERT_EQ(e.input(segment(Cmd::ack, 128, 0, sn, 0), 20 + sn), Errc::ok);
    e.flush(20 + sn);
    EXPECT_TRUE(drain(e).empty());
  }
}

// --- receive side ------------------------------------------------------------------------------

TEST(Engine, DuplicatesAreAckedButDeliveredOnce) {
  Engine e(base());
  const Bytes seg = segment(Cmd::push, 128, 7, 0, 0, Bytes{1, 2, 3});
  ASSERT_EQ(e.input(seg, 1), Errc::ok);
  ASSERT_EQ(e.input(seg, 2), Errc::ok);
  e.flush(3);
  EXPECT_EQ(headers(drain(e)).size(), 2u);  // both copies acknowledged
  Bytes buf(10);
  EXPECT_EQ(*e.recv(buf), 3u);
  EXPECT_EQ(*e.recv(buf), 0u);
  ASSERT_EQ(e.input(seg, 4), Errc::ok);  // below rcv_nxt now: acked, dropped
  EXPECT_EQ(e.stats().in_duplicates, 2u);
  e.flush(5);
  const auto hs = headers(drain(e));
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].una, 1u);
}

TEST(Engine, SegmentsBeyondTheWindowAreIgnored) {
  Config c = base();
  c.rcv_wnd = 128;
  Engine e(c);
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 128, 0, Bytes{1}), 1), Errc::ok);
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 0x80000000u, 0, Bytes{1}), 1), Errc::ok);
  EXPECT_EQ(e.stats().in_beyond_window, 2u);
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 127, 0, Bytes{1}), 1), Errc::ok);
  EXPECT_EQ(e.nrcv_buf(), 1u);
  e.flush(2);
  EXPECT_EQ(headers(drain(e)).size(), 1u);
}

TEST(Engine, OutOfOrderSegmentsAreReassembled) {
  Engine e(base());
  SeededRng rng(3);
  std::vector<std::uint32_t> order(300);
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.uniform(0, i)]);
  for (std::uint32_t sn : order) {
    const Bytes d = {static_cast<std::uint8_t>(sn), static_cast<std::uint8_t>(sn >> 8)};
    ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, sn, 0, d), 1), Errc::ok);
  }
  Bytes buf(1000);
  ASSERT_EQ(*e.recv(buf), 600u);
  for (std::uint32_t sn = 0; sn < 300; ++sn) {
    ASSERT_EQ(buf[2 * sn], static_cast<std::uint8_t>(sn));
    ASSERT_EQ(buf[2 * sn + 1], static_cast<std::uint8_t>(sn >> 8));
  }
}

// Stream offsets (docs/protocol.md 7.8) need records that never straddle segments.
TEST(Engine, SendRecordKeepsEveryRecordWithinOneSegment) {
  Engine e(base());
  const std::size_t mss = e.mss();
  const Bytes small(mss / 3, 7), large(mss / 2 + 1, 8), whole(mss, 9);
  ASSERT_EQ(*e.send_record(small), small.size());
  ASSERT_EQ(*e.send_record(small), small.size());  // two thirds: fits with the first
  ASSERT_EQ(*e.send_record(large), large.size());  // would straddle: a new segment
  ASSERT_EQ(*e.send_record(whole), whole.size());  // exactly the MSS: its own segment
  EXPECT_EQ(e.send_record(Bytes(mss + 1, 1)).error().code, Errc::message_too_large);
  e.flush(1);
  std::vector<std::uint32_t> lens;
  for (const Bytes& d : drain(e)) {
    for (std::size_t off = 0; off + kOverhead <= d.size();) {
      SegmentView seg;
      ASSERT_EQ(decode_segment(ByteView(d).subspan(off), seg), Errc::ok);
      if (seg.header.cmd == static_cast<std::uint8_t>(Cmd::push)) lens.push_back(seg.header.len);
      off += kOverhead + seg.header.len;
    }
  }
  EXPECT_EQ(lens, (std::vector<std::uint32_t>{static_cast<std::uint32_t>(2 * small.size()),
                                              static_cast<std::uint32_t>(large.size()),
                                              static_cast<std::uint32_t>(mss)}));
}

// Segment fill (docs/protocol.md 7.9): a record up to record_stretch over the MSS gets a
// segment, and a datagram, of its own; a receiver without the stretch takes it.
TEST(Engine, StretchedRecordsGoAloneIntoTheirSegmentAndDatagram) {
  Config c = base();
  c.output = OutputMode::batched;
  c.record_stretch = 112;
  Engine e(c);
  const std::size_t mss = e.mss();
  const Bytes small(100, 1), stretched(mss + 50, 2), full(mss + 112, 3);
  ASSERT_EQ(*e.send_record(small), small.size());
  ASSERT_EQ(*e.send_record(stretched), stretched.size());  // not appended to `small`
  ASSERT_EQ(*e.send_record(small), small.size());          // nor anything to it
  ASSERT_EQ(*e.send_record(full), full.size());
  EXPECT_EQ(e.send_record(Bytes(mss + 113, 4)).error().code, Errc::message_too_large);
  e.flush(1);
  const std::vector<Bytes> out = drain(e);
  std::vector<std::size_t> sizes;
  for (const Bytes& d : out) sizes.push_back(d.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{kOverhead + 100, kOverhead + mss + 50, kOverhead + 100,
                                             kOverhead + mss + 112}));
  Engine peer(base());
  for (const Bytes& d : out) ASSERT_EQ(peer.input(d, 2), Errc::ok);
  Bytes buf(4 * mss);
  const std::size_t want = 2 * small.size() + stretched.size() + full.size();
  ASSERT_EQ(*peer.recv(buf), want);
  Bytes sent = small;
  sent.insert(sent.end(), stretched.begin(), stretched.end());
  sent.insert(sent.end(), small.begin(), small.end());
  sent.insert(sent.end(), full.begin(), full.end());
  EXPECT_TRUE(std::equal(sent.begin(), sent.end(), buf.begin()));
}

TEST(Engine, EarlySegmentsAreTheOnesStoredAheadOfAGap) {
  Engine e(base());
  std::vector<ByteView> early;
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 0, 0, Bytes{0}), 1), Errc::ok);
  e.early_segments(early);
  EXPECT_TRUE(early.empty());  // in order: nothing early
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 2, 0, Bytes{2, 2}), 1), Errc::ok);
  e.early_segments(early);
  ASSERT_EQ(early.size(), 1u);  // sn 2, with sn 1 missing
  EXPECT_EQ(Bytes(early[0].begin(), early[0].end()), (Bytes{2, 2}));
  // A duplicate of it is not reported again; nor is a segment that closes the gap.
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 2, 0, Bytes{2, 2}), 1), Errc::ok);
  e.early_segments(early);
  EXPECT_TRUE(early.empty());
  // One datagram holding sn 4 (early) and then sn 1 (fills the gap up to 2): only 4 is early.
  Bytes both = segment(Cmd::push, 128, 0, 4, 0, Bytes{4});
  const Bytes one = segment(Cmd::push, 128, 0, 1, 0, Bytes{1});
  both.insert(both.end(), one.begin(), one.end());
  ASSERT_EQ(e.input(both, 1), Errc::ok);
  e.early_segments(early);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].size(), 1u);
  EXPECT_EQ(early[0][0], 4);
  Bytes buf(16);
  EXPECT_EQ(*e.recv(buf), 4u);  // 0, 1, 2, 2: delivered in order as always
}

TEST(Engine, LargerPeerSegmentsAreAccepted) {
  // The peer's MTU is its own (PROTOCOL.md 6.3): accept segments above our MSS.
  Config c = base();
  c.mtu = 200;
  Engine e(c);
  Bytes big(5000);
  SeededRng(4).fill(big);
  ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, 0, 0, big), 1), Errc::ok);
  Bytes buf(6000);
  ASSERT_EQ(*e.recv(buf), 5000u);
  EXPECT_TRUE(std::equal(big.begin(), big.end(), buf.begin()));
}

// --- windows and probes ------------------------------------------------------------------------

TEST(Engine, ZeroWindowIsProbedAfterSevenSeconds) {
  Engine e(base());
  ASSERT_EQ(*e.send(Bytes(10, 1)), 10u);
  // The peer announces a zero window in a PUSH (a real zero window, una filled).
  ASSERT_EQ(e.input(segment(Cmd::push, 0, 0, 0, 0, Bytes{1}), 0), Errc::ok);
  EXPECT_EQ(e.rmt_wnd(), 0u);
  std::vector<std::uint32_t> wask_at;
  for (std::uint32_t t = 0; t <= 30000; t += 10) {
    e.update(t);
    for (const SegmentHeader& h : headers(drain(e))) {
      EXPECT_NE(h.cmd, static_cast<std::uint8_t>(Cmd::push));  // no data into a zero window
      if (h.cmd == static_cast<std::uint8_t>(Cmd::wask)) wask_at.push_back(t);
    }
  }
  // probe_wait 7 s, then x1.5: 7000, 7000 + 10500, + 15750.
  EXPECT_EQ(wask_at, (std::vector<std::uint32_t>{7000, 17500}));
  ASSERT_EQ(e.input(segment(Cmd::wins, 64, 0, 0, 1), 30001), Errc::ok);
  e.update(30010);
  const auto hs = headers(drain(e));
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].cmd, static_cast<std::uint8_t>(Cmd::push));
}

TEST(Engine, DrainingAFullQueueSendsWins) {
  Config c = base();
  c.rcv_wnd = 128;
  Engine e(c);
  for (std::uint32_t sn = 0; sn < 128; ++sn) {
    ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, sn, 0, Bytes{1}), 0), Errc::ok);
  }
  e.flush(1);
  auto hs = headers(drain(e));
  ASSERT_EQ(hs.size(), 128u);
  EXPECT_EQ(hs.back().wnd, 0u);  // full
  Bytes buf(1);
  ASSERT_EQ(*e.recv(buf), 1u);
  e.flush(2);
  hs = headers(drain(e));
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_EQ(hs[0].cmd, static_cast<std::uint8_t>(Cmd::wins));
  EXPECT_EQ(hs[0].wnd, 1u);
  EXPECT_EQ(hs[0].una, 128u);
}

TEST(Engine, CongestionWindowLimitsSendingWhenEnabled) {
  Config c = base();
  c.congestion = kcp::Congestion::ikcp;
  Engine e(c);
  ASSERT_EQ(*e.send(Bytes(20 * e.mss(), 1)), 20 * e.mss());
  e.update(0);
  EXPECT_TRUE(drain(e).empty());  // ikcp: cwnd starts at 0, becomes 1 after the first flush
  e.update(10);
  EXPECT_EQ(drain(e).size(), 1u);
  ASSERT_EQ(e.input(segment(Cmd::ack, 128, 10, 0, 1), 30), Errc::ok);
  EXPECT_EQ(e.cwnd(), 2u);  // slow start up to ssthresh 2
  e.update(30);
  EXPECT_EQ(drain(e).size(), 2u);
}

TEST(Engine, BogusUnaIsIgnored) {
  Engine e(base());
  ASSERT_EQ(*e.send(Bytes(3 * e.mss(), 1)), 3 * e.mss());
  e.update(0);
  drain(e);
  // una far beyond snd_nxt (ikcp would drop the whole buffer): nothing is acknowledged.
  ASSERT_EQ(e.input(segment(Cmd::wins, 128, 0, 0, 1000), 5), Errc::ok);
  EXPECT_EQ(e.nsnd_buf(), 3u);
  ASSERT_EQ(e.input(segment(Cmd::wins, 128, 0, 0, 2), 6), Errc::ok);
  EXPECT_EQ(e.nsnd_buf(), 1u);
  EXPECT_EQ(e.snd_una(), 2u);
}

// --- output modes ------------------------------------------------------------------------------

TEST(Engine, OneSegmentPerDatagramAndBatching) {
  for (OutputMode mode : {OutputMode::one_segment_per_datagram, OutputMode::batched}) {
    Config c = base();
    c.output = mode;
    Engine e(c);
    for (std::uint32_t sn = 0; sn < 100; ++sn) {
      ASSERT_EQ(e.input(segment(Cmd::push, 128, 0, sn, 0, Bytes{1}), 0), Errc::ok);
    }
    ASSERT_EQ(*e.send(Bytes(5 * e.mss() + 7, 2)), 5 * e.mss() + 7);
    e.flush(1);
    const auto out = drain(e);
    EXPECT_EQ(headers(out).size(), 106u);
    for (const Bytes& d : out) {
      EXPECT_LE(d.size(), c.mtu);
      if (mode == OutputMode::one_segment_per_datagram) {
        ASSERT_GE(d.size(), kOverhead);
        EXPECT_EQ(d.size(), kOverhead + get_u32_le(d.data() + 20));
      }
    }
    // 100 ACKs of 24 bytes fill 2 datagrams of <= 1400, then 6 data segments.
    EXPECT_EQ(out.size(), mode == OutputMode::batched ? 2u + 6u : 106u);
    EXPECT_EQ(e.stats().out_datagrams, out.size());
  }
}

TEST(Engine, PartialOutputConsumption) {
  Engine e(base());
  ASSERT_EQ(*e.send(Bytes(3 * e.mss(), 5)), 3 * e.mss());
  e.update(0);
  ASSERT_EQ(e.output_count(), 3u);
  e.consume_output(1);
  const auto rest = drain(e);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(headers(rest)[0].sn, 1u);
}

// --- a seeded end-to-end property -------------------------------------------------------------

TEST(Engine, SeededLossyExchangesDeliverExactly) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    SeededRng rng(seed);
    Config c = base();
    c.initial_sn = static_cast<std::uint32_t>(0 - rng.uniform(0, 300));
    c.output = rng.uniform(0, 1) ? OutputMode::batched : OutputMode::one_segment_per_datagram;
    c.snd_wnd = static_cast<std::uint32_t>(rng.uniform(1, 300));
    c.rcv_wnd = static_cast<std::uint32_t>(rng.uniform(128, 300));
    c.congestion = static_cast<Congestion>(rng.uniform(0, 2));
    c.loss_recovery = rng.uniform(0, 1) ? LossRecovery::rack : LossRecovery::ikcp;
    Engine a(c), b(c);
    Bytes data(rng.uniform(1, 300'000));
    rng.fill(data);
    Bytes got;
    std::size_t sent = 0;
    Bytes buf(4096);
    std::uint32_t now = 0xFFFFF000u;
    for (int tick = 0; tick < 20000 && got.size() < data.size(); ++tick, now += 5) {
      sent += *a.send(ByteView(data).subspan(sent));
      a.update(now);
      b.update(now);
      for (ByteView d : a.output()) {
        if (rng.uniform(0, 9) != 0) {
          ASSERT_EQ(b.input(d, now), Errc::ok);  // 10 % loss
        }
      }
      for (ByteView d : b.output()) {
        if (rng.uniform(0, 9) != 0) {
          ASSERT_EQ(a.input(d, now), Errc::ok);
        }
      }
      a.clear_output();
      b.clear_output();
      for (std::size_t n; (n = *b.recv(buf)) > 0;) {
        got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
      }
    }
    ASSERT_EQ(got.size(), data.size());
    EXPECT_EQ(got, data);
    EXPECT_FALSE(a.dead());
  }
}

TEST(Engine, SteadyStateDoesNotAllocate) {
  for (OutputMode mode : {OutputMode::one_segment_per_datagram, OutputMode::batched}) {
    Config c = base();
    c.output = mode;
    Engine a(c), b(c);
    const Bytes src(256 * 1024, 0x5A);
    Bytes sink(64 * 1024);
    std::uint64_t datagrams = 0;  // every 100th data datagram is lost: a periodic pattern, so
                                  // the warm-up reaches every high-water mark
    std::uint32_t now = 0;
    std::uint64_t got = 0;
    auto round = [&] {
      (void)a.send(src);
      a.flush(now);
      for (ByteView d : a.output()) {
        if (++datagrams % 100 != 0) (void)b.input(d, now);  // 1 % loss
      }
      a.clear_output();
      for (std::size_t n; (n = *b.recv(sink)) > 0;) got += n;
      b.flush(now);
      for (ByteView d : b.output()) (void)a.input(d, now);
      b.clear_output();
      ++now;
    };
    for (int i = 0; i < 200; ++i) round();  // warm up: rings, pools, arenas reach size
    const std::size_t before = g_allocations;
    const std::uint64_t got_before = got;
    for (int i = 0; i < 200; ++i) round();
    EXPECT_EQ(g_allocations, before);
    EXPECT_GT(got - got_before, 40u * 1024 * 1024);  // about 1400 segments per round
    EXPECT_GT(a.stats().fast_retransmits + a.stats().retransmits, 0u);
  }
}

}  // namespace
}  // namespace paniq::kcp
