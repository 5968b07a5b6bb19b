// BoundedLru: fixed capacity, LRU eviction, no allocation after construction, and agreement
// with a reference model under a seeded random workload.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <list>
#include <map>
#include <sstream>
#include <string>

#include "tunnel/bounded_table.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

struct U32Hash {
  std::uint64_t operator()(std::uint32_t k, std::uint64_t seed) const {
    std::uint8_t b[4];
    put_u32_le(b, k);
    return seeded_hash(b, seed);
  }
};
// Every key in one probe sequence: the worst case a prober could aim for.
struct CollidingHash {
  std::uint64_t operator()(std::uint32_t, std::uint64_t) const { return 7; }
};

TEST(BoundedLru, EvictsTheLeastRecentlyUsed) {
  BoundedLru<std::uint32_t, int, U32Hash> t(3, 42);
  EXPECT_FALSE(t.insert(1, 10));
  EXPECT_FALSE(t.insert(2, 20));
  EXPECT_FALSE(t.insert(3, 30));
  EXPECT_TRUE(t.full());
  ASSERT_NE(t.touch(1), nullptr);  // 2 is now the oldest
  EXPECT_TRUE(t.insert(4, 40));
  EXPECT_EQ(t.find(2), nullptr);
  EXPECT_EQ(*t.find(1), 10);
  EXPECT_EQ(*t.find(4), 40);
  EXPECT_EQ(*t.oldest_key(), 3u);
  EXPECT_FALSE(t.insert(4, 41)) << "replacing is not an eviction";
  EXPECT_EQ(*t.find(4), 41);
  t.erase(3);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(*t.oldest_key(), 1u);
  t.pop_oldest();
  t.pop_oldest();
  t.pop_oldest();  // empty: no-op
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.oldest(), nullptr);
  EXPECT_THROW((BoundedLru<std::uint32_t, int, U32Hash>(0, 1)), std::invalid_argument);
}

template <class Hash>
void model_check(std::uint64_t seed, std::size_t cap) {
  BoundedLru<std::uint32_t, std::uint64_t, Hash> t(cap, seed);
  std::list<std::uint32_t> order;  // front = most recent
  std::map<std::uint32_t, std::uint64_t> values;
  SeededRng rng(seed);
  for (int op = 0; op < 20000; ++op) {
    const auto key = static_cast<std::uint32_t>(rng.uniform(0, cap * 3));
    switch (rng.uniform(0, 3)) {
      case 0: {
        const std::uint64_t v = rng.next_u64();
        const bool evicted = t.insert(key, v);
        const bool had = values.count(key) > 0;
        if (had) order.remove(key);
        EXPECT_EQ(evicted, !had && values.size() == cap);
        if (evicted) {
          values.erase(order.back());
          order.pop_back();
        }
        order.push_front(key);
        values[key] = v;
        break;
      }
      case 1: {
        auto* got = t.touch(key);
        ASSERT_EQ(got != nullptr, values.count(key) > 0);
        if (got) {
          EXPECT_EQ(*got, values[key]);
          order.remove(key);
          order.push_front(key);
        }
        break;
      }
      case 2:
        t.erase(key);
        if (values.erase(key)) order.remove(key);
        break;
      default: {
        const auto* got = t.find(key);
        ASSERT_EQ(got != nullptr, values.count(key) > 0);
        if (got) {
          EXPECT_EQ(*got, values[key]);
        }
      }
    }
    ASSERT_EQ(t.size(), values.size());
    if (!order.empty()) {
      ASSERT_EQ(*t.oldest_key(), order.back());
    }
  }
  // The table alone, churning past its capacity: no allocation after construction.
  const std::uint64_t before = test::allocations();
  std::uint64_t found = 0;
  for (std::uint32_t k = 0; k < 5000; ++k) {
    (void)t.insert(k, k);
    found += t.find(k / 2) != nullptr;
    if (k % 3 == 0) t.erase(k - 1);
  }
  EXPECT_EQ(test::allocations(), before) << "no allocation after construction";
  EXPECT_GT(found, 0u);
}

TEST(BoundedLru, MatchesAModelUnderRandomOperations) {
  model_check<U32Hash>(1, 1);
  model_check<U32Hash>(2, 7);
  model_check<U32Hash>(3, 64);
  model_check<CollidingHash>(4, 16);
}

// The process's private (Anonymous) memory in kB, from /proc/self/smaps_rollup; -1 where the
// file is missing.
long anonymous_kb() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Anonymous:", 0) == 0) {
      std::istringstream fields(line.substr(10));
      long kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return -1;
}

// A server builds its tables at start at full capacity; only the entries that sources fill may
// cost resident memory.
TEST(BoundedLru, StorageThatNoEntryHasUsedCostsNoResidentMemory) {
  const long before = anonymous_kb();
  if (before < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup here";
  struct Big {
    std::uint64_t a = 1, b = 2, c = 3;
  };
  // 1 Mi entries: about 40 MB of nodes and 8 MB of slots if they were touched.
  BoundedLru<std::uint32_t, Big, U32Hash> t(1u << 20, 9);
  for (std::uint32_t k = 0; k < 1000; ++k) (void)t.insert(k, Big{k, k, k});
  const long after = anonymous_kb();
  EXPECT_LT(after - before, 4 * 1024) << "kB of private memory for 1000 of 1 Mi entries";
  for (std::uint32_t k = 0; k < 1000; ++k) {
    ASSERT_NE(t.find(k), nullptr);
    EXPECT_EQ(t.find(k)->b, k);
  }
  EXPECT_EQ(t.find(5000), nullptr);
  EXPECT_EQ(t.size(), 1000u);
}

}  // namespace
}  // namespace paniq::tunnel
