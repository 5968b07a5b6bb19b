// Shared helpers of the tunnel tests: configs, a deterministic byte pattern, and drivers that
// join tunnel objects through the deterministic simulator (tests/sim) in virtual time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "envelope/config.hpp"
#include "envelope/secure.hpp"
#include "kcp/config.hpp"
#include "obf/framer.hpp"
#include "sim/network.hpp"
#include "support/vectors.hpp"
#include "tunnel/client.hpp"
#include "tunnel/link.hpp"
#include "tunnel/server.hpp"

namespace paniq::tunnel::test {

using paniq::test::hex;
using paniq::test::load_vectors;

// Heap allocations (operator new) made by the whole test program so far (alloc_counter.cpp).
std::uint64_t allocations();

// Sanitizer and Debug builds move less data in the big transfers.
#if defined(__SANITIZE_ADDRESS__) || !defined(NDEBUG)
inline constexpr bool kSmallRun = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSmallRun = true;
#else
inline constexpr bool kSmallRun = false;
#endif
#else
inline constexpr bool kSmallRun = false;
#endif

// The obfuscation settings of tests/vectors/wire-example.json.
inline obf::Config wire_obf_config() {
  const auto j = paniq::test::load_vectors("wire-example.json")["config"];
  obf::Config c;
  c.s = {j["s1"].get<std::uint32_t>(), j["s2"].get<std::uint32_t>(),
         j["s3"].get<std::uint32_t>(), j["s4"].get<std::uint32_t>()};
  const char* const keys[] = {"h1", "h2", "h3", "h4"};
  for (std::size_t i = 0; i < 4; ++i) {
    c.h[i] = *obf::parse_header_range(j[keys[i]].get<std::string>());
  }
  return c;
}

// A config with junk and signatures for preamble tests (and the header ranges of the vector).
inline obf::Config preamble_obf_config() {
  obf::Config c = wire_obf_config();
  c.jc = 3;
  c.jmin = 10;
  c.jmax = 20;
  c.i[0] = "<b 0xf00d><r 8>";
  c.i[2] = "<t><r 4>";
  return c;
}

inline obf::Framer framer(const obf::Config& c) { return std::move(*obf::Framer::create(c)); }

// A fixed wall-clock time for handshakes in tests (its value only has to be plausible).
inline constexpr WallTime kWall{1'700'000'000, 0};

// Every event the client has queued, in order.
inline std::vector<ClientEvent> drain(Client& c) {
  std::vector<ClientEvent> out;
  while (auto e = c.poll_event()) out.push_back(*e);
  return out;
}

struct LinkOptions {
  std::uint32_t s4 = 1;
  bool padding = false;
  bool replay = false;
  std::uint32_t max_streams = 1024;
  std::uint32_t window = 1024;
};

inline LinkConfig link_config(mux::Role role, const LinkOptions& o = {}) {
  LinkConfig c;
  c.padding = o.padding ? envelope::PaddingPolicy::enabled_defaults()
                        : envelope::PaddingPolicy::disabled();
  envelope::SizeInputs in;
  in.s4 = o.s4;
  in.transport_replay = o.replay;
  in.padding = c.padding;
  c.sizes = envelope::derive_sizes(in);
  c.transport_replay = o.replay;
  c.kcp = kcp::Config::reference(0, c.sizes.kcp_mtu, 10, o.window, o.window, o.window);
  c.mux = role == mux::Role::Client ? mux::Config::defaults() : mux::Config::server_defaults();
  c.mux.max_streams = o.max_streams;
  if (role == mux::Role::Server) c.mux.keepalive_interval_ms = 0;
  c.liveness.enabled = role == mux::Role::Client;
  return c;
}

inline ClientConfig client_config(const LinkOptions& o = {}) {
  ClientConfig c;
  c.link = link_config(mux::Role::Client, o);
  return c;
}

inline ServerConfig server_config(const LinkOptions& o = {}) {
  ServerConfig c;
  c.link = link_config(mux::Role::Server, o);
  return c;
}

inline PeerAddr peer4(std::uint8_t last, std::uint16_t port) {
  return PeerAddr::v4({10, 0, 0, last}, port);
}

// Byte i of stream `key` (a cheap keyed mix: distinct, pseudo-random content per stream).
inline std::uint8_t pattern_byte(std::uint64_t key, std::uint64_t i) {
  std::uint64_t x = (i / 8) * 0x9e3779b97f4a7c15ULL + key * 0xd1b54a32d192ed03ULL;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x >> (8 * (i % 8)));
}

inline void fill_pattern(std::uint64_t key, std::uint64_t off, MutByteView out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = pattern_byte(key, off + i);
}

inline bool matches_pattern(std::uint64_t key, std::uint64_t off, ByteView got) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != pattern_byte(key, off + i)) return false;
  }
  return true;
}

