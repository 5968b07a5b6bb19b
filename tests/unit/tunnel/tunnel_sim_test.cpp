// Whole-tunnel scenarios in virtual time over the deterministic simulator: issue #4's 1000
// concurrent streams, bulk transfer under loss and reordering, handshakes over a lossy path,
// server restart detection and keepalive against the server's idle timeout.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <unordered_map>

#include "envelope/capability.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::EndToEnd;
using test::LinkPair;
using test::Pattern;

sim::LinkParams path(std::uint32_t delay, double loss = 0.0) {
  sim::LinkParams p;
  p.delay_ms = delay;
  p.jitter_ms = delay / 5;
  p.loss = loss;
  return p;
}

// One side's application for many concurrent one-way transfers of `size` bytes per stream:
// stream 3 + 2i goes client -> server for even i, server -> client for odd i (or all one way).
// Content is Pattern(stream id); every byte is checked.
class TransferApp {
 public:
  TransferApp(const Pattern& pattern, std::uint64_t size, bool client, bool all_upload = false)
      : pattern_(pattern), size_(size), client_(client), all_upload_(all_upload) {}

  std::size_t complete = 0;  // streams whose bytes all arrived here, verified, with end-of-stream
  std::size_t failures = 0;  // corrupt data, errors, resets

  bool sends(mux::StreamId id) const {
    const bool upload = all_upload_ || ((id - 3) / 2) % 2 == 0;
    return client_ == upload;
  }

  void open(Link& l, std::size_t n, TimeMs now) {
    for (std::size_t i = 0; i < n; ++i) {
      auto id = l.mux().open_stream(now);
      ASSERT_TRUE(id);
      add(l, *id);
    }
  }

  void handle(Link& l, const Event& e) {
    switch (e.kind) {
      case EventKind::StreamOpened: add(l, e.stream); break;
      case EventKind::Readable: read(l, e.stream); break;
      case EventKind::Writable: ready_.push_back(e.stream); break;
      case EventKind::StreamClosed:
        if (e.error) ++failures;
        break;
      case EventKind::SessionClosed: ++failures; break;
      default: break;
    }
  }

  void write_ready(Link& l, TimeMs now) {
    std::deque<mux::StreamId> batch;
    batch.swap(ready_);
    for (const mux::StreamId id : batch) {
      auto it = streams_.find(id);
      if (it == streams_.end() || it->second.finished_sending) continue;
      St& s = it->second;
      for (;;) {
        if (s.sent == size_) {
          s.finished_sending = true;
          if (!l.mux().shutdown_write(id, now)) ++failures;
          l.mux().close(id, now);
          break;
        }
        const ByteView chunk = pattern_.at(id, s.sent, static_cast<std::size_t>(size_ - s.sent));
        auto n = l.mux().write(id, chunk, now);
        if (!n) {
          ++failures;
          break;
        }
        s.sent += *n;
        if (*n < chunk.size()) break;  // wait for Writable
      }
    }
  }

 private:
  struct St {
    std::uint64_t sent = 0, received = 0;
    bool finished_sending = false;
  };

  void add(Link& l, mux::StreamId id) {
    streams_[id];
    if (sends(id)) {
      ready_.push_back(id);
    } else {
      read(l, id);  // arms Readable
    }
  }

  void read(Link& l, mux::StreamId id) {
    auto it = streams_.find(id);
    if (it == streams_.end() || sends(id)) return;
    St& s = it->second;
    for (;;) {
      auto n = l.mux().read(id, buf_);
      if (!n) {
        if (n.error().code != make_error_code(mux::Errc::would_block)) ++failures;
        return;
      }
      if (*n == 0) {
        if (s.received == size_) {
          ++complete;
        } else {
          ++failures;
        }
        l.mux().close(id, 0);
        streams_.erase(it);
        return;
      }
      if (!pattern_.matches(id, s.received, ByteView(buf_).first(*n))) ++failures;
      s.received += *n;
    }
  }

