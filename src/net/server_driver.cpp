#include "net/server_driver.hpp"

#include <array>
#include <vector>

#include <spdlog/spdlog.h>

#include "net/clock.hpp"
#include "net/driver_util.hpp"
#include "net/endpoint.hpp"
#include "net/telemetry.hpp"

namespace paniq::net {
namespace {

using detail::kMaxDatagram;
using detail::kRecvSlots;
using detail::log_exception;
using detail::would_block;

}  // namespace

ServerDriver::ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg,
                           obf::Framer framer, std::unique_ptr<DatagramSocket> socket,
                           StreamHandler handler)
    : ex_(ex),
      endpoint_(cfg, std::move(framer), rng_),
      socket_(std::move(socket)),
      handler_(std::move(handler)),
      timer_(ex) {}

ServerDriver::~ServerDriver() {
  *alive_ = false;
  fail_all(asio::error::operation_aborted);
}

void ServerDriver::start() {
  asio::co_spawn(ex_, receive_loop(), [](std::exception_ptr e) { log_exception(e, "server receive"); });
  asio::co_spawn(ex_, timer_loop(), [](std::exception_ptr e) { log_exception(e, "server timer"); });
  if (const auto period = telemetry_interval()) {
    asio::co_spawn(ex_, telemetry_loop(*period), asio::detached);
  }
}

awaitable<void> ServerDriver::telemetry_loop(std::chrono::seconds period) {
  auto alive = alive_;
  asio::steady_timer t(ex_);
  while (*alive && !stopped_) {
    t.expires_after(period);
    co_await t.async_wait(use_nothrow);
    if (!*alive || stopped_) co_return;
    for (const auto id : endpoint_.session_ids()) {
      if (const auto* link = endpoint_.link(id)) log_link_telemetry("server", id, *link);
    }
  }
}

void ServerDriver::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_.cancel();
  socket_->close();
  fail_all(asio::error::operation_aborted);
}

void ServerDriver::request_flush() {
  if (flush_posted_ || stopped_) return;
  flush_posted_ = true;
  asio::post(ex_, [this, alive = alive_] {
    if (!*alive) return;
    flush_posted_ = false;
    pump();
  });
}

// After a receive batch: move the data into the streams and wake their coroutines now, but
// send what the flush produced (mostly ACKs) from a posted pump, after those coroutines ran:
// the application gets its bytes one send earlier, and a reply written at once leaves in the
// same batch as the ACK.
void ServerDriver::deliver_received() {
  if (stopped_) return;
  endpoint_.flush(now_ms());
  process_events();
  request_flush();
}

void ServerDriver::pump() {
  if (stopped_) return;
  endpoint_.flush(now_ms());
  process_events();
  send_pending();
  rearm();
}

void ServerDriver::process_events() {
  // Handshake refusals and notes such as soft skew (issue #6): silent on the wire, logged here
  // at the policy's bounded rate (AuthConfig::log_per_second per reason; the rest summed as
  // "suppressed").
  while (auto log = endpoint_.poll_policy_log()) spdlog::info("{}", tunnel::to_string(*log));
  using K = tunnel::ServerEventKind;
  while (auto e = endpoint_.poll_event()) {
    switch (e->kind) {
      case K::SessionOpened: {
        const auto peer = endpoint_.peer(e->session);
        spdlog::info("session {} opened from {} (conv {:08x})", e->session,
                     peer ? peer->to_string() : std::string("?"), endpoint_.conv(e->session).value_or(0));
        break;
      }
      case K::StreamOpened:
        ++stats_.streams_accepted;
        asio::co_spawn(ex_, handler_(MuxStream(*this, ex_, e->session, e->stream)),
                       [](std::exception_ptr x) { log_exception(x, "stream handler"); });
        break;
      case K::Readable:
        wake_readable(e->session, e->stream);
        break;
      case K::Writable:
        wake_writable(e->session, e->stream);
        break;
      case K::StreamClosed:
        wake_closed(e->session, e->stream);
        break;
      case K::SessionClosed:
        spdlog::info("session {} closed: {}", e->session, e->error.message());
        session_gone(e->session, e->error);
        break;
    }
  }
}

