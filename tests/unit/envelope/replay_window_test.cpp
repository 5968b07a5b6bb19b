#include "envelope/replay_window.hpp"

#include <gtest/gtest.h>

#include <set>

#include "core/rng.hpp"

namespace paniq::envelope {
namespace {

TEST(ReplayWindow, SizeRoundsUpToBlocks) {
  EXPECT_EQ(ReplayWindow().window_size(), 2048u);
  EXPECT_EQ(ReplayWindow(2000).window_size(), 2048u);
  EXPECT_EQ(ReplayWindow(1).window_size(), 64u);
  EXPECT_EQ(ReplayWindow(0).window_size(), 64u);
}

TEST(ReplayWindow, AcceptsNewRejectsDuplicates) {
  ReplayWindow w;
  EXPECT_TRUE(w.check(0));
  EXPECT_TRUE(w.check_and_update(0));  // Rust counters start at 0
  EXPECT_FALSE(w.check(0));
  EXPECT_FALSE(w.check_and_update(0));
  for (std::uint64_t c = 1; c < 300; ++c) ASSERT_TRUE(w.check_and_update(c));
  for (std::uint64_t c = 0; c < 300; ++c) ASSERT_FALSE(w.check_and_update(c));
}

TEST(ReplayWindow, ReorderingWithinWindowAndTooOld) {
  ReplayWindow w(128);
  EXPECT_TRUE(w.check_and_update(1000));
  EXPECT_TRUE(w.check_and_update(999));
  EXPECT_TRUE(w.check_and_update(1000 - 127));  // oldest still inside
  EXPECT_FALSE(w.check(1000 - 128));            // just outside
  EXPECT_FALSE(w.check_and_update(1000 - 128));
  EXPECT_FALSE(w.check_and_update(5));
  EXPECT_FALSE(w.check_and_update(999));
  EXPECT_TRUE(w.check_and_update(1001));
  EXPECT_TRUE(w.check_and_update(998));
}

TEST(ReplayWindow, RingWrapsManyTimes) {
  ReplayWindow w(256);  // 4 blocks + 1 in the ring
  for (std::uint64_t c = 0; c < 64 * 50; c += 2) ASSERT_TRUE(w.check_and_update(c));
  // Odd counters inside the window are still new; below it too old.
  const std::uint64_t top = 64 * 50 - 2;
  for (std::uint64_t c = top - 255; c < top; c += 2) ASSERT_TRUE(w.check_and_update(c)) << c;
  for (std::uint64_t c = top - 255; c <= top; ++c) ASSERT_FALSE(w.check_and_update(c)) << c;
  EXPECT_FALSE(w.check_and_update(top - 257));
}

TEST(ReplayWindow, JumpFarAheadClearsOldBits) {
  ReplayWindow w(2048);
  for (std::uint64_t c = 0; c < 2000; ++c) ASSERT_TRUE(w.check_and_update(c));
  const std::uint64_t far = 1'000'000'000'000ULL;
  EXPECT_TRUE(w.check_and_update(far));
  EXPECT_FALSE(w.check_and_update(1999));  // now far too old
  // Everything just behind the new top is unseen, although the ring slots held old bits.
  for (std::uint64_t c = far - 2047; c < far; ++c) ASSERT_TRUE(w.check_and_update(c)) << c;
  EXPECT_FALSE(w.check_and_update(far));
  EXPECT_TRUE(w.check_and_update(UINT64_MAX));
  EXPECT_FALSE(w.check_and_update(UINT64_MAX));
}

TEST(ReplayWindow, ResetForgets) {
  ReplayWindow w(64);
  EXPECT_TRUE(w.check_and_update(500));
  w.reset();
  EXPECT_TRUE(w.check_and_update(3));
  EXPECT_TRUE(w.check_and_update(500));
}

// Against a model (set of seen counters + the top), seeded and bounded.
TEST(ReplayWindow, PropertyMatchesModel) {
  for (std::size_t bits : {64u, 192u, 2048u}) {
    SeededRng rng(bits);
    ReplayWindow w(bits);
    std::set<std::uint64_t> seen;
    std::uint64_t top = 0;
    bool any = false;
    std::uint64_t base = 0;
    for (int i = 0; i < 20000; ++i) {
      // Mostly forward with reordering, duplicates and occasional jumps.
      const std::uint64_t r = rng.uniform(0, 99);
      if (r < 2) base += rng.uniform(0, 5000);
      const std::uint64_t c = base + rng.uniform(0, bits + bits / 2);
      if (r > 60) ++base;
      const bool expect = !any || c > top || (top - c < w.window_size() && !seen.count(c));
      ASSERT_EQ(w.check(c), expect) << i;
      ASSERT_EQ(w.check_and_update(c), expect) << i;
      if (expect) {
        seen.insert(c);
        if (!any || c > top) top = c;
        any = true;
      }
    }
  }
}

}  // namespace
}  // namespace paniq::envelope