  const Pattern& pattern_;
  std::uint64_t size_;
  bool client_;
  bool all_upload_;
  std::unordered_map<mux::StreamId, St> streams_;
  std::deque<mux::StreamId> ready_;
  Bytes buf_ = Bytes(64u << 10);
};

// Everything here is deterministic for the seed (STYLE.md 7: no wall-clock reads): virtual
// time, simulation steps and events as the measure of work done.
struct TransferResult {
  bool finished = false;
  TimeMs virtual_ms = 0;     // virtual time when the loop ended
  std::uint64_t steps = 0;   // LinkPair::step calls
  std::uint64_t events = 0;  // Link events handed to the applications
};

// Steps until every stream completed, a failure, or `limit_ms` of virtual time. Bounded: each
// step advances virtual time by at least 1 ms, so there are at most `limit_ms` steps.
TransferResult run_transfers(LinkPair& p, TransferApp& ca, TransferApp& sa, std::size_t streams,
                             TimeMs limit_ms) {
  ca.open(p.a, streams, p.now());
  TransferResult r;
  auto app = [&](LinkPair& lp) {
    while (auto e = lp.a.poll_event()) {
      ca.handle(lp.a, *e);
      ++r.events;
    }
    while (auto e = lp.b.poll_event()) {
      sa.handle(lp.b, *e);
      ++r.events;
    }
    ca.write_ready(lp.a, lp.now());
    sa.write_ready(lp.b, lp.now());
  };
  while (ca.complete + sa.complete < streams && ca.failures + sa.failures == 0 &&
         p.now() < limit_ms) {
    p.step(app);
    ++r.steps;
  }
  r.finished = ca.complete + sa.complete == streams;
  r.virtual_ms = p.now();
  return r;
}

// Datagrams and bytes both Links put on the wire, and KCP's (re)transmissions of data.
struct WireWork {
  std::uint64_t datagrams = 0, bytes = 0, data_segments = 0, retransmits = 0;
};

WireWork wire_work(const LinkPair& p) {
  WireWork w;
  for (const Link* l : {&p.a, &p.b}) {
    w.datagrams += l->stats().datagrams_out;
    w.bytes += l->stats().bytes_out;
    w.data_segments += l->kcp().stats().out_data_segments;
    w.retransmits += l->kcp().stats().retransmits + l->kcp().stats().fast_retransmits;
  }
  return w;
}

void record(const TransferResult& r, const WireWork& w) {
  ::testing::Test::RecordProperty("virtual_ms", std::to_string(r.virtual_ms));
  ::testing::Test::RecordProperty("steps", std::to_string(r.steps));
  ::testing::Test::RecordProperty("events", std::to_string(r.events));
  ::testing::Test::RecordProperty("datagrams", std::to_string(w.datagrams));
  ::testing::Test::RecordProperty("wire_bytes", std::to_string(w.bytes));
  ::testing::Test::RecordProperty("data_segments", std::to_string(w.data_segments));
  ::testing::Test::RecordProperty("retransmits", std::to_string(w.retransmits));
}

