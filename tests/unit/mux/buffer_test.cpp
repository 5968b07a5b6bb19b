#include "mux/buffer.hpp"

#include <gtest/gtest.h>

#include "core/rng.hpp"

namespace paniq::mux {
namespace {

TEST(Buffer, ChunkQueueIsAFifoAcrossChunkBoundaries) {
  ChunkPool pool;
  ChunkQueue q(pool);
  SeededRng rng(3);
  Bytes model;
  std::size_t model_head = 0;
  for (int i = 0; i < 2000; ++i) {
    if (rng.uniform(0, 1) == 0) {
      Bytes data(rng.uniform(0, 3 * kChunkSize));
      rng.fill(data);
      q.append(data);
      model.insert(model.end(), data.begin(), data.end());
    } else {
      Bytes out(rng.uniform(1, 2 * kChunkSize));
      const std::size_t n = q.read(out);
      ASSERT_EQ(n, std::min(out.size(), model.size() - model_head));
      ASSERT_TRUE(std::equal(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n),
                             model.begin() + static_cast<std::ptrdiff_t>(model_head)));
      model_head += n;
    }
    ASSERT_EQ(q.size(), model.size() - model_head);
    // Memory held stays within the bytes held plus the two partial chunks.
    ASSERT_LE(pool.in_use() * kChunkSize, q.size() + 2 * kChunkSize);
  }
}

TEST(Buffer, PoolRecyclesChunksAndReturnsExtrasToTheAllocator) {
  ChunkPool pool(2);
  {
    ChunkQueue q(pool);
    const Bytes data(5 * kChunkSize, 0xab);
    q.append(data);
    EXPECT_EQ(pool.in_use(), 5u);
    ChunkQueue moved(std::move(q));
    EXPECT_EQ(q.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.size(), data.size());
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.idle(), 2u);  // keep_free
  Chunk* c = pool.get();
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(c->begin, 0u);
  EXPECT_EQ(c->end, 0u);
  pool.put(c);
}

TEST(Buffer, RingQueueKeepsOrderWhileGrowingAndWrapping) {
  RingQueue<int> q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round * 3 + 1; ++i) q.push(next_in++);
    for (int i = 0; i < round * 2 + 1 && !q.empty(); ++i) ASSERT_EQ(q.pop(), next_out++);
  }
  while (!q.empty()) ASSERT_EQ(q.pop(), next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(Buffer, RingQueueFreesWhatABurstGrewOnceDrained) {
  RingQueue<int> q;
  for (int i = 0; i < 1000; ++i) q.push(i);
  EXPECT_GE(q.capacity(), 1000u);
  for (int i = 0; i < 999; ++i) ASSERT_EQ(q.pop(), i);
  EXPECT_GE(q.capacity(), 1000u) << "kept while anything is queued";
  ASSERT_EQ(q.pop(), 999);
  EXPECT_EQ(q.capacity(), 0u) << "the burst's storage is freed once drained";
  // Small backlogs keep their storage: no allocation per drain in steady traffic.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) q.push(i);
    const std::size_t cap = q.capacity();
    for (int i = 0; i < 40; ++i) ASSERT_EQ(q.pop(), i);
    EXPECT_EQ(q.capacity(), cap);
    EXPECT_LE(cap, RingQueue<int>::kKeep);
  }
}

TEST(Buffer, OutBufferStaysContiguousThroughPartialConsumption) {
  OutBuffer out(16);
  Bytes model;
  SeededRng rng(5);
  for (int i = 0; i < 500; ++i) {
    const std::size_t n = rng.uniform(0, 40);
    std::uint8_t* p = out.extend(n);
    for (std::size_t k = 0; k < n; ++k) p[k] = static_cast<std::uint8_t>(rng.next_u32());
    model.insert(model.end(), p, p + n);
    const std::size_t c = rng.uniform(0, out.size());
    out.consume(c);
    model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(c));
    ASSERT_EQ(out.size(), model.size());
    ASSERT_TRUE(std::equal(out.view().begin(), out.view().end(), model.begin()));
  }
}

}  // namespace
}  // namespace paniq::mux
