// ResponseBudget: per-source, per-prefix and total (proven / fresh / seen lanes) budgets of
// plain Responses, in fixed memory.
#include "tunnel/response_budget.hpp"

#include <gtest/gtest.h>

#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::uint32_t kR = 100;  // bytes of one Response here

// Budgets in Responses of kR bytes.
ResponseBudgetConfig small() {
  ResponseBudgetConfig c;
  c.source_burst = 4 * kR;
  c.source_per_second = 1 * kR;
  c.prefix_burst = 6 * kR;
  c.prefix_per_second = 2 * kR;
  c.proven_burst = 100 * kR;
  c.proven_per_second = 10 * kR;
  c.fresh_burst = 100 * kR;
  c.fresh_per_second = 10 * kR;
  c.seen_burst = 100 * kR;
  c.seen_per_second = 10 * kR;
  c.fresh_after_ms = 60'000;
  c.source_slots = 1024;
  c.prefix_slots = 256;
  return c;
}

PeerAddr v4(std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port = 1) {
  return PeerAddr::v4({10, b, c, d}, port);
}

TEST(ResponseBudget, PerSourceAnyPortThenRefill) {
  ResponseBudget b(small(), 1);
  for (std::uint16_t port = 1; port <= 4; ++port) EXPECT_EQ(b.charge(v4(0, 0, 1, port), false, kR, 0), BudgetVerdict::ok);
  EXPECT_EQ(b.charge(v4(0, 0, 1, 9), false, kR, 0), BudgetVerdict::over_source);
  EXPECT_EQ(b.charge(v4(0, 0, 1, 9), false, kR, 999), BudgetVerdict::over_source);
  EXPECT_EQ(b.charge(v4(0, 0, 1, 9), false, kR, 1000), BudgetVerdict::ok) << "one token a second";
  EXPECT_EQ(b.stats().over_source, 2u);
}

TEST(ResponseBudget, PerPrefix24And64) {
  ResponseBudget b(small(), 2);
  // Six sources of one /24 get the prefix's six; the seventh is over it; another /24 is not.
  for (std::uint8_t d = 1; d <= 6; ++d) EXPECT_EQ(b.charge(v4(0, 0, d), false, kR, 0), BudgetVerdict::ok);
  EXPECT_EQ(b.charge(v4(0, 0, 7), false, kR, 0), BudgetVerdict::over_prefix);
  EXPECT_EQ(b.charge(v4(0, 1, 7), false, kR, 0), BudgetVerdict::ok);
  std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8};
  for (int i = 0; i < 6; ++i) {
    a[15] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(b.charge(PeerAddr::v6(a, 1), false, kR, 0), BudgetVerdict::ok);
  }
  a[8] = 1;  // same /64
  EXPECT_EQ(b.charge(PeerAddr::v6(a, 1), false, kR, 0), BudgetVerdict::over_prefix);
  a[7] = 1;  // another /64
  EXPECT_EQ(b.charge(PeerAddr::v6(a, 1), false, kR, 0), BudgetVerdict::ok);
}

