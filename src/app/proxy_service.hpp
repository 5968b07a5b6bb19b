// proxy-server's stream handler (PROTOCOL.md 8.3, 8.5; issue #5 item 3): reads the stream-open
// request incrementally, dials (dial_timeout, happy eyeballs for names with IPv4 and IPv6),
// answers one reply byte and relays; UDP ASSOCIATE per 8.5.
//
// Reply byte (socks5/stream_open.hpp extension; a Rust client only tests for 0): 0x00 success;
// connection refused 0x05; network unreachable 0x03; host unreachable 0x04; timeout 0x06; name
// that does not resolve (or an empty name) 0x04; unsupported command 0x07; other errors 0x01.
// Malformed requests (version != 1, bad ATYP, non-UTF-8 name) end the stream without a reply,
// as the reference.
//
// Half-close: target EOF -> FIN on the stream (the reference sends none; both interoperate,
// PROTOCOL.md 8.4); the client's FIN -> shutdown(send) towards the target.
//
// UDP ASSOCIATE: one UDP socket per association (dual-stack when the system allows), records
// `u16 BE length | SOCKS5 UDP datagram` both ways; malformed records and FRAG != 0 are skipped;
// names are resolved per datagram with a one-entry cache; only datagrams from addresses this
// association has sent to are returned (the reference returns anything); at most one datagram
// in flight each way (back-pressure: the kernel drops UDP when we are slow).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "net/asio.hpp"
#include "net/mux_stream.hpp"
#include "socks5/stream_open.hpp"

namespace paniq::app {

using net::awaitable;

struct ProxyOptions {
  std::chrono::milliseconds dial_timeout{5'000};
  // The stream-open request must arrive within this long after the stream opened.
  std::chrono::milliseconds request_timeout{10'000};
  std::chrono::milliseconds happy_eyeballs_stagger{250};
  std::chrono::milliseconds udp_resolve_timeout{5'000};
  // Streams served at once (the config's max_connections); a stream over the limit is
  // answered 0x01 (general failure) at once, without reading its request.
  std::uint64_t max_connections = 128;
};

struct ProxyStats {
  std::uint64_t streams = 0;
  std::uint64_t connect_ok = 0, connect_failed = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t udp_associations = 0;
  std::uint64_t active = 0;
  std::uint64_t over_limit = 0;  // refused: max_connections streams already served
};

class ProxyService {
 public:
  ProxyService(asio::any_io_executor ex, ProxyOptions opt) : ex_(std::move(ex)), opt_(opt) {}
  ~ProxyService() { *alive_ = false; }
  ProxyService(const ProxyService&) = delete;
  ProxyService& operator=(const ProxyService&) = delete;

  // The ServerDriver's StreamHandler: serves one stream to its end.
  awaitable<void> serve(net::MuxStream stream);
  const ProxyStats& stats() const { return stats_; }

 private:
  awaitable<void> serve_connect(net::MuxStream& stream, const socks5::Address& target, ByteView early);
  awaitable<void> serve_udp(net::MuxStream& stream, ByteView early);

  asio::any_io_executor ex_;
  ProxyOptions opt_;
  ProxyStats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The proxy's side of a UDP association: `early` holds record bytes that arrived with the
// request. Returns when the stream ends; closes `sock`.
awaitable<void> run_proxy_udp_association(net::MuxStream& stream, net::udp::socket& sock,
                                          ByteView early, std::chrono::milliseconds resolve_timeout);

}  // namespace paniq::app
