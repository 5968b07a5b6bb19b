#include "net/mux_stream.hpp"

#include <chrono>
#include <vector>

#include "core/containers.hpp"
#include "net/clock.hpp"

namespace paniq::net {
namespace detail {

StreamState::StreamState(StreamHost& h, asio::any_io_executor ex, std::uint64_t s,
                         mux::StreamId i)
    : host(&h), session(s), id(i), read_wake(ex), write_wake(ex) {}

}  // namespace detail

namespace {

// Sleeps until a wake (one may be kept already) or until the Wake goes.
awaitable<void> sleep_until_woken(Wake& w) { co_await w.async_wait(use_nothrow); }

bool is(const std::error_code& ec, mux::Errc e) { return ec == mux::make_error_code(e); }

}  // namespace

// ---- StreamHost ------------------------------------------------------------------------------

StreamHost::~StreamHost() { fail_all(asio::error::operation_aborted); }

void StreamHost::attach(detail::StreamState* s) { streams_[Key{s->session, s->id}] = s; }

void StreamHost::detach(detail::StreamState* s) {
  auto it = streams_.find(Key{s->session, s->id});
  if (it != streams_.end() && it->second == s) {
    streams_.erase(it);
    shrink_if_sparse(streams_);
  }
}

detail::StreamState* StreamHost::find(std::uint64_t session, mux::StreamId id) {
  auto it = streams_.find(Key{session, id});
  return it == streams_.end() ? nullptr : it->second;
}

void StreamHost::wake_readable(std::uint64_t session, mux::StreamId id) {
  if (auto* s = find(session, id)) s->read_wake.notify();
}

void StreamHost::wake_writable(std::uint64_t session, mux::StreamId id) {
  if (auto* s = find(session, id)) s->write_wake.notify();
}

void StreamHost::wake_closed(std::uint64_t session, mux::StreamId id) {
  if (auto* s = find(session, id)) {
    s->read_wake.notify();
    s->write_wake.notify();
  }
}

void StreamHost::session_gone(std::uint64_t session, std::error_code reason) {
  for (auto& [key, s] : streams_) {
    if (key.session != session) continue;
    if (!s->gone) s->gone = reason;
    s->read_wake.notify();
    s->write_wake.notify();
  }
}

void StreamHost::fail_all(std::error_code reason) {
  // Detach first: a woken coroutine must not find this host any more.
  std::vector<detail::StreamState*> all;
  all.reserve(streams_.size());
  for (auto& [key, s] : streams_) all.push_back(s);
  streams_.clear();
  for (auto* s : all) {
    s->host = nullptr;
    if (!s->gone) s->gone = reason;
    s->read_wake.notify();
    s->write_wake.notify();
  }
}

// ---- MuxStream -------------------------------------------------------------------------------

MuxStream::MuxStream(StreamHost& host, asio::any_io_executor ex, std::uint64_t session,
                     mux::StreamId id)
    : state_(std::make_unique<detail::StreamState>(host, std::move(ex), session, id)) {
  host.attach(state_.get());
}

MuxStream& MuxStream::operator=(MuxStream&& o) noexcept {
  if (this != &o) {
    close();
    state_ = std::move(o.state_);
  }
  return *this;
}

MuxStream::~MuxStream() { close(); }

mux::Session* MuxStream::session_mux(std::error_code& why) const {
  if (!state_) {
    why = asio::error::bad_descriptor;
    return nullptr;
  }
  if (state_->closed) {
    why = asio::error::operation_aborted;
    return nullptr;
  }
  if (state_->host == nullptr) {
    why = state_->gone ? state_->gone : std::error_code(asio::error::operation_aborted);
    return nullptr;
  }
  mux::Session* m = state_->host->stream_mux(state_->session);
  if (m == nullptr) why = state_->gone ? state_->gone : mux::make_error_code(mux::Errc::session_failed);
  return m;
}

std::size_t MuxStream::readable() const {
  if (!state_) return 0;
  std::error_code why;
  mux::Session* m = const_cast<MuxStream*>(this)->session_mux(why);
  return m == nullptr ? 0 : m->readable_bytes(state_->id);
}

awaitable<IoResult> MuxStream::read_some(MutByteView out) {
  for (;;) {
    std::error_code why;
    mux::Session* m = session_mux(why);
    if (m == nullptr) co_return IoResult{0, why};
    // Reading may resume input the mux had paused (it un-pauses inside read()): then the
    // driver must move the held-back bytes and let KCP advertise its window again.
    const bool was_blocked = m->input_blocked();
    auto r = m->read(state_->id, out);
    if (r.ok()) {
      if (was_blocked) state_->host->request_flush();
      co_return IoResult{*r, {}};
    }
    if (!is(r.error().code, mux::Errc::would_block)) co_return IoResult{0, r.error().code};
    detail::StreamState* s = state_.get();
    co_await sleep_until_woken(s->read_wake);
    if (!state_ || state_.get() != s) co_return IoResult{0, asio::error::operation_aborted};
  }
}

awaitable<std::error_code> MuxStream::write_all(ByteView data) {
  while (!data.empty()) {
    std::error_code why;
    mux::Session* m = session_mux(why);
    if (m == nullptr) co_return why;
    auto r = m->write(state_->id, data, now_ms());
    if (!r.ok()) co_return r.error().code;
    if (*r > 0) state_->host->request_flush();
    data = data.subspan(*r);
    if (data.empty()) break;
    detail::StreamState* s = state_.get();
    co_await sleep_until_woken(s->write_wake);
    if (!state_ || state_.get() != s) co_return asio::error::operation_aborted;
  }
  co_return std::error_code{};
}

std::error_code MuxStream::shutdown_write() {
  std::error_code why;
  mux::Session* m = session_mux(why);
  if (m == nullptr) return why;
  auto r = m->shutdown_write(state_->id, now_ms());
  state_->host->request_flush();
  return r.ok() ? std::error_code{} : r.error().code;
}

void MuxStream::close() {
  if (!state_ || state_->closed) return;
  if (state_->host != nullptr) {
    if (mux::Session* m = state_->host->stream_mux(state_->session)) {
      m->close(state_->id, now_ms());
      state_->host->request_flush();
    }
    state_->host->detach(state_.get());
  }
  state_->closed = true;
  state_->read_wake.notify();
  state_->write_wake.notify();
}

}  // namespace paniq::net
