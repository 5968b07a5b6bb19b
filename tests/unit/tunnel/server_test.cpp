// ServerEndpoint: keying by (peer, conv), silence, caps, timers, repeated Initiations. Plain
// sessions are created by their first transport datagram (server_flood_test.cpp covers the
// stateless handshake itself).
#include "tunnel/server.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "envelope/transport.hpp"
#include "kcp/segment.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

struct Fixture {
  explicit Fixture(ServerConfig cfg = test::server_config(), std::uint64_t seed = 1,
                   std::unique_ptr<InitiationPolicy> policy = nullptr)
      : fr(test::framer(test::wire_obf_config())),
        rng(seed),
        crng(seed + 100),
        server(cfg, test::framer(test::wire_obf_config()), rng, std::move(policy)) {}

  obf::Framer fr;
  SeededRng rng, crng;
  ServerEndpoint server;

  Bytes initiation() { return *envelope::build_initiation(fr, crng, {}, WallTime{}); }

  // The datagrams the server sends now, consumed.
  std::vector<std::pair<PeerAddr, Bytes>> sent() {
    std::vector<std::pair<PeerAddr, Bytes>> out;
    const auto tx = server.transmit();
    for (const auto& t : tx) out.emplace_back(t.peer, Bytes(t.data.begin(), t.data.end()));
    server.consume_transmit(tx.size());
    return out;
  }

  // Handshake from `peer`; returns the conv of the Response.
  std::uint32_t handshake(const PeerAddr& peer, TimeMs now) {
    server.handle_datagram(peer, initiation(), now);
    auto out = sent();
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return 0;
    EXPECT_EQ(out[0].first, peer);
    const auto c = fr.classify(out[0].second);
    EXPECT_TRUE(c && c->type == obf::MessageType::Response);
    return *envelope::parse_response_conv(c->payload);
  }

  // Handshake and the first transport datagram from `peer` (which creates the session; its
  // ACK is consumed); returns the conv.
  std::uint32_t open(const PeerAddr& peer, TimeMs now) {
    const std::uint32_t conv = handshake(peer, now);
    server.handle_datagram(peer, transport(conv), now);
    server.flush(now);
    sent();
    return conv;
  }

  // A client-side transport datagram: one KCP PUSH (sn 0) carrying smux SYN(3).
  Bytes transport(std::uint32_t conv, std::uint32_t sn = 0) {
    Bytes seg(24 + 8);
    kcp::SegmentHeader h;
    h.conv = conv;
    h.cmd = 0x51;
    h.wnd = 1024;
    h.sn = sn;
    h.len = 8;
    kcp::encode_header(h, seg.data());
    const std::uint8_t syn[8] = {1, 0, 0, 0, 3, 0, 0, 0};
    std::copy(syn, syn + 8, seg.begin() + 24);
    Bytes payload(2 + seg.size());
    put_u16_be(payload.data(), static_cast<std::uint16_t>(seg.size()));
    std::copy(seg.begin(), seg.end(), payload.begin() + 2);
    return fr.encode(obf::MessageType::Transport, payload, crng);
  }
};

TEST(ServerEndpoint, InitiationGetsResponseInTheReferenceLayout) {
  Fixture f;
  const PeerAddr p = test::peer4(1, 5000);
  f.server.handle_datagram(p, test::hex("aabbcc96000000"), 0);  // the vector's Initiation
  const auto out = f.sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& r = out[0].second;
  ASSERT_EQ(r.size(), 2u + 4u + 4u);  // random[S2] || u32_LE(200) || u32_LE(conv)
  EXPECT_EQ(get_u32_le(r.data() + 2), 200u);
  const std::uint32_t conv = get_u32_le(r.data() + 6);
  // No state yet: the session comes with the first transport datagram on that conv.
  EXPECT_EQ(f.server.session_count(), 0u);
  EXPECT_FALSE(f.server.poll_event());
  EXPECT_EQ(f.server.stats().initiations_answered, 1u);
  EXPECT_EQ(f.server.stats().sessions_created, 0u);
  f.server.handle_datagram(p, f.transport(conv), 1);
  EXPECT_EQ(f.server.session_count(), 1u);
  auto e = f.server.poll_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, ServerEventKind::SessionOpened);
  EXPECT_EQ(f.server.conv(e->session), conv);
  EXPECT_EQ(f.server.peer(e->session), p);
  EXPECT_EQ(f.server.stats().sessions_created, 1u);
  EXPECT_EQ(f.server.stats().sessions_lazy_created, 1u);
  EXPECT_EQ(f.server.stats().routed, 1u) << "the creating datagram reached its session";
}

