// ServerEndpoint under a plain-mode handshake flood (issue 12 item 7): 60 000 header-valid
// Initiations in 1 s from 20 000 spoofed sources against the Rust-compatible (unauthenticated)
// server. No session and bounded state for the flood, Responses within the reflection budget,
// established sessions untouched, new and returning clients served; and the stateless
// handshake's own rules: identical retransmissions, packing remembered in the conv, unique
// convs, closed sessions staying closed, roaming.
#include <gtest/gtest.h>

#include <set>

#include "envelope/handshake.hpp"
#include "envelope/transport.hpp"
#include "kcp/segment.hpp"
#include "tunnel/policy.hpp"
#include "tunnel/server.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::size_t kSources = 20'000;
constexpr std::size_t kPerMs = 60;  // 60 000 per second

obf::Config flood_obf() {
  obf::Config c = test::wire_obf_config();
  c.s[0] = 40;  // room for the capability tag
  c.s[1] = 384;  // a Response of 392 bytes, as in a generated profile
  return c;
}

// 20 000 distinct spoofed source addresses in 127.1.0.0 - 127.255.255.255 (spread over most
// /24s, so the per-prefix budget alone cannot stop them), one port each.
std::vector<PeerAddr> flood_sources(std::uint64_t seed) {
  SeededRng g(seed);
  std::set<PeerAddr> seen;
  std::vector<PeerAddr> out;
  while (out.size() < kSources) {
    PeerAddr p = PeerAddr::v4({127, static_cast<std::uint8_t>(g.uniform(1, 255)),
                               static_cast<std::uint8_t>(g.uniform(0, 255)),
                               static_cast<std::uint8_t>(g.uniform(1, 254))},
                              0);
    if (!seen.insert(p).second) continue;
    p.port = static_cast<std::uint16_t>(g.uniform(1024, 65535));
    out.push_back(p);
  }
  return out;
}

// A client-side transport datagram: one KCP PUSH `sn` carrying `frame` (smux bytes).
Bytes push(const obf::Framer& fr, Rng& rng, std::uint32_t conv, std::uint32_t sn, ByteView frame) {
  Bytes payload(2 + kcp::kOverhead + frame.size());
  kcp::SegmentHeader h;
  h.conv = conv;
  h.cmd = 0x51;
  h.wnd = 1024;
  h.sn = sn;
  h.len = static_cast<std::uint32_t>(frame.size());
  put_u16_be(payload.data(), static_cast<std::uint16_t>(kcp::kOverhead + frame.size()));
  kcp::encode_header(h, payload.data() + 2);
  std::copy(frame.begin(), frame.end(), payload.begin() + 2 + kcp::kOverhead);
  return fr.encode(obf::MessageType::Transport, payload, rng);
}

// smux: SYN of stream 3, or PSH of `n` bytes on it.
Bytes smux_syn() { return Bytes{1, 0, 0, 0, 3, 0, 0, 0}; }
Bytes smux_psh(std::size_t n) {
  Bytes f(8 + n, 0x61);
  f[0] = 1;
  f[1] = 2;
  put_u16_le(f.data() + 2, static_cast<std::uint16_t>(n));
  put_u32_le(f.data() + 4, 3);
  return f;
}

// One endpoint in the Rust-compatible mode (AuthPolicy from AuthConfig::relaxed(): nothing
// required, no rate limit), the flood's sources, and what the server sent where.
struct Bench {
  explicit Bench(ServerConfig cfg = test::server_config(), std::uint64_t seed = 1)
      : oc(flood_obf()), fr(test::framer(oc)), srng(seed), crng(seed + 7),
        server(cfg, test::framer(oc), srng), sources(flood_sources(seed)) {
    flood_buf.resize(fr.prefix_len(obf::MessageType::Initiation));
  }