// Issue #4: 1000 concurrent streams, each moving a 1 MiB pseudo-random blob (half upload, half
// download: 1 GiB in all; 32 KiB each under sanitizers / Debug) through a client Link and a
// server Link at 2 % loss, every byte verified. The old "~60 s of wall time" budget is now a
// budget on deterministic work: virtual time to finish (which also caps the simulation steps,
// each at least 1 ms), bytes on the wire per payload byte, and retransmissions, datagrams and
// application events per data segment. CPU cost per operation is bench/'s job, not a test's.
TEST(TunnelSim, ThousandConcurrentStreamsAtTwoPercentLoss) {
  test::LinkOptions o;
  o.max_streams = 2048;
  const LinkConfig cc = test::link_config(mux::Role::Client, o);
  const LinkConfig sc = test::link_config(mux::Role::Server, o);
  LinkPair p(cc, sc, test::wire_obf_config(), path(10, 0.02), path(10, 0.02), 404);
  const std::uint64_t size = test::kSmallRun ? (32u << 10) : (1u << 20);
  const Pattern pattern(99);
  TransferApp ca(pattern, size, true), sa(pattern, size, false);
  const TransferResult r = run_transfers(p, ca, sa, 1000, 3'600'000);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(ca.failures + sa.failures, 0u);
  EXPECT_EQ(ca.complete, 500u);
  EXPECT_EQ(sa.complete, 500u);
  EXPECT_FALSE(p.a.dead());
  EXPECT_FALSE(p.b.dead());
  EXPECT_GT(p.a.kcp().stats().retransmits + p.a.kcp().stats().fast_retransmits, 0u);
  const WireWork w = wire_work(p);
  record(r, w);
  // Seed 404 at the time of writing, per byte of payload (the same in both sizes): about
  // 59 MB/s of virtual goodput, wire bytes 1.14x payload, retransmissions 12 % of data
  // segments, 2.2 datagrams and 1.4-1.6 application events per data segment.
  const std::uint64_t payload = 1000 * size;
  EXPECT_LE(r.virtual_ms, payload / 10'000) << "at least 10 MB/s of virtual goodput";
  EXPECT_LE(w.bytes, payload + payload / 2) << "wire overhead over half the payload";
  EXPECT_LE(w.retransmits, w.data_segments / 4) << "retransmission storm at 2 % loss";
  EXPECT_LE(w.datagrams, 3 * w.data_segments) << "datagrams per data segment";
  EXPECT_LE(r.events, 2 * w.data_segments) << "application events per data segment";
}

// 20 MiB on one stream at 5 % loss with reordering (4 MiB under sanitizers / Debug).
TEST(TunnelSim, BulkSingleStreamLossAndReordering) {
  sim::LinkParams fwd = path(20, 0.05);
  fwd.reorder = 0.05;
  fwd.reorder_delay_ms = 15;
  sim::LinkParams back = fwd;
  test::LinkOptions o;
  o.padding = true;
  o.replay = true;
  LinkPair p(test::link_config(mux::Role::Client, o), test::link_config(mux::Role::Server, o),
             test::wire_obf_config(), fwd, back, 505);
  const std::uint64_t size = test::kSmallRun ? (4u << 20) : (20u << 20);
  const Pattern pattern(7);
  TransferApp ca(pattern, size, true, true), sa(pattern, size, false, true);
  const TransferResult r = run_transfers(p, ca, sa, 1, 600'000);
  EXPECT_TRUE(r.finished);
  EXPECT_EQ(sa.complete, 1u);
  EXPECT_EQ(ca.failures + sa.failures, 0u);
  EXPECT_GT(p.net.stats(sim::Side::a).reordered, 0u);
  EXPECT_GT(p.net.stats(sim::Side::a).lost, 0u);
  EXPECT_EQ(p.b.stats().drop_invalid_length + p.b.stats().drop_kcp_rejected, 0u);
  const WireWork w = wire_work(p);
  record(r, w);
}

// ---- Client + ServerEndpoint ---------------------------------------------------------------

// A server application that echoes every stream's bytes back.
void echo_server(EndToEnd& e, const ServerEvent& ev) {
  if (ev.kind != ServerEventKind::StreamOpened && ev.kind != ServerEventKind::Readable) return;
  mux::Session* m = e.server->mux(ev.session);
  if (m == nullptr) return;
  std::uint8_t buf[4096];
  for (;;) {
    auto n = m->read(ev.stream, buf);
    if (!n || *n == 0) return;
    (void)m->write(ev.stream, ByteView(buf, *n), e.now());
  }
}

// A client application: on StreamReady writes `message`; records what comes back per stream.
struct EchoClient {
  std::string message = "ping";
  std::unordered_map<mux::StreamId, std::string> got;  // of the current session
  std::vector<ClientEvent> failures;                   // OpenFailed / SessionClosed
  TimeMs failed_at = 0;                                // virtual time of the last failure

  void operator()(EndToEnd& e, const ClientEvent& ev) {
    mux::Session* m = e.client.mux(ev.session);
    switch (ev.kind) {
      case ClientEventKind::StreamReady:
        ASSERT_NE(m, nullptr);
        got[ev.stream];
        (void)m->write(ev.stream, as_bytes(message), e.now());
        read(m, ev.stream);
        break;
      case ClientEventKind::Readable:
        if (m != nullptr) read(m, ev.stream);
        break;
      case ClientEventKind::OpenFailed:
      case ClientEventKind::SessionClosed:
        failures.push_back(ev);
        failed_at = e.now();
        got.clear();
        break;
      default:
        break;
    }
  }
  void read(mux::Session* m, mux::StreamId id) {
    std::uint8_t buf[4096];
    for (;;) {
      auto n = m->read(id, buf);
      if (!n || *n == 0) return;
      got[id].append(reinterpret_cast<const char*>(buf), *n);
    }
  }
  bool echoed(mux::StreamId id) const {
    auto it = got.find(id);
    return it != got.end() && it->second == message;
  }
};

std::optional<mux::StreamId> last_ready(const EndToEnd& e) {
  for (auto it = e.client_events.rbegin(); it != e.client_events.rend(); ++it) {
    if (it->kind == ClientEventKind::StreamReady) return it->stream;
  }
  return std::nullopt;
}

TEST(TunnelSim, HandshakeAndEchoOverLossyPath) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    ClientConfig cc = test::client_config();
    cc.handshake_timeout_ms = 1000;
    cc.handshake_attempts = 10;
    EndToEnd e(cc, test::server_config(), test::preamble_obf_config(), path(30, 0.2),
               path(30, 0.2), seed);
    EchoClient app;
    e.on_client = std::ref(app);
    e.on_server = echo_server;
    (void)e.client.open_stream(e.now(), e.wall());
    ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 60'000))
        << "seed " << seed;
    EXPECT_TRUE(app.failures.empty());
    EXPECT_EQ(e.server->session_count(), 1u) << "repeats answered without new sessions";
    EXPECT_GT(e.server->stats().drop_unclassified, 0u) << "junk and signatures reach the server";
  }
}

