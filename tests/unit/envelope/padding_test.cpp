#include "envelope/padding.hpp"

#include <gtest/gtest.h>

namespace paniq::envelope {
namespace {

PaddingPolicy policy(std::uint32_t lo, std::uint32_t hi, std::uint32_t blo, std::uint32_t bhi,
                     double prob) {
  PaddingPolicy p;
  p.enabled = true;
  p.pad_min = lo;
  p.pad_max = hi;
  p.pad_burst_min = blo;
  p.pad_burst_max = bhi;
  p.pad_burst_prob = prob;
  return p;
}

TEST(Padding, DisabledIsZeroAndDrawsNothing) {
  ScriptedRng rng;
  rng.push(std::vector<std::uint8_t>{1, 2, 3});
  EXPECT_EQ(choose_padding(PaddingPolicy::disabled(), 10, 1000, rng), 0u);
  EXPECT_EQ(rng.remaining(), 3u);
}

TEST(Padding, FixedRangeDrawsNothing) {
  ScriptedRng rng;
  rng.push(std::vector<std::uint8_t>{1, 2, 3});
  EXPECT_EQ(choose_padding(policy(3, 3, 50, 60, 0.0), 4, 128, rng), 3u);
  EXPECT_EQ(choose_padding(policy(9, 2, 50, 60, 0.0), 4, 128, rng), 9u);  // max <= min -> min
  EXPECT_EQ(rng.remaining(), 3u);
}

TEST(Padding, StaysInRangeAndCoversIt) {
  SeededRng rng(7);
  const auto p = policy(2, 6, 96, 104, 0.0);
  std::array<int, 7> seen{};
  for (int i = 0; i < 2000; ++i) {
    const auto pad = choose_padding(p, 10, 1000, rng);
    ASSERT_GE(pad, 2u);
    ASSERT_LE(pad, 6u);
    ++seen[pad];
  }
  for (int v = 2; v <= 6; ++v) EXPECT_GT(seen[v], 0) << v;
}

TEST(Padding, BurstProbabilityIsClampedAndHonoured) {
  SeededRng rng(11);
  const auto always = policy(0, 0, 100, 100, 7.5);  // clamped to 1
  const auto never = policy(0, 0, 100, 100, -3.0);  // clamped to 0
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(choose_padding(always, 0, 1000, rng), 100u);
    EXPECT_EQ(choose_padding(never, 0, 1000, rng), 0u);
  }
  const auto quarter = policy(0, 0, 100, 100, 0.25);
  int bursts = 0;
  for (int i = 0; i < 4000; ++i) bursts += choose_padding(quarter, 0, 1000, rng) == 100;
  EXPECT_GT(bursts, 800);
  EXPECT_LT(bursts, 1200);
}

TEST(Padding, ClampedToBudgetMinusInner) {
  SeededRng rng(3);
  EXPECT_EQ(choose_padding(policy(50, 50, 0, 0, 0.0), 90, 100, rng), 10u);
  EXPECT_EQ(choose_padding(policy(50, 50, 0, 0, 0.0), 120, 100, rng), 0u);  // saturating
  EXPECT_EQ(choose_padding(policy(50, 50, 0, 0, 0.0), 50, 100, rng), 50u);
}

}  // namespace
}  // namespace paniq::envelope
