// ServerEndpoint drop_backlog (docs/tunnel.md "Datagram handling", control socket
// drop_backlog): Responses waiting to be sent are capped at 1 MiB. A shell that cannot send
// (the socket stays blocked) must not let a stream of Initiations grow the queue: the Response
// that would pass 1 MiB is not queued and counted, and answering resumes once the queue drained.
// The condition cannot be reached from outside the process (a blocked socket and ~1000
// Initiations in one batch), so it is tested here on the pure layer.
#include <vector>

#include <gtest/gtest.h>

#include "envelope/handshake.hpp"
#include "tunnel/server.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

constexpr std::size_t kBacklogBytes = 1u << 20;

TEST(ServerBacklog, ResponsesBeyondOneMebibyteAreDroppedAndCounted) {
  obf::Config obf = test::wire_obf_config();
  obf.s[1] = 1000;  // Responses of ~1 KB: about a thousand fill the cap
  ServerConfig cfg = test::server_config();
  cfg.response_budget.enabled = false;  // only the backlog cap may refuse
  SeededRng rng(1), crng(2);
  ServerEndpoint server(cfg, test::framer(obf), rng);
  const obf::Framer fr = test::framer(obf);
  // Distinct Initiations from distinct addresses (50 ports on each of 30 hosts: under every
  // per-host cap), none sent: the shell's socket is blocked.
  constexpr std::size_t kInitiations = 1500;
  const auto peer = [](std::size_t i) {
    return PeerAddr::v4({10, 1, static_cast<std::uint8_t>(i / 50), 1},
                        static_cast<std::uint16_t>(1000 + i % 50));
  };
  for (std::size_t i = 0; i < kInitiations; ++i) {
    server.handle_datagram(peer(i), *envelope::build_initiation(fr, crng, {}, WallTime{}),
                           static_cast<TimeMs>(i));
  }
  const auto tx = server.transmit();
  ASSERT_FALSE(tx.empty());
  const std::size_t size = tx[0].data.size();
  ASSERT_GE(size, 1000u);
  std::size_t queued_bytes = 0;
  for (const ServerTransmit& t : tx) queued_bytes += t.data.size();
  const std::size_t fits = kBacklogBytes / size;
  EXPECT_EQ(tx.size(), fits) << "Responses are queued up to 1 MiB, not beyond";
  EXPECT_LE(queued_bytes, kBacklogBytes);
  EXPECT_GT(queued_bytes + size, kBacklogBytes);
  const ServerStats& s = server.stats();
  EXPECT_EQ(s.drop_backlog, kInitiations - fits) << "every Response not queued is counted";
  EXPECT_EQ(s.datagrams_out, fits) << "only queued Responses count as sent";
  EXPECT_EQ(s.datagrams_in, kInitiations);
  for (std::size_t i = 0; i < tx.size(); ++i) EXPECT_EQ(tx[i].peer, peer(i)) << "in arrival order";

  // The shell sends them: the next Initiation is answered again, nothing more is dropped.
  server.consume_transmit(tx.size());
  EXPECT_TRUE(server.transmit().empty());
  server.handle_datagram(peer(kInitiations), *envelope::build_initiation(fr, crng, {}, WallTime{}), 5000);
  const auto after = server.transmit();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].peer, peer(kInitiations));
  EXPECT_EQ(server.stats().drop_backlog, kInitiations - fits);
  server.consume_transmit(1);
}

// The same cap seen one Initiation at a time: nothing is dropped while the queue has room, the
// counter grows by exactly one per Initiation from the first one that would pass 1 MiB, and
// sending part of the queue makes room for exactly that many Responses again.
TEST(ServerBacklog, CounterStartsAtTheCapAndPartialDrainMakesRoom) {
  obf::Config obf = test::wire_obf_config();
  obf.s[1] = 1000;
  ServerConfig cfg = test::server_config();
  cfg.response_budget.enabled = false;
  SeededRng rng(3), crng(4);
  ServerEndpoint server(cfg, test::framer(obf), rng);
  const obf::Framer fr = test::framer(obf);
  std::size_t next = 0;  // Initiations sent so far; each from its own address
  const auto initiate = [&] {
    const PeerAddr peer = PeerAddr::v4({10, 2, static_cast<std::uint8_t>(next / 50), 1},
                                       static_cast<std::uint16_t>(2000 + next % 50));
    server.handle_datagram(peer, *envelope::build_initiation(fr, crng, {}, WallTime{}),
                           static_cast<TimeMs>(next));
    ++next;
    return peer;
  };

  initiate();
  ASSERT_EQ(server.transmit().size(), 1u);
  const std::size_t size = server.transmit()[0].data.size();
  const std::size_t fits = kBacklogBytes / size;
  ASSERT_GT(fits, 10u);
  while (next < fits) {
    initiate();
    ASSERT_EQ(server.stats().drop_backlog, 0u) << "dropped with room left, Initiation " << next;
  }
  ASSERT_EQ(server.transmit().size(), fits);

  // Full: every further Initiation is counted and adds nothing to the queue.
  for (std::uint64_t extra = 1; extra <= 20; ++extra) {
    initiate();
    EXPECT_EQ(server.stats().drop_backlog, extra);
    EXPECT_EQ(server.transmit().size(), fits);
  }

  // The shell sends 3 Responses: 3 more are queued (after the 3 still waiting at the front
  // went out, in order), the 4th is dropped again.
  constexpr std::size_t kSent = 3;
  server.consume_transmit(kSent);
  ASSERT_EQ(server.transmit().size(), fits - kSent);
  std::vector<PeerAddr> answered;
  for (std::size_t i = 0; i < kSent; ++i) answered.push_back(initiate());
  EXPECT_EQ(server.stats().drop_backlog, 20u) << "room for 3 after sending 3";
  const auto tx = server.transmit();
  ASSERT_EQ(tx.size(), fits);
  for (std::size_t i = 0; i < kSent; ++i) EXPECT_EQ(tx[fits - kSent + i].peer, answered[i]);
  initiate();
  EXPECT_EQ(server.stats().drop_backlog, 21u);
  EXPECT_EQ(server.transmit().size(), fits);
  std::size_t bytes = 0;
  for (const ServerTransmit& t : server.transmit()) bytes += t.data.size();
  EXPECT_LE(bytes, kBacklogBytes);
  EXPECT_EQ(server.stats().responses_out, fits + kSent);
  server.consume_transmit(fits);
}

}  // namespace
}  // namespace paniq::tunnel