// Writes stream `key`'s pattern from byte `sent` on into stream `id`, 4 KiB at a time, until the
// mux takes no more, `total` bytes are written or `max_writes` writes were made; advances `sent`.
inline void write_pattern(mux::Session& mux, mux::StreamId id, std::uint64_t key,
                          std::uint64_t& sent, std::uint64_t total, TimeMs now,
                          int max_writes = 1 << 30) {
  for (int i = 0; i < max_writes && sent < total; ++i) {
    Bytes chunk(std::min<std::uint64_t>(4096, total - sent));
    fill_pattern(key, sent, chunk);
    auto w = mux.write(id, chunk, now);
    if (!w || *w == 0) return;
    sent += *w;
  }
}

// Reads all stream `id` holds, checking it against stream `key`'s pattern from byte `got` on;
// advances `got` and clears `exact` on a mismatch.
inline void read_pattern(mux::Session& mux, mux::StreamId id, std::uint64_t key,
                         std::uint64_t& got, bool& exact, MutByteView buf) {
  for (;;) {
    auto n = mux.read(id, buf);
    if (!n || *n == 0) return;
    if (!matches_pattern(key, got, ByteView(buf.data(), *n))) exact = false;
    got += *n;
  }
}

// Deterministic pseudo-random stream content without per-byte work: stream `key` at offset
// `off` is bytes_[(off + key * 7919) % kPeriod]; views of up to kMaxView bytes are contiguous.
class Pattern {
 public:
  static constexpr std::size_t kPeriod = 1'048'573;  // prime: never lines up with segments
  static constexpr std::size_t kMaxView = 64u << 10;
  explicit Pattern(std::uint64_t seed) : bytes_(kPeriod + kMaxView) {
    SeededRng(seed).fill(MutByteView(bytes_).first(kPeriod));
    std::copy(bytes_.begin(), bytes_.begin() + kMaxView, bytes_.begin() + kPeriod);
  }
  ByteView at(std::uint64_t key, std::uint64_t off, std::size_t n) const {
    const std::size_t i = static_cast<std::size_t>((off + key * 7919) % kPeriod);
    return ByteView(bytes_).subspan(i, std::min(n, kMaxView));
  }
  bool matches(std::uint64_t key, std::uint64_t off, ByteView got) const {
    while (!got.empty()) {
      const ByteView want = at(key, off, got.size());
      if (std::memcmp(want.data(), got.data(), want.size()) != 0) return false;
      got = got.subspan(want.size());
      off += want.size();
    }
    return true;
  }

 private:
  Bytes bytes_;
};

// Sends every datagram `transmit()` holds into the network from `side`, then consumes them.
template <class T>
void ship(T& obj, sim::Network& net, sim::Side side) {
  const auto out = obj.transmit();
  for (const ByteView d : out) net.send(side, d);
  obj.consume_transmit(out.size());
}

// Mirror-image encrypted-session keys for a client (A) and server (B) Link, as a handshake
// would give them (fixed bytes: tests need no real handshake).
struct SecureKeyPair {
  envelope::SecureKeys client, server;
};

inline SecureKeyPair secure_key_pair(bool stream_offsets) {
  SecureKeyPair k;
  for (std::uint8_t i = 0; i < 32; ++i) {
    k.client.send[i] = static_cast<std::uint8_t>(i + 1);
    k.client.recv[i] = static_cast<std::uint8_t>(i + 101);
    k.client.hp_send[i] = static_cast<std::uint8_t>(i + 51);
    k.client.hp_recv[i] = static_cast<std::uint8_t>(i + 151);
  }
  k.client.send_rid = 0x2222;
  k.client.recv_rid = 0x1111;
  k.client.stream_offsets = stream_offsets;
  k.server = k.client;
  std::swap(k.server.send, k.server.recv);
  std::swap(k.server.hp_send, k.server.hp_recv);
  std::swap(k.server.send_rid, k.server.recv_rid);
  return k;
}

