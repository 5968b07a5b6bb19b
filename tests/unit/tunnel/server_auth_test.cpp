// ServerEndpoint with its AuthPolicy (issue #6), at the pure level: handshakes of our client in
// both modes, Rust-client compatibility and Response sizes, replays from other sources and
// after transport, a 100 000-datagram probe that must get zero bytes back with bounded state, a
// 50 000/s handshake flood from one source that must not keep another source out, and
// transport replay.
#include <gtest/gtest.h>

#include "envelope/handshake.hpp"
#include "tunnel/policy.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::int64_t kEpoch = 1'700'000'000;

const crypto::Key32 kServer = [] {
  crypto::Key32 k{};
  k.fill(0x31);
  return k;
}();

obf::Config auth_obf() {
  obf::Config c = test::wire_obf_config();  // S1 = 3, S2 = 2, H1 = 100-199, H4 = 1000-1999
  c.s[0] = 8;
  c.jc = 2;
  c.jmin = 30;
  c.jmax = 60;
  c.i[0] = "<b 0x474554><t><rc 6>";
  c.i[1] = "<t>";
  return c;
}

AuthConfig strict() {
  AuthConfig a;
  a.server_private_key = kServer;
  a.signature_validate = true;
  a.require_timestamp = true;
  a.require_encrypted_timestamp = true;
  a.skew_soft_seconds = 15;
  a.skew_hard_seconds = 30;
  a.replay_window_seconds = 30;
  a.replay_cache_size = 4096;
  a.rate_limit_pps = 200;
  a.rate_limit_burst = 500;
  a.preamble_table_size = 256;
  a.rate_table_size = 256;
  return a;
}

ServerConfig server_cfg(const AuthConfig& a, bool replay = false) {
  test::LinkOptions o;
  o.replay = replay;
  ServerConfig c = test::server_config(o);
  c.auth = a;
  return c;
}

ClientConfig client_cfg(bool authenticated, bool replay = false) {
  test::LinkOptions o;
  o.replay = replay;
  ClientConfig c = test::client_config(o);
  c.preamble_delay_ms = 2;
  c.handshake_timeout_ms = 500;
  if (authenticated) c.auth.server_public = crypto::x25519_public(kServer);
  return c;
}

// One ClientSession on peer 10.0.0.1:4000 and a ServerEndpoint, in virtual time, with the
// server's wall clock kEpoch + now + skew.
struct Pair {
  Pair(const ClientConfig& cc, const ServerConfig& sc, const obf::Config& oc, std::uint64_t seed = 1)
      : fr(test::framer(oc)), crng(seed), srng(seed + 100), server(sc, fr, srng), client(cc, fr, crng, &stamper) {}

  obf::Framer fr;
  SeededRng crng, srng;
  envelope::Tai64nStamper stamper;
  ServerEndpoint server;
  ClientSession client;
  PeerAddr peer = test::peer4(1, 4000);
  TimeMs now = 0;
  std::int64_t server_skew_ms = 0;
  std::vector<Bytes> client_sent;
  std::uint64_t bytes_to_others = 0;

  WallTime client_wall() const { return at(now, 0); }
  WallTime server_wall() const { return at(now, server_skew_ms); }
  static WallTime at(TimeMs t, std::int64_t skew_ms) {
    const std::int64_t ms = static_cast<std::int64_t>(t) + skew_ms;
    const std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);  // floor
    return WallTime{kEpoch + secs, static_cast<std::uint32_t>((ms - secs * 1000) * 1'000'000)};
  }

  void start() { ASSERT_TRUE(client.start(now, client_wall())); }

  // Everything the server has to send now: to the client, or counted when to anyone else.
  void drain_server() {
    server.flush(now);
    const auto tx = server.transmit();
    for (const ServerTransmit& t : tx) {
      if (t.peer == peer) {
        client.handle_datagram(t.data, now);
      } else {
        bytes_to_others += t.data.size();
      }
    }
    server.consume_transmit(tx.size());
    while (server.poll_event()) {
    }
  }

  void step() {
    const auto tx = client.transmit();
    for (const ByteView d : tx) {
      client_sent.emplace_back(d.begin(), d.end());
      server.handle_datagram(peer, d, now, server_wall());
    }
    client.consume_transmit(tx.size());
    drain_server();
    client.flush(now);
    while (client.poll_event()) {
    }
    if (auto t = client.next_timeout(); t && *t <= now) client.handle_timeout(now);
    if (auto t = server.next_timeout(); t && *t <= now) server.handle_timeout(now);
    TimeMs next = now + 50;
    if (auto t = client.next_timeout()) next = std::min(next, std::max(*t, now + 1));
    now = next;
  }

  bool run_until_established(TimeMs limit) {
    while (client.state() == ClientState::Handshaking && now < limit) step();
    return client.state() == ClientState::Established;
  }

  // The client's preamble and Initiation as sent so far (the Initiation is the last one).
  const AuthPolicy& policy() const { return dynamic_cast<const AuthPolicy&>(server.policy()); }
};

