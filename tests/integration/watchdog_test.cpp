// net/watchdog.hpp: coarse watchdogs sharing one timer per io_context (real time, bounded).
#include "net/watchdog.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace paniq::net {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Watchdog, FiresAfterItsDurationAndNotMuchLater) {
  asio::io_context io;
  const auto start = Clock::now();
  std::optional<Clock::duration> fired_after;
  Watchdog wd(io.get_executor(), 50ms, [&] { fired_after = Clock::now() - start; });
  io.run_for(2s);
  ASSERT_TRUE(fired_after);
  EXPECT_TRUE(wd.expired());
  EXPECT_GE(*fired_after, 50ms);
  EXPECT_LE(*fired_after, 50ms + kWatchdogGranularity + 500ms) << "coarse, but bounded";
}

TEST(Watchdog, DisarmedOrDestroyedNeverFires) {
  asio::io_context io;
  int fired = 0;
  {
    Watchdog gone(io.get_executor(), 10ms, [&] { ++fired; });
  }
  Watchdog disarmed(io.get_executor(), 10ms, [&] { ++fired; });
  disarmed.disarm();
  Watchdog kept(io.get_executor(), 20ms, [&] { fired += 100; });
  io.run_for(400ms);
  EXPECT_EQ(fired, 100);
  EXPECT_FALSE(disarmed.expired());
  EXPECT_TRUE(kept.expired());
}

// Many watchdogs share the timer: each fires once, in deadline order, and a callback may
// destroy another due watchdog (which then does not run).
TEST(Watchdog, SharedTimerOrderAndRemovalFromACallback) {
  asio::io_context io;
  std::vector<int> order;
  std::vector<std::unique_ptr<Watchdog>> dogs(5);
  const std::chrono::milliseconds after[] = {300ms, 10ms, 200ms, 10ms, 400ms};
  for (int i = 0; i < 5; ++i) {
    dogs[i] = std::make_unique<Watchdog>(io.get_executor(), after[i], [&, i] {
      order.push_back(i);
      if (i == 1) dogs[3].reset();  // due in the same tick: must not run after this
    });
  }
  // A later, earlier deadline re-arms the shared timer.
  Watchdog early(io.get_executor(), 1ms, [&] { order.push_back(9); });
  io.run_for(1500ms);
  EXPECT_EQ(order, (std::vector<int>{9, 1, 2, 0, 4}));
}

TEST(Watchdog, SeparateContextsAreIndependent) {
  asio::io_context a, b;
  bool fa = false, fb = false;
  Watchdog wa(a.get_executor(), 10ms, [&] { fa = true; });
  Watchdog wb(b.get_executor(), 10ms, [&] { fb = true; });
  a.run_for(400ms);
  EXPECT_TRUE(fa);
  EXPECT_FALSE(fb) << "b's watchdog runs on b only";
  b.run_for(400ms);
  EXPECT_TRUE(fb);
}

}  // namespace
}  // namespace paniq::net
