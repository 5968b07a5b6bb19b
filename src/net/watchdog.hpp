// A deadline for a coroutine's step: calls `on_expire` (on the executor's thread) if the
// duration passes while the Watchdog is alive, typically closing the socket or stream the
// step waits on, so the step ends with an error. Destroying or disarming it first means the
// callback never runs.
//
// Watchdogs are coarse: they fire up to kWatchdogGranularity late. All the watchdogs of one
// io_context share one timer (CoarseTimers, an Asio service) that is re-armed only when a
// deadline earlier than the armed tick arrives. Arming and disarming are a map insert and
// erase — no timerfd system call per connection, which a timeout per request would otherwise
// cost twice (set and cancel), on the new-connection path of both daemons.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "net/asio.hpp"

namespace paniq::net {

inline constexpr std::chrono::milliseconds kWatchdogGranularity{100};

namespace detail {

class CoarseTimers final : public asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  using Key = std::pair<Clock::time_point, std::uint64_t>;
  using key_type = CoarseTimers;
  static inline asio::execution_context::id id;

  explicit CoarseTimers(asio::execution_context& ctx) : service(ctx) {}

  // The service of the executor's execution context (created on first use).
  static CoarseTimers& of(const asio::any_io_executor& ex) {
    return asio::use_service<CoarseTimers>(asio::query(ex, asio::execution::context));
  }

  // Registers `fn` to run at (or up to the granularity after) `when`. Returns the key for
  // remove(). After shutdown (the io_context is going away) nothing is registered.
  Key add(const asio::any_io_executor& ex, Clock::time_point when, std::function<void()> fn) {
    const Key key{when, next_seq_++};
    if (down_) return key;
    entries_.emplace(key, std::move(fn));
    if (!timer_) timer_.emplace(ex);
    const auto tick = round_up(when);
    if (!armed_ || tick < *armed_) arm(tick);
    return key;
  }

  // Forgets an entry; it will not run. Unknown keys (already run or removed) are ignored.
  void remove(const Key& key) { entries_.erase(key); }

 private:
  void shutdown() override {
    down_ = true;
    entries_.clear();
    timer_.reset();
    armed_.reset();
  }

  static Clock::time_point round_up(Clock::time_point t) {
    const auto g = std::chrono::duration_cast<Clock::duration>(kWatchdogGranularity).count();
    const auto c = t.time_since_epoch().count();
    return Clock::time_point(Clock::duration((c + g - 1) / g * g));
  }

  void arm(Clock::time_point tick) {
    armed_ = tick;
    const std::uint64_t gen = ++generation_;
    timer_->expires_at(tick);
    timer_->async_wait([this, gen](std::error_code ec) {
      if (ec || gen != generation_ || down_) return;  // re-armed, cancelled or shut down
      fire();
    });
  }

  // Runs every due entry, one at a time: a callback may remove (or add) others.
  void fire() {
    armed_.reset();
    const auto now = Clock::now();
    for (;;) {
      auto it = entries_.begin();
      if (it == entries_.end() || it->first.first > now) break;
      auto fn = std::move(it->second);
      entries_.erase(it);
      fn();
      if (down_) return;
    }
    if (!entries_.empty() && !armed_) arm(round_up(std::max(entries_.begin()->first.first, now)));
  }

  std::map<Key, std::function<void()>> entries_;
  std::optional<asio::steady_timer> timer_;
  std::optional<Clock::time_point> armed_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t generation_ = 0;
  bool down_ = false;
};

}  // namespace detail

class Watchdog {
 public:
  Watchdog(asio::any_io_executor ex, std::chrono::milliseconds d, std::function<void()> on_expire)
      : timers_(&detail::CoarseTimers::of(ex)) {
    key_ = timers_->add(ex, std::chrono::steady_clock::now() + d,
                        [this, f = std::move(on_expire)] {
                          armed_ = false;
                          expired_ = true;
                          f();
                        });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { disarm(); }

  // The callback will not run any more.
  void disarm() {
    if (armed_) timers_->remove(key_);
    armed_ = false;
  }
  bool expired() const { return expired_; }

 private:
  detail::CoarseTimers* timers_;
  detail::CoarseTimers::Key key_;
  bool armed_ = true;
  bool expired_ = false;
};

}  // namespace paniq::net
