// The client shell (socks5d role): one io_context thread runs tunnel::Client. Every session
// gets a fresh UDP socket connect()ed to the proxy (dual-stack: the proxy may be IPv4 or IPv6)
// with its own receive loop (receive a batch -> handle_datagram -> the shared DriverLoop:
// deliver, send, re-arm the one timer). Streams are opened with open_stream() and used as
// MuxStream.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "crypto/crypto.hpp"
#include "net/asio.hpp"
#include "net/datagram.hpp"
#include "net/driver_loop.hpp"
#include "net/mux_stream.hpp"
#include "tunnel/client.hpp"

namespace paniq::net {

struct ClientDriverStats {
  std::uint64_t udp_in_bytes = 0, udp_out_bytes = 0;
  std::uint64_t datagrams_in = 0, datagrams_out = 0;
  std::uint64_t send_errors = 0;    // datagrams the kernel refused (dropped; KCP retransmits)
  std::uint64_t socket_errors = 0;  // receive errors (e.g. ICMP port unreachable)
};

class ClientDriver final : public DriverLoop<ClientDriver> {
 public:
  // Opens the socket of a new session, connected to the server. Default: a real UDP socket
  // (UdpDatagramSocket::connect); tests pass a MemoryNetwork's. An error fails that session's
  // handshake (its opens fail after the handshake timeout).
  using SocketFactory =
      std::function<Result<std::unique_ptr<DatagramSocket>>(const udp::endpoint& server)>;

  // `server` is the proxy's UDP endpoint (resolved once at start-up). `cfg` must pass
  // validate() (throws std::invalid_argument otherwise: a start-up error).
  ClientDriver(asio::any_io_executor ex, const tunnel::ClientConfig& cfg, obf::Framer framer,
               udp::endpoint server, SocketFactory sockets = {});
  // Several servers (cfg.servers, the profile's `servers`): servers[i] is entry i resolved
  // (its port is the entry's first port); sessions connect to (servers[i] address, the port
  // the tunnel core picked).
  ClientDriver(asio::any_io_executor ex, const tunnel::ClientConfig& cfg, obf::Framer framer,
               std::vector<udp::endpoint> servers, SocketFactory sockets = {});
  ~ClientDriver() override;

  // Starts the timer loop. Call once, on the io_context's thread.
  void start();
  // Stops: waiting opens and live streams fail with operation_aborted, sockets close, the
  // current session is dropped (nothing is sent: the server forgets it by its idle timeout).
  void stop();

  // Opens a stream on the current session (spread mode: on the session of the server the
  // tunnel core assigns it to, docs/tunnel.md), waiting for its handshake when one is needed
  // (a single handshake serves every open that arrives meanwhile). Errors: the handshake's
  // failure (tunnel::Errc::handshake_timeout ...), the mux's (too_many_streams ...),
  // operation_aborted after stop(). The caller reports the failure to its client; the next
  // open starts a new session.
  awaitable<Result<MuxStream>> open_stream();

  const tunnel::Client& client() const { return client_; }
  tunnel::Client& client() { return client_; }
  const ClientDriverStats& stats() const { return stats_; }
  const udp::endpoint& server() const { return server_; }
  // The endpoint of the current session (server and port in use).
  udp::endpoint current_endpoint() const;
  // The endpoint of server `server` (index into servers()) at `port` (0 = its own), e.g. of a
  // tunnel::ClientSessionView.
  udp::endpoint endpoint_for(std::uint32_t server, std::uint16_t port) const;
  const std::vector<udp::endpoint>& servers() const { return servers_; }

  mux::Session* stream_mux(std::uint64_t session) override { return client_.mux(session); }

 private:
  friend class DriverLoop<ClientDriver>;
  struct OpenWaiter {
    explicit OpenWaiter(asio::any_io_executor ex) : wake(std::move(ex)) {}
    asio::steady_timer wake;
    std::optional<tunnel::ClientEvent> result;
  };
  struct SessionSocket {
    std::shared_ptr<DatagramSocket> socket;
    bool send_blocked = false;
  };

  tunnel::Client& core() { return client_; }
  void log_telemetry();
  void process_events();
  void send_pending();
  void on_port_unreachable(tunnel::SessionId session);
  void open_socket(tunnel::SessionId session, const udp::endpoint& to);
  void close_socket(tunnel::SessionId session);
  awaitable<void> receive_loop(tunnel::SessionId session, std::shared_ptr<DatagramSocket> sock);
  awaitable<void> wait_writable(tunnel::SessionId session, std::shared_ptr<DatagramSocket> sock);

  crypto::FastRng rng_;
  tunnel::Client client_;
  udp::endpoint server_;
  std::vector<udp::endpoint> servers_;
  SocketFactory sockets_factory_;
  std::size_t slot_size_;
  std::unordered_map<tunnel::SessionId, SessionSocket> sockets_;
  std::unordered_map<tunnel::OpenTicket, OpenWaiter*> waiters_;
  ClientDriverStats stats_;
};

}  // namespace paniq::net
