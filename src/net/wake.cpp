#include "net/wake.hpp"

namespace paniq::net {

asio::execution_context::id WakeService::id;

void WakeService::shutdown() {
  stopped_ = true;
  // Destroying a handler can destroy other Wakes (a coroutine frame owns its streams): each
  // leaves this list as it goes, so take the head afresh every time.
  while (Wake* w = head_) {
    w->unlink();
    Wake::Op* op = w->op_;
    w->op_ = nullptr;
    op->finish(op, {}, false);
  }
}

Wake::Wake(const asio::any_io_executor& ex)
    : service_(&asio::use_service<WakeService>(asio::query(ex, asio::execution::context))),
      ex_(ex) {}

Wake::~Wake() {
  if (op_ != nullptr) end(asio::error::operation_aborted, !stopped());
}

bool Wake::stopped() const { return service_->stopped_; }

void Wake::notify() {
  if (op_ != nullptr) {
    end({}, true);
  } else {
    notified_ = true;
  }
}

void Wake::cancel() {
  notified_ = false;
  if (op_ != nullptr) end(asio::error::operation_aborted, true);
}

void Wake::end(std::error_code ec, bool run) {
  unlink();
  Op* op = op_;
  op_ = nullptr;
  op->finish(op, ec, run);
}

void Wake::link() {
  prev_ = nullptr;
  next_ = service_->head_;
  if (next_ != nullptr) next_->prev_ = this;
  service_->head_ = this;
}

void Wake::unlink() {
  if (prev_ != nullptr) prev_->next_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  if (service_->head_ == this) service_->head_ = next_;
  prev_ = next_ = nullptr;
}

}  // namespace paniq::net