void ServerDriver::send_pending() {
  if (send_blocked_) return;
  auto tx = endpoint_.transmit();
  std::size_t done = 0;
  std::array<ByteView, kMaxBatch> views;
  while (done < tx.size()) {
    const tunnel::PeerAddr& peer = tx[done].peer;
    std::size_t run = 0;
    while (done + run < tx.size() && run < kMaxBatch && tx[done + run].peer == peer) {
      views[run] = tx[done + run].data;
      ++run;
    }
    const udp::endpoint to = to_endpoint(peer);
    const IoResult r = socket_->try_send(std::span<const ByteView>(views.data(), run), &to);
    for (std::size_t i = 0; i < r.count; ++i) stats_.udp_out_bytes += views[i].size();
    stats_.datagrams_out += r.count;
    done += r.count;
    if (!r.error) continue;
    if (would_block(r.error)) {
      send_blocked_ = true;
      asio::co_spawn(ex_, wait_writable(), asio::detached);
      break;
    }
    ++stats_.send_errors;  // e.g. EMSGSIZE, an unreachable peer: drop this one, go on
    spdlog::debug("udp send to {}: {}", peer.to_string(), r.error.message());
    ++done;
  }
  endpoint_.consume_transmit(done);
}

awaitable<void> ServerDriver::wait_writable() {
  auto alive = alive_;
  auto sock = socket_;
  const std::error_code ec = co_await sock->wait_writable();
  if (!*alive || stopped_) co_return;
  send_blocked_ = false;
  if (!ec) pump();
}

void ServerDriver::rearm() {
  const auto next = endpoint_.next_timeout();
  const auto tp = next ? to_time_point(*next) : std::chrono::steady_clock::time_point::max();
  if (tp < armed_) timer_.cancel();
}

awaitable<void> ServerDriver::timer_loop() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    const auto next = endpoint_.next_timeout();
    armed_ = next ? to_time_point(*next) : std::chrono::steady_clock::time_point::max();
    timer_.expires_at(armed_);
    auto [ec] = co_await timer_.async_wait(use_nothrow);
    if (!*alive || stopped_) co_return;
    armed_ = std::chrono::steady_clock::time_point::max();
    if (ec) continue;
    endpoint_.handle_timeout(now_ms());
    pump();
  }
}

awaitable<void> ServerDriver::receive_loop() {
  auto alive = alive_;
  auto sock = socket_;
  std::vector<std::uint8_t> storage(kRecvSlots * kMaxDatagram);
  std::array<RecvSlot, kRecvSlots> slots;
  for (std::size_t i = 0; i < kRecvSlots; ++i) {
    slots[i].buffer = MutByteView(storage.data() + i * kMaxDatagram, kMaxDatagram);
  }
  for (;;) {
    const IoResult r = co_await sock->receive(slots);
    if (!*alive || stopped_) co_return;
    if (r.error) {
      if (r.error == asio::error::operation_aborted || r.error == asio::error::bad_descriptor) {
        co_return;
      }
      // ICMP errors from earlier sends (a client went away) and the like: keep serving.
      spdlog::debug("udp receive: {}", r.error.message());
      asio::steady_timer pause(ex_, std::chrono::milliseconds(1));  // never spin on errors
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    const TimeMs now = now_ms();
    const WallTime wall = wall_now();  // skew checks of the handshake policy (issue #6)
    for (std::size_t i = 0; i < r.count; ++i) {
      stats_.udp_in_bytes += slots[i].size;
      endpoint_.handle_datagram(to_peer(slots[i].from),
                                ByteView(slots[i].buffer.data(), slots[i].size), now, wall);
    }
    stats_.datagrams_in += r.count;
    deliver_received();
  }
}

}  // namespace paniq::net
