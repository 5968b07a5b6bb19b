#include "net/client_driver.hpp"

#include <array>
#include <memory>
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

ClientDriver::ClientDriver(asio::any_io_executor ex, const tunnel::ClientConfig& cfg,
                           obf::Framer framer, udp::endpoint server, SocketFactory sockets)
    : ClientDriver(std::move(ex), cfg, std::move(framer), std::vector<udp::endpoint>{server},
                   std::move(sockets)) {}

ClientDriver::ClientDriver(asio::any_io_executor ex, const tunnel::ClientConfig& cfg,
                           obf::Framer framer, std::vector<udp::endpoint> servers, SocketFactory sockets)
    : DriverLoop(std::move(ex)),
      client_(cfg, std::move(framer), rng_),
      server_(servers.at(0)),
      servers_(std::move(servers)),
      sockets_factory_(std::move(sockets)),
      slot_size_(kMaxDatagram) {}

udp::endpoint ClientDriver::endpoint_for(std::uint32_t server, std::uint16_t port) const {
  udp::endpoint ep = servers_[server < servers_.size() ? server : 0];
  if (port != 0) ep.port(port);
  return ep;
}

udp::endpoint ClientDriver::current_endpoint() const {
  return endpoint_for(client_.current_server(), client_.current_port());
}

ClientDriver::~ClientDriver() {
  *alive_ = false;
  fail_all(asio::error::operation_aborted);
}

void ClientDriver::start() { start_loops("client timer"); }

void ClientDriver::log_telemetry() {
  for (const tunnel::ClientSessionView& v : client_.sessions()) {
    if (v.session->link() != nullptr) log_link_telemetry("client", v.id, *v.session->link());
  }
}

void ClientDriver::stop() {
  if (!stop_loops()) return;
  for (auto& [ticket, w] : waiters_) w->wake.cancel();
  for (auto& [id, s] : sockets_) s.socket->close();
  sockets_.clear();
  fail_all(asio::error::operation_aborted);
  client_.close(now_ms());
}

awaitable<Result<MuxStream>> ClientDriver::open_stream() {
  if (stopped_) co_return Error{asio::error::operation_aborted, "client stopped"};
  const tunnel::OpenTicket ticket = client_.open_stream(now_ms(), wall_now());
  OpenWaiter w(ex_);
  waiters_[ticket] = &w;
  struct Guard {  // also runs when the frame is destroyed after the driver (shutdown)
    ClientDriver& d;
    std::shared_ptr<bool> alive;
    tunnel::OpenTicket t;
    OpenWaiter& w;
    ~Guard() {
      if (!*alive) return;
      d.waiters_.erase(t);
      if (!w.result && !d.stopped_) d.client_.cancel_open(t);
    }
  } guard{*this, alive_, ticket, w};
  // On an established session the answer is already queued: take it without flushing, so the
  // SYN leaves together with the caller's first write (one datagram). Otherwise a handshake
  // starts: flush and send its preamble now.
  process_events();
  if (w.result) {
    request_flush();
  } else {
    pump();
  }
  while (!w.result && !stopped_) {
    w.wake.expires_at(std::chrono::steady_clock::time_point::max());
    co_await w.wake.async_wait(use_nothrow);
  }
  if (!w.result) co_return Error{asio::error::operation_aborted, "client stopped"};
  const tunnel::ClientEvent e = *w.result;
  if (e.kind != tunnel::ClientEventKind::StreamReady) {
    co_return Error{e.error, "tunnel: " + e.error.message()};
  }
  co_return MuxStream(*this, ex_, e.session, e.stream);
}

void ClientDriver::process_events() {
  using K = tunnel::ClientEventKind;
  while (auto e = client_.poll_event()) {
    switch (e->kind) {
      case K::NeedSocket: {
        const udp::endpoint to = endpoint_for(e->server, e->port);
        if (client_.spread()) {
          // Spread: one session per server, started when a stream is first assigned to it
          // (or after it was lost); which stream goes where is logged at debug level.
          spdlog::info("tunnel session {}: spreading streams, new session to server {}", e->session,
                       to_string(to));
        } else if (client_.stats().server_changes > 0 && servers_.size() > 1) {
          const auto& h = client_.server_health();
          std::string why;
          for (std::size_t i = 0; i < h.size(); ++i) {
            if (i != e->server && h[i].last_failure) {
              why += (why.empty() ? "" : "; ") + to_string(servers_[i]) + ": " + h[i].last_failure.message();
            }
          }
          spdlog::info("tunnel session {}: using server {} ({})", e->session, to_string(to),
                       why.empty() ? "first choice" : why);
        }
        open_socket(e->session, to);
        break;
      }
      case K::Rebind: {
        const udp::endpoint to = endpoint_for(e->server, e->port);
        spdlog::info("tunnel session {}: port hop to {}", e->session, to_string(to));
        close_socket(e->session);
        open_socket(e->session, to);
        break;
      }
      case K::SessionReady:
        if (auto v = client_.find_session(e->session)) {
          spdlog::info("tunnel session {} established with {} (conv {:08x}, {})", e->session,
                       to_string(endpoint_for(v->server, v->port)), v->session->conv(),
                       v->session->encrypted() ? "encrypted" : "plain");
        }
        break;
      case K::SessionClosed:
        spdlog::info("tunnel session {} closed: {}", e->session, e->error.message());
        close_socket(e->session);
        session_gone(e->session, e->error);
        break;
      case K::StreamReady:
        if (client_.spread()) {
          if (auto v = client_.find_session(e->session)) {
            spdlog::debug("stream {} of session {} -> server {} ({} stream(s) there)", e->stream,
                          e->session, to_string(endpoint_for(v->server, v->port)), v->streams);
          }
        }
        [[fallthrough]];
      case K::OpenFailed:
        if (auto it = waiters_.find(e->ticket); it != waiters_.end()) {
          it->second->result = *e;
          it->second->wake.cancel();
        }
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
    }
  }
}