// Two Links (client A, server B) joined by a sim::Network: deliver arrivals, let the test act,
// flush, ship, run timers, jump to the next event.
class LinkPair {
 public:
  // `secure_a` / `secure_b` set: encrypted mode with these keys (mirror images of each other).
  LinkPair(const LinkConfig& client, const LinkConfig& server, const obf::Config& obf,
           const sim::LinkParams& a_to_b, const sim::LinkParams& b_to_a, std::uint64_t seed,
           const envelope::SecureKeys* secure_a = nullptr,
           const envelope::SecureKeys* secure_b = nullptr)
      : net(a_to_b, b_to_a, seed),
        framer_(framer(obf)),
        rng_a_(seed * 3 + 1),
        rng_b_(seed * 5 + 2),
        a(client, 0x12345678, framer_, rng_a_, 0, secure_a),
        b(server, 0x12345678, framer_, rng_b_, 0, secure_b) {}

  sim::Network net;

 private:
  obf::Framer framer_;
  SeededRng rng_a_, rng_b_;

 public:
  Link a;
  Link b;
  std::uint64_t not_transport = 0;
  // Called with every datagram a Link hands to the network, before it is sent.
  std::function<void(sim::Side, ByteView)> tap;

  TimeMs now() const { return net.now(); }

  void step(const std::function<void(LinkPair&)>& app) {
    const TimeMs t = net.now();
    deliver(sim::Side::b, b, t);
    deliver(sim::Side::a, a, t);
    app(*this);
    for (Link* l : {&a, &b}) {
      l->flush(t);
      if (auto d = l->next_timeout(); d && *d <= t) l->handle_timeout(t);
    }
    if (tap) {
      for (const ByteView d : a.transmit()) tap(sim::Side::a, d);
      for (const ByteView d : b.transmit()) tap(sim::Side::b, d);
    }
    ship(a, net, sim::Side::a);
    ship(b, net, sim::Side::b);
    TimeMs next = t + 1000;
    for (Link* l : {&a, &b}) {
      if (auto d = l->next_timeout()) next = std::min(next, std::max(*d, t + 1));
    }
    if (auto arrival = net.next_arrival()) next = std::min(next, std::max<TimeMs>(*arrival, t + 1));
    net.advance_to(next);
  }

 private:
  void deliver(sim::Side side, Link& l, TimeMs t) {
    while (net.receive(side, buf_)) {
      const auto c = framer_.classify(buf_);
      if (!c || c->type != obf::MessageType::Transport) {
        ++not_transport;
        continue;
      }
      l.handle_transport(c->payload, t);
    }
  }
  Bytes buf_;
};

// A Client (side A) and a ServerEndpoint (side B) joined by a sim::Network. Each client session
// is its own "socket": datagrams travel with a 2-byte source/destination port in front, the
// server sees peer 10.0.0.1:(kBasePort + session id).
class EndToEnd {
 public:
  static constexpr std::uint16_t kBasePort = 40000;

  EndToEnd(const ClientConfig& cc, const ServerConfig& sc, const obf::Config& obf,
           const sim::LinkParams& a_to_b, const sim::LinkParams& b_to_a, std::uint64_t seed)
      : net(a_to_b, b_to_a, seed),
        obf_(obf),
        server_cfg_(sc),
        crng_(seed * 7 + 3),
        srng_(seed * 11 + 5),
        client(cc, framer(obf), crng_),
        server(std::make_unique<ServerEndpoint>(sc, framer(obf), srng_)) {}

  sim::Network net;

 private:
  obf::Config obf_;
  ServerConfig server_cfg_;
  SeededRng crng_, srng_;

 public:
  Client client;
  std::unique_ptr<ServerEndpoint> server;
  std::vector<ClientEvent> client_events;
  std::vector<ServerEvent> server_events;
  // Optional reactions to events (the applications of both sides).
  std::function<void(EndToEnd&, const ClientEvent&)> on_client;
  std::function<void(EndToEnd&, const ServerEvent&)> on_server;
  // Sees every datagram as it is sent (side a = the client), without the port prefix.
  std::function<void(sim::Side, ByteView)> on_wire;
  // NAT rebinding: the server sees the client's sessions at port kBasePort + session +
  // nat_shift (and 10.0.0.<nat_host>); datagrams the server sends to an older mapping are lost,
  // as at a NAT that dropped it.
  std::uint16_t nat_shift = 0;
  std::uint8_t nat_host = 1;

