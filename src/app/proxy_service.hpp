// proxy-server's stream handler (PROTOCOL.md 8.3, 8.5; issue #5 item 3): reads the stream-open
// request incrementally, dials (dial_timeout, happy eyeballs for names with IPv4 and IPv6),
// answers one reply byte and relays; UDP ASSOCIATE per 8.5.
//
// Egress policy (docs/egress.md, app/egress_gate.hpp): the target is resolved first and every
// resolved address is checked; only allowed ones are dialled (a name with some refused
// addresses still connects through the others). None allowed -> reply 0x02, nothing dialled.
// UDP ASSOCIATE checks each datagram's resolved destination; refused datagrams are dropped.
//
// Reply byte (socks5/stream_open.hpp extension; a Rust client only tests for 0): 0x00 success;
// refused by the egress policy 0x02; connection refused 0x05; network unreachable 0x03; host
// unreachable 0x04; timeout 0x06; name that does not resolve (or an empty name) 0x04;
// unsupported command 0x07; other errors 0x01.
// CONNECT to speedtest.paniq.invalid is served by SpeedtestTarget (app/speedtest_target.hpp)
// before any lookup or egress check.
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
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "app/common.hpp"
#include "app/egress_gate.hpp"
#include "app/speedtest_target.hpp"
#include "net/asio.hpp"
#include "net/mux_stream.hpp"
#include "socks5/stream_open.hpp"
#include "tunnel/egress.hpp"
#include "tunnel/stream_limits.hpp"

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
  // Streams one user (users file) may have served at once across all of that user's sessions
  // (tunnel/stream_limits.hpp; users-file `max_streams` overrides it per user). A stream over
  // it is answered 0x01 like the max_connections refusal. Sessions without a user are limited
  // per session (kcp.max_streams) and by max_connections only.
  std::uint64_t max_streams_per_user = 256;
  // Which targets may be reached; the default refuses loopback, private and link-local ranges
  // and so on (tunnel/egress.hpp). proxy-server adds its config's rules and own addresses.
  tunnel::EgressPolicy egress;
  std::uint32_t egress_log_per_second = 5;  // refusal log lines per verdict
  // The built-in speedtest target (app/speedtest_target.hpp), served before any lookup.
  SpeedtestOptions speedtest;
};

struct ProxyStats {
  std::uint64_t streams = 0;
  std::uint64_t connect_ok = 0, connect_failed = 0;  // dialled (egress refusals: EgressStats)
  std::uint64_t bad_requests = 0;
  std::uint64_t udp_associations = 0;
  std::uint64_t active = 0;
  std::uint64_t over_limit = 0;  // refused: max_connections streams already served
  // Refused because their user held max_streams_per_user streams: user_limits().refused_total().
};

class ProxyService {
 public:
  ProxyService(asio::any_io_executor ex, ProxyOptions opt)
      : ex_(std::move(ex)), opt_(opt), egress_(opt_.egress, opt_.egress_log_per_second),
        speedtest_(ex_, opt_.speedtest) {}
  ~ProxyService() { *alive_ = false; }
  ProxyService(const ProxyService&) = delete;
  ProxyService& operator=(const ProxyService&) = delete;

  // The ServerDriver's StreamHandler: serves one stream to its end.
  awaitable<void> serve(net::MuxStream stream);
  const ProxyStats& stats() const { return stats_; }
  const EgressStats& egress_stats() const { return egress_.stats(); }
  const SpeedtestStats& speedtest_stats() const { return speedtest_.stats(); }
  // Per-user stream counts and refusals (max_streams_per_user).
  const tunnel::UserStreamLimits& user_limits() const { return user_limits_; }

  // How a stream's session maps to its user name ("" = none); unset = no user limits.
  void set_user_lookup(std::function<std::string(std::uint64_t session)> f) {
    user_of_ = std::move(f);
  }
  // Per-user caps from the users file (`max_streams`), replaced on every (re)load.
  void set_user_caps(std::map<std::string, std::uint64_t> caps) {
    user_limits_.set_overrides(std::move(caps));
  }

 private:
  awaitable<void> serve_connect(net::MuxStream& stream, const socks5::Address& target, ByteView early);
  awaitable<void> serve_udp(net::MuxStream& stream, ByteView early);

  asio::any_io_executor ex_;
  ProxyOptions opt_;
  ProxyStats stats_;
  EgressGate egress_;
  SpeedtestTarget speedtest_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  LogLimiter refusal_log_;  // the max_connections warning, at most once a second
  tunnel::UserStreamLimits user_limits_{opt_.max_streams_per_user};
  std::function<std::string(std::uint64_t)> user_of_;
  LogLimiter user_refusal_log_;  // the max_streams_per_user warning, at most once a second
};

// The proxy's side of a UDP association: `early` holds record bytes that arrived with the
// request. Each datagram goes to the first address of its destination that `egress` allows;
// none allowed -> dropped and counted there. Returns when the stream ends; closes `sock`.
awaitable<void> run_proxy_udp_association(net::MuxStream& stream, net::udp::socket& sock,
                                          ByteView early, std::chrono::milliseconds resolve_timeout,
                                          EgressGate& egress);

}  // namespace paniq::app
