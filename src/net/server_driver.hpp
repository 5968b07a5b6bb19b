// The server shell (proxy-server role): one UDP socket (IPv4, IPv6, or both for "[::]:port"),
// one receive loop (receive a batch -> handle_datagram per datagram -> flush -> send ->
// re-arm the one timer from next_timeout) around tunnel::ServerEndpoint. Each stream a client
// opens is handed to `handler` in its own coroutine.
#pragma once

#include <functional>
#include <memory>

#include "crypto/crypto.hpp"
#include "net/asio.hpp"
#include "net/datagram.hpp"
#include "net/mux_stream.hpp"
#include "tunnel/server.hpp"

namespace paniq::net {

struct ServerDriverStats {
  std::uint64_t udp_in_bytes = 0, udp_out_bytes = 0;
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t streams_accepted = 0;
};

class ServerDriver final : public StreamHost {
 public:
  // Serves one accepted stream; runs in its own coroutine and owns the stream.
  using StreamHandler = std::function<awaitable<void>(MuxStream)>;

  // `cfg` must pass validate() (throws std::invalid_argument otherwise). `socket` is bound.
  ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg, obf::Framer framer,
               std::unique_ptr<DatagramSocket> socket, StreamHandler handler);
  ~ServerDriver() override;

  // Starts the receive and timer loops. Call once, on the io_context's thread.
  void start();
  // Closes the socket; live streams fail with operation_aborted. Sessions are dropped
  // silently (as the reference: nothing is sent).
  void stop();

  const tunnel::ServerEndpoint& endpoint() const { return endpoint_; }
  const ServerDriverStats& stats() const { return stats_; }
  udp::endpoint local_endpoint() const { return socket_->local_endpoint(); }

  mux::Session* stream_mux(std::uint64_t session) override { return endpoint_.mux(session); }
  void request_flush() override;

 private:
  void pump();
  void deliver_received();
  void process_events();
  void send_pending();
  void rearm();
  awaitable<void> receive_loop();
  awaitable<void> timer_loop();
  awaitable<void> telemetry_loop(std::chrono::seconds period);
  awaitable<void> wait_writable();

  asio::any_io_executor ex_;
  crypto::FastRng rng_;
  tunnel::ServerEndpoint endpoint_;
  std::shared_ptr<DatagramSocket> socket_;
  StreamHandler handler_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool flush_posted_ = false;
  bool send_blocked_ = false;
  bool stopped_ = false;
  ServerDriverStats stats_;
};

}  // namespace paniq::net
