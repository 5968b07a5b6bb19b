#include "net/server_driver.hpp"

#include <array>
#include <memory>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "net/clock.hpp"
#include "net/driver_util.hpp"
#include "net/endpoint.hpp"
#include "net/recv_slots.hpp"
#include "net/telemetry.hpp"

namespace paniq::net {
namespace {

using detail::kMaxDatagram;
using detail::kRecvSlots;
using detail::log_exception;
using detail::would_block;

}  // namespace

namespace {

std::vector<std::unique_ptr<DatagramSocket>> one(std::unique_ptr<DatagramSocket> s) {
  std::vector<std::unique_ptr<DatagramSocket>> v;
  v.push_back(std::move(s));
  return v;
}

}  // namespace

ServerDriver::ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg,
                           obf::Framer framer, std::unique_ptr<DatagramSocket> socket,
                           StreamHandler handler)
    : ServerDriver(std::move(ex), cfg, std::move(framer), one(std::move(socket)), std::move(handler)) {}

ServerDriver::ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg,
                           obf::Framer framer, std::vector<std::unique_ptr<DatagramSocket>> sockets,
                           StreamHandler handler)
    : DriverLoop(std::move(ex)), endpoint_(cfg, std::move(framer), rng_), hints_(cfg), handler_(std::move(handler)),
      max_streams_(cfg.link.mux.max_streams) {
  if (sockets.empty() || sockets.size() > 65535) {
    throw std::invalid_argument("ServerDriver: 1..65535 sockets");
  }
  for (auto& s : sockets) sockets_.push_back(std::shared_ptr<DatagramSocket>(std::move(s)));
}

ServerDriver::~ServerDriver() {
  *alive_ = false;
  fail_all(asio::error::operation_aborted);
}

void ServerDriver::start() {
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    asio::co_spawn(ex_, receive_loop(static_cast<std::uint16_t>(i)),
                   [](std::exception_ptr e) { log_exception(e, "server receive"); });
  }
  start_loops("server timer");
}

void ServerDriver::log_telemetry() {
  for (const auto id : endpoint_.session_ids()) {
    if (const auto* link = endpoint_.link(id)) log_link_telemetry("server", id, *link);
  }
}

// Peer SYNs the mux refused at kcp.max_streams (tunnel::ServerStats::streams_refused_session_cap):
// at most one warning a second, naming the latest session and its user and saying how many
// refusals the line covers.
void ServerDriver::log_session_cap_refusals() {
  const tunnel::ServerStats& st = endpoint_.stats();
  if (st.streams_refused_session_cap == session_cap_logged_) return;
  const TimeMs now = now_ms();
  if (session_cap_log_at_ != 0 && now - session_cap_log_at_ < 1000) return;
  const std::uint64_t n = st.streams_refused_session_cap - session_cap_logged_;
  const std::string user = endpoint_.user(st.last_refused_session);
  spdlog::warn("rate-limited: session {}{} reached kcp.max_streams ({}): {} stream(s) refused "
               "(refused_session_streams {})",
               st.last_refused_session, user.empty() ? std::string() : " (user " + user + ")",
               max_streams_, n, st.streams_refused_session_cap);
  session_cap_logged_ = st.streams_refused_session_cap;
  session_cap_log_at_ = now;
}

void ServerDriver::stop() {
  if (!stop_loops()) return;
  for (auto& s : sockets_) s->close();
  fail_all(asio::error::operation_aborted);
}

void ServerDriver::process_events() {
  // Handshake refusals and notes such as soft skew (issue #6): silent on the wire, logged here
  // at the policy's bounded rate (AuthConfig::log_per_second per reason; the rest summed as
  // "suppressed").
  while (auto log = endpoint_.poll_policy_log()) spdlog::info("{}", tunnel::to_string(*log));
  // Clients refused for what they cannot do (paniq-rs against an authenticated profile): a
  // warning that names the cause and the setting, on the first drop and then every 10 min.
  if (auto hint = hints_.check(endpoint_.stats(), now_ms())) spdlog::warn("{}", *hint);
  log_session_cap_refusals();
  using K = tunnel::ServerEventKind;
  while (auto e = endpoint_.poll_event()) {
    switch (e->kind) {
      case K::SessionOpened: {
        const auto peer = endpoint_.peer(e->session);
        const tunnel::Link* link = endpoint_.link(e->session);
        const std::string user = endpoint_.user(e->session);
        spdlog::info("session {} opened from {} (conv {:08x}, {}{}{})", e->session,
                     peer ? peer->to_string() : std::string("?"), endpoint_.conv(e->session).value_or(0),
                     link && link->encrypted() ? "encrypted " : "plain",
                     link && link->encrypted() ? crypto::to_string(link->secure()->aead()) : "",
                     user.empty() ? std::string() : ", user " + user);
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
    const auto& sock = sockets_[peer.local < sockets_.size() ? peer.local : 0];
    const IoResult r = sock->try_send(std::span<const ByteView>(views.data(), run), &to);
    for (std::size_t i = 0; i < r.count; ++i) stats_.udp_out_bytes += views[i].size();
    stats_.datagrams_out += r.count;
    done += r.count;
    if (!r.error) continue;
    if (would_block(r.error)) {
      send_blocked_ = true;
      asio::co_spawn(ex_, wait_writable(sock), asio::detached);
      break;
    }
    ++stats_.send_errors;  // e.g. EMSGSIZE, an unreachable peer: drop this one, go on
    spdlog::debug("udp send to {}: {}", peer.to_string(), r.error.message());
    ++done;
  }
  endpoint_.consume_transmit(done);
}

awaitable<void> ServerDriver::wait_writable(std::shared_ptr<DatagramSocket> sock) {
  auto alive = alive_;
  const std::error_code ec = co_await sock->wait_writable();
  if (!*alive || stopped_) co_return;
  send_blocked_ = false;
  if (!ec) pump();
}

awaitable<void> ServerDriver::receive_loop(std::uint16_t index) {
  auto alive = alive_;
  auto sock = sockets_[index];
  // The first socket takes whole recvmmsg batches; the extra ones of a port range (each sees a
  // share of the traffic) fewer slots, so a range costs little memory.
  const std::size_t nslots = index == 0 ? kRecvSlots : 4;
  RecvSlots storage(nslots, kMaxDatagram);
  const std::span<RecvSlot> slots = storage.slots();
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
    const RecvSlots::Batch batch(storage);
    const TimeMs now = now_ms();
    const WallTime wall = wall_now();  // skew checks of the handshake policy (issue #6)
    for (std::size_t i = 0; i < r.count; ++i) {
      stats_.udp_in_bytes += slots[i].size;
      tunnel::PeerAddr peer = to_peer(slots[i].from);
      peer.local = index;
      endpoint_.handle_datagram(peer, ByteView(slots[i].buffer.data(), slots[i].size), now, wall);
    }
    stats_.datagrams_in += r.count;
    deliver_received();
  }
}

}  // namespace paniq::net