// The server restarts (every session forgotten; it drops our datagrams silently). A request
// made afterwards is lost with the dead session after the liveness bound (1.5 s on this
// path), and the next one (the shell's retry) succeeds on a fresh handshake: all within 3 s.
TEST(TunnelSim, ServerRestartDetectedAndReplaced) {
  EndToEnd e(test::client_config(), test::server_config(), test::wire_obf_config(), path(20),
             path(20), 7);
  EchoClient app;
  e.on_client = std::ref(app);
  e.on_server = echo_server;
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 5000));
  const SessionId first = e.client.current_id();
  e.run_for(5000);
  const LinkStats first_link = e.client.current()->link()->stats();
  const std::uint64_t first_initiations = e.client.current()->stats().initiations_sent;

  e.restart_server();
  const TimeMs restart = e.now();
  (void)e.client.open_stream(e.now(), e.wall());  // the request in flight
  ASSERT_TRUE(e.run_until([&] { return !app.failures.empty(); }, 10'000));
  const TimeMs detected = app.failed_at;
  EXPECT_EQ(app.failures.back().kind, ClientEventKind::SessionClosed);
  EXPECT_EQ(app.failures.back().error, make_error_code(Errc::liveness_timeout));
  EXPECT_EQ(app.failures.back().session, first);
  EXPECT_EQ(detected - restart, 1500u) << "the liveness minimum (RTT 40 ms)";
  EXPECT_GT(e.server->stats().drop_unknown_session, 0u);
  EXPECT_EQ(e.server->session_count(), 0u) << "the new server never answered with state";

  (void)e.client.open_stream(e.now(), e.wall());  // the retry: a fresh session and socket
  EXPECT_NE(e.client.current_id(), first);
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 3000));
  EXPECT_LE(e.now() - restart, 3000u);
  EXPECT_EQ(e.server->session_count(), 1u);
  EXPECT_EQ(e.client.stats().sessions_died, 1u);
  // Totals keep the replaced session's counters (the control socket reads these).
  const LinkStats now = e.client.current()->link()->stats();
  EXPECT_GE(e.client.link_totals().datagrams_out, first_link.datagrams_out + now.datagrams_out);
  EXPECT_GE(e.client.link_totals().segment_bytes_in, first_link.segment_bytes_in + now.segment_bytes_in);
  EXPECT_GE(e.client.session_totals().initiations_sent,
            first_initiations + e.client.current()->stats().initiations_sent);
}

