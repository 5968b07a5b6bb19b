// Encrypted mode end to end in the simulator (docs/protocol.md 7): negotiation against every
// server mode, users and revocation, rekeying under load, roaming (encrypted and plain), and
// what an observer sees on the wire.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <cmath>
#include <cstdio>
#include <string>

#include "crypto/crypto.hpp"
#include "envelope/capability.hpp"
#include "tunnel/errors.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::EndToEnd;

sim::LinkParams path(std::uint32_t delay, double loss = 0.0) {
  sim::LinkParams p;
  p.delay_ms = delay;
  p.loss = loss;
  return p;
}

struct Keys {
  crypto::Key32 server_private{}, server_public{}, alice{}, bob{};
};

Keys keys() {
  SeededRng rng(99);
  Keys k;
  rng.fill(k.server_private);
  k.server_public = crypto::x25519_public(k.server_private);
  rng.fill(k.alice);
  rng.fill(k.bob);
  return k;
}

obf::Config obf_config() {
  obf::Config c = test::wire_obf_config();
  c.s[0] = 40;  // room for the capability tag
  return c;
}

ClientConfig client_cfg(Encryption mode, std::optional<crypto::Key32> client_key = std::nullopt) {
  const Keys k = keys();
  ClientConfig c = test::client_config();
  c.auth.server_public = k.server_public;
  c.auth.encrypted_timestamp = true;
  c.auth.capability_key = envelope::capability_key(obf_config());
  c.link.follow_packing = true;
  c.encryption = mode;
  c.client_private = client_key;
  c.handshake_timeout_ms = 500;
  c.handshake_attempts = 2;
  return c;
}

ServerConfig server_cfg(Encryption mode) {
  const Keys k = keys();
  ServerConfig c = test::server_config();
  c.auth.server_private_key = k.server_private;
  c.capability_key = envelope::capability_key(obf_config());
  c.encryption = mode;
  c.secure_capability_key = envelope::capability_key(obf_config());
  return c;
}

// An echo server that keeps what its stream cannot take yet (bulk transfers fill the mux's
// outbound share) and resumes on Writable.
struct EchoServer {
  std::map<std::pair<ServerSessionId, mux::StreamId>, Bytes> pending;
  void operator()(EndToEnd& e, const ServerEvent& ev) {
    if (ev.kind != ServerEventKind::StreamOpened && ev.kind != ServerEventKind::Readable &&
        ev.kind != ServerEventKind::Writable) {
      return;
    }
    mux::Session* m = e.server->mux(ev.session);
    if (m == nullptr) return;
    Bytes& p = pending[{ev.session, ev.stream}];
    std::uint8_t buf[8192];
    for (;;) {
      while (!p.empty()) {
        auto w = m->write(ev.stream, p, e.now());
        if (!w || *w == 0) return;
        p.erase(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(*w));
      }
      auto n = m->read(ev.stream, buf);
      if (!n || *n == 0) return;
      p.assign(buf, buf + *n);
    }
  }
};

struct Transfer {
  std::size_t size = 0;
  std::size_t sent = 0, got = 0;
  bool mismatch = false;
  std::optional<mux::StreamId> stream;
  SessionId session = 0;
  std::vector<ClientEvent> failures;
  TimeMs last_progress = 0, longest_stall = 0;

  void pump(EndToEnd& e) {
    mux::Session* m = stream ? e.client.mux(session) : nullptr;
    if (m == nullptr) return;
    while (sent < size) {
      const ByteView chunk = bytes_at(sent, std::min<std::size_t>(16384, size - sent));
      auto w = m->write(*stream, chunk, e.now());
      if (!w || *w == 0) break;
      sent += *w;
    }
    std::uint8_t buf[16384];
    for (;;) {
      auto n = m->read(*stream, buf);
      if (!n || *n == 0) break;
      for (std::size_t i = 0; i < *n; ++i) {
        if (buf[i] != test::pattern_byte(5, got + i)) mismatch = true;
      }
      got += *n;
      longest_stall = std::max(longest_stall, e.now() - last_progress);
      last_progress = e.now();
    }
  }
  ByteView bytes_at(std::size_t off, std::size_t n) {
    scratch.resize(n);
    test::fill_pattern(5, off, scratch);
    return scratch;
  }
  void operator()(EndToEnd& e, const ClientEvent& ev) {
    if (ev.kind == ClientEventKind::StreamReady) {
      stream = ev.stream;
      session = ev.session;
      last_progress = e.now();
    }
    if (ev.kind == ClientEventKind::OpenFailed || ev.kind == ClientEventKind::SessionClosed) {
      failures.push_back(ev);
    }
    pump(e);
  }
  bool done() const { return got == size; }
  Bytes scratch;
};