TEST(ServerEndpoint, SessionsKeyedByPeerAndConv) {
  Fixture f;
  const PeerAddr p1 = test::peer4(1, 5000), p2 = test::peer4(1, 5001);
  const std::uint32_t c1 = f.handshake(p1, 0);
  const std::uint32_t c2 = f.handshake(p2, 0);
  EXPECT_NE(c1, c2);
  // Each client's transport creates its own session and opens stream 3 there.
  f.server.handle_datagram(p1, f.transport(c1), 1);
  f.server.handle_datagram(p2, f.transport(c2), 1);
  EXPECT_EQ(f.server.session_count(), 2u);
  f.server.flush(1);
  std::set<ServerSessionId> opened_in;
  while (auto e = f.server.poll_event()) {
    if (e->kind == ServerEventKind::StreamOpened) {
      EXPECT_EQ(e->stream, 3u);
      opened_in.insert(e->session);
    }
  }
  EXPECT_EQ(opened_in.size(), 2u);
  // Both get their ACK at their own address.
  std::set<PeerAddr> acked;
  for (const auto& [peer, d] : f.sent()) acked.insert(peer);
  EXPECT_EQ(acked, (std::set<PeerAddr>{p1, p2}));
  EXPECT_EQ(f.server.stats().routed, 2u);
  // p1's conv from p2's port is unknown there: silence.
  f.server.handle_datagram(p2, f.transport(c1, 1), 2);
  f.server.flush(2);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.stats().drop_unknown_session, 1u);
}

TEST(ServerEndpoint, UnknownTransportAndOtherTypesAreSilent) {
  Fixture f;
  const PeerAddr p = test::peer4(2, 6000);
  f.server.handle_datagram(p, f.transport(0x1234), 0);
  f.server.handle_datagram(p, test::hex("ddeec800000078563412"), 0);  // a Response
  const Bytes short_segment = f.fr.encode(obf::MessageType::Transport, test::hex("0002abcd"), f.crng);
  f.server.handle_datagram(p, short_segment, 0);
  const Bytes bad_len = f.fr.encode(obf::MessageType::Transport, test::hex("0040ab"), f.crng);
  f.server.handle_datagram(p, bad_len, 0);
  f.server.flush(0);
  f.server.handle_timeout(10);
  EXPECT_TRUE(f.sent().empty());
  const ServerStats& s = f.server.stats();
  EXPECT_EQ(s.drop_unknown_session, 1u);
  EXPECT_EQ(s.drop_unexpected_type, 1u);
  EXPECT_EQ(s.drop_short_segment, 1u);
  EXPECT_EQ(s.drop_invalid_length, 1u);
  EXPECT_EQ(s.datagrams_in, 4u);
  EXPECT_EQ(s.datagrams_out, 0u);
  EXPECT_EQ(f.server.session_count(), 0u);
}

