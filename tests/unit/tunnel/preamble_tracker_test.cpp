// PreambleTracker: signature datagrams of every tag kind recognised (and their <t> value kept),
// junk ignored, per-source records with TTL, consumption, and a bounded table under a flood.
#include <gtest/gtest.h>

#include "tunnel/preamble_tracker.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

obf::Config chains(std::initializer_list<std::pair<std::size_t, const char*>> specs) {
  obf::Config c = test::wire_obf_config();
  for (const auto& [k, spec] : specs) c.i[k] = spec;
  return c;
}

constexpr std::uint32_t kT = 1'700'000'123;

TEST(PreambleTracker, EveryTagKindRecognised) {
  const obf::Framer fr = test::framer(chains({{0, "<b 0xcafe><r 3><rc 4><rd 2><dz 2>"},
                                              {1, "<t><d><ds>"},
                                              {4, "<d>"}}));
  PreambleTracker t(fr, PreambleConfig{}, 1);
  EXPECT_TRUE(t.active());
  EXPECT_EQ(t.required_mask(), 0b10011);
  EXPECT_TRUE(t.has_timestamp_chain());
  SeededRng rng(2);
  const auto sigs = fr.signatures(kT, rng);
  ASSERT_EQ(sigs.size(), 3u);
  EXPECT_EQ(sigs[0].size(), 13u);
  EXPECT_EQ(sigs[1].size(), 4u);
  EXPECT_TRUE(sigs[2].empty()) << "<d> with an empty payload: a zero-length datagram";
  const PeerAddr p = test::peer4(1, 5);
  EXPECT_FALSE(t.status(p, 0).complete);
  EXPECT_EQ(t.observe(p, sigs[2], 0), 4u);
  EXPECT_EQ(t.observe(p, sigs[0], 1), 0u);
  EXPECT_FALSE(t.status(p, 1).complete);
  EXPECT_EQ(t.observe(p, sigs[1], 2), 1u);
  const auto st = t.status(p, 2);
  EXPECT_TRUE(st.complete);
  ASSERT_TRUE(st.timestamp);
  EXPECT_EQ(*st.timestamp, kT);
}

TEST(PreambleTracker, EachTagsCheckRejectsNearMisses) {
  const obf::Framer fr = test::framer(chains({{0, "<b 0xcafe><rc 4><rd 2><dz 2>"}}));
  PreambleTracker t(fr, PreambleConfig{}, 1);
  SeededRng rng(3);
  const Bytes good = fr.signatures(kT, rng)[0];  // cafe | 4 letters | 2 digits | 0000
  ASSERT_EQ(good.size(), 10u);
  const PeerAddr p = test::peer4(1, 1);
  for (const std::size_t at : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{6}}) {
    Bytes bad = good;
    bad[at] = '#';
    EXPECT_FALSE(t.observe(p, bad, 0)) << "byte " << at;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_FALSE(t.observe(p, longer, 0));
  EXPECT_FALSE(t.observe(p, ByteView(good).first(9), 0));
  Bytes sizes = good;
  sizes[8] = 0x12;  // <dz>'s value is not checked (it only declares a length)
  EXPECT_TRUE(t.observe(p, sizes, 0));
  EXPECT_EQ(t.size(), 1u);
}

TEST(PreambleTracker, RecordsExpireAndAreConsumed) {
  const obf::Framer fr = test::framer(chains({{0, "<b 0x01>"}, {2, "<t>"}}));
  PreambleConfig cfg;
  cfg.ttl_ms = 100;
  PreambleTracker t(fr, cfg, 1);
  SeededRng rng(1);
  const auto sigs = fr.signatures(kT, rng);
  const PeerAddr p = test::peer4(1, 1);
  EXPECT_TRUE(t.observe(p, sigs[0], 0));
  EXPECT_TRUE(t.observe(p, sigs[1], 100));
  EXPECT_TRUE(t.status(p, 200).complete) << "100 ms after the latest signature";
  EXPECT_FALSE(t.status(p, 201).complete);
  EXPECT_TRUE(t.observe(p, sigs[1], 300));
  EXPECT_FALSE(t.status(p, 300).complete) << "an expired record starts over";
  EXPECT_TRUE(t.observe(p, sigs[0], 301));
  EXPECT_TRUE(t.status(p, 301).complete);
  EXPECT_FALSE(t.status(test::peer4(1, 2), 301).complete) << "records are per address and port";
  t.consume(p);
  EXPECT_FALSE(t.status(p, 301).complete);
  EXPECT_EQ(t.size(), 0u);
  // A later <t> replaces the earlier value (a re-sent preamble).
  Bytes later = sigs[1];
  put_u32_be(later.data(), kT + 5);
  EXPECT_TRUE(t.observe(p, sigs[1], 400));
  EXPECT_TRUE(t.observe(p, later, 401));
  EXPECT_EQ(*t.status(p, 401).timestamp, kT + 5);
}

TEST(PreambleTracker, SameChainTwiceNeedsTwoDatagrams) {
  const obf::Framer fr = test::framer(chains({{0, "<r 4>"}, {1, "<r 4>"}}));
  PreambleTracker t(fr, PreambleConfig{}, 1);
  const PeerAddr p = test::peer4(1, 1);
  const Bytes d = test::hex("01020304");
  EXPECT_EQ(t.observe(p, d, 0), 0u);
  EXPECT_FALSE(t.status(p, 0).complete);
  EXPECT_EQ(t.observe(p, d, 0), 1u);
  EXPECT_TRUE(t.status(p, 0).complete);
}

TEST(PreambleTracker, InactiveWithoutChainsAndBoundedUnderFlood) {
  PreambleTracker none(test::framer(test::wire_obf_config()), PreambleConfig{}, 1);
  EXPECT_FALSE(none.active());
  EXPECT_FALSE(none.observe(test::peer4(1, 1), Bytes{}, 0));
  EXPECT_EQ(none.size(), 0u);

  const obf::Framer fr = test::framer(chains({{0, "<t>"}}));  // any 4 bytes match
  PreambleConfig cfg;
  cfg.table_size = 128;
  PreambleTracker t(fr, cfg, 7);
  SeededRng rng(5);
  Bytes d(4);
  const std::uint64_t before = test::allocations();
  for (int i = 0; i < 50000; ++i) {
    rng.fill(d);
    const PeerAddr p = PeerAddr::v4({10, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1},
                                    static_cast<std::uint16_t>(rng.next_u32()));
    (void)t.observe(p, d, static_cast<TimeMs>(i));
    ASSERT_LE(t.size(), 128u);
  }
  EXPECT_EQ(test::allocations(), before) << "no allocation per datagram";
  EXPECT_GT(t.evictions(), 40000u);
}

}  // namespace
}  // namespace paniq::tunnel