// An idle client with nothing to send still notices a restarted server at its next keepalive
// (20 s) plus the liveness bound.
TEST(TunnelSim, IdleClientNoticesRestartAtKeepalive) {
  EndToEnd e(test::client_config(), test::server_config(), test::wire_obf_config(), path(20),
             path(20), 8);
  EchoClient app;
  e.on_client = std::ref(app);
  e.on_server = echo_server;
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 5000));
  const TimeMs restart = e.now();
  e.restart_server();
  ASSERT_TRUE(e.run_until([&] { return !app.failures.empty(); }, 60'000));
  EXPECT_EQ(app.failures.back().error, make_error_code(Errc::liveness_timeout));
  EXPECT_LE(app.failed_at - restart, 20'000u + 1500u);
}

// An established client that stays idle for 5 minutes keeps its server session (the mux NOP
// every 20 s refreshes the 120 s idle timer), and a stream still works afterwards.
TEST(TunnelSim, KeepaliveKeepsServerSessionPastIdleTimeout) {
  EndToEnd e(test::client_config(), test::server_config(), test::wire_obf_config(), path(25),
             path(25), 9);
  EchoClient app;
  e.on_client = std::ref(app);
  e.on_server = echo_server;
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 5000));
  const auto ids = e.server->session_ids();
  ASSERT_EQ(ids.size(), 1u);
  e.run_for(300'000);
  EXPECT_EQ(e.server->session_ids(), ids);
  EXPECT_TRUE(app.failures.empty());
  EXPECT_EQ(e.client.current()->state(), ClientState::Established);
  app.message = "still here";
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 2000));
  EXPECT_EQ(e.client.stats().sessions_started, 1u);
}

// Without keepalive the server forgets the idle session after 120 s (the reference's
// behaviour), which the client then detects on its next request.
TEST(TunnelSim, WithoutKeepaliveTheServerForgets) {
  ClientConfig cc = test::client_config();
  cc.link.mux.keepalive_interval_ms = 0;
  EndToEnd e(cc, test::server_config(), test::wire_obf_config(), path(25), path(25), 10);
  EchoClient app;
  e.on_client = std::ref(app);
  e.on_server = echo_server;
  (void)e.client.open_stream(e.now(), e.wall());
  ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 5000));
  e.run_for(125'000);
  EXPECT_EQ(e.server->session_count(), 0u);
  bool idle_closed = false;
  for (const auto& ev : e.server_events) {
    idle_closed |= ev.kind == ServerEventKind::SessionClosed &&
                   ev.error == make_error_code(Errc::idle_timeout);
  }
  EXPECT_TRUE(idle_closed);
}