struct Outcome {
  bool ready = false;
  bool encrypted = false;
  ServerStats stats;
};

Outcome negotiate(Encryption client, Encryption server) {
  EndToEnd e(client_cfg(client), server_cfg(server), obf_config(), path(10), path(10), 3);
  Transfer t;
  t.size = 1000;
  e.on_client = std::ref(t);
  EchoServer echo;
  e.on_server = std::ref(echo);
  (void)e.client.open_stream(e.now(), e.wall());
  Outcome o;
  o.ready = e.run_until([&] { return t.done(); }, 3000, [&](EndToEnd& x) { t.pump(x); });
  o.encrypted = e.client.current() && e.client.current()->encrypted();
  o.stats = e.server->stats();
  EXPECT_FALSE(t.mismatch);
  return o;
}

TEST(SecureTunnel, NegotiationAgainstEveryServerMode) {
  using E = Encryption;
  struct Case {
    E client, server;
    bool ready, encrypted;
  };
  for (const Case c : {Case{E::required, E::required, true, true},
                       Case{E::preferred, E::required, true, true},
                       Case{E::required, E::preferred, true, true},
                       Case{E::preferred, E::off, true, false},   // falls back to plain
                       Case{E::required, E::off, false, false},   // never plain
                       Case{E::off, E::required, false, false},   // server silent
                       Case{E::off, E::preferred, true, false}}) {
    const Outcome o = negotiate(c.client, c.server);
    EXPECT_EQ(o.ready, c.ready) << to_string(c.client) << "/" << to_string(c.server);
    EXPECT_EQ(o.encrypted, c.encrypted) << to_string(c.client) << "/" << to_string(c.server);
    if (c.client == E::off && c.server == E::required) {
      EXPECT_GT(o.stats.drop_plain_refused, 0u);
    }
    if (c.encrypted) {
      EXPECT_EQ(o.stats.sessions_encrypted, 1u);
    }
  }
}

TEST(SecureTunnel, UsersTableAdmitsListedKeysAndRevokes) {
  const Keys k = keys();
  auto table = std::make_shared<UserTable>();
  table->names[crypto::x25519_public(k.alice)] = "alice";
  for (const bool listed : {true, false}) {
    EndToEnd e(client_cfg(Encryption::required, listed ? k.alice : k.bob),
               server_cfg(Encryption::required), obf_config(), path(10), path(10), 4);
    e.server->set_users(table);
    Transfer t;
    t.size = 5000;
    e.on_client = std::ref(t);
    EchoServer echo;
  e.on_server = std::ref(echo);
    (void)e.client.open_stream(e.now(), e.wall());
    const bool ok = e.run_until([&] { return t.done(); }, 3000, [&](EndToEnd& x) { t.pump(x); });
    EXPECT_EQ(ok, listed);
    if (!listed) {
      EXPECT_GT(e.server->stats().drop_unknown_user, 0u);
      continue;
    }
    const auto ids = e.server->session_ids();
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(e.server->user(ids[0]), "alice");
    EXPECT_EQ(e.server->user_stats().at("alice").sessions_live, 1u);
    EXPECT_GT(e.server->user_stats().at("alice").bytes_in, 5000u);
    // Reload without alice: her session ends at once.
    auto without = std::make_shared<UserTable>();
    without->names[crypto::x25519_public(k.bob)] = "bob";
    e.server->set_users(without);
    EXPECT_EQ(e.server->session_count(), 0u);
    EXPECT_EQ(e.server->stats().sessions_revoked, 1u);
    bool revoked = false;
    while (auto ev = e.server->poll_event()) {
      revoked |= ev->kind == ServerEventKind::SessionClosed && ev->error == Errc::revoked;
    }
    EXPECT_TRUE(revoked);
    // NK (no client key) gets silence while a users table is set.
    EndToEnd nk(client_cfg(Encryption::required), server_cfg(Encryption::required), obf_config(),
                path(10), path(10), 5);
    nk.server->set_users(table);
    (void)nk.client.open_stream(nk.now(), nk.wall());
    nk.run_for(2000);
    EXPECT_EQ(nk.server->session_count(), 0u);
    EXPECT_GT(nk.server->stats().drop_unknown_user, 0u);
  }
}

