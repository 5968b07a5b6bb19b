#include "net/recv_slots.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>

namespace paniq::net {
namespace {

bool resident(const void* p) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  unsigned char vec = 0;
  if (::mincore(reinterpret_cast<void*>(at - at % page), page, &vec) != 0) return false;
  return (vec & 1) != 0;
}

// A datagram arriving in slot `i`: what recvmmsg does to the page, then the loop's batch.
void receive_into(RecvSlots& s, std::size_t i) {
  std::memset(s.slots()[i].buffer.data(), 0xA5, 1200);
  const RecvSlots::Batch batch(s);
}

TEST(RecvSlots, SlotsAreSeparateAndOnlyTouchedPagesAreResident) {
  RecvSlots s(8, 65536);
  ASSERT_EQ(s.slots().size(), 8u);
  EXPECT_EQ(s.slots()[1].buffer.data() - s.slots()[0].buffer.data(), 65536);
  EXPECT_EQ(s.slots()[7].buffer.size(), 65536u);
  for (const RecvSlot& slot : s.slots()) EXPECT_FALSE(resident(slot.buffer.data()));
  receive_into(s, 3);
  EXPECT_TRUE(resident(s.slots()[3].buffer.data()));
  EXPECT_FALSE(resident(s.slots()[4].buffer.data()));
}

TEST(RecvSlots, PagesGoBackOnTheFirstQuietTickAfterTraffic) {
  RecvSlots s(4, 65536);
  EXPECT_EQ(s.release_if_quiet(), 0u);  // nothing was ever received
  receive_into(s, 0);
  receive_into(s, 2);
  EXPECT_EQ(s.release_if_quiet(), 0u);  // traffic since the last tick
  EXPECT_TRUE(resident(s.slots()[2].buffer.data()));
  EXPECT_EQ(s.release_if_quiet(), 4u * 65536);  // a quiet tick
  EXPECT_FALSE(resident(s.slots()[0].buffer.data()));
  EXPECT_FALSE(resident(s.slots()[2].buffer.data()));
  EXPECT_EQ(s.slots()[2].buffer.data()[0], 0);  // a fresh zero page when touched again
  EXPECT_EQ(s.release_if_quiet(), 0u);  // nothing since: nothing to give back
}

TEST(RecvSlots, BusySocketsAndBatchesInHandKeepTheirPages) {
  RecvSlots s(2, 65536);
  for (int tick = 0; tick < 5; ++tick) {
    receive_into(s, 1);
    EXPECT_EQ(s.release_if_quiet(), 0u) << tick;
  }
  EXPECT_TRUE(resident(s.slots()[1].buffer.data()));
  {
    const RecvSlots::Batch batch(s);
    std::memset(s.slots()[0].buffer.data(), 1, 100);
    EXPECT_EQ(s.release_if_quiet(), 0u);
    EXPECT_EQ(s.release_if_quiet(), 0u);  // still in hand, however many ticks
    EXPECT_EQ(s.slots()[0].buffer.data()[99], 1);
  }
  EXPECT_EQ(s.release_if_quiet(), 0u);  // the batch counted as traffic
  EXPECT_GT(s.release_if_quiet(), 0u);
}

TEST(RecvSlots, TheTickReleasesEveryQuietLoopOfTheProcess) {
  auto a = std::make_unique<RecvSlots>(2, 65536);
  auto b = std::make_unique<RecvSlots>(4, 4096);
  auto c = std::make_unique<RecvSlots>(1, 65536);
  receive_into(*a, 0);
  receive_into(*b, 3);
  receive_into(*c, 0);
  c.reset();  // gone loops leave the list
  EXPECT_EQ(release_quiet_recv_slots(), 0u);
  receive_into(*b, 1);  // b is busy this tick
  EXPECT_EQ(release_quiet_recv_slots(), 2u * 65536);
  EXPECT_FALSE(resident(a->slots()[0].buffer.data()));
  EXPECT_TRUE(resident(b->slots()[1].buffer.data()));
  EXPECT_EQ(release_quiet_recv_slots(), 4u * 4096);
  EXPECT_FALSE(resident(b->slots()[1].buffer.data()));
}

}  // namespace
}  // namespace paniq::net
