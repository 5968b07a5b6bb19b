// The engine's containers (src/kcp/buffers.hpp).
#include "kcp/buffers.hpp"

#include <gtest/gtest.h>

namespace paniq::kcp::detail {
namespace {

TEST(Buffers, SnRingKeepsEntriesAcrossGrowthAndWrap) {
  SnRing<std::uint32_t> ring;
  const std::uint32_t first = 0xFFFFFFF8u;  // the window crosses 2^32
  ring.reserve(first, 10);
  EXPECT_EQ(ring.capacity(), 16u);
  for (std::uint32_t i = 0; i < 16; ++i) ring[first + i] = first + i;
  ring.reserve(first, 17);
  EXPECT_EQ(ring.capacity(), 32u);
  for (std::uint32_t i = 0; i < 16; ++i) EXPECT_EQ(ring[first + i], first + i);
  ring.reserve(first + 3, 20);  // already big enough: unchanged
  EXPECT_EQ(ring.capacity(), 32u);
  ring.reserve(first + 3, 1000);
  EXPECT_EQ(ring.capacity(), 1024u);
  for (std::uint32_t i = 3; i < 16; ++i) EXPECT_EQ(ring[first + i], first + i);
}

TEST(Buffers, BlockPoolRecyclesAndGrows) {
  BlockPool pool(100);
  std::uint8_t* a = pool.acquire();
  std::uint8_t* b = pool.acquire();
  std::fill(a, a + 100, 1);
  std::fill(b, b + 100, 2);
  pool.release(a);
  EXPECT_EQ(pool.cached(), 1u);
  EXPECT_EQ(pool.acquire(), a);  // reused, no new allocation
  pool.release(a);
  pool.grow_block_size(1000);
  EXPECT_EQ(pool.block_size(), 1024u);  // rounded to 64
  EXPECT_EQ(pool.cached(), 0u);         // small blocks freed
  pool.release(b);                      // a small block coming back is freed too
  EXPECT_EQ(pool.cached(), 0u);
  std::uint8_t* c = pool.acquire();
  std::fill(c, c + 1024, 3);
  pool.release(c);
  pool.release(nullptr);
  EXPECT_EQ(pool.cached(), 1u);
  pool.trim();
  EXPECT_EQ(pool.cached(), 0u);
}

TEST(Buffers, OutputArenaDatagramsAndPartialConsume) {
  OutputArena out;
  for (int i = 0; i < 5; ++i) {
    std::uint8_t* p = out.reserve(3000);  // forces growth past the first 4 KiB
    std::fill(p, p + 3000, static_cast<std::uint8_t>(i));
    out.commit(3000);
    out.close();
  }
  out.close();  // empty: no datagram
  ASSERT_EQ(out.count(), 5u);
  EXPECT_EQ(out.bytes(), 15000u);
  out.consume(2);
  auto views = out.views();
  ASSERT_EQ(views.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(views[i].size(), 3000u);
    EXPECT_EQ(views[i][0], i + 2);
    EXPECT_EQ(views[i][2999], i + 2);
  }
  EXPECT_EQ(out.bytes(), 9000u);
  out.consume(100);
  EXPECT_EQ(out.count(), 0u);
  EXPECT_EQ(out.bytes(), 0u);
  EXPECT_TRUE(out.views().empty());
}

}  // namespace
}  // namespace paniq::kcp::detail