  obf::Config oc;
  obf::Framer fr;
  SeededRng srng, crng;
  ServerEndpoint server;
  std::vector<PeerAddr> sources;
  Bytes flood_buf;
  std::size_t next_source = 0;
  std::uint64_t flood_sent = 0, to_flood = 0, to_flood_bytes = 0;
  std::map<PeerAddr, std::vector<Bytes>> to_clients;  // everything sent to a non-flood peer
  std::set<PeerAddr> flood_set;

  // `n` fresh Initiations (empty payload, as a Rust client sends) from the next sources, round
  // robin; built in place, so the loop itself does not allocate.
  void flood(std::size_t n, TimeMs now) {
    for (std::size_t i = 0; i < n; ++i) {
      fr.write_prefix(obf::MessageType::Initiation, crng, flood_buf);
      server.handle_datagram(sources[next_source], flood_buf, now);
      next_source = (next_source + 1) % sources.size();
      ++flood_sent;
    }
  }

  // Timers, flush, and what the server sends: counted for flood sources, kept for clients.
  void drain(TimeMs now) {
    if (auto t = server.next_timeout(); t && *t <= now) server.handle_timeout(now);
    server.flush(now);
    const auto tx = server.transmit();
    for (const ServerTransmit& t : tx) {
      if (is_flood(t.peer)) {
        ++to_flood;
        to_flood_bytes += t.data.size();
      } else {
        to_clients[t.peer].emplace_back(t.data.begin(), t.data.end());
      }
    }
    server.consume_transmit(tx.size());
  }

  bool is_flood(const PeerAddr& p) {
    if (flood_set.empty()) flood_set.insert(sources.begin(), sources.end());
    return flood_set.count(p) > 0;
  }

  // The conv of the last Response `peer` got since `from` (index into its datagrams).
  std::optional<std::uint32_t> response_conv(const PeerAddr& peer, std::size_t from = 0) {
    const auto it = to_clients.find(peer);
    if (it == to_clients.end()) return std::nullopt;
    std::optional<std::uint32_t> conv;
    for (std::size_t i = from; i < it->second.size(); ++i) {
      const auto c = fr.classify(it->second[i]);
      if (c && c->type == obf::MessageType::Response) conv = *envelope::parse_response_conv(c->payload);
    }
    return conv;
  }

  std::size_t received(const PeerAddr& peer) { return to_clients[peer].size(); }
  // The conv of the i-th datagram sent to `peer` (a Response).
  std::uint32_t conv_at(const PeerAddr& peer, std::size_t i) {
    return *envelope::parse_response_conv(fr.classify(to_clients[peer].at(i))->payload);
  }

  Bytes initiation(bool tag = false) {
    envelope::InitiationAuth auth;
    if (tag) auth.capability_key = envelope::capability_key(oc);
    return *envelope::build_initiation(fr, crng, auth, WallTime{});
  }

  // Handshake and first transport of a client at `now`: its session id, or nullopt when no
  // Response came back.
  std::optional<ServerSessionId> connect(const PeerAddr& peer, TimeMs now) {
    const std::size_t mark = received(peer);
    server.handle_datagram(peer, initiation(), now);
    drain(now);
    const auto conv = response_conv(peer, mark);
    if (!conv) return std::nullopt;
    server.handle_datagram(peer, push(fr, crng, *conv, 0, smux_syn()), now);
    drain(now);
    return session_of(peer);
  }

  std::optional<ServerSessionId> session_of(const PeerAddr& peer) const {
    for (const auto id : server.session_ids()) {
      if (server.peer(id) == peer) return id;
    }
    return std::nullopt;
  }
};

// Every datagram counted once (server.hpp, ServerStats).
std::uint64_t accounted(const ServerStats& s) {
  return s.routed + s.initiation_repeats + s.initiations_answered + s.sessions_encrypted +
         s.drop_unclassified + s.drop_unexpected_type + s.drop_policy + s.drop_cap_total +
         s.drop_cap_host + s.drop_invalid_length + s.drop_short_segment + s.drop_unknown_session +
         s.drop_kcp_rejected + s.drop_repeat_limit + s.drop_transport_replay + s.drop_plain_refused +
         s.drop_secure_handshake + s.drop_unknown_user + s.drop_transport_auth +
         s.drop_response_budget + s.drop_conv_busy;
}

