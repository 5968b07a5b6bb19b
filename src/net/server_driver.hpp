// The server shell (proxy-server role): one UDP socket (IPv4, IPv6, or both for "[::]:port"),
// one receive loop (receive a batch -> handle_datagram per datagram -> the shared DriverLoop:
// deliver, send, re-arm the one timer) around tunnel::ServerEndpoint. Each stream a client
// opens is handed to `handler` in its own coroutine.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "crypto/crypto.hpp"
#include "net/asio.hpp"
#include "net/datagram.hpp"
#include "net/driver_loop.hpp"
#include "net/mux_stream.hpp"
#include "tunnel/migration_hint.hpp"
#include "tunnel/server.hpp"

namespace paniq::net {

struct ServerDriverStats {
  std::uint64_t udp_in_bytes = 0, udp_out_bytes = 0;
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t streams_accepted = 0;
};

class ServerDriver final : public DriverLoop<ServerDriver> {
 public:
  // Serves one accepted stream; runs in its own coroutine and owns the stream.
  using StreamHandler = std::function<awaitable<void>(MuxStream)>;

  // `cfg` must pass validate() (throws std::invalid_argument otherwise). `socket` is bound.
  ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg, obf::Framer framer,
               std::unique_ptr<DatagramSocket> socket, StreamHandler handler);
  // Several bound sockets (a port range): datagrams from socket i reach the endpoint with
  // PeerAddr::local = i and replies leave from it. At least one socket.
  ServerDriver(asio::any_io_executor ex, const tunnel::ServerConfig& cfg, obf::Framer framer,
               std::vector<std::unique_ptr<DatagramSocket>> sockets, StreamHandler handler);
  ~ServerDriver() override;

  // Starts the receive and timer loops. Call once, on the io_context's thread.
  void start();
  // Closes the socket; live streams fail with operation_aborted. Sessions are dropped
  // silently (as the reference: nothing is sent).
  void stop();

  const tunnel::ServerEndpoint& endpoint() const { return endpoint_; }
  // Replaces the users table (tunnel::ServerEndpoint::set_users); the sessions it ends are
  // processed (their streams fail) on the next turn of the loop.
  void set_users(std::shared_ptr<const tunnel::UserTable> users) {
    endpoint_.set_users(std::move(users));
    request_flush();
  }
  const ServerDriverStats& stats() const { return stats_; }
  udp::endpoint local_endpoint() const { return sockets_.front()->local_endpoint(); }
  std::size_t socket_count() const { return sockets_.size(); }

  mux::Session* stream_mux(std::uint64_t session) override { return endpoint_.mux(session); }

 private:
  friend class DriverLoop<ServerDriver>;
  tunnel::ServerEndpoint& core() { return endpoint_; }
  void log_telemetry();
  void log_session_cap_refusals();
  void process_events();
  void send_pending();
  awaitable<void> receive_loop(std::uint16_t index);
  awaitable<void> wait_writable(std::shared_ptr<DatagramSocket> sock);

  crypto::FastRng rng_;
  tunnel::ServerEndpoint endpoint_;
  tunnel::MigrationHints hints_;
  std::vector<std::shared_ptr<DatagramSocket>> sockets_;
  StreamHandler handler_;
  bool send_blocked_ = false;
  ServerDriverStats stats_;
  std::uint32_t max_streams_;                // kcp.max_streams (for the log)
  std::uint64_t session_cap_logged_ = 0;     // streams_refused_session_cap already logged
  TimeMs session_cap_log_at_ = 0;            // when the last such line was written
};

}  // namespace paniq::net
