// socks5d's SOCKS5 front end (PROTOCOL.md 9, issue #5 item 2): RFC 1928 with no-auth or RFC 1929
// username/password, CONNECT to IPv4/IPv6/domain targets and UDP ASSOCIATE, each carried over
// one tunnel stream with the stream-open exchange (8.1, 8.2, 8.5); and on the same port an
// HTTP/1.1 forward proxy (docs/http-proxy.md, http_front.cpp).
//
// Protocol detection: the first byte of a connection decides: 0x05 SOCKS5; an ASCII capital
// letter HTTP (CONNECT host:port, absolute-form http:// requests with keep-alive, Basic
// Proxy-Authorization with the SOCKS5 credentials); anything else is closed without a reply.
//
// Policies (documented in docs and --help; they apply to HTTP too):
// * Negotiation timeout: the greeting, authentication and request must complete within
//   `negotiation_timeout` (10 s; the daemon config's accept_timeout when the file sets it),
//   else the connection is closed without a reply.
// * max_connections: connections over the limit are accepted and closed at once (no reply),
//   so the kernel backlog never fills with connections nobody serves.
// * Failure replies (the reference closes silently): tunnel handshake failure or stream open
//   refused -> 01 general failure; the proxy's reply byte 0x01..0x08 -> that SOCKS code (our
//   extension, 0x01 from a Rust proxy); no reply byte within `reply_timeout` -> 06 TTL
//   expired; stream ended before the byte -> 01. Unsupported command -> 07, address type -> 08
//   (by the parser). A request whose tunnel session died before the proxy answered (the proxy
//   restarted) is sent again on a new session (at most twice) before failing.
// * HTTP: the first request head must be complete within the negotiation timeout, later heads
//   of a kept-alive connection within 60 s of idleness. The same outcomes become statuses:
//   credentials missing or wrong -> 407 with `Proxy-Authenticate: Basic realm="paniq"`; TTL
//   expired (the proxy's dial, or no reply byte within reply_timeout) -> 504; any other failure
//   -> 502 naming the SOCKS reason (body and RFC 9209 Proxy-Status); malformed -> 400, too
//   large -> 431/414, https:// in absolute-form -> 501, other versions -> 505. fast_connect does
//   not apply to HTTP (the status needs the proxy's answer).
// * UDP ASSOCIATE: the relay socket is bound on the address the client reached us at (so its
//   family and interface match the listener), port chosen by the system; datagrams are taken
//   only from the control connection's IP address (latest port wins), FRAG != 0 or malformed
//   headers are dropped, records go over the stream as `u16 BE length | datagram` both ways.
//   The association ends when the TCP control connection closes or the stream ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "app/common.hpp"
#include "core/result.hpp"
#include "net/asio.hpp"
#include "net/client_driver.hpp"
#include "net/mux_stream.hpp"
#include "net/relay.hpp"
#include "socks5/handshake.hpp"
#include "socks5/stream_open.hpp"

namespace paniq::app {

using net::awaitable;

struct Socks5Options {
  socks5::HandshakeConfig auth;  // empty = no authentication
  std::uint64_t max_connections = 128;
  std::chrono::milliseconds negotiation_timeout{10'000};
  // From the open request to the proxy's reply byte (covers a tunnel handshake and the
  // proxy's dial).
  std::chrono::milliseconds reply_timeout{30'000};
  // Config extension `fast_connect`: CONNECT is answered with success as soon as the tunnel
  // stream is open; the proxy's reply byte is checked by the relay and a failure resets the
  // application's connection (no SOCKS error code). Saves one tunnel round trip.
  bool fast_connect = false;
};

struct Socks5Stats {
  std::uint64_t accepted = 0;
  std::uint64_t over_limit = 0;   // closed at once (max_connections)
  std::uint64_t active = 0;       // connections being served
  std::uint64_t active_relays = 0;  // CONNECT relays running (PROTOCOL.md 12 active_connections)
  std::uint64_t connect_ok = 0, connect_failed = 0;
  std::uint64_t udp_associations = 0;
};

class Socks5Front {
 public:
  // `driver` and `opt.auth` must outlive this object.
  Socks5Front(asio::any_io_executor ex, net::ClientDriver& driver, Socks5Options opt);
  ~Socks5Front();
  Socks5Front(const Socks5Front&) = delete;
  Socks5Front& operator=(const Socks5Front&) = delete;

  // Opens, binds and listens. Error message: "cannot listen on <addr>: <reason>" (e.g.
  // "Address already in use"); the daemon exits with it.
  Result<void> listen(const net::tcp::endpoint& ep);
  // Starts the accept loop (after listen()).
  void start();
  // Stops accepting (connections being served go on until the driver stops).
  void stop();
  net::tcp::endpoint local_endpoint() const;
  const Socks5Stats& stats() const { return stats_; }

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(net::tcp::socket sock);
  awaitable<void> serve_connect(net::tcp::socket& sock, const socks5::Request& req, ByteView early);
  awaitable<void> serve_fast_connect(net::tcp::socket& sock, const socks5::Request& req, ByteView early);
  // net::relay counted in active_relays, with a debug line at the end; nullopt when this
  // object was destroyed meanwhile (shutdown).
  awaitable<std::optional<net::RelayStats>> relay_counted(net::tcp::socket& sock, net::MuxStream& stream,
                                                          net::RelayOptions opt,
                                                          const socks5::Address& target);
  awaitable<void> serve_udp(net::tcp::socket& sock, const socks5::Request& req);
  // The HTTP proxy (http_front.cpp): `first` holds the bytes read so far (the first one an ASCII
  // capital letter); the first request head must be complete by `head_deadline`.
  awaitable<void> serve_http(net::tcp::socket& sock, ByteView first, const std::string& peer,
                             std::chrono::steady_clock::time_point head_deadline);
  awaitable<void> http_connect(net::tcp::socket& sock, const socks5::Address& target, ByteView early);
  // Opens a stream and performs the stream-open exchange; Succeeded and the stream, or the
  // SOCKS reply code to send. A request whose session died before the proxy answered (a
  // restarted proxy) is tried again on a new session, kOpenRetries times at most, within
  // reply_timeout.
  awaitable<std::pair<socks5::ReplyCode, net::MuxStream>> open_tunnel(const socks5::OpenRequest& r);
  struct OpenAttempt {
    socks5::ReplyCode code;
    net::MuxStream stream;
    bool retry;  // the session was lost before an answer
  };
  awaitable<OpenAttempt> open_once(const socks5::OpenRequest& r,
                                   std::chrono::steady_clock::time_point deadline);
  static constexpr int kOpenRetries = 2;

  asio::any_io_executor ex_;
  net::ClientDriver& driver_;
  Socks5Options opt_;
  net::tcp::acceptor acceptor_;
  Socks5Stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  LogLimiter refusal_log_;  // the max_connections warning, at most once a second
};

// The UDP ASSOCIATE relay of socks5d (see the policy above). Returns when the control
// connection or the stream ended; closes `relay_socket` and `stream`.
awaitable<void> run_client_udp_association(net::tcp::socket& control, net::udp::socket& relay_socket,
                                           net::MuxStream& stream);

}  // namespace paniq::app
