// Tests of the simulator itself: each knob does what network.hpp says, and runs are
// reproducible from the seed.
#include "sim/network.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace paniq::sim {
namespace {

Bytes datagram(std::size_t n, std::uint8_t fill) { return Bytes(n, fill); }

// Sends `count` datagrams of `size` bytes from A at time 0 and drains B until nothing is in
// flight. Returns the arrival times (ms) in receive order and the first byte of each.
struct Trace {
  std::vector<SimTime> times;
  std::vector<std::uint8_t> tags;
};
Trace run(Network& net, int count, std::size_t size) {
  for (int i = 0; i < count; ++i) net.send(Side::a, datagram(size, static_cast<std::uint8_t>(i)));
  Trace t;
  Bytes got;
  for (int guard = 0; guard < 100000; ++guard) {
    while (net.receive(Side::b, got)) {
      t.times.push_back(net.now());
      t.tags.push_back(got[0]);
    }
    auto next = net.next_arrival();
    if (!next) break;
    net.advance_to(*next);
  }
  return t;
}

TEST(Network, DelayIsExactAndOrderKept) {
  LinkParams p;
  p.delay_ms = 25;
  Network net(p, p, 1);
  net.advance_to(100);
  const Trace t = run(net, 5, 100);
  ASSERT_EQ(t.times.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(t.times[i], 125u);
    EXPECT_EQ(t.tags[i], i);
  }
  EXPECT_EQ(net.stats(Side::a).delivered, 5u);
  EXPECT_EQ(net.stats(Side::b).sent, 0u);
}

TEST(Network, NothingArrivesEarly) {
  LinkParams p;
  p.delay_ms = 10;
  Network net(p, p, 1);
  net.send(Side::b, datagram(10, 1));
  Bytes got;
  net.advance_to(9);
  EXPECT_FALSE(net.receive(Side::a, got));
  EXPECT_EQ(net.next_arrival(), std::optional<SimTime>(10));
  net.advance_to(10);
  EXPECT_TRUE(net.receive(Side::a, got));
  EXPECT_EQ(got, datagram(10, 1));
  EXPECT_FALSE(net.next_arrival().has_value());
}

TEST(Network, RateSerialisesDatagrams) {
  LinkParams p;
  p.rate_bytes_per_sec = 1'000'000;  // 1000 bytes per ms
  Network net(p, p, 1);
  const Trace t = run(net, 10, 1000);
  ASSERT_EQ(t.times.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.times[i], static_cast<SimTime>(i + 1));
}

TEST(Network, QueueCapTailDrops) {
  LinkParams p;
  p.rate_bytes_per_sec = 1'000'000;
  p.queue_bytes = 5000;  // the one being serialised counts: 5 fit
  Network net(p, p, 1);
  const Trace t = run(net, 20, 1000);
  EXPECT_EQ(t.times.size(), 5u);
  EXPECT_EQ(net.stats(Side::a).queue_drops, 15u);
}

TEST(Network, LossRateNearConfigured) {
  LinkParams p;
  p.loss = 0.1;
  Network net(p, p, 99);
  const Trace t = run(net, 20000, 10);
  // Binomial(20000, 0.9): mean 18000, sd 42; 6 sd either way.
  EXPECT_NEAR(static_cast<double>(t.times.size()), 18000.0, 260.0);
  EXPECT_EQ(net.stats(Side::a).lost + t.times.size(), 20000u);
}

TEST(Network, DuplicationDeliversCopies) {
  LinkParams p;
  p.duplicate = 0.25;
  Network net(p, p, 5);
  const Trace t = run(net, 8000, 10);
  EXPECT_EQ(t.times.size(), 8000u + net.stats(Side::a).duplicated);
  EXPECT_NEAR(static_cast<double>(net.stats(Side::a).duplicated), 2000.0, 240.0);
}

TEST(Network, ReorderLetsLaterDatagramsOvertake) {
  LinkParams p;
  p.delay_ms = 5;
  p.rate_bytes_per_sec = 1'000'000;
  p.reorder = 0.2;
  p.reorder_delay_ms = 20;
  Network net(p, p, 3);
  const Trace t = run(net, 200, 1000);
  ASSERT_EQ(t.tags.size(), 200u);
  int inversions = 0;
  for (std::size_t i = 1; i < t.tags.size(); ++i) inversions += t.tags[i] < t.tags[i - 1];
  EXPECT_GT(inversions, 10);
  EXPECT_GT(net.stats(Side::a).reordered, 20u);
}

TEST(Network, JitterAloneKeepsOrder) {
  LinkParams p;
  p.delay_ms = 5;
  p.jitter_ms = 10;
  p.rate_bytes_per_sec = 10'000'000;
  Network net(p, p, 4);
  const Trace t = run(net, 200, 1000);
  ASSERT_EQ(t.tags.size(), 200u);
  for (std::size_t i = 0; i < t.tags.size(); ++i) {
    EXPECT_EQ(t.tags[i], static_cast<std::uint8_t>(i));
  }
  EXPECT_GT(t.times.back(), 5u);
}

TEST(Network, DownDropsEverything) {
  LinkParams p;
  Network net(p, p, 1);
  net.params(Side::a).down = true;
  const Trace t = run(net, 10, 10);
  EXPECT_TRUE(t.times.empty());
  EXPECT_EQ(net.stats(Side::a).lost, 10u);
}

TEST(Network, SameSeedSameTrace) {
  LinkParams p;
  p.delay_ms = 3;
  p.jitter_ms = 4;
  p.loss = 0.2;
  p.duplicate = 0.1;
  p.reorder = 0.1;
  p.reorder_delay_ms = 7;
  Network x(p, p, 1234), y(p, p, 1234), z(p, p, 4321);
  const Trace tx = run(x, 500, 50), ty = run(y, 500, 50), tz = run(z, 500, 50);
  EXPECT_EQ(tx.times, ty.times);
  EXPECT_EQ(tx.tags, ty.tags);
  EXPECT_NE(tx.tags, tz.tags);
}

}  // namespace
}  // namespace paniq::sim