void ClientDriver::send_pending() {
  auto tx = client_.transmit();
  std::size_t done = 0;
  std::array<ByteView, kMaxBatch> views;
  tunnel::SessionId refused = 0;
  while (done < tx.size()) {
    const tunnel::SessionId sid = tx[done].session;
    auto it = sockets_.find(sid);
    std::size_t run = 0;
    while (done + run < tx.size() && run < kMaxBatch && tx[done + run].session == sid) {
      views[run] = tx[done + run].data;
      ++run;
    }
    if (it == sockets_.end()) {  // its socket could not be opened: drop
      done += run;
      continue;
    }
    if (it->second.send_blocked) break;
    const IoResult r = it->second.socket->try_send(std::span<const ByteView>(views.data(), run), nullptr);
    for (std::size_t i = 0; i < r.count; ++i) stats_.udp_out_bytes += views[i].size();
    stats_.datagrams_out += r.count;
    done += r.count;
    if (!r.error) continue;
    if (would_block(r.error)) {
      it->second.send_blocked = true;
      asio::co_spawn(ex_, wait_writable(sid, it->second.socket), asio::detached);
      break;
    }
    ++stats_.send_errors;  // drop this one, go on
    spdlog::debug("udp send to {}: {}", to_string(current_endpoint()), r.error.message());
    ++done;
    if (r.error == asio::error::connection_refused) {
      refused = sid;
      break;
    }
  }
  client_.consume_transmit(done);
  if (refused != 0) on_port_unreachable(refused);
}

void ClientDriver::on_port_unreachable(tunnel::SessionId session) {
  // An ICMP port-unreachable on an established session's connected socket: nothing listens on
  // the proxy's port any more (the server stopped or restarted, losing every session). Drop
  // the session now instead of waiting for the liveness bound; the next open starts a new one.
  // During a handshake it means nothing yet: the server may be starting; retransmissions go on.
  // Spread: any live session (each talks to its own server).
  const auto v = client_.find_session(session);
  if (!v || v->session->state() != tunnel::ClientState::Established ||
      (!client_.spread() && session != client_.current_id())) {
    return;
  }
  spdlog::info("tunnel session {}: proxy port unreachable (ICMP), dropping the session", session);
  client_.fail_session(session, make_error_code(tunnel::Errc::port_unreachable), now_ms());
  request_flush();
}

awaitable<void> ClientDriver::wait_writable(tunnel::SessionId session,
                                            std::shared_ptr<DatagramSocket> sock) {
  auto alive = alive_;
  const std::error_code ec = co_await sock->wait_writable();
  if (!*alive || stopped_) co_return;
  if (auto it = sockets_.find(session); it != sockets_.end()) it->second.send_blocked = false;
  if (!ec) pump();
}

void ClientDriver::open_socket(tunnel::SessionId session, const udp::endpoint& to) {
  auto s = sockets_factory_ ? sockets_factory_(to) : [&]() -> Result<std::unique_ptr<DatagramSocket>> {
    auto u = UdpDatagramSocket::connect(ex_, to);
    if (!u) return u.error();
    return std::unique_ptr<DatagramSocket>(std::move(u.value()));
  }();
  if (!s) {
    // The session's handshake times out and its opens fail with that reason.
    spdlog::error("tunnel session {}: {}", session, s.error().message);
    return;
  }
  std::shared_ptr<DatagramSocket> sock = std::move(s.value());
  spdlog::debug("tunnel session {}: socket {} -> {}", session, to_string(sock->local_endpoint()),
                to_string(to));
  sockets_[session] = SessionSocket{sock, false};
  asio::co_spawn(ex_, receive_loop(session, sock),
                 [](std::exception_ptr e) { log_exception(e, "client receive"); });
}

void ClientDriver::close_socket(tunnel::SessionId session) {
  auto it = sockets_.find(session);
  if (it == sockets_.end()) return;
  it->second.socket->close();
  sockets_.erase(it);
}

awaitable<void> ClientDriver::receive_loop(tunnel::SessionId session,
                                           std::shared_ptr<DatagramSocket> sock) {
  auto alive = alive_;
  RecvSlots storage(kRecvSlots, slot_size_);
  const std::span<RecvSlot> slots = storage.slots();
  for (;;) {
    const IoResult r = co_await sock->receive(slots);
    if (!*alive || stopped_) co_return;
    if (r.error) {
      if (!sockets_.count(session)) co_return;
      ++stats_.socket_errors;
      // ICMP errors (port/host/network unreachable) are reported once each: go on, the
      // handshake and liveness timers decide what they mean. Anything else ends the loop.
      const bool icmp = r.error == asio::error::connection_refused ||
                        r.error == asio::error::host_unreachable ||
                        r.error == asio::error::network_unreachable;
      spdlog::debug("tunnel session {}: receive: {}", session, r.error.message());
      if (!icmp) co_return;
      if (r.error == asio::error::connection_refused) on_port_unreachable(session);
      continue;
    }
    const RecvSlots::Batch batch(storage);
    const TimeMs now = now_ms();
    for (std::size_t i = 0; i < r.count; ++i) {
      stats_.udp_in_bytes += slots[i].size;
      client_.handle_datagram(session, ByteView(slots[i].buffer.data(), slots[i].size), now);
    }
    stats_.datagrams_in += r.count;
    deliver_received();
  }
}

}  // namespace paniq::net
