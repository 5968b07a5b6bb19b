#include "core/containers.hpp"

#include <gtest/gtest.h>

#include <unordered_map>

namespace paniq {
namespace {

TEST(Containers, SparseMapGivesBackTheBucketsOfItsPeak) {
  std::unordered_map<int, int> m;
  for (int i = 0; i < 1000; ++i) m[i] = i * 3;
  const std::size_t peak = m.bucket_count();
  ASSERT_GE(peak, 1000u);
  std::size_t rebuilds = 0, last = peak;
  for (int i = 0; i < 995; ++i) {
    m.erase(i);
    shrink_if_sparse(m);
    if (m.bucket_count() != last) ++rebuilds;
    last = m.bucket_count();
  }
  EXPECT_LE(m.bucket_count(), 64u) << "five entries left";
  EXPECT_LE(rebuilds, 3u) << "rebuilt only when an eighth full, not at every erase";
  for (int i = 995; i < 1000; ++i) EXPECT_EQ(m.at(i), i * 3);
}

TEST(Containers, SmallOrFullMapsAreLeftAlone) {
  std::unordered_map<int, int> m;
  for (int i = 0; i < 40; ++i) m[i] = i;
  const std::size_t small = m.bucket_count();
  m.clear();
  shrink_if_sparse(m);
  EXPECT_EQ(m.bucket_count(), small) << "at most 64 buckets are kept";
  for (int i = 0; i < 1000; ++i) m[i] = i;
  const std::size_t full = m.bucket_count();
  for (int i = 0; i < 500; ++i) m.erase(i);
  shrink_if_sparse(m);
  EXPECT_EQ(m.bucket_count(), full) << "half full is not sparse";
}

}  // namespace
}  // namespace paniq