TEST(ServerAuth, RelaxedServesRustEmptyInitiationWithReferenceSizedResponse) {
  for (const bool with_key : {false, true}) {
    SCOPED_TRACE(with_key ? "private key, nothing required" : "no key");
    AuthConfig a = AuthConfig::relaxed();
    if (with_key) a.server_private_key = kServer;
    const obf::Config oc = auth_obf();
    const obf::Framer fr = test::framer(oc);
    SeededRng rng(1);
    ServerEndpoint server(server_cfg(a), fr, rng);
    // Exactly what a Rust client sends: random[S1] || h in H1, no payload.
    const Bytes init = fr.encode(obf::MessageType::Initiation, {}, rng);
    server.handle_datagram(test::peer4(1, 1), init, 0, WallTime{kEpoch, 0});
    EXPECT_EQ(server.session_count(), 0u) << "plain: no state until the first transport";
    EXPECT_EQ(server.stats().initiations_answered, 1u);
    const auto tx = server.transmit();
    ASSERT_EQ(tx.size(), 1u);
    EXPECT_EQ(tx[0].data.size(), oc.s[1] + 8u) << "S2 + 8: never more than the reference sends";
    const auto c = fr.classify(tx[0].data);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->type, obf::MessageType::Response);
  }
}

TEST(ServerAuth, OurAuthenticatedClientIsServedByARelaxedServer) {
  // A Rust server ignores the Initiation payload; so does a relaxed server without a key.
  Pair p(client_cfg(true), server_cfg(AuthConfig::relaxed()), auth_obf());
  p.start();
  const auto c = p.fr.classify(p.client.initiation());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, obf::MessageType::Initiation) << "the authenticated Initiation still classifies";
  EXPECT_EQ(c->payload.size(), 101u);
  ASSERT_TRUE(p.run_until_established(2000));
  ASSERT_TRUE(p.client.mux()->open_stream(p.now));
  for (int i = 0; i < 5; ++i) p.step();
  EXPECT_EQ(p.server.session_count(), 1u) << "created by the client's first transport";
  EXPECT_EQ(p.server.stats().sessions_lazy_created, 1u);
}

TEST(ServerAuth, AuthenticatedHandshakeAndTransport) {
  Pair p(client_cfg(true), server_cfg(strict()), auth_obf());
  p.start();
  ASSERT_TRUE(p.run_until_established(2000)) << "drops: " << p.server.stats().drop_policy;
  EXPECT_EQ(p.server.stats().auth_count(AuthReason::signature_missing), 0u);
  EXPECT_EQ(p.policy().stats().signatures_seen, 2u);
  EXPECT_EQ(p.policy().preamble().size(), 0u) << "consumed by the session";
  EXPECT_EQ(p.policy().replay_cache().size(), 1u);
  auto id = p.client.mux()->open_stream(p.now);
  ASSERT_TRUE(id);
  for (int i = 0; i < 20; ++i) p.step();
  EXPECT_GE(p.server.stats().routed, 1u);
  EXPECT_EQ(p.bytes_to_others, 0u);
}

TEST(ServerAuth, ClientWithoutKeyOrSignaturesGetsNothing) {
  // A Rust client (empty payload) against the authenticated server: silence.
  Pair rust(client_cfg(false), server_cfg(strict()), auth_obf());
  rust.start();
  EXPECT_FALSE(rust.run_until_established(3000));
  EXPECT_EQ(rust.client.stats().datagrams_in, 0u) << "not one byte came back";
  EXPECT_EQ(rust.server.stats().auth_count(AuthReason::mac1_missing), 3u) << "3 attempts";
  // Our client with the key, but its signature datagrams are lost on the way.
  Pair p(client_cfg(true), server_cfg(strict()), auth_obf());
  p.start();
  // Strip the client's signature datagrams on the way: only junk and the Initiation arrive.
  while (p.client.state() == ClientState::Handshaking && p.now < 3000) {
    const auto tx = p.client.transmit();
    for (const ByteView d : tx) {
      const bool is_sig = d.size() == 13 || d.size() == 4;
      if (!is_sig) p.server.handle_datagram(p.peer, d, p.now, p.server_wall());
    }
    p.client.consume_transmit(tx.size());
    p.drain_server();
    if (auto t = p.client.next_timeout(); t && *t <= p.now) p.client.handle_timeout(p.now);
    p.now += 1;
  }
  EXPECT_EQ(p.client.stats().datagrams_in, 0u);
  EXPECT_EQ(p.server.stats().auth_count(AuthReason::signature_missing), 3u);
}

