// Client in spread mode (profile `server_select` "spread"): one session per server, each new
// stream on the healthy server with the fewest streams (ties round robin), a dead session's
// server skipped until its backoff ends, waiting opens moved when a handshake fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "profile/profile.hpp"
#include "profile/profile_cbor.hpp"
#include "tunnel/client.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::kWall;
using test::drain;

// Sends what the client queued, moves `t` to its next deadline and runs it. False when the
// client has no deadline or the next one is past 10 s (the tests' bound).
bool advance_to_next_timeout(Client& c, TimeMs& t) {
  c.consume_transmit(c.transmit().size());
  const auto next = c.next_timeout();
  if (!next) return false;
  t = std::max(t, *next);
  if (t >= 10'000u) return false;
  c.handle_timeout(t);
  return true;
}

Bytes response(std::uint32_t conv) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(conv);
  return envelope::build_response(fr, conv, rng);
}

ClientConfig spread_config(std::size_t servers) {
  ClientConfig cfg = test::client_config();
  for (std::size_t i = 0; i < servers; ++i) {
    const auto base = static_cast<std::uint16_t>(1000 * (i + 1));
    cfg.servers.push_back({base, static_cast<std::uint16_t>(base + 3)});  // 4-port ranges
  }
  cfg.spread = true;
  return cfg;
}

// Events of one drain, sorted out.
struct Seen {
  std::vector<ClientEvent> need;                 // NeedSocket
  std::map<OpenTicket, ClientEvent> ready;       // StreamReady by ticket
  std::map<OpenTicket, ClientEvent> failed;      // OpenFailed by ticket
  std::vector<ClientEvent> closed;               // SessionClosed
};

Seen sort_out(const std::vector<ClientEvent>& es) {
  Seen s;
  for (const auto& e : es) {
    switch (e.kind) {
      case ClientEventKind::NeedSocket: s.need.push_back(e); break;
      case ClientEventKind::StreamReady: s.ready[e.ticket] = e; break;
      case ClientEventKind::OpenFailed: s.failed[e.ticket] = e; break;
      case ClientEventKind::SessionClosed: s.closed.push_back(e); break;
      default: break;
    }
  }
  return s;
}

// Opens one stream per server and completes both handshakes; returns the session of each
// server (index = server).
std::vector<SessionId> establish_two(Client& c, TimeMs now) {
  (void)c.open_stream(now, kWall);
  (void)c.open_stream(now, kWall);
  Seen s = sort_out(drain(c));
  EXPECT_EQ(s.need.size(), 2u) << "the second open starts the second server's session";
  std::vector<SessionId> by_server(2);
  for (const auto& e : s.need) by_server.at(e.server) = e.session;
  EXPECT_NE(by_server[0], by_server[1]);
  c.consume_transmit(c.transmit().size());
  c.handle_datagram(by_server[0], response(0x100), now + 5);
  c.handle_datagram(by_server[1], response(0x200), now + 5);
  s = sort_out(drain(c));
  EXPECT_EQ(s.ready.size(), 2u);
  return by_server;
}

TEST(ClientSpread, NewStreamsGoToTheLeastLoadedServerTiesRoundRobin) {
  SeededRng rng(11);
  Client c(spread_config(2), test::framer(test::wire_obf_config()), rng);
  EXPECT_TRUE(c.spread());
  const auto sid = establish_two(c, 0);
  EXPECT_EQ(c.sessions().size(), 2u);
  EXPECT_EQ(c.server_streams(0), 1u);
  EXPECT_EQ(c.server_streams(1), 1u);
  // Six more: each goes to the server with fewer streams, so they stay balanced.
  std::map<SessionId, int> per_session;
  for (int i = 0; i < 6; ++i) {
    const OpenTicket t = c.open_stream(10 + i, kWall);
    const Seen s = sort_out(drain(c));
    ASSERT_TRUE(s.need.empty()) << "no third session";
    ASSERT_EQ(s.ready.count(t), 1u);
    ++per_session[s.ready.at(t).session];
    EXPECT_LE(c.server_streams(0) > c.server_streams(1) ? c.server_streams(0) - c.server_streams(1)
                                                          : c.server_streams(1) - c.server_streams(0),
              1u);
  }
  EXPECT_EQ(per_session[sid[0]], 3);
  EXPECT_EQ(per_session[sid[1]], 3);
  EXPECT_EQ(c.stats().sessions_started, 2u);
  // Each stream is usable on its own session's mux.
  ASSERT_NE(c.mux(sid[0]), nullptr);
  ASSERT_NE(c.mux(sid[1]), nullptr);
  EXPECT_EQ(c.mux(sid[0])->stream_count(), 4u);
  EXPECT_EQ(c.mux(sid[1])->stream_count(), 4u);
}

