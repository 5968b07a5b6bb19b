#include "tunnel/event_queue.hpp"

#include <gtest/gtest.h>

namespace paniq::tunnel {
namespace {

TEST(EventQueue, KeepsOrderAndFreesWhatABurstGrewOnceDrained) {
  EventQueue<int> q;
  for (int i = 0; i < 1000; ++i) q.push(i);
  EXPECT_GE(q.capacity(), 1000u);
  for (int i = 0; i < 999; ++i) ASSERT_EQ(q.pop(), i);
  EXPECT_EQ(q.size(), 1u);
  ASSERT_EQ(q.pop(), 999);
  EXPECT_FALSE(q.pop().has_value());
  EXPECT_EQ(q.capacity(), 0u) << "the burst's storage is freed once drained";
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) q.push(i);
    const std::size_t cap = q.capacity();
    for (int i = 0; i < 40; ++i) ASSERT_EQ(q.pop(), i);
    EXPECT_EQ(q.capacity(), cap) << "a small backlog keeps its storage";
    EXPECT_LE(cap, EventQueue<int>::kKeep);
  }
}

}  // namespace
}  // namespace paniq::tunnel