  TimeMs now() const { return net.now(); }
  WallTime wall() const { return WallTime{1'700'000'000 + static_cast<std::int64_t>(now() / 1000), 0}; }

  // A fresh server process on the same address: every session forgotten.
  void restart_server() {
    server = std::make_unique<ServerEndpoint>(server_cfg_, framer(obf_), srng_);
  }

  void step(const std::function<void(EndToEnd&)>& app = {}) {
    const TimeMs t = net.now();
    while (net.receive(sim::Side::b, buf_)) {
      if (buf_.size() < 4) continue;
      server->handle_datagram(peer4(buf_[1], wire_port(buf_)),
                              ByteView(buf_).subspan(4), t, wall());
    }
    while (net.receive(sim::Side::a, buf_)) {
      if (buf_.size() < 4) continue;
      const std::uint16_t port = wire_port(buf_);
      if (buf_[1] != nat_host || port < kBasePort + nat_shift) continue;  // stale mapping
      client.handle_datagram(port - kBasePort - nat_shift, ByteView(buf_).subspan(4), t);
    }
    server->flush(t);
    client.flush(t);
    poll();
    if (app) app(*this);
    client.flush(t);
    server->flush(t);
    if (auto d = client.next_timeout(); d && *d <= t) client.handle_timeout(t);
    if (auto d = server->next_timeout(); d && *d <= t) server->handle_timeout(t);
    poll();
    client.flush(t);
    server->flush(t);
    ship_all();
    TimeMs next = t + 1000;
    if (auto d = client.next_timeout()) next = std::min(next, std::max(*d, t + 1));
    if (auto d = server->next_timeout()) next = std::min(next, std::max(*d, t + 1));
    if (auto arrival = net.next_arrival()) next = std::min(next, std::max<TimeMs>(*arrival, t + 1));
    net.advance_to(next);
  }

  // Steps until `done` or `limit_ms` of virtual time passed; returns done().
  bool run_until(const std::function<bool()>& done, TimeMs limit_ms,
                 const std::function<void(EndToEnd&)>& app = {}) {
    const TimeMs end = now() + limit_ms;
    while (!done() && now() <= end) step(app);
    return done();
  }

  void run_for(TimeMs ms, const std::function<void(EndToEnd&)>& app = {}) {
    const TimeMs end = now() + ms;
    while (now() < end) step(app);
  }

 private:
  void poll() {
    while (auto e = client.poll_event()) {
      client_events.push_back(*e);
      if (on_client) on_client(*this, *e);
    }
    while (auto e = server->poll_event()) {
      server_events.push_back(*e);
      if (on_server) on_server(*this, *e);
    }
  }

  // Each simulated datagram carries 4 bytes in front: host marker (0 = the client side's own
  // NAT address, 0xff = an explicit source host for inject()), host, port (BE).
  static std::uint16_t wire_port(ByteView b) { return get_u16_be(b.data() + 2); }

  void ship_all() {
    const auto ctx = client.transmit();
    for (const ClientTransmit& d : ctx) {
      send(sim::Side::a, 0, nat_host, static_cast<std::uint16_t>(kBasePort + d.session + nat_shift), d.data);
    }
    client.consume_transmit(ctx.size());
    const auto stx = server->transmit();
    for (const ServerTransmit& d : stx) {
      send(sim::Side::b, 0, d.peer.addr[3], d.peer.port, d.data);
    }
    server->consume_transmit(stx.size());
  }

 public:
  // A datagram towards the server from 10.0.0.<host>:<port> (an attacker, a replay).
  void inject(std::uint8_t host, std::uint16_t port, ByteView d) {
    send(sim::Side::a, 0xff, host, port, d);
  }

 private:
  void send(sim::Side side, std::uint8_t marker, std::uint8_t host, std::uint16_t port, ByteView d) {
    if (on_wire) on_wire(side, d);
    out_.resize(d.size() + 4);
    out_[0] = marker;
    out_[1] = host;
    put_u16_be(out_.data() + 2, port);
    std::copy(d.begin(), d.end(), out_.begin() + 4);
    net.send(side, out_);
  }

  Bytes buf_, out_;
};

}  // namespace paniq::tunnel::test