// The bound on Responses of `size` bytes a flood of never-proven sources can get in `ms`: the
// fresh and seen lanes' bursts and rates (the proven lane is closed to it).
std::uint64_t flood_bound(const ResponseBudgetConfig& b, TimeMs ms, std::size_t size) {
  return (b.fresh_burst + b.seen_burst + (std::uint64_t{b.fresh_per_second} + b.seen_per_second) * ms / 1000) / size + 2;
}

TEST(ServerFlood, SixtyThousandInitiationsCreateNoSessionAndNoGrowth) {
  Bench b;
  const std::size_t budget_memory = b.server.response_budget().memory_bytes();
  std::uint64_t allocations_steady = 0;
  for (TimeMs t = 0; t < 1000; ++t) {
    const std::uint64_t before = test::allocations();
    b.flood(kPerMs, t);
    b.drain(t);
    if (t >= 100) allocations_steady += test::allocations() - before;
    ASSERT_EQ(b.server.session_count(), 0u) << "at " << t << " ms";
  }
  const ServerStats& s = b.server.stats();
  EXPECT_EQ(b.flood_sent, 60'000u);
  EXPECT_EQ(s.datagrams_in, 60'000u);
  EXPECT_EQ(s.sessions_created, 0u);
  EXPECT_FALSE(b.server.next_timeout()) << "no timer, no half-open session";
  EXPECT_FALSE(b.server.poll_event());
  EXPECT_EQ(allocations_steady, 0u) << "the flood path allocates nothing after warm-up";
  EXPECT_EQ(b.server.response_budget().memory_bytes(), budget_memory);
  EXPECT_LE(b.server.answered_size(), 4096u);
  EXPECT_EQ(b.server.retired_size(), 0u);
  // Every Initiation counted once: answered, or over the budget.
  EXPECT_EQ(s.initiations_answered + s.drop_response_budget, 60'000u);
  EXPECT_EQ(s.responses_out, s.initiations_answered);
  // What came back to the 20 000 spoofed sources: within the lanes, a few % of the flood.
  const ResponseBudgetConfig& rb = b.server.config().response_budget;
  EXPECT_EQ(b.to_flood, s.initiations_answered);
  EXPECT_LE(b.to_flood, flood_bound(rb, 1000, b.oc.s[1] + 8u));
  EXPECT_EQ(b.to_flood_bytes, b.to_flood * (b.oc.s[1] + 8u));
  EXPECT_GT(b.to_flood, 0u) << "plain mode does answer what it cannot tell from a client";
  std::cout << "[ flood    ] 60000 Initiations from 20000 sources: " << b.to_flood
            << " Responses (" << b.to_flood_bytes << " bytes) back, "
            << b.server.response_budget().tracked_sources(999) << " sources tracked, "
            << budget_memory << " bytes of budget tables\n";
}

// During the flood: a session from before keeps working, a new client starting mid-flood and a
// returning one starting in the flood's first pass are served at once; after it, nothing of
// the flood remains.
TEST(ServerFlood, ClientsDuringTheFlood) {
  Bench b;
  const PeerAddr established = test::peer4(1, 4000), returning = test::peer4(2, 4000),
                 newcomer = test::peer4(3, 4000);
  const auto est = b.connect(established, 0);
  ASSERT_TRUE(est);
  ASSERT_TRUE(b.connect(returning, 0));
  const auto est_conv = b.server.conv(*est);
  b.server.close_session(*b.session_of(returning));  // it will come back during the flood
  std::uint32_t sn = 1;
  std::uint64_t bytes_sent = 0, bytes_read = 0;
  std::optional<TimeMs> returning_served, newcomer_served;
  Bytes rbuf(1 << 16);
  for (TimeMs t = 1; t <= 1000; ++t) {
    b.flood(kPerMs, t);
    if (t % 10 == 0) {  // the established client uploads 1000 bytes every 10 ms
      const std::size_t acks_before = b.received(established);
      b.server.handle_datagram(established, push(b.fr, b.crng, *est_conv, sn++, smux_psh(1000)), t);
      bytes_sent += 1000;
      b.drain(t);
      ASSERT_GT(b.received(established), acks_before) << "its ACK, at " << t << " ms";
    }
    if (t == 50 && b.connect(returning, t)) returning_served = t;
    if (t == 500 && b.connect(newcomer, t)) newcomer_served = t;
    while (auto e = b.server.poll_event()) {
      if (e->kind != ServerEventKind::Readable && e->kind != ServerEventKind::StreamOpened) continue;
      mux::Session* m = b.server.mux(e->session);
      while (m != nullptr) {
        auto n = m->read(e->stream, rbuf);
        if (!n || *n == 0) break;
        if (e->session == *est) bytes_read += *n;
      }
    }
    b.drain(t);
  }
  EXPECT_EQ(returning_served, TimeMs{50}) << "a returning client in the flood's first pass";
  EXPECT_EQ(newcomer_served, TimeMs{500}) << "a new client mid-flood";
  EXPECT_EQ(bytes_read, bytes_sent) << "the established session never noticed";
  EXPECT_EQ(b.server.session_count(), 3u);
  for (const auto id : b.server.session_ids()) EXPECT_FALSE(b.is_flood(*b.server.peer(id)));
  EXPECT_EQ(b.server.stats().drop_unknown_session + b.server.stats().drop_kcp_rejected, 0u);
  EXPECT_LE(b.to_flood, flood_bound(b.server.config().response_budget, 1000, b.oc.s[1] + 8u));
  EXPECT_EQ(accounted(b.server.stats()), b.server.stats().datagrams_in);
}

// A sustained flood (3 s over the same 20 000 sources): after its first pass the flood only
// drains the `seen` lane, so new clients are served whenever they come. A new client whose
// first Initiation falls into the first pass competes with 20 000 never-seen sources for the
// `fresh` lane and may lose (the documented limit); its retransmission a second later is served.
TEST(ServerFlood, SustainedFloodDoesNotLockNewClientsOut) {
  Bench b;
  std::vector<std::pair<TimeMs, PeerAddr>> newcomers;
  for (TimeMs t = 400; t < 3000; t += 200) {
    newcomers.emplace_back(t, PeerAddr::v4({10, 1, static_cast<std::uint8_t>(t / 200), 1}, 5000));
  }
  const PeerAddr early = test::peer4(9, 9);
  std::vector<PeerAddr> served;
  std::optional<TimeMs> early_served;
  for (TimeMs t = 0; t < 3000; ++t) {
    b.flood(kPerMs, t);
    for (const auto& [at, peer] : newcomers) {
      if (at == t && b.connect(peer, t)) served.push_back(peer);
    }
    if ((t == 100 || t == 1100) && !early_served && b.connect(early, t)) early_served = t;
    b.drain(t);
  }
  EXPECT_EQ(served.size(), newcomers.size()) << "every newcomer after the first pass, at once";
  ASSERT_TRUE(early_served) << "served by its retransmission at the latest";
  EXPECT_LE(*early_served, 1100u);
  EXPECT_EQ(b.server.session_count(), newcomers.size() + 1);
  EXPECT_LE(b.to_flood, flood_bound(b.server.config().response_budget, 3000, b.oc.s[1] + 8u));
  EXPECT_GT(b.server.response_budget().stats().over_seen, 100'000u) << "the flood is `seen`";
  EXPECT_EQ(accounted(b.server.stats()), b.server.stats().datagrams_in);
}

TEST(ServerFlood, RetransmittedInitiationGetsTheIdenticalResponse) {
  ServerConfig cfg = test::server_config();
  cfg.response_budget.enabled = false;  // 5000 answered Initiations from one host below
  cfg.max_sessions_per_host = cfg.max_sessions;
  Bench b(cfg);
  const PeerAddr p = test::peer4(1, 1000);
  const Bytes init = b.initiation();
  b.server.handle_datagram(p, init, 100);
  b.server.handle_datagram(p, init, 5100);  // our client's retransmission, 5 s later
  b.drain(5100);
  ASSERT_EQ(b.received(p), 2u);
  EXPECT_EQ(b.to_clients[p][0], b.to_clients[p][1]) << "byte-identical";
  EXPECT_EQ(b.server.stats().initiation_repeats, 1u);
  // The server forgets answered Initiations (4096 at most): 5000 others later, the same
  // Initiation is answered by the policy again, with the same bytes (derived, not stored).
  for (std::uint16_t port = 1; port <= 5000; ++port) b.server.handle_datagram(test::peer4(2, port), b.initiation(), 5200);
  b.drain(5200);
  EXPECT_EQ(b.server.answered_size(), 4096u);
  b.server.handle_datagram(p, init, 5300);
  b.drain(5300);
  ASSERT_EQ(b.received(p), 3u);
  EXPECT_EQ(b.to_clients[p][2], b.to_clients[p][0]);
  EXPECT_EQ(b.server.stats().initiation_repeats, 1u) << "not a remembered repeat this time";
  EXPECT_EQ(b.server.stats().initiations_answered, 5002u);
  // The conv (issued at 5300, in the first 30 s bucket) verifies until 60 s. A retransmission
  // in the next bucket still gets the same bytes while at least half a bucket of that is left;
  // later, a conv of the current bucket (a client must have time for its first transport).
  b.server.handle_datagram(p, init, 30'500);
  b.drain(30'500);
  ASSERT_EQ(b.received(p), 4u);
  EXPECT_EQ(b.to_clients[p][3], b.to_clients[p][0]);
  b.server.handle_datagram(p, init, 45'500);
  b.drain(45'500);
  ASSERT_EQ(b.received(p), 5u);
  const std::uint32_t c1 = b.conv_at(p, 0), c2 = b.conv_at(p, 4);
  EXPECT_NE(c1, c2);
  EXPECT_EQ(b.server.stats().initiation_repeats, 3u);
  // Both verify until the first one's end; the first transport on either creates the session.
  b.server.handle_datagram(p, push(b.fr, b.crng, c1, 0, smux_syn()), 59'000);
  EXPECT_EQ(b.server.stats().sessions_lazy_created, 1u);
  // Once the session exists, that Initiation again is a new handshake: a conv unlike the live one.
  b.server.handle_datagram(p, init, 59'100);
  b.drain(59'100);
  ASSERT_EQ(b.received(p), 7u) << "the ACK, then the Response";
  EXPECT_NE(b.conv_at(p, 6), c1);
}

TEST(ServerFlood, PackingChoiceTravelsInTheConv) {
  ServerConfig cfg = test::server_config();
  cfg.capability_key = envelope::capability_key(flood_obf());
  Bench b(cfg);
  const PeerAddr tagged = test::peer4(1, 1), plain = test::peer4(1, 2);
  b.server.handle_datagram(tagged, b.initiation(true), 0);
  b.server.handle_datagram(plain, b.initiation(false), 0);
  b.drain(0);
  const auto ct = b.response_conv(tagged), cp = b.response_conv(plain);
  ASSERT_TRUE(ct && cp);
  EXPECT_EQ(b.server.session_count(), 0u);
  EXPECT_EQ(b.server.stats().sessions_packing, 0u) << "nothing decided before the session";
  // The first transport, 20 s later (no state in between), creates each session with the
  // choice its Initiation made.
  b.server.handle_datagram(tagged, push(b.fr, b.crng, *ct, 0, smux_syn()), 20'000);
  b.server.handle_datagram(plain, push(b.fr, b.crng, *cp, 0, smux_syn()), 20'000);
  b.drain(20'000);
  ASSERT_EQ(b.server.session_count(), 2u);
  EXPECT_TRUE(b.server.link(*b.session_of(tagged))->packing());
  EXPECT_FALSE(b.server.link(*b.session_of(plain))->packing());
  EXPECT_EQ(b.server.stats().sessions_packing, 1u);
  // The server announced it at once: the tagged client's first datagram back is packed (a WINS
  // with the ACK); the other client's carries one segment.
  auto inner_sizes = [&](const PeerAddr& peer) {
    std::vector<std::size_t> out;
    for (const Bytes& d : b.to_clients[peer]) {
      const auto c = b.fr.classify(d);
      if (!c || c->type != obf::MessageType::Transport) continue;
      out.push_back(envelope::decode_transport(c->payload, false)->inner.size());
    }
    return out;
  };
  EXPECT_EQ(inner_sizes(tagged), std::vector<std::size_t>{2 * kcp::kOverhead});
  EXPECT_EQ(inner_sizes(plain), std::vector<std::size_t>{kcp::kOverhead});
  // Without the server's key the tag means nothing.
  Bench rust_like;
  const PeerAddr q = test::peer4(1, 3);
  ASSERT_TRUE(rust_like.connect(q, 0));
  rust_like.server.handle_datagram(q, rust_like.initiation(true), 1);
  EXPECT_EQ(rust_like.server.stats().sessions_packing, 0u);
}

// Convs stay unique among plain sessions: a client that starts over from the same address and
// port within the bucket gets another generation; a closed session's conv is neither reissued
// nor accepted again; a roamed session keeps its conv.
TEST(ServerFlood, ConvsStayUniqueClosedSessionsStayClosedRoamingWorks) {
  Bench b;
  const PeerAddr p = test::peer4(1, 7000);
  const auto first = b.connect(p, 0);
  ASSERT_TRUE(first);
  const std::uint32_t c1 = *b.server.conv(*first);
  const auto second = b.connect(p, 10);  // a restarted client on the same port
  ASSERT_TRUE(second);
  EXPECT_EQ(b.server.session_count(), 2u);
  const std::uint32_t c2 = *b.server.conv(b.server.session_ids().back());
  EXPECT_NE(c1, c2);
  // Close the first: its client's late datagrams (the conv still verifies) stay unanswered,
  // and a new handshake from p gets a conv neither session had.
  b.server.close_session(*first);
  b.server.handle_datagram(p, push(b.fr, b.crng, c1, 1, smux_psh(10)), 20);
  b.drain(20);
  EXPECT_EQ(b.server.session_count(), 1u);
  EXPECT_EQ(b.server.stats().drop_unknown_session, 1u);
  const std::size_t mark = b.received(p);
  b.server.handle_datagram(p, b.initiation(), 30);
  b.drain(30);
  const auto c3 = b.response_conv(p, mark);
  ASSERT_TRUE(c3);
  EXPECT_NE(*c3, c1);
  EXPECT_NE(*c3, c2);
  // Roaming: the live session (c2) follows its client to a new port after 3 plausible
  // datagrams, keeping its conv.
  const PeerAddr moved = test::peer4(1, 7001);
  for (std::uint32_t sn = 1; sn <= 3; ++sn) {
    b.server.handle_datagram(moved, push(b.fr, b.crng, c2, sn, smux_psh(10)), 40);
  }
  b.drain(40);
  EXPECT_EQ(b.server.stats().sessions_roamed, 1u);
  const auto roamed = b.session_of(moved);
  ASSERT_TRUE(roamed);
  EXPECT_EQ(b.server.conv(*roamed), c2);
  EXPECT_EQ(accounted(b.server.stats()), b.server.stats().datagrams_in);
}

}  // namespace
}  // namespace paniq::tunnel