// Segment packing (docs/protocol.md 3.1): negotiated only when the client's Initiation
// carries the capability tag and the server knows the key; then both ends pack (the server at
// once, announced by a WINS; the client on the first packed datagram). A Rust-like client (no
// tag) or a Rust-like server (no key) sees exactly one segment per datagram.
TEST(TunnelSim, SegmentPackingIsNegotiated) {
  obf::Config obf = test::wire_obf_config();
  obf.s[0] = 40;  // room for the tag (S1 >= 24)
  const crypto::Key32 key = envelope::capability_key(obf);
  struct Case {
    bool offer, serve;
  };
  std::uint64_t client_datagrams[2] = {0, 0};  // [packing off, on] for the same transfer
  for (const Case c : {Case{true, true}, Case{false, true}, Case{true, false}}) {
    ClientConfig cc = test::client_config();
    ServerConfig sc = test::server_config();
    if (c.offer) {
      cc.auth.capability_key = key;
      cc.link.follow_packing = true;
    }
    if (c.serve) sc.capability_key = key;
    EndToEnd e(cc, sc, obf, path(20, 0.01), path(20, 0.01), 77);
    EchoClient app;
    app.message = std::string(30'000, 'p');
    e.on_client = std::ref(app);
    e.on_server = echo_server;
    (void)e.client.open_stream(e.now(), e.wall());
    ASSERT_TRUE(e.run_until([&] { return last_ready(e) && app.echoed(*last_ready(e)); }, 60'000))
        << c.offer << c.serve;
    e.run_for(500);  // the client's last ACKs reach the server
    const bool both = c.offer && c.serve;
    const Link* cl = e.client.current()->link();
    ASSERT_NE(cl, nullptr);
    const auto ids = e.server->session_ids();
    ASSERT_EQ(ids.size(), 1u);
    const Link* sl = e.server->link(ids[0]);
    EXPECT_EQ(e.server->stats().sessions_packing, both ? 1u : 0u);
    EXPECT_EQ(cl->packing(), both);
    EXPECT_EQ(sl->packing(), both);
    EXPECT_EQ(cl->stats().packed_datagrams_in > 0, both) << "the client got packed datagrams";
    EXPECT_EQ(sl->stats().packed_datagrams_in > 0, both) << "the server got packed datagrams";
    if (!c.serve) client_datagrams[0] = cl->stats().datagrams_out;
    if (both) client_datagrams[1] = cl->stats().datagrams_out;
  }
  // Packed ACKs: the same transfer costs the client far fewer datagrams.
  EXPECT_LT(client_datagrams[1] * 5, client_datagrams[0] * 4)
      << client_datagrams[1] << " vs " << client_datagrams[0];
}

// The capability tag itself: only a client that wrote it under the same key has it.
TEST(TunnelSim, CapabilityTag) {
  obf::Config obf = test::wire_obf_config();
  obf::Config other = obf;
  other.h[0].end += 1;
  const crypto::Key32 key = envelope::capability_key(obf);
  EXPECT_NE(key, envelope::capability_key(other));
  SeededRng rng(5);
  for (std::size_t s1 : {24u, 40u, 300u}) {
    Bytes d(s1 + 4 + 16);
    rng.fill(d);
    EXPECT_FALSE(envelope::has_capability_tag(d, s1, key)) << "a random prefix has no tag";
    ASSERT_TRUE(envelope::write_capability_tag(d, s1, key));
    EXPECT_TRUE(envelope::has_capability_tag(d, s1, key));
    EXPECT_FALSE(envelope::has_capability_tag(d, s1, envelope::capability_key(other)));
    for (std::size_t i = 0; i < s1; ++i) {
      Bytes t = d;
      t[i] ^= 0x01;
      EXPECT_FALSE(envelope::has_capability_tag(t, s1, key)) << "byte " << i;
    }
  }
  Bytes small(23 + 4);
  EXPECT_FALSE(envelope::write_capability_tag(small, 23, key)) << "S1 below 24: no room";
  EXPECT_FALSE(envelope::has_capability_tag(small, 23, key));
}

}  // namespace
}  // namespace paniq::tunnel
