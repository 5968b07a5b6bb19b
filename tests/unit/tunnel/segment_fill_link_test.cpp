// Segment fill through two encrypted Links (docs/protocol.md 7.9): a full data datagram carries
// as payload the bytes its padding draw would have added. On the wire the lengths of full
// datagrams must be distributed as without it; the transfer needs fewer datagrams; every byte
// still arrives exactly once, in order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "envelope/secure.hpp"
#include "tunnel/link.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::LinkPair;

struct Transfer {
  std::vector<std::size_t> lengths;  // every server -> client datagram, in bytes
  std::size_t full_floor = 0;        // the shortest a full data datagram can be: pad_min added
  std::size_t full_ceiling = 0;      // the longest: the whole padding reserve
  std::uint64_t delivered = 0;
  bool exact = true;
  std::uint64_t datagrams = 0, padding = 0;  // the server's, from its Link stats
};

constexpr std::uint64_t kBytes = 3u << 20;

// The server sends kBytes on one stream; 20 ms each way, no loss.
Transfer run(bool fill, std::uint64_t seed) {
  sim::LinkParams p;
  p.delay_ms = 20;
  test::LinkOptions o;
  o.padding = true;
  o.window = 2048;
  LinkConfig cc = test::link_config(mux::Role::Client, o);
  LinkConfig sc = test::link_config(mux::Role::Server, o);
  cc.segment_fill = sc.segment_fill = fill;
  const test::SecureKeyPair k = test::secure_key_pair(true);
  LinkPair lp(cc, sc, test::wire_obf_config(), p, p, seed, &k.client, &k.server);
  Transfer t;
  const std::size_t f = test::framer(test::wire_obf_config()).prefix_len(obf::MessageType::Transport) +
                        envelope::SecureChannel::inner_offset() + lp.b.kcp().config().mtu +
                        envelope::kSecureTagLen;
  t.full_floor = f + sc.padding.pad_min;
  t.full_ceiling = f + sc.padding.max_padding();
  lp.tap = [&](sim::Side side, ByteView d) {
    if (side != sim::Side::b) return;
    t.lengths.push_back(d.size());
  };
  const mux::StreamId id = *lp.a.mux().open_stream(0);
  EXPECT_EQ(*lp.a.mux().write(id, as_bytes("get"), 0), 3u);
  std::optional<mux::StreamId> server_id;
  std::uint64_t sent = 0;
  std::uint8_t buf[16384];
  for (int i = 0; i < 200000 && t.delivered < kBytes && lp.now() < 60000; ++i) {
    lp.step([&](LinkPair& l) {
      const TimeMs now = l.now();
      while (auto e = l.b.poll_event()) {
        if (e->kind != EventKind::StreamOpened && e->kind != EventKind::Readable) continue;
        auto n = l.b.mux().read(e->stream, buf);
        if (n && *n > 0) server_id = e->stream;
      }
      if (server_id) test::write_pattern(l.b.mux(), *server_id, 11, sent, kBytes, now);
      while (auto e = l.a.poll_event()) (void)e;
      test::read_pattern(l.a.mux(), id, 11, t.delivered, t.exact, buf);
    });
  }
  t.datagrams = lp.b.stats().datagrams_out;
  t.padding = lp.b.stats().padding_bytes_out;
  return t;
}