TEST(ServerEndpoint, CapsPerHostAndTotalAreSilent) {
  ServerConfig cfg = test::server_config();
  cfg.max_sessions = 5;
  cfg.max_sessions_per_host = 3;
  Fixture f(cfg);
  // Four ports of one host get Responses (no session exists yet); the fourth port's first
  // transport finds the host at its cap.
  std::vector<std::uint32_t> convs;
  for (std::uint16_t port = 1; port <= 4; ++port) convs.push_back(f.handshake(test::peer4(1, port), 0));
  for (std::uint16_t port = 1; port <= 4; ++port) {
    f.server.handle_datagram(test::peer4(1, port), f.transport(convs[port - 1]), 1);
  }
  EXPECT_EQ(f.server.session_count(), 3u);
  EXPECT_EQ(f.server.stats().drop_cap_host, 1u);
  f.server.flush(1);
  f.sent();
  // With the host at its cap, a fifth port's Initiation is not answered at all.
  f.server.handle_datagram(test::peer4(1, 5), f.initiation(), 2);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.stats().drop_cap_host, 2u);
  f.open(test::peer4(2, 1), 3);
  f.open(test::peer4(3, 1), 3);
  f.server.handle_datagram(test::peer4(4, 1), f.initiation(), 3);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.stats().drop_cap_total, 1u);
  EXPECT_EQ(f.server.session_count(), 5u);
  // IPv6 peers count separately from IPv4 ones but share the total.
  std::array<std::uint8_t, 16> a6{};
  a6[0] = 0x20;
  f.server.handle_datagram(PeerAddr::v6(a6, 9), f.initiation(), 0);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.stats().drop_cap_total, 2u);
}

TEST(ServerEndpoint, RepeatedInitiationGetsTheSameResponse) {
  Fixture f;
  const PeerAddr p = test::peer4(1, 7000);
  const Bytes init = f.initiation();
  f.server.handle_datagram(p, init, 0);
  const auto first = f.sent();
  f.server.handle_datagram(p, init, 500);
  const auto again = f.sent();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(first[0].second, again[0].second) << "same Response bytes, same conv";
  EXPECT_EQ(f.server.session_count(), 0u) << "no state for either";
  EXPECT_EQ(f.server.stats().initiations_answered, 1u);
  EXPECT_EQ(f.server.stats().initiation_repeats, 1u);
  const std::uint32_t conv = get_u32_le(first[0].second.data() + 6);
  // The same bytes from another port are another client: its own conv.
  f.server.handle_datagram(test::peer4(1, 7001), init, 600);
  const auto other = f.sent();
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(get_u32_le(other[0].second.data() + 6), conv);
  EXPECT_EQ(f.server.stats().initiations_answered, 2u);
  // Once the session has transport, the same Initiation is a new handshake (a client that
  // lost its state): a different conv, whose first transport makes a second session.
  f.server.handle_datagram(p, f.transport(conv), 700);
  f.server.flush(700);
  f.sent();
  EXPECT_EQ(f.server.session_count(), 1u);
  f.server.handle_datagram(p, init, 800);
  const auto third = f.sent();
  ASSERT_EQ(third.size(), 1u);
  const std::uint32_t conv3 = get_u32_le(third[0].second.data() + 6);
  EXPECT_NE(conv3, conv);
  EXPECT_EQ(f.server.stats().initiation_repeats, 1u);
  f.server.handle_datagram(p, f.transport(conv3), 900);
  EXPECT_EQ(f.server.session_count(), 2u);
}