// A transfer across many rekeys in both directions: nothing lost, nothing stalls.
TEST(SecureTunnel, TransferAcrossRekeys) {
  ClientConfig cc = client_cfg(Encryption::required);
  ServerConfig sc = server_cfg(Encryption::required);
  for (LinkConfig* l : {&cc.link, &sc.link}) {
    l->rekey.after_ms = 100;
    l->rekey.reject_after_ms = 400;  // the queue below delays an epoch's last datagrams
    l->rekey.previous_grace_ms = 50;
  }
  // A 5 MB/s bottleneck each way, so that even the small (Debug / sanitizer) transfer lasts
  // several intervals.
  sim::LinkParams p = path(15, 0.02);
  p.rate_bytes_per_sec = 5'000'000;
  p.queue_bytes = 256u << 10;
  EndToEnd e(cc, sc, obf_config(), p, p, 6);
  Transfer t;
  t.size = test::kSmallRun ? 2u << 20 : 8u << 20;
  e.on_client = std::ref(t);
  EchoServer echo;
  e.on_server = std::ref(echo);
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return t.done(); }, 120'000, [&](EndToEnd& x) { t.pump(x); }));
  EXPECT_FALSE(t.mismatch);
  EXPECT_TRUE(t.failures.empty());
  const auto* cs = e.client.current()->link()->secure();
  const auto* ss = e.server->link(e.server->session_ids()[0])->secure();
  ASSERT_NE(cs, nullptr);
  ASSERT_NE(ss, nullptr);
  EXPECT_GE(cs->stats().rekeys_sent, 3u);
  EXPECT_GE(ss->stats().rekeys_sent, 3u);
  EXPECT_GE(ss->stats().rekeys_received, 3u);
  EXPECT_EQ(cs->stats().drop_stale_key + ss->stats().drop_stale_key, 0u);
}