TEST(ClientSpread, EachSessionUsesItsOwnServersPortRange) {
  SeededRng rng(12);
  Client c(spread_config(3), test::framer(test::wire_obf_config()), rng);
  for (int i = 0; i < 3; ++i) (void)c.open_stream(0, kWall);
  const Seen s = sort_out(drain(c));
  ASSERT_EQ(s.need.size(), 3u);
  std::set<std::uint32_t> servers;
  for (const auto& e : s.need) {
    servers.insert(e.server);
    const std::uint16_t base = static_cast<std::uint16_t>(1000 * (e.server + 1));
    EXPECT_GE(e.port, base);
    EXPECT_LE(e.port, base + 3);
  }
  EXPECT_EQ(servers, (std::set<std::uint32_t>{0, 1, 2}));
  // Datagrams go out on each session's own socket.
  std::set<SessionId> from;
  for (const auto& t : c.transmit()) from.insert(t.session);
  EXPECT_EQ(from.size(), 3u);
}

TEST(ClientSpread, DeadSessionsServerIsSkippedUntilItsBackoffEnds) {
  SeededRng rng(13);
  ClientConfig cfg = spread_config(2);
  cfg.link.liveness.enabled = false;  // no server answers here
  Client c(cfg, test::framer(test::wire_obf_config()), rng);
  const auto sid = establish_two(c, 0);
  // Server 0's session dies (e.g. ICMP port unreachable): its stream is gone, it backs off 5 s.
  c.fail_session(sid[0], make_error_code(Errc::port_unreachable), 100);
  Seen s = sort_out(drain(c));
  ASSERT_EQ(s.closed.size(), 1u);
  EXPECT_EQ(s.closed[0].session, sid[0]);
  EXPECT_EQ(c.server_health()[0].failures, 1u);
  EXPECT_EQ(c.server_health()[0].down_until, 5100u);
  EXPECT_EQ(c.sessions().size(), 1u);
  EXPECT_EQ(c.mux(sid[0]), nullptr);
  // Every new stream goes to server 1 at once, though it has more streams.
  for (int i = 0; i < 5; ++i) {
    const OpenTicket t = c.open_stream(200 + i * 1000, kWall);
    s = sort_out(drain(c));
    EXPECT_TRUE(s.need.empty());
    ASSERT_EQ(s.ready.count(t), 1u);
    EXPECT_EQ(s.ready.at(t).session, sid[1]);
  }
  EXPECT_EQ(c.server_streams(1), 6u);
  // Backoff over: the next stream goes back to server 0 (fewest streams), on a new session.
  const OpenTicket back = c.open_stream(5100, kWall);
  s = sort_out(drain(c));
  ASSERT_EQ(s.need.size(), 1u);
  EXPECT_EQ(s.need[0].server, 0u);
  const SessionId fresh = s.need[0].session;
  EXPECT_GT(fresh, sid[1]);
  c.consume_transmit(c.transmit().size());
  c.handle_datagram(sid[0], response(0x300), 5105);  // the dead session's socket: stale
  EXPECT_EQ(c.stats().datagrams_stale, 1u);
  c.handle_datagram(fresh, response(0x301), 5110);
  s = sort_out(drain(c));
  ASSERT_EQ(s.ready.count(back), 1u);
  EXPECT_EQ(s.ready.at(back).session, fresh);
  EXPECT_EQ(c.server_health()[0].failures, 0u) << "an established session clears the backoff";
  EXPECT_EQ(c.sessions().size(), 2u);
  EXPECT_GE(c.stats().server_changes, 1u);
}