std::vector<std::size_t> full(const Transfer& t) {
  std::vector<std::size_t> v;
  for (const std::size_t n : t.lengths) {
    if (n >= t.full_floor) v.push_back(n);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// Two-sample Kolmogorov-Smirnov statistic of two sorted samples.
double ks(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  std::size_t i = 0, j = 0;
  double d = 0;
  while (i < a.size() && j < b.size()) {
    const std::size_t x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] == x) ++i;
    while (j < b.size() && b[j] == x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                             static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return d;
}

TEST(SegmentFill, FullDatagramsKeepTheirLengthsAndCarryMore) {
  const Transfer off = run(false, 21);
  const Transfer on = run(true, 22);
  for (const Transfer* t : {&off, &on}) {
    EXPECT_EQ(t->delivered, kBytes);
    EXPECT_TRUE(t->exact);
    EXPECT_EQ(t->full_floor, off.full_floor);
    // Nothing longer than the budget: the stretch is exactly the padding reserve's.
    EXPECT_LE(*std::max_element(t->lengths.begin(), t->lengths.end()), t->full_ceiling);
  }
  const auto a = full(off), b = full(on);
  ASSERT_GT(a.size(), 2000u);
  ASSERT_GT(b.size(), 2000u);
  // Same support and the same distribution (KS at the 0.1 % level for these sample sizes).
  EXPECT_EQ(a.front(), b.front());
  EXPECT_GE(b.back() + 8, a.back());
  const double n = static_cast<double>(a.size()) * static_cast<double>(b.size()) /
                   static_cast<double>(a.size() + b.size());
  EXPECT_LT(ks(a, b), 1.95 / std::sqrt(n)) << "full datagrams' lengths differ";
  // Full datagrams carry pad_min of padding under fill (a draw of 16..96, 56 on average,
  // without), and save the mean draw above pad_min (about 40 of ~1170 bytes with the default
  // policy): over 2.5 % fewer datagrams.
  const double pad_off = static_cast<double>(off.padding) / static_cast<double>(off.datagrams);
  const double pad_on = static_cast<double>(on.padding) / static_cast<double>(on.datagrams);
  std::printf("segment fill: %zu -> %zu datagrams, padding %.1f -> %.1f bytes each, KS D %.4f "
              "(bound %.4f), full lengths %zu..%zu / %zu..%zu\n",
              off.lengths.size(), on.lengths.size(), pad_off, pad_on, ks(a, b), 1.95 / std::sqrt(n),
              a.front(), a.back(), b.front(), b.back());
  EXPECT_GT(pad_off, 45.0);
  EXPECT_LT(pad_on, 25.0);
  EXPECT_LT(static_cast<double>(on.lengths.size()), 0.975 * static_cast<double>(off.lengths.size()));
  // A stretched datagram can be no shorter than the fill gives: never below the plain floor.
  EXPECT_GT(static_cast<double>(on.lengths.size()), 0.9 * static_cast<double>(off.lengths.size()));
}

// Without stream offsets, or without padding, nothing is stretched.
TEST(SegmentFill, NeedsStreamOffsetsAndPadding) {
  test::LinkOptions o;
  o.padding = true;
  test::SecureKeyPair k = test::secure_key_pair(true);
  k.client.stream_offsets = k.server.stream_offsets = false;
  LinkConfig c = test::link_config(mux::Role::Server, o);
  SeededRng rng(1);
  const obf::Framer fr = test::framer(test::wire_obf_config());
  EXPECT_EQ(Link(c, 1, fr, rng, 0, &k.server).kcp().config().record_stretch, 0u);
  k.server.stream_offsets = true;
  EXPECT_EQ(Link(c, 1, fr, rng, 0, &k.server).kcp().config().record_stretch,
            c.padding.max_padding() - c.padding.pad_min);
  EXPECT_EQ(Link(c, 1, fr, rng, 0, &k.server).mux().config().frame_stretch_max,
            c.padding.max_padding() - c.padding.pad_min);
  c.segment_fill = false;
  EXPECT_EQ(Link(c, 1, fr, rng, 0, &k.server).kcp().config().record_stretch, 0u);
  c = test::link_config(mux::Role::Server);  // no padding
  EXPECT_EQ(Link(c, 1, fr, rng, 0, &k.server).kcp().config().record_stretch, 0u);
  EXPECT_EQ(Link(c, 1, fr, rng, 0, nullptr).kcp().config().record_stretch, 0u);  // plain
}

}  // namespace
}  // namespace paniq::tunnel
