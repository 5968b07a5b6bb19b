#include "net/slab.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace paniq::net {
namespace {

TEST(Slab, HandsOutDistinctAlignedObjectsPackedIntoChunks) {
  Slab slab(170, 8);  // the size of Asio's descriptor_state, rounded up to 176
  const std::size_t per_chunk = Slab::kChunkBytes / 176;
  std::vector<void*> got;
  std::set<void*> seen;
  for (std::size_t i = 0; i < per_chunk + 1; ++i) {
    void* p = slab.allocate();
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << i;
    ASSERT_TRUE(seen.insert(p).second) << "object " << i << " handed out twice";
    got.push_back(p);
  }
  // One chunk holds per_chunk objects; the next one opened a second chunk.
  EXPECT_EQ(slab.chunks(), 2u);
  // Consecutive objects are adjacent: nothing else lives between them.
  EXPECT_EQ(static_cast<char*>(got[1]) - static_cast<char*>(got[0]), 176);
  // Objects can be written whole without touching their neighbours.
  for (void* p : got) std::memset(p, 0xA5, 170);
}

TEST(Slab, ReusesFreedObjectsBeforeGrowing) {
  Slab slab(64, 16);
  void* a = slab.allocate();
  void* b = slab.allocate();
  slab.deallocate(a);
  slab.deallocate(b);
  EXPECT_EQ(slab.allocate(), b);  // last freed first
  EXPECT_EQ(slab.allocate(), a);
  EXPECT_EQ(slab.chunks(), 1u);
  slab.deallocate(nullptr);  // a no-op, as for delete
  void* c = slab.allocate();
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
}

TEST(Slab, TinyObjectsStillHoldTheFreeListLink) {
  Slab slab(1, 1);
  void* a = slab.allocate();
  void* b = slab.allocate();
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), static_cast<std::ptrdiff_t>(sizeof(void*)));
  slab.deallocate(a);
  EXPECT_EQ(slab.allocate(), a);
}

}  // namespace
}  // namespace paniq::net