TEST(ClientSpread, FailedHandshakeMovesWaitingOpensToAnotherServer) {
  SeededRng rng(14);
  ClientConfig cfg = spread_config(2);
  cfg.link.liveness.enabled = false;  // no server answers the established session's SYNs here
  Client c(cfg, test::framer(test::wire_obf_config()), rng);
  const OpenTicket a = c.open_stream(0, kWall);
  const OpenTicket b = c.open_stream(0, kWall);
  Seen s = sort_out(drain(c));
  ASSERT_EQ(s.need.size(), 2u);
  std::vector<SessionId> by_server(2);
  for (const auto& e : s.need) by_server.at(e.server) = e.session;
  // Server 1 answers; server 0 never does.
  c.handle_datagram(by_server[1], response(0x400), 5);
  s = sort_out(drain(c));
  ASSERT_EQ(s.ready.size(), 1u);
  std::map<OpenTicket, ClientEvent> ready = s.ready;
  std::vector<ClientEvent> closed;
  TimeMs t = 5;
  while (closed.empty()) {
    ASSERT_TRUE(advance_to_next_timeout(c, t)) << "at " << t << " ms";
    s = sort_out(drain(c));
    ready.insert(s.ready.begin(), s.ready.end());
    EXPECT_TRUE(s.failed.empty());
    closed.insert(closed.end(), s.closed.begin(), s.closed.end());
  }
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].session, by_server[0]);
  EXPECT_EQ(closed[0].error, make_error_code(Errc::handshake_timeout));
  EXPECT_LE(t, 2500u) << "two short attempts with several servers";
  // Both opens end up on server 1's session.
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready.at(a).session, by_server[1]);
  EXPECT_EQ(ready.at(b).session, by_server[1]);
  EXPECT_EQ(c.server_health()[0].failures, 1u);
  EXPECT_EQ(c.server_health()[0].last_failure, make_error_code(Errc::handshake_timeout));
  // While server 0 backs off, new streams stay on server 1.
  const OpenTicket d = c.open_stream(t + 10, kWall);
  s = sort_out(drain(c));
  EXPECT_TRUE(s.need.empty());
  ASSERT_EQ(s.ready.count(d), 1u);
  EXPECT_EQ(s.ready.at(d).session, by_server[1]);
}

TEST(ClientSpread, AllServersDownFailsTheWaitingOpens) {
  SeededRng rng(15);
  Client c(spread_config(2), test::framer(test::wire_obf_config()), rng);
  const OpenTicket a = c.open_stream(0, kWall);
  const OpenTicket b = c.open_stream(0, kWall);
  std::map<OpenTicket, ClientEvent> failed;
  std::size_t closed = 0;
  TimeMs t = 0;
  while (failed.size() < 2) {
    ASSERT_TRUE(advance_to_next_timeout(c, t)) << "at " << t << " ms";
    const Seen s = sort_out(drain(c));
    EXPECT_TRUE(s.ready.empty());
    failed.insert(s.failed.begin(), s.failed.end());
    closed += s.closed.size();
  }
  EXPECT_EQ(closed, 2u);
  EXPECT_EQ(failed.at(a).error, make_error_code(Errc::handshake_timeout));
  EXPECT_EQ(failed.at(b).error, make_error_code(Errc::handshake_timeout));
  EXPECT_TRUE(c.sessions().empty());
  EXPECT_EQ(c.server_health()[0].failures, 1u);
  EXPECT_EQ(c.server_health()[1].failures, 1u);
}

TEST(ClientSpread, OneServerIsFailover) {
  SeededRng rng(16);
  Client c(spread_config(1), test::framer(test::wire_obf_config()), rng);
  EXPECT_FALSE(c.spread());
  for (int i = 0; i < 3; ++i) (void)c.open_stream(0, kWall);
  EXPECT_EQ(sort_out(drain(c)).need.size(), 1u);
}

// The profile key: "spread" is accepted (JSON and the compact CBOR form round-trip it) and
// turns spread on; any other value than "failover" / "spread" is refused naming the field.
TEST(ClientSpread, ProfileServerSelect) {
  std::ifstream in(std::string(PANIQ_VECTOR_DIR) + "/example-profile.json");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str());
  doc["servers"] = {"127.0.0.1:4000", "127.0.0.1:5000-5003"};
  doc["server_select"] = "spread";
  std::vector<std::string> warnings;
  auto p = profile::parse_profile_json(doc.dump(), warnings);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->server_select, "spread");
  auto c = client_config_from_profile(*p);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->spread);
  ASSERT_EQ(c->servers.size(), 2u);
  auto back = profile::parse_profile_json(profile::to_json(*p), warnings);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->server_select, "spread");
  auto packed = profile::encode_compact_profile(*p);
  ASSERT_TRUE(packed) << packed.error().message;
  auto unpacked = profile::decode_compact_profile(*packed);
  ASSERT_TRUE(unpacked) << unpacked.error().message;
  EXPECT_EQ(unpacked->server_select, "spread");
  doc["server_select"] = "failover";
  p = profile::parse_profile_json(doc.dump(), warnings);
  ASSERT_TRUE(p);
  c = client_config_from_profile(*p);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->spread);
  doc["server_select"] = "random";
  auto bad = profile::parse_profile_json(doc.dump(), warnings);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("server_select"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace paniq::tunnel
