#include "net/wake.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>

namespace paniq::net {
namespace {

using namespace std::chrono_literals;

// Runs `io` until `done()` holds, for at most 2 s.
template <class Done>
void run_until(asio::io_context& io, Done done) {
  io.restart();
  const auto end = std::chrono::steady_clock::now() + 2000ms;
  while (!done() && std::chrono::steady_clock::now() < end) io.run_one_for(10ms);
}

// One wait on `w`; its result lands in `out`.
awaitable<void> wait_once(Wake& w, std::optional<std::error_code>& out) {
  auto [ec] = co_await w.async_wait(use_nothrow);
  out = ec;
}

// A new wait on `w` sleeps (nothing is kept) until the next notify(), then ends with no error,
// posted: not inside notify().
void expect_sleeps_until_notified(asio::io_context& io, Wake& w) {
  std::optional<std::error_code> got;
  asio::co_spawn(io, wait_once(w, got), asio::detached);
  io.restart();
  io.run_for(30ms);
  EXPECT_FALSE(got.has_value());
  EXPECT_TRUE(w.waiting());
  w.notify();
  EXPECT_FALSE(w.waiting());
  EXPECT_FALSE(got.has_value());
  run_until(io, [&] { return got.has_value(); });
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(*got);
}

TEST(Wake, NotifyEndsTheWaitWithNoErrorButNotInsideNotify) {
  asio::io_context io(1);
  Wake w(io.get_executor());
  expect_sleeps_until_notified(io, w);
}

TEST(Wake, ANotifyWithNobodyWaitingIsKeptForTheNextWaitOnly) {
  asio::io_context io(1);
  Wake w(io.get_executor());
  w.notify();
  w.notify();  // two are one
  std::optional<std::error_code> first;
  asio::co_spawn(io, wait_once(w, first), asio::detached);
  run_until(io, [&] { return first.has_value(); });
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(*first);
  EXPECT_FALSE(w.waiting());

  expect_sleeps_until_notified(io, w);  // the kept notify was used up
}

TEST(Wake, CancelEndsTheWaitWithOperationAbortedAndDropsAKeptNotify) {
  asio::io_context io(1);
  Wake w(io.get_executor());
  std::optional<std::error_code> got;
  asio::co_spawn(io, wait_once(w, got), asio::detached);
  io.poll();
  w.cancel();
  run_until(io, [&] { return got.has_value(); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, asio::error::operation_aborted);

  w.notify();
  w.cancel();  // the kept notify goes too
  expect_sleeps_until_notified(io, w);
}

TEST(Wake, DestroyingTheWakeEndsItsWait) {
  asio::io_context io(1);
  auto w = std::make_unique<Wake>(io.get_executor());
  std::optional<std::error_code> got;
  asio::co_spawn(io, wait_once(*w, got), asio::detached);
  io.poll();
  ASSERT_TRUE(w->waiting());
  w.reset();
  run_until(io, [&] { return got.has_value(); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, asio::error::operation_aborted);
}

TEST(Wake, APendingWaitIsOutstandingWorkLikeATimer) {
  asio::io_context io(1);
  Wake w(io.get_executor());
  std::optional<std::error_code> got;
  asio::co_spawn(io, wait_once(w, got), asio::detached);
  // With no work left, run_for would return at once and stop the context.
  io.run_for(30ms);
  EXPECT_FALSE(io.stopped());
  EXPECT_FALSE(got.has_value());
  w.notify();
  io.run();  // returns once the waiter is done and nothing else is left
  EXPECT_TRUE(got.has_value());
}

TEST(Wake, ACancellationSignalEndsTheWaitAndTheWakeCanGoAfterwards) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io(1);
  auto w = std::make_unique<Wake>(io.get_executor());
  bool done = false;
  bool timer_won = false;
  asio::co_spawn(io, [&]() -> awaitable<void> {
    asio::steady_timer t(io, 10ms);
    auto r = co_await (w->async_wait(use_nothrow) || t.async_wait(use_nothrow));
    timer_won = r.index() == 1;
    w.reset();  // the slot no longer names it
    asio::steady_timer after(io, 5ms);
    co_await after.async_wait(use_nothrow);
    done = true;
  }, asio::detached);
  run_until(io, [&] { return done; });
  EXPECT_TRUE(done);
  EXPECT_TRUE(timer_won);
}

// A coroutine that owns its Wake and sleeps on it when the io_context goes: its frame (and the
// Wake in it) must be destroyed, as Asio destroys frames waiting on its own operations.
TEST(Wake, ShutdownDestroysTheFramesOfPendingWaits) {
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  {
    asio::io_context io(1);
    for (int i = 0; i < 3; ++i) {
      asio::co_spawn(io, [held = alive]() -> awaitable<void> {
        Wake own(co_await asio::this_coro::executor);
        co_await own.async_wait(use_nothrow);
      }, asio::detached);
    }
    alive.reset();
    io.run_for(20ms);
    EXPECT_FALSE(watch.expired());  // three frames wait
  }
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace paniq::net
