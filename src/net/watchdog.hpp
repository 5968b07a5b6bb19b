// A deadline for a coroutine's step: calls `on_expire` (on the executor's thread) if the
// duration passes while the Watchdog is alive, typically closing the socket or stream the
// step waits on, so the step ends with an error. Destroying or disarming it first means the
// callback never runs, even when the timer had already fired and its handler was queued.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "net/asio.hpp"

namespace paniq::net {

class Watchdog {
 public:
  Watchdog(asio::any_io_executor ex, std::chrono::milliseconds d, std::function<void()> on_expire)
      : state_(std::make_shared<State>(std::move(ex))) {
    state_->on_expire = std::move(on_expire);
    state_->timer.expires_after(d);
    state_->timer.async_wait([s = state_](std::error_code ec) {
      if (ec || !s->on_expire) return;
      s->expired = true;
      auto f = std::move(s->on_expire);
      s->on_expire = nullptr;
      f();
    });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { disarm(); }

  // The callback will not run any more.
  void disarm() {
    state_->on_expire = nullptr;
    state_->timer.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    explicit State(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::function<void()> on_expire;
    bool expired = false;
  };
  std::shared_ptr<State> state_;
};

}  // namespace paniq::net
