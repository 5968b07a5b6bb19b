#include "core/rng.hpp"

#include <gtest/gtest.h>

#include <set>

namespace paniq {
namespace {

TEST(Rng, SeededIsDeterministicAndSeedSensitive) {
  SeededRng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    auto x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
  }
}

TEST(Rng, UniformStaysInRangeAndCoversIt) {
  SeededRng r(1);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    auto v = r.uniform(5, 9);
    ASSERT_GE(v, 5u);
    ASSERT_LE(v, 9u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(r.uniform(7, 7), 7u);
  EXPECT_EQ(r.uniform(9, 3), 9u);
}

TEST(Rng, ScriptedReplaysBytesInOrderThenFallsBack) {
  ScriptedRng r;
  const std::uint8_t s[] = {0x01, 0x02, 0x03, 0x04, 0x05};
  r.push(s);
  EXPECT_EQ(r.next_u32(), 0x04030201u);
  EXPECT_EQ(r.remaining(), 1u);
  std::uint8_t out[3];
  r.fill(out);
  EXPECT_EQ(out[0], 0x05);
  EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace paniq