// A source's second Initiation (within a second) goes to the `seen` lane; a flood of seen
// sources drains it and leaves `fresh` (new sources, and a client's retransmission after a
// second of silence) and `proven` (sources that completed a handshake) alone.
TEST(ResponseBudget, LanesKeepNewAndReturningClientsApartFromAFlood) {
  ResponseBudgetConfig c = small();
  c.source_burst = 10 * kR;
  c.prefix_burst = 1000 * kR;
  c.source_slots = 4096;
  ResponseBudget b(c, 3);
  const PeerAddr returning = v4(200, 0, 1);
  b.proven(returning, 0);  // it made a session before the flood
  auto flood = [&](int sources, TimeMs now) {
    std::uint64_t ok = 0;
    for (int i = 0; i < sources; ++i) {
      ok += b.charge(v4(1, static_cast<std::uint8_t>(i / 250), static_cast<std::uint8_t>(i % 250)), false, kR, now) ==
            BudgetVerdict::ok;
    }
    return ok;
  };
  // First pass over 500 sources: the fresh lane's burst of 100, then it is empty. The last
  // source (a real client, say) is among the 400 refused.
  EXPECT_EQ(flood(500, 1), 100u);
  EXPECT_EQ(b.stats().over_fresh, 400u);
  // Second pass, 0.5 s later, without the last one: the flood is `seen` now (its sources are
  // remembered and took a source token, answered or not).
  EXPECT_EQ(flood(499, 501), 100u) << "the seen lane's burst";
  EXPECT_EQ(b.stats().over_seen, 399u);
  EXPECT_EQ(b.charge(v4(99, 0, 1), false, kR, 501), BudgetVerdict::ok) << "a new client";
  EXPECT_EQ(b.charge(returning, false, kR, 501), BudgetVerdict::ok) << "a proven one";
  EXPECT_EQ(b.charge(v4(98, 0, 1), true, kR, 501), BudgetVerdict::ok) << "one with a live session";
  EXPECT_EQ(b.stats().proven_allowed, 2u);
  EXPECT_EQ(flood(499, 1001), 5u) << "still seen: the seen lane's rate";
  // The refused client retransmits after more than a second of silence: fresh once more.
  EXPECT_EQ(b.charge(v4(1, 1, 249), false, kR, 1500), BudgetVerdict::ok);
  EXPECT_EQ(flood(499, 1501), 5u);
  EXPECT_EQ(b.charge(v4(1, 1, 249), false, kR, 1501), BudgetVerdict::over_seen) << "only once";
  // Not heard from for fresh_after_ms: new again.
  EXPECT_EQ(b.charge(v4(1, 0, 0), false, kR, 1501 + c.fresh_after_ms), BudgetVerdict::ok);
  EXPECT_EQ(b.stats().fresh_allowed, 103u);
}

// More sources than the table holds: memory stays, proven sources stay, and what had to evict
// a live entry to be remembered is not fresh (the flood's churn cannot drain the fresh lane).
TEST(ResponseBudget, FixedMemoryAndEvictionPrefersUnproven) {
  ResponseBudgetConfig c = small();
  c.source_slots = 64;
  c.fresh_burst = 1000 * kR;
  ResponseBudget b(c, 4);
  const std::size_t mem = b.memory_bytes();
  EXPECT_EQ(mem, (64u + 256u) * 12u);
  b.proven(v4(250, 0, 1), 0);
  for (int i = 0; i < 10'000; ++i) {
    (void)b.charge(v4(static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i), 1), false, kR, 5);
  }
  EXPECT_EQ(b.memory_bytes(), mem);
  EXPECT_LE(b.tracked_sources(5), 64u);
  EXPECT_GT(b.stats().source_evictions, 9'000u);
  EXPECT_LE(b.stats().fresh_allowed, 63u) << "only those that found a free slot";
  EXPECT_EQ(b.charge(v4(250, 0, 1), false, kR, 5), BudgetVerdict::ok);
  EXPECT_EQ(b.stats().proven_allowed, 1u) << "the proven source outlived the churn";
}

TEST(ResponseBudget, DisabledAndValidation) {
  ResponseBudgetConfig c;
  c.enabled = false;
  ResponseBudget b(c, 5);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.charge(v4(0, 0, 1), false, kR, 0), BudgetVerdict::ok);
  EXPECT_EQ(b.memory_bytes(), 0u);
  EXPECT_TRUE(ResponseBudgetConfig{}.validate());
  c = ResponseBudgetConfig{};
  c.prefix_burst = 0;
  EXPECT_FALSE(c.validate());
  c = ResponseBudgetConfig{};
  c.source_slots = 4;
  EXPECT_FALSE(c.validate());
  EXPECT_THROW(ResponseBudget(c, 1), std::invalid_argument);
}

}  // namespace
}  // namespace paniq::tunnel
