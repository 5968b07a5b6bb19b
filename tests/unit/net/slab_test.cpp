#include "net/slab.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <vector>

namespace paniq::net {
namespace {

// Whether the page holding `p` is mapped in this process: mincore fails with ENOMEM for an
// address that no mapping covers.
bool mapped(const void* p, std::size_t page) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  unsigned char vec = 0;
  return ::mincore(reinterpret_cast<void*>(at - at % page), page, &vec) == 0 || errno != ENOMEM;
}

TEST(Slab, HandsOutDistinctAlignedObjectsPackedIntoPageChunks) {
  Slab slab(170, 8);  // the size of Asio's descriptor_state, rounded up to 176
  EXPECT_EQ(slab.object_size(), 176u);
  EXPECT_GE(slab.per_chunk(), 20u);  // a 4 KiB page less its header
  EXPECT_LE(slab.per_chunk() * 176, slab.chunk_bytes());
  std::vector<void*> got;
  std::set<void*> seen;
  for (std::size_t i = 0; i < slab.per_chunk() + 1; ++i) {
    void* p = slab.allocate();
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 8, 0u) << i;
    ASSERT_TRUE(seen.insert(p).second) << "object " << i << " handed out twice";
    got.push_back(p);
  }
  // One chunk holds per_chunk objects; the next one opened a second chunk.
  EXPECT_EQ(slab.chunks(), 2u);
  // Consecutive objects are adjacent: nothing else lives between them.
  EXPECT_EQ(static_cast<char*>(got[1]) - static_cast<char*>(got[0]), 176);
  // Objects can be written whole without touching their neighbours or the chunk's header.
  for (void* p : got) std::memset(p, 0xA5, 176);
  for (void* p : got) slab.deallocate(p);
  EXPECT_EQ(slab.chunks(), 0u);
}

TEST(Slab, ReusesFreedObjectsBeforeGrowing) {
  Slab slab(64, 16);
  void* keep = slab.allocate();  // keeps the chunk mapped
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
  EXPECT_NE(c, keep);
  EXPECT_EQ(slab.chunks(), 1u);
}

TEST(Slab, GivesAChunkBackToTheSystemWhenItsLastObjectGoes) {
  Slab slab(176, 8);
  const std::size_t n = slab.per_chunk();
  std::vector<void*> got;
  for (std::size_t i = 0; i < 3 * n; ++i) got.push_back(slab.allocate());
  ASSERT_EQ(slab.chunks(), 3u);
  for (void* p : got) std::memset(p, 0x5A, 176);  // every page touched
  // Empty the middle chunk: it is unmapped, the other two stay.
  for (std::size_t i = n; i < 2 * n; ++i) slab.deallocate(got[i]);
  EXPECT_EQ(slab.chunks(), 2u);
  EXPECT_FALSE(mapped(got[n], slab.chunk_bytes()));
  EXPECT_TRUE(mapped(got[0], slab.chunk_bytes()));
  EXPECT_TRUE(mapped(got[2 * n], slab.chunk_bytes()));
  // The others still hold their bytes.
  EXPECT_EQ(static_cast<unsigned char*>(got[0])[175], 0x5A);
  EXPECT_EQ(static_cast<unsigned char*>(got[3 * n - 1])[0], 0x5A);
  for (std::size_t i = 0; i < n; ++i) slab.deallocate(got[i]);
  for (std::size_t i = 2 * n; i < 3 * n; ++i) slab.deallocate(got[i]);
  EXPECT_EQ(slab.chunks(), 0u);
  EXPECT_FALSE(mapped(got[0], slab.chunk_bytes()));
}

TEST(Slab, FillsTheChunkThatWasFullBeforeOneThatIsEmptying) {
  Slab slab(176, 8);
  const std::size_t n = slab.per_chunk();
  std::vector<void*> a;
  std::vector<void*> b;
  for (std::size_t i = 0; i < n; ++i) a.push_back(slab.allocate());
  for (std::size_t i = 0; i < n; ++i) b.push_back(slab.allocate());
  ASSERT_EQ(slab.chunks(), 2u);
  // B empties but for one object; then one slot of the full chunk A opens.
  for (std::size_t i = 1; i < n; ++i) slab.deallocate(b[i]);
  slab.deallocate(a[3]);
  // The next object takes A's slot, so B can still empty and go.
  EXPECT_EQ(slab.allocate(), a[3]);
  slab.deallocate(b[0]);
  EXPECT_EQ(slab.chunks(), 1u);
  for (void* p : a) slab.deallocate(p);
  EXPECT_EQ(slab.chunks(), 0u);
}

TEST(Slab, TinyObjectsStillHoldTheFreeListLink) {
  Slab slab(1, 1);
  void* keep = slab.allocate();
  void* a = slab.allocate();
  void* b = slab.allocate();
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), static_cast<std::ptrdiff_t>(sizeof(void*)));
  slab.deallocate(a);
  EXPECT_EQ(slab.allocate(), a);
  slab.deallocate(keep);
}

TEST(Slab, RefusesObjectsThatDoNotFitInAChunk) {
  EXPECT_THROW(Slab(1 << 20, 8), std::invalid_argument);
}

}  // namespace
}  // namespace paniq::net
