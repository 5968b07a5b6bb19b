// PlainConv: the stateless conv of plain Responses (MAC of source and time bucket).
#include "tunnel/plain_conv.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr TimeMs kBucket = 30'000;

TEST(PlainConv, VerifiesForItsSourceInItsBucketAndTheNext) {
  SeededRng rng(1);
  const PlainConv pc(kBucket, rng);
  const PeerAddr p = test::peer4(1, 5000);
  const std::uint32_t conv = pc.issue(p, 10'000, false, 0);
  for (const TimeMs t : {TimeMs{0}, TimeMs{29'999}, TimeMs{30'000}, TimeMs{59'999}}) {
    const auto g = pc.verify(p, conv, t);
    ASSERT_TRUE(g) << t;
    EXPECT_FALSE(g->packing);
    EXPECT_EQ(g->generation, 0u);
    EXPECT_EQ(g->valid_until, 60'000u);
  }
  EXPECT_FALSE(pc.verify(p, conv, 60'000)) << "two buckets later";
  EXPECT_EQ(pc.valid_until(10'000), 60'000u);
  // Another port, another IP, another family: not theirs.
  EXPECT_FALSE(pc.verify(test::peer4(1, 5001), conv, 10'000));
  EXPECT_FALSE(pc.verify(test::peer4(2, 5000), conv, 10'000));
  std::array<std::uint8_t, 16> a6{};
  a6[0] = 10;
  a6[3] = 1;
  EXPECT_FALSE(pc.verify(PeerAddr::v6(a6, 5000), conv, 10'000));
  // Another server (another key) does not know it.
  SeededRng rng2(2);
  const PlainConv other(kBucket, rng2);
  EXPECT_FALSE(other.verify(p, conv, 10'000));
}

TEST(PlainConv, FlagsTravelInTheConvAndDistinctGenerationsDiffer) {
  SeededRng rng(3);
  const PlainConv pc(kBucket, rng);
  const PeerAddr p = test::peer4(7, 7);
  std::set<std::uint32_t> convs;
  for (const bool packing : {false, true}) {
    for (std::uint32_t gen = 0; gen < PlainConv::kGenerations; ++gen) {
      const std::uint32_t conv = pc.issue(p, 1, packing, gen);
      EXPECT_EQ(conv, pc.issue(p, 29'999, packing, gen)) << "deterministic within the bucket";
      convs.insert(conv);
      const auto g = pc.verify(p, conv, 1);
      ASSERT_TRUE(g);
      EXPECT_EQ(g->packing, packing);
      EXPECT_EQ(g->generation, gen);
    }
  }
  EXPECT_EQ(convs.size(), 2u * PlainConv::kGenerations);
  EXPECT_NE(pc.issue(p, 1, false, 0), pc.issue(p, 30'000, false, 0)) << "a new bucket, a new conv";
}

// Convs of different sources look uniformly random (no fixed flag bits), and random convs do not
// verify (28 bits of MAC, two buckets: about 2^-27 each).
TEST(PlainConv, LooksRandomAndResistsGuessing) {
  SeededRng rng(4);
  const PlainConv pc(kBucket, rng);
  std::array<std::uint32_t, 32> ones{};
  constexpr int kN = 20'000;
  for (int i = 0; i < kN; ++i) {
    const PeerAddr p = PeerAddr::v4({127, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1}, 9);
    const std::uint32_t conv = pc.issue(p, 0, i % 2 == 0, 0);
    for (int b = 0; b < 32; ++b) ones[b] += (conv >> b) & 1u;
  }
  for (int b = 0; b < 32; ++b) {
    EXPECT_NEAR(static_cast<double>(ones[b]) / kN, 0.5, 0.02) << "bit " << b;
  }
  SeededRng guesses(5);
  const PeerAddr p = test::peer4(1, 1);
  int verified = 0;
  for (int i = 0; i < 200'000; ++i) verified += pc.verify(p, guesses.next_u32(), 45'000) ? 1 : 0;
  EXPECT_EQ(verified, 0);
}

TEST(PlainConv, ResponseRngIsAKeystreamPerInitiation) {
  SeededRng rng(6);
  const PlainConv pc(kBucket, rng);
  const PeerAddr p = test::peer4(1, 1);
  std::array<std::uint8_t, 16> d1{}, d2{};
  d2[0] = 1;
  auto draw = [&](const std::array<std::uint8_t, 16>& d, std::uint32_t conv, std::initializer_list<std::size_t> sizes) {
    PlainConv::ResponseRng r = pc.response_rng(p, d, conv);
    Bytes out;
    for (const std::size_t n : sizes) {
      Bytes b(n);
      r.fill(b);
      out.insert(out.end(), b.begin(), b.end());
    }
    return out;
  };
  const Bytes a = draw(d1, 7, {100});
  EXPECT_EQ(a, draw(d1, 7, {3, 61, 1, 35})) << "the same stream however it is drawn";
  EXPECT_NE(a, draw(d2, 7, {100}));
  EXPECT_NE(a, draw(d1, 8, {100}));
}

}  // namespace
}  // namespace paniq::tunnel
