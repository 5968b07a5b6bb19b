// The event loop both drivers share around their pure core (tunnel::Client and
// tunnel::ServerEndpoint have the same flush / next_timeout / handle_timeout shape):
//   * stream commands ask for one posted pump (flush -> events -> send -> re-arm) per burst;
//   * after a receive batch the core's flush moves the data into the streams and wakes their
//     coroutines at once, and the datagrams it produced (mostly ACKs) leave from a posted pump
//     after those coroutines ran: the application gets its bytes one send earlier, and a reply
//     written at once leaves in the same batch as the ACKs;
//   * one timer, re-armed from next_timeout(), runs the core's timers;
//   * with PANIQ_KCP_TELEMETRY, a periodic telemetry line per link.
// `Derived` provides core(), process_events(), send_pending() and log_telemetry() (befriend
// DriverLoop<Derived>).
#pragma once

#include <chrono>
#include <memory>

#include "net/asio.hpp"
#include "net/clock.hpp"
#include "net/driver_util.hpp"
#include "net/mux_stream.hpp"
#include "net/telemetry.hpp"

namespace paniq::net {

template <class Derived>
class DriverLoop : public StreamHost {
 public:
  void request_flush() override {
    if (flush_posted_ || stopped_) return;
    flush_posted_ = true;
    asio::post(ex_, [this, alive = alive_] {
      if (!*alive) return;
      flush_posted_ = false;
      pump();
    });
  }

 protected:
  explicit DriverLoop(asio::any_io_executor ex) : ex_(std::move(ex)), timer_(ex_) {}
  ~DriverLoop() override { *alive_ = false; }

  // Starts the timer loop (and the telemetry loop when asked for); `what` names them in logs.
  void start_loops(const char* what) {
    asio::co_spawn(ex_, timer_loop(), [what](std::exception_ptr e) { detail::log_exception(e, what); });
    if (const auto period = telemetry_interval()) {
      asio::co_spawn(ex_, telemetry_loop(*period), asio::detached);
    }
  }
  // Stops pumping and the timer loop. False when already stopped.
  bool stop_loops() {
    if (stopped_) return false;
    stopped_ = true;
    timer_.cancel();
    return true;
  }

  void pump() {
    if (stopped_) return;
    self().core().flush(now_ms());
    self().process_events();
    self().send_pending();
    rearm();
  }

  // After handing a receive batch to the core (see the top of the file).
  void deliver_received() {
    if (stopped_) return;
    self().core().flush(now_ms());
    self().process_events();
    request_flush();
  }

  asio::any_io_executor ex_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool stopped_ = false;

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  void rearm() {
    const auto next = self().core().next_timeout();
    const auto tp = next ? to_time_point(*next) : std::chrono::steady_clock::time_point::max();
    if (tp < armed_) timer_.cancel();  // the loop recomputes the deadline
  }

  awaitable<void> timer_loop() {
    auto alive = alive_;
    while (*alive && !stopped_) {
      const auto next = self().core().next_timeout();
      armed_ = next ? to_time_point(*next) : std::chrono::steady_clock::time_point::max();
      timer_.expires_at(armed_);
      auto [ec] = co_await timer_.async_wait(use_nothrow);
      if (!*alive || stopped_) co_return;
      armed_ = std::chrono::steady_clock::time_point::max();
      if (ec) continue;  // re-armed earlier
      self().core().handle_timeout(now_ms());
      pump();
    }
  }

  awaitable<void> telemetry_loop(std::chrono::seconds period) {
    auto alive = alive_;
    asio::steady_timer t(ex_);
    while (*alive && !stopped_) {
      t.expires_after(period);
      co_await t.async_wait(use_nothrow);
      if (!*alive || stopped_) co_return;
      self().log_telemetry();
    }
  }

  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
  bool flush_posted_ = false;
};

}  // namespace paniq::net