TEST(ServerAuth, ClockSkewAgainstTheServerClock) {
  {
    Pair p(client_cfg(true), server_cfg(strict()), auth_obf());
    p.server_skew_ms = 20'000;  // the client is 20 s behind: accepted, counted
    p.start();
    ASSERT_TRUE(p.run_until_established(2000));
    EXPECT_EQ(p.server.stats().auth_count(AuthReason::skew_soft), 1u);
  }
  {
    Pair p(client_cfg(true), server_cfg(strict()), auth_obf());
    p.server_skew_ms = -35'000;  // 35 s ahead (33.4 s at the last attempt): refused, in silence
    p.start();
    EXPECT_FALSE(p.run_until_established(3000));
    EXPECT_EQ(p.client.stats().datagrams_in, 0u);
    EXPECT_EQ(p.server.stats().auth_count(AuthReason::skew_hard), 3u);
  }
}

TEST(ServerAuth, ReplayedInitiationRejectedFromAnotherSourceAndAfterTransport) {
  Pair p(client_cfg(true), server_cfg(strict()), auth_obf());
  p.start();
  ASSERT_TRUE(p.run_until_established(2000));
  const std::vector<Bytes> captured = p.client_sent;  // junk, 2 signatures, Initiation
  ASSERT_EQ(captured.size(), 5u);
  const Bytes& init = captured.back();
  // While half-open, the client's own retransmission gets the same Response again.
  p.server.handle_datagram(p.peer, init, p.now, p.server_wall());
  ASSERT_EQ(p.server.transmit().size(), 1u);
  EXPECT_EQ(p.server.stats().initiation_repeats, 1u);
  p.server.consume_transmit(1);
  // Transport reaches the session: it is no longer half-open.
  ASSERT_TRUE(p.client.mux()->open_stream(p.now));
  for (int i = 0; i < 10; ++i) p.step();
  ASSERT_GE(p.server.stats().routed, 1u);
  const auto sessions = p.server.stats().sessions_created;
  // The whole captured handshake replayed from another source, and again from the client's.
  const PeerAddr other = test::peer4(66, 5555);
  for (const PeerAddr& from : {other, p.peer}) {
    for (const Bytes& d : captured) p.server.handle_datagram(from, d, p.now, p.server_wall());
    p.server.flush(p.now);
    for (const ServerTransmit& t : p.server.transmit()) {
      EXPECT_NE(t.peer, other) << "answered a replay";
      const auto c = p.fr.classify(t.data);
      EXPECT_TRUE(c && c->type == obf::MessageType::Transport) << "only the live session's traffic";
    }
    p.server.consume_transmit(p.server.transmit().size());
  }
  EXPECT_EQ(p.server.stats().auth_count(AuthReason::replay), 2u);
  EXPECT_EQ(p.server.stats().sessions_created, sessions);
}

TEST(ServerAuth, IdenticalInitiationAnsweredABoundedNumberOfTimes) {
  const obf::Config oc = auth_obf();
  const obf::Framer fr = test::framer(oc);
  SeededRng rng(2);
  ServerConfig sc = server_cfg(AuthConfig::relaxed());
  sc.max_response_repeats = 3;
  ServerEndpoint server(sc, fr, rng);
  const Bytes init = fr.encode(obf::MessageType::Initiation, {}, rng);
  for (int i = 0; i < 20; ++i) server.handle_datagram(test::peer4(1, 1), init, 0, WallTime{kEpoch, 0});
  EXPECT_EQ(server.transmit().size(), 4u) << "the first answer and 3 repeats";
  EXPECT_EQ(server.stats().drop_repeat_limit, 16u);
  EXPECT_EQ(server.stats().initiation_repeats, 3u);
  EXPECT_EQ(server.session_count(), 0u);
}