// NAT rebinding twice (port, then address) during a download; a replay from a third address.
void roam_during_transfer(Encryption mode) {
  ClientConfig cc = client_cfg(mode);
  ServerConfig sc = server_cfg(mode);
  EndToEnd e(cc, sc, obf_config(), path(20), path(20), 7);
  Transfer t;
  t.size = test::kSmallRun ? 2u << 20 : 6u << 20;
  e.on_client = std::ref(t);
  EchoServer echo;
  e.on_server = std::ref(echo);
  Bytes captured;
  e.on_wire = [&](sim::Side side, ByteView d) {
    if (side == sim::Side::a && e.client.current() && e.client.current()->link() && captured.empty() &&
        t.got > 0) {
      captured.assign(d.begin(), d.end());
    }
  };
  (void)e.client.open_stream(e.now(), e.wall());
  auto step = [&](EndToEnd& x) { t.pump(x); };
  ASSERT_TRUE(e.run_until([&] { return t.got > t.size / 4; }, 60'000, step));
  e.nat_shift = 100;  // new source port
  ASSERT_TRUE(e.run_until([&] { return t.got > t.size / 2; }, 60'000, step));
  e.nat_host = 2;  // new address
  ASSERT_TRUE(e.run_until([&] { return t.got > 3 * t.size / 4; }, 60'000, step));
  // A captured datagram replayed from a third address moves nothing (after the server has
  // followed the address change).
  ASSERT_TRUE(e.run_until([&] { return e.server->stats().sessions_roamed == 2; }, 5000, step));
  const auto id = e.server->session_ids().at(0);
  const PeerAddr before = *e.server->peer(id);
  ASSERT_FALSE(captured.empty());
  for (int i = 0; i < 5; ++i) e.inject(9, 5555, captured);
  e.run_for(50, step);
  EXPECT_EQ(*e.server->peer(id), before) << "a replay does not move the session";
  ASSERT_TRUE(e.run_until([&] { return t.done(); }, 60'000, step));
  EXPECT_FALSE(t.mismatch);
  EXPECT_TRUE(t.failures.empty());
  EXPECT_EQ(e.server->stats().sessions_roamed, 2u);
  EXPECT_EQ(e.server->session_count(), 1u);
  EXPECT_LT(t.longest_stall, 1000u) << to_string(mode);
  ::testing::Test::RecordProperty(std::string("longest_stall_ms_") + to_string(mode),
                                 static_cast<int>(t.longest_stall));
  std::printf("roaming %s: longest stall %llu ms\n", to_string(mode),
              static_cast<unsigned long long>(t.longest_stall));
}

TEST(SecureTunnel, RoamingEncrypted) { roam_during_transfer(Encryption::required); }
TEST(SecureTunnel, RoamingPlain) { roam_during_transfer(Encryption::off); }

// Plain roaming needs consecutive plausible datagrams: junk with the right conv does not move
// a session, and one datagram from the old address in between resets the count.
TEST(SecureTunnel, PlainRoamingNeedsPlausibleConsecutiveDatagrams) {
  EndToEnd e(client_cfg(Encryption::off), server_cfg(Encryption::off), obf_config(), path(10),
             path(10), 8);
  Transfer t;
  t.size = 200'000;
  e.on_client = std::ref(t);
  EchoServer echo;
  e.on_server = std::ref(echo);
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return t.done(); }, 30'000, [&](EndToEnd& x) { t.pump(x); }));
  const auto id = e.server->session_ids().at(0);
  const PeerAddr home = *e.server->peer(id);
  const std::uint32_t conv = *e.server->conv(id);
  // Datagrams carrying the conv but a sequence number far outside the window.
  obf::Framer f = test::framer(obf_config());
  SeededRng rng(1);
  for (int i = 0; i < 10; ++i) {
    Bytes seg(24, 0);
    put_u32_le(seg.data(), conv);
    seg[4] = 81;
    put_u32_le(seg.data() + 12, 0x40000000u + static_cast<std::uint32_t>(i));
    Bytes d(f.prefix_len(obf::MessageType::Transport) + 2 + seg.size());
    f.write_prefix(obf::MessageType::Transport, rng, MutByteView(d).first(f.prefix_len(obf::MessageType::Transport)));
    put_u16_be(d.data() + f.prefix_len(obf::MessageType::Transport), 24);
    std::copy(seg.begin(), seg.end(), d.end() - 24);
    e.inject(9, 4444, d);
  }
  e.run_for(100);
  EXPECT_EQ(*e.server->peer(id), home);
  EXPECT_EQ(e.server->stats().sessions_roamed, 0u);
}

// What an observer sees: for every byte position after the H4 header, the values over 10 000
// transport datagrams of one session against the uniform distribution (chi-square, 255 degrees
// of freedom). Encrypted mode passes at every position; plain mode fails (the conv, commands
// and counters are in clear), which shows the test can fail.
struct ChiResult {
  std::size_t positions = 0, failed = 0;
  double worst = 0;
};

ChiResult chi_square_of_session(Encryption mode) {
  EndToEnd e(client_cfg(mode), server_cfg(mode), obf_config(), path(10, 0.01), path(10, 0.01), 9);
  const std::size_t skip = obf_config().s[3] + 4;  // random[S4] || H4 header
  std::vector<std::array<std::uint32_t, 256>> counts;
  std::vector<std::uint32_t> totals;
  std::size_t recorded = 0;
  e.on_wire = [&](sim::Side side, ByteView d) {
    if (side != sim::Side::a || recorded >= 10'000 || !e.client.current() ||
        !e.client.current()->link() || d.size() <= skip) {
      return;
    }
    const ByteView body = d.subspan(skip);
    if (counts.size() < body.size()) {
      counts.resize(body.size());
      totals.resize(body.size());
    }
    for (std::size_t i = 0; i < body.size(); ++i) {
      ++counts[i][body[i]];
      ++totals[i];
    }
    ++recorded;
  };
  Transfer t;
  t.size = 12u << 20;
  e.on_client = std::ref(t);
  EchoServer echo;
  e.on_server = std::ref(echo);
  (void)e.client.open_stream(e.now(), e.wall());
  e.run_until([&] { return recorded >= 10'000 || t.done(); }, 300'000, [&](EndToEnd& x) { t.pump(x); });
  EXPECT_GE(recorded, 10'000u);
  // Critical value for p = 1e-6 per position (Wilson-Hilferty, 255 df): about 377, so over a
  // thousand positions a uniform source fails one with probability ~0.1 %; the run is seeded.
  constexpr double kCritical = 377.0;
  ChiResult r;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (totals[i] < 256 * 5) continue;  // too few samples at this length for the test
    const double expect = totals[i] / 256.0;
    double chi = 0;
    for (const std::uint32_t c : counts[i]) chi += (c - expect) * (c - expect) / expect;
    ++r.positions;
    r.worst = std::max(r.worst, chi);
    if (chi > kCritical) ++r.failed;
  }
  return r;
}

TEST(SecureTunnel, EveryByteAfterTheHeaderLooksUniformOnlyWhenEncrypted) {
  const ChiResult enc = chi_square_of_session(Encryption::required);
  EXPECT_GT(enc.positions, 40u);
  EXPECT_EQ(enc.failed, 0u) << "worst chi-square " << enc.worst;
  const ChiResult plain = chi_square_of_session(Encryption::off);
  EXPECT_GT(plain.failed, 10u) << "plain mode must fail: worst " << plain.worst;
}

}  // namespace
}  // namespace paniq::tunnel
