// A wake-up for one waiting coroutine at a time, on one thread: how a mux stream's reader or
// writer sleeps until the driver has news for it (net/mux_stream.hpp).
//
// Why not a steady_timer set to expire never, cancelled to wake: a waiting timer sits in the
// reactor's timer heap, and that heap grows to the peak number of timers waiting at once (one per
// idle stream) and never shrinks; after 1000 streams it keeps 16 KiB for the life of the
// process, in a heap page that nothing else may need. Asio 1.22's experimental channel avoids the
// heap but allocates a 512-byte deque block per channel, 1 KiB per stream. A Wake is a pointer
// to its waiting operation and a flag.
//
// async_wait completes (posted to the handler's executor, never inside notify) with no error
// after notify(), or with operation_aborted after cancel(), the Wake's destruction, or a
// cancellation signal on the handler's slot (as awaitable operators send). A notify() while
// nobody waits is kept, and the next async_wait completes at once, so no wake is lost; several
// such notify() calls are one. A wait counts as outstanding work of its executor, as a timer's
// does. When the io_context shuts down with a wait pending, the handler is destroyed without
// being called, as Asio does with its own operations (WakeService).
//
// One thread only (the io_context's); a second async_wait while one is pending ends the first
// with operation_aborted.
#pragma once

#include <memory>
#include <system_error>
#include <utility>

#include "net/asio.hpp"

namespace paniq::net {

class WakeService;

class Wake {
 public:
  explicit Wake(const asio::any_io_executor& ex);
  ~Wake();
  Wake(const Wake&) = delete;
  Wake& operator=(const Wake&) = delete;

  template <class Token>
  auto async_wait(Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler) { start(std::move(handler)); }, token);
  }

  void notify();
  void cancel();
  bool waiting() const { return op_ != nullptr; }

 private:
  friend class WakeService;

  // The pending wait, its handler's type erased. finish() frees the Op; with `run` it posts the
  // handler with `ec`, without it destroys the handler uncalled.
  struct Op {
    void (*finish)(Op* self, std::error_code ec, bool run);
    bool in_slot = false;  // ending from the cancellation slot's own handler: leave the slot be
  };
  template <class Handler>
  struct OpFor;

  template <class Handler>
  void start(Handler handler);
  // Ends the pending wait (op_ must be set).
  void end(std::error_code ec, bool run);
  bool stopped() const;
  void link();
  void unlink();

  WakeService* service_;
  asio::any_io_executor ex_;
  Op* op_ = nullptr;
  bool notified_ = false;
  Wake* prev_ = nullptr;  // in the service's list of pending waits
  Wake* next_ = nullptr;
};

// Keeps the list of pending waits of one io_context, to destroy their handlers at shutdown.
class WakeService : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;
  explicit WakeService(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

 private:
  friend class Wake;
  void shutdown() override;

  Wake* head_ = nullptr;
  bool stopped_ = false;
};

template <class Handler>
struct Wake::OpFor : Op {
  using Executor = asio::associated_executor_t<Handler, asio::any_io_executor>;
  using Work = std::decay_t<decltype(asio::prefer(std::declval<Executor>(),
                                                  asio::execution::outstanding_work.tracked))>;
  using Slot = asio::associated_cancellation_slot_t<Handler>;
  using Alloc = asio::recycling_allocator<OpFor>;

  OpFor(Handler&& h, const asio::any_io_executor& fallback)
      : Op{&OpFor::do_finish, false},
        handler(std::move(h)),
        work(asio::prefer(asio::get_associated_executor(handler, fallback),
                          asio::execution::outstanding_work.tracked)),
        slot(asio::get_associated_cancellation_slot(handler)) {}

  static void do_finish(Op* base, std::error_code ec, bool run) {
    auto* self = static_cast<OpFor*>(base);
    // The slot's handler points at this wait: take it out, unless it is the caller.
    if (!self->in_slot && self->slot.is_connected()) self->slot.clear();
    Handler h(std::move(self->handler));
    Work w(std::move(self->work));
    self->~OpFor();
    Alloc().deallocate(self, 1);
    if (run) asio::post(w, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
  }

  Handler handler;
  Work work;
  Slot slot;
};

template <class Handler>
void Wake::start(Handler handler) {
  if (notified_) {
    notified_ = false;
    auto ex = asio::get_associated_executor(handler, ex_);
    asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(std::error_code{}); });
    return;
  }
  if (op_ != nullptr) end(asio::error::operation_aborted, true);
  if (stopped()) return;  // shutting down: the handler goes uncalled, as Asio's own would
  using O = OpFor<Handler>;
  typename O::Alloc alloc;
  O* op = alloc.allocate(1);
  try {
    new (op) O(std::move(handler), ex_);
  } catch (...) {
    alloc.deallocate(op, 1);
    throw;
  }
  op_ = op;
  link();
  if (op->slot.is_connected()) {
    op->slot.assign([this, op](asio::cancellation_type) {
      if (op_ != op) return;
      op->in_slot = true;
      end(asio::error::operation_aborted, true);
    });
  }
}

}  // namespace paniq::net
