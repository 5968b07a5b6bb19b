// TokenBucket, HandshakeRateLimiter (per source IP, bounded table) and LogLimiter.
#include <gtest/gtest.h>

#include "tunnel/rate_limit.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

TEST(TokenBucket, BurstThenRate) {
  const TokenBucket b(10, 5);  // 10 per second, 5 at once
  auto s = b.full(1000);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.take(s, 1000)) << i;
  EXPECT_FALSE(b.take(s, 1000));
  EXPECT_FALSE(b.take(s, 1099)) << "0.99 token after 99 ms";
  EXPECT_TRUE(b.take(s, 1100));
  EXPECT_FALSE(b.take(s, 1100));
  EXPECT_FALSE(b.refilled(s, 1500));
  EXPECT_TRUE(b.refilled(s, 1600));
  // Refills stop at the burst.
  int n = 0;
  while (b.take(s, 1'000'000)) ++n;
  EXPECT_EQ(n, 5);
  // A clock going backwards refills nothing (and takes nothing extra).
  EXPECT_FALSE(b.take(s, 10));
}

TEST(TokenBucket, EdgeValues) {
  const TokenBucket zero_burst(100, 0);
  EXPECT_EQ(zero_burst.burst(), 1u) << "burst 0 is taken as 1";
  auto s = zero_burst.full(0);
  EXPECT_TRUE(zero_burst.take(s, 0));
  EXPECT_FALSE(zero_burst.take(s, 0));
  const TokenBucket no_refill(0, 2);
  auto r = no_refill.full(0);
  EXPECT_TRUE(no_refill.take(r, 0));
  EXPECT_TRUE(no_refill.take(r, 0));
  EXPECT_FALSE(no_refill.take(r, 1'000'000'000));
  // Huge values and long gaps saturate instead of overflowing.
  const TokenBucket huge(~0ull, ~0ull);
  auto h = huge.full(0);
  h.milli = 0;
  EXPECT_TRUE(huge.take(h, ~0ull / 2));
  EXPECT_EQ(huge.rate(), 1'000'000'000u);
}

TEST(HandshakeRateLimiter, OneBucketPerAddressAnyPort) {
  HandshakeRateConfig c;
  c.pps = 1;
  c.burst = 2;
  HandshakeRateLimiter l(c, 9);
  EXPECT_TRUE(l.enabled());
  EXPECT_TRUE(l.allow(test::peer4(1, 1), 0));
  EXPECT_TRUE(l.allow(test::peer4(1, 2), 0));
  EXPECT_FALSE(l.allow(test::peer4(1, 3), 0));
  EXPECT_TRUE(l.allow(test::peer4(2, 1), 0));
  const PeerAddr v6 = PeerAddr::v6({0x20, 0x01, 0x0d, 0xb8}, 1);
  EXPECT_TRUE(l.allow(v6, 0));
  EXPECT_EQ(l.size(), 3u);
  EXPECT_TRUE(l.allow(test::peer4(1, 3), 1000));
  EXPECT_FALSE(l.allow(test::peer4(1, 3), 1000));
  HandshakeRateLimiter off(HandshakeRateConfig{}, 1);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.allow(test::peer4(1, 1), 0));
  EXPECT_EQ(off.size(), 0u);
}

TEST(HandshakeRateLimiter, TableStaysBoundedUnderSpoofedSources) {
  HandshakeRateConfig c;
  c.pps = 5;
  c.burst = 5;
  c.table_size = 64;
  HandshakeRateLimiter l(c, 3);
  const std::uint64_t before = test::allocations();
  SeededRng rng(1);
  for (int i = 0; i < 20000; ++i) {
    const PeerAddr p = PeerAddr::v4({static_cast<std::uint8_t>(rng.next_u32()), 1, 2, 3},
                                    static_cast<std::uint16_t>(i));
    (void)l.allow(p, static_cast<TimeMs>(i / 100));
    ASSERT_LE(l.size(), 64u);
  }
  EXPECT_EQ(test::allocations(), before);
  // A source whose bucket is full again is forgotten before a live one is evicted.
  HandshakeRateLimiter m(HandshakeRateConfig{1000, 1, 2}, 5);
  EXPECT_TRUE(m.allow(test::peer4(1, 1), 0));
  EXPECT_TRUE(m.allow(test::peer4(2, 1), 0));
  EXPECT_TRUE(m.allow(test::peer4(3, 1), 10));  // the first two refilled: no eviction needed
  EXPECT_EQ(m.evictions(), 0u);
  EXPECT_TRUE(m.allow(test::peer4(4, 1), 10));
  EXPECT_TRUE(m.allow(test::peer4(5, 1), 10));
  EXPECT_EQ(m.evictions(), 1u);
}

TEST(LogLimiter, PerReasonPerSecondWithSuppressedCount) {
  LogLimiter l(3, 2);
  EXPECT_TRUE(l.allow(0, 100));
  EXPECT_TRUE(l.allow(0, 200));
  EXPECT_FALSE(l.allow(0, 300));
  EXPECT_FALSE(l.allow(0, 1099));
  EXPECT_TRUE(l.allow(1, 1099)) << "reasons are independent";
  EXPECT_EQ(l.take_suppressed(0), 2u);
  EXPECT_EQ(l.take_suppressed(0), 0u);
  EXPECT_TRUE(l.allow(0, 1100)) << "a new window";
  EXPECT_EQ(l.suppressed_total(), 2u);
  LogLimiter mute(1, 0);
  EXPECT_FALSE(mute.allow(0, 0));
  EXPECT_THROW((void)l.allow(3, 0), std::out_of_range);
}

}  // namespace
}  // namespace paniq::tunnel