TEST(ServerEndpoint, IdleAndHalfOpenTimeouts) {
  ServerConfig cfg = test::server_config();
  cfg.idle_timeout_ms = 120'000;
  cfg.half_open_timeout_ms = 30'000;
  Fixture f(cfg);
  const PeerAddr active = test::peer4(1, 1), silent = test::peer4(1, 2);
  const std::uint32_t conv = f.handshake(active, 0);
  const std::uint32_t silent_conv = f.handshake(silent, 0);
  f.server.handle_datagram(active, f.transport(conv), 1000);
  f.server.flush(1000);
  EXPECT_EQ(f.sent().size(), 1u) << "the ACK";
  EXPECT_EQ(f.server.session_count(), 1u) << "the silent client never made a session";
  std::map<ServerSessionId, std::error_code> closed;
  auto run_to = [&](TimeMs until) {
    while (auto next = f.server.next_timeout()) {
      if (*next > until) break;
      f.server.handle_timeout(*next);
      f.sent();
      while (auto e = f.server.poll_event()) {
        if (e->kind == ServerEventKind::SessionClosed) closed[e->session] = e->error;
      }
    }
  };
  // The silent client's conv verifies for one to two half-open timeouts (it was issued in the
  // first 30 s bucket): its first transport at 60 s is too late.
  run_to(60'000);
  f.server.handle_datagram(silent, f.transport(silent_conv), 60'000);
  f.server.flush(60'000);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.stats().drop_unknown_session, 1u);
  EXPECT_EQ(f.server.session_count(), 1u);
  EXPECT_TRUE(closed.empty());
  run_to(121'000);  // exactly 120 s after the last datagram: kept (strictly greater)
  EXPECT_EQ(f.server.session_count(), 1u);
  run_to(121'001);
  EXPECT_EQ(f.server.session_count(), 0u);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed.at(1), make_error_code(Errc::idle_timeout));
  // The forgotten conv is now unknown.
  f.server.handle_datagram(active, f.transport(conv, 1), 121'002);
  f.server.flush(121'002);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_FALSE(f.server.next_timeout());
}

class DropAll final : public InitiationPolicy {
 public:
  PolicyVerdict check(const InitiationInfo& info) override {
    ++calls;
    last_payload = info.payload.size();
    return PolicyVerdict::drop;
  }
  int calls = 0;
  std::size_t last_payload = 99;
};

TEST(ServerEndpoint, PolicyHookCanDrop) {
  auto policy = std::make_unique<DropAll>();
  DropAll* p = policy.get();
  Fixture f(test::server_config(), 1, std::move(policy));
  f.server.handle_datagram(test::peer4(1, 1), f.initiation(), 0);
  EXPECT_EQ(p->calls, 1);
  EXPECT_EQ(p->last_payload, 0u);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.session_count(), 0u);
  EXPECT_EQ(f.server.stats().drop_policy, 1u);
}

// Property: thousands of random datagrams (pure garbage, transport-shaped garbage with random
// convs, Responses) from several peers produce no output and no state.
TEST(ServerEndpoint, GarbageNeverProducesOutput) {
  Fixture f;
  SeededRng g(42);
  std::uint64_t out_bytes = 0;
  for (int i = 0; i < 5000; ++i) {
    const PeerAddr peer = test::peer4(static_cast<std::uint8_t>(g.uniform(1, 4)),
                                      static_cast<std::uint16_t>(g.uniform(1, 3)));
    Bytes d;
    switch (g.uniform(0, 2)) {
      case 0:
        d.resize(g.uniform(0, 1500));
        g.fill(d);
        break;
      case 1: {
        Bytes payload(g.uniform(0, 200));
        g.fill(payload);
        if (payload.size() >= 2 && g.uniform(0, 1)) {
          put_u16_be(payload.data(), static_cast<std::uint16_t>(payload.size() - 2));
        }
        d = f.fr.encode(obf::MessageType::Transport, payload, g);
        break;
      }
      default: {
        Bytes payload(g.uniform(0, 12));
        g.fill(payload);
        d = f.fr.encode(obf::MessageType::Response, payload, g);
        break;
      }
    }
    f.server.handle_datagram(peer, d, static_cast<TimeMs>(i));
    f.server.flush(static_cast<TimeMs>(i));
    if (auto t = f.server.next_timeout(); t && *t <= static_cast<TimeMs>(i)) {
      f.server.handle_timeout(static_cast<TimeMs>(i));
    }
    for (const auto& t : f.server.transmit()) out_bytes += t.data.size();
    f.server.consume_transmit(SIZE_MAX);
  }
  EXPECT_EQ(out_bytes, 0u);
  EXPECT_EQ(f.server.session_count(), 0u);
  EXPECT_FALSE(f.server.poll_event());
  const ServerStats& s = f.server.stats();
  EXPECT_EQ(s.datagrams_in, 5000u);
  EXPECT_EQ(s.drop_unclassified + s.drop_unexpected_type + s.drop_invalid_length +
                s.drop_short_segment + s.drop_unknown_session,
            5000u);
}

TEST(ServerEndpoint, CloseSessionAndMuxAccess) {
  Fixture f;
  const PeerAddr p = test::peer4(1, 1);
  const std::uint32_t conv = f.open(p, 0);
  const auto ids = f.server.session_ids();
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_NE(f.server.mux(ids[0]), nullptr);
  EXPECT_EQ(f.server.link(ids[0])->conv(), conv);
  f.server.close_session(ids[0]);
  EXPECT_EQ(f.server.mux(ids[0]), nullptr);
  EXPECT_EQ(f.server.session_count(), 0u);
  std::optional<ServerEvent> closed;
  while (auto e = f.server.poll_event()) {
    if (e->kind == ServerEventKind::SessionClosed) closed = e;
  }
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->error, make_error_code(Errc::closed));
  f.server.flush(1);
  EXPECT_TRUE(f.sent().empty());
  // The client's later datagrams carry a conv that still verifies: they must not bring the
  // closed session back.
  f.server.handle_datagram(p, f.transport(conv, 1), 2);
  f.server.flush(2);
  EXPECT_TRUE(f.sent().empty());
  EXPECT_EQ(f.server.session_count(), 0u);
  EXPECT_EQ(f.server.stats().drop_unknown_session, 1u);
  EXPECT_EQ(f.server.retired_size(), 1u);
}

// link_totals() sums live sessions and keeps a removed session's final counters.
TEST(ServerEndpoint, LinkTotalsOutliveSessions) {
  Fixture f;
  const PeerAddr a = test::peer4(1, 1), b = test::peer4(2, 2);
  const std::uint32_t ca = f.handshake(a, 0);
  const std::uint32_t cb = f.handshake(b, 0);
  f.server.handle_datagram(a, f.transport(ca), 1);
  f.server.handle_datagram(b, f.transport(cb), 1);
  f.server.handle_datagram(b, f.transport(cb, 1), 1);
  f.server.flush(1);
  (void)f.sent();
  const LinkStats before = f.server.link_totals();
  EXPECT_EQ(before.datagrams_in, 3u);
  EXPECT_EQ(before.segment_bytes_in, 3u * 32u);
  EXPECT_GE(before.datagrams_out, 2u) << "the ACKs";
  for (const auto id : f.server.session_ids()) {
    if (f.server.peer(id) == b) f.server.close_session(id);
  }
  EXPECT_EQ(f.server.session_count(), 1u);
  const LinkStats after = f.server.link_totals();
  EXPECT_EQ(after.datagrams_in, before.datagrams_in);
  EXPECT_EQ(after.segment_bytes_in, before.segment_bytes_in);
  EXPECT_EQ(after.datagrams_out, before.datagrams_out);
  LinkStats sum;
  sum += before;
  sum += before;
  EXPECT_EQ(sum.bytes_in, 2 * before.bytes_in);
  EXPECT_EQ(sum.packed_datagrams_in, 2 * before.packed_datagrams_in);
}

// A client Link uploading in bulk through the endpoint, all in memory: after warm-up the
// endpoint's receive path (classify, decode, route, KCP, smux, events, transmit list) and the
// client's allocate nothing.
TEST(ServerEndpoint, SteadyStateDoesNotAllocatePerDatagram) {
  Fixture f;
  const PeerAddr peer = test::peer4(9, 9);
  const std::uint32_t conv = f.handshake(peer, 0);
  test::LinkOptions o;
  o.padding = true;
  SeededRng rng(3);
  Link client(test::link_config(mux::Role::Client, o), conv, f.fr, rng, 0);
  const mux::StreamId id = *client.mux().open_stream(0);
  Bytes chunk(16u << 10, 0x44), rbuf(64u << 10);
  std::uint64_t datagrams = 0, received = 0;
  auto round = [&](TimeMs now) {
    for (;;) {
      auto n = client.mux().write(id, chunk, now);
      if (!n || *n == 0) break;
    }
    client.flush(now);
    const auto up = client.transmit();
    for (const ByteView d : up) f.server.handle_datagram(peer, d, now);
    datagrams += up.size();
    client.consume_transmit(up.size());
    f.server.flush(now);
    while (auto e = f.server.poll_event()) {
      if (e->kind != ServerEventKind::StreamOpened && e->kind != ServerEventKind::Readable) continue;
      mux::Session* m = f.server.mux(e->session);
      for (;;) {
        auto n = m->read(e->stream, rbuf);
        if (!n || *n == 0) break;
        received += *n;
      }
    }
    f.server.flush(now);
    const auto down = f.server.transmit();
    for (const ServerTransmit& t : down) {
      (void)client.handle_transport(f.fr.classify(t.data)->payload, now);
    }
    datagrams += down.size();
    f.server.consume_transmit(down.size());
    while (client.poll_event()) {
    }
  };
  TimeMs now = 1;
  for (int i = 0; i < 200; ++i) round(++now);
  datagrams = 0;
  const std::uint64_t before = test::allocations();
  for (int i = 0; i < 300; ++i) round(++now);
  const std::uint64_t allocations = test::allocations() - before;
  ASSERT_GT(datagrams, 20'000u);  // 300 rounds, each at most a 64 KiB stream share
  EXPECT_GT(received, 25u << 20);
  EXPECT_EQ(allocations, 0u) << allocations << " allocations for " << datagrams << " datagrams";
  EXPECT_EQ(f.server.stats().drop_unknown_session + f.server.stats().drop_kcp_rejected, 0u);
}

// Peer SYNs over the session's kcp.max_streams: refused by the mux (FIN), counted by the
// endpoint with the session they came from; the count outlives the session.
TEST(ServerEndpoint, SynsOverMaxStreamsAreCounted) {
  ServerConfig cfg = test::server_config();
  cfg.link.mux.max_streams = 2;
  Fixture f(cfg);
  const PeerAddr peer = test::peer4(7, 7);
  const std::uint32_t conv = f.handshake(peer, 0);
  SeededRng rng(5);
  Link client(test::link_config(mux::Role::Client, {}), conv, f.fr, rng, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.mux().open_stream(0));
  client.flush(1);
  const auto up = client.transmit();
  for (const ByteView d : up) f.server.handle_datagram(peer, d, 1);
  client.consume_transmit(up.size());
  f.server.flush(1);
  std::size_t opened = 0;
  ServerSessionId session = 0;
  while (auto e = f.server.poll_event()) {
    if (e->kind == ServerEventKind::StreamOpened) ++opened;
    session = e->session;
  }
  EXPECT_EQ(opened, 2u);
  EXPECT_EQ(f.server.stats().streams_refused_session_cap, 3u);
  EXPECT_EQ(f.server.stats().last_refused_session, session);
  f.server.flush(2);  // nothing new: counted once
  EXPECT_EQ(f.server.stats().streams_refused_session_cap, 3u);
  f.server.close_session(session);
  EXPECT_EQ(f.server.stats().streams_refused_session_cap, 3u);
}

TEST(ServerEndpoint, ConfigValidation) {
  ServerConfig c = test::server_config();
  EXPECT_TRUE(c.validate());
  c.max_sessions_per_host = c.max_sessions + 1;
  EXPECT_FALSE(c.validate());
  c = test::server_config();
  c.link.mux.role = mux::Role::Client;
  EXPECT_FALSE(c.validate());
  c = test::server_config();
  c.response_budget.seen_burst = 0;
  EXPECT_FALSE(c.validate());
  c = test::server_config();
  c.idle_timeout_ms = 0;
  SeededRng rng(1);
  EXPECT_THROW(ServerEndpoint(c, test::framer(test::wire_obf_config()), rng),
               std::invalid_argument);
}

}  // namespace
}  // namespace paniq::tunnel