// 100 000 datagrams a prober can make: random, truncated, bit-flipped, replayed (a captured
// handshake whose session is gone, and one from an hour ago) and header-valid but
// unauthenticated. Not one byte may come back, and state must stay bounded.
TEST(ServerAuth, ProbeFloodGetsSilenceAndBoundedState) {
  const obf::Config oc = auth_obf();
  Pair p(client_cfg(true), server_cfg(strict()), oc);
  p.start();
  ASSERT_TRUE(p.run_until_established(2000));
  const std::vector<Bytes> handshake = p.client_sent;
  const Bytes init = handshake.back();
  const std::vector<Bytes> sigs{handshake[2], handshake[3]};
  // An Initiation (with its signatures) dated an hour ago, never seen by this server.
  obf::Framer fr = test::framer(oc);
  SeededRng orng(77);
  envelope::InitiationAuth auth;
  auth.server_public = crypto::x25519_public(kServer);
  const Bytes old_init = *envelope::build_initiation(fr, orng, auth, WallTime{kEpoch - 3600, 0});
  const auto old_sigs = fr.signatures(static_cast<std::uint32_t>(kEpoch - 3600), orng);
  for (const auto id : p.server.session_ids()) p.server.close_session(id);
  ASSERT_EQ(p.server.session_count(), 0u);

  const auto before = p.server.stats();
  SeededRng g(99);
  Bytes d;
  std::uint64_t sent_back = 0;
  TimeMs now = p.now;
  for (int i = 0; i < 100'000; ++i) {
    const PeerAddr from = PeerAddr::v4({10, 1, static_cast<std::uint8_t>(g.uniform(0, 255)),
                                        static_cast<std::uint8_t>(g.uniform(0, 255))},
                                       static_cast<std::uint16_t>(g.uniform(1024, 65535)));
    switch (i % 5) {
      case 0:  // random bytes
        d.resize(g.uniform(0, 1400));
        g.fill(d);
        break;
      case 1: {  // truncated handshake datagrams
        const Bytes& src = handshake[g.uniform(0, handshake.size() - 1)];
        d.assign(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(g.uniform(0, src.size() - 1)));
        break;
      }
      case 2:  // one to three bits flipped in the Initiation
        d = init;
        for (std::uint64_t k = g.uniform(1, 3); k > 0; --k) d[g.uniform(0, d.size() - 1)] ^= 1u << g.uniform(0, 7);
        if (d == init) d[0] ^= 1;
        break;
      case 3: {  // replays: the captured handshake, or (1 in 8) the hour-old one, preamble first
        const bool old = (i / 5) % 8 == 0;
        for (const Bytes& s : (old ? old_sigs : sigs)) p.server.handle_datagram(from, s, now, Pair::at(now, 0));
        d = old ? old_init : init;
        break;
      }
      default: {  // header-valid, unauthenticated: padding || h in H1 || random payload
        Bytes payload(g.uniform(0, 200));
        g.fill(payload);
        d = fr.encode(obf::MessageType::Initiation, payload, g);
      }
    }
    p.server.handle_datagram(from, d, now, Pair::at(now, 0));
    if (i % 64 == 0) {
      now += 1;
      p.server.handle_timeout(now);
    }
    p.server.flush(now);
    for (const ServerTransmit& t : p.server.transmit()) sent_back += t.data.size();
    p.server.consume_transmit(p.server.transmit().size());
  }
  const ServerStats& s = p.server.stats();
  EXPECT_EQ(sent_back, 0u) << "zero bytes to a prober";
  EXPECT_EQ(s.datagrams_out, before.datagrams_out);
  EXPECT_EQ(p.server.session_count(), 0u);
  EXPECT_EQ(s.sessions_created, before.sessions_created);
  EXPECT_LE(p.policy().preamble().size(), p.policy().preamble().capacity());
  EXPECT_EQ(p.policy().preamble().capacity(), 256u);
  EXPECT_LE(p.policy().rate_limiter().size(), 256u);
  EXPECT_LE(p.policy().replay_cache().size(), 1u) << "nothing accepted after the real session";
  EXPECT_LE(p.policy().queued_logs(), AuthPolicy::kMaxQueuedLogs);
  EXPECT_GE(s.auth_count(AuthReason::replay), 17'000u);
  EXPECT_GE(s.auth_count(AuthReason::skew_hard), 2400u);
  EXPECT_GE(s.auth_count(AuthReason::mac1_invalid), 20000u);
  EXPECT_GT(s.auth_count(AuthReason::mac1_missing), 0u);
}

// A flood of 50 000 Initiations per second from one address, in virtual time, while a second
// client handshakes: it must complete within 1 s, and the flooder's share stays bounded.
void flood_test(bool authenticated) {
  const obf::Config oc = auth_obf();
  AuthConfig a = authenticated ? strict() : AuthConfig::relaxed();
  a.rate_limit_pps = 200;
  a.rate_limit_burst = 500;
  Pair p(client_cfg(authenticated), server_cfg(a), oc);
  p.start();
  SeededRng g(5);
  obf::Framer fr = test::framer(oc);
  const crypto::Key32 mk = envelope::mac1_key(crypto::x25519_public(kServer));
  const PeerAddr flooder = test::peer4(200, 1);
  Bytes d(8 + 4 + 101);
  TimeMs established_at = 0;
  for (TimeMs t = 0; t < 1000; ++t) {
    for (int k = 0; k < 50; ++k) {  // 50 per ms
      if (authenticated) {
        // MAC1-valid, with a garbage encrypted timestamp: passes the cheap check only.
        fr.write_prefix(obf::MessageType::Initiation, g, MutByteView(d).first(12));
        g.fill(MutByteView(d).subspan(12));
        d[12] = envelope::kEncTimestampVersion;
        envelope::write_mac1(d, mk);
        p.server.handle_datagram(flooder, d, p.now, p.server_wall());
      } else {
        p.server.handle_datagram(flooder, fr.encode(obf::MessageType::Initiation, {}, g), p.now, p.server_wall());
      }
    }
    p.drain_server();  // Responses to the client reach it; the flooder's are counted
    if (p.now <= t) p.step();
    if (p.client.state() == ClientState::Established && established_at == 0) established_at = p.now;
    p.now = std::max(p.now, t + 1);
  }
  EXPECT_EQ(p.client.state(), ClientState::Established);
  EXPECT_GT(established_at, 0u);
  EXPECT_LE(established_at, 1000u) << "the second source completed within 1 s";
  const ServerStats& s = p.server.stats();
  EXPECT_GE(s.auth_count(AuthReason::rate_limited), 49'000u);
  const std::uint64_t to_flooder = p.bytes_to_others / (oc.s[1] + 8u);  // Responses
  if (authenticated) {
    // The burst, the rate over the elapsed time, and the real client's one.
    EXPECT_LE(p.policy().stats().timestamps_opened, 500u + 200u * p.now / 1000u + 2u)
        << "X25519 work bounded by the bucket";
    EXPECT_EQ(to_flooder, 0u);
  } else {
    // The source's reflection budget (bytes): its burst and rate over the second.
    const ResponseBudgetConfig& b = p.server.config().response_budget;
    EXPECT_LE(p.bytes_to_others, b.source_burst + b.source_per_second * (p.now / 1000 + 1))
        << "at most the per-source reflection budget";
    for (const auto id : p.server.session_ids()) {
      EXPECT_NE(p.server.peer(id), flooder) << "the flood made no session";
    }
  }
}

TEST(ServerAuth, HandshakeFloodFromOneSourceRelaxed) { flood_test(false); }
TEST(ServerAuth, HandshakeFloodFromOneSourceAuthenticated) { flood_test(true); }

TEST(ServerAuth, ReinjectedTransportDroppedWithTransportReplay) {
  for (const bool replay : {true, false}) {
    SCOPED_TRACE(replay ? "transport_replay on" : "off");
    Pair p(client_cfg(true, replay), server_cfg(strict(), replay), auth_obf());
    p.start();
    ASSERT_TRUE(p.run_until_established(2000));
    const std::size_t mark = p.client_sent.size();
    ASSERT_TRUE(p.client.mux()->open_stream(p.now));
    for (int i = 0; i < 10; ++i) p.step();
    ASSERT_GT(p.client_sent.size(), mark);
    const auto routed = p.server.stats().routed;
    const Bytes first = p.client_sent[mark];  // the client's first transport datagram
    p.server.handle_datagram(p.peer, first, p.now, p.server_wall());
    if (replay) {
      EXPECT_EQ(p.server.stats().drop_transport_replay, 1u);
      EXPECT_EQ(p.server.stats().routed, routed);
    } else {
      EXPECT_EQ(p.server.stats().routed, routed + 1) << "without counters KCP sees the duplicate";
    }
  }
}

}  // namespace
}  // namespace paniq::tunnel
