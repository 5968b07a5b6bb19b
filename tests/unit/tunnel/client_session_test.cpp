// ClientSession: preamble order and pacing, Initiation retransmission, Response handling and
// the first transport datagram against tests/vectors/wire-example.json.
#include <gtest/gtest.h>

#include "envelope/transport.hpp"
#include "tunnel/client.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::kWall;

struct Sent {
  TimeMs at;
  Bytes data;
};

// Runs the session's timers until `until`, collecting what it sends and when.
std::vector<Sent> drive(ClientSession& s, TimeMs from, TimeMs until) {
  std::vector<Sent> out;
  TimeMs t = from;
  for (;;) {
    const auto tx = s.transmit();
    for (const ByteView d : tx) out.push_back({t, Bytes(d.begin(), d.end())});
    s.consume_transmit(tx.size());
    const auto next = s.next_timeout();
    if (!next || *next > until) break;
    t = std::max(t, *next);
    s.handle_timeout(t);
  }
  return out;
}

Bytes response_for(const obf::Framer& fr, std::uint32_t conv, Rng& rng) {
  return envelope::build_response(fr, conv, rng);
}

TEST(ClientSession, PreambleOrderAndPacing) {
  const obf::Config oc = test::preamble_obf_config();
  const obf::Framer fr = test::framer(oc);
  SeededRng rng(1);
  ClientConfig cfg = test::client_config();
  cfg.preamble_delay_ms = 5;
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(1000, kWall));
  EXPECT_EQ(s.state(), ClientState::Handshaking);
  const auto sent = drive(s, 1000, 1100);
  // 3 junk, 2 signatures (I1, I3), then the Initiation: 6 datagrams, 5 ms apart.
  ASSERT_EQ(sent.size(), 6u);
  for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i].at, 1000 + 5 * i) << i;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_GE(sent[i].data.size(), 10u);
    EXPECT_LE(sent[i].data.size(), 20u);
  }
  EXPECT_EQ(sent[3].data.size(), 2u + 8u);
  EXPECT_EQ(sent[3].data[0], 0xf0);
  EXPECT_EQ(sent[3].data[1], 0x0d);
  EXPECT_EQ(sent[4].data.size(), 4u + 4u);
  EXPECT_EQ(get_u32_be(sent[4].data.data()), 1'700'000'000u) << "<t> uses the wall time given";
  const auto c = fr.classify(sent[5].data);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, obf::MessageType::Initiation);
  EXPECT_TRUE(c->payload.empty()) << "Rust clients send an empty payload";
  EXPECT_EQ(sent[5].data.size(), oc.s[0] + 4u);
  EXPECT_EQ(Bytes(s.initiation().begin(), s.initiation().end()), sent[5].data);
  EXPECT_EQ(s.stats().preamble_datagrams, 5u);
  EXPECT_EQ(s.stats().initiations_sent, 1u);
}

TEST(ClientSession, PreambleJitterStaysInRange) {
  const obf::Framer fr = test::framer(test::preamble_obf_config());
  SeededRng rng(2);
  ClientConfig cfg = test::client_config();
  cfg.preamble_delay_ms = 4;
  cfg.preamble_jitter_ms = 6;
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  const auto sent = drive(s, 0, 200);
  ASSERT_EQ(sent.size(), 6u);
  bool varied = false;
  for (std::size_t i = 1; i < sent.size(); ++i) {
    const TimeMs gap = sent[i].at - sent[i - 1].at;
    EXPECT_GE(gap, 4u);
    EXPECT_LE(gap, 10u);
    varied |= gap != sent[1].at - sent[0].at;
  }
  EXPECT_TRUE(varied);
}

TEST(ClientSession, InitiationRetransmittedIdenticallyThenFails) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(3);
  ClientConfig cfg = test::client_config();
  cfg.handshake_timeout_ms = 1000;
  cfg.handshake_attempts = 3;
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  const auto sent = drive(s, 0, 100'000);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].at, 0u);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(sent[i].data, sent[0].data) << "same bytes on every attempt";
    const TimeMs gap = sent[i].at - sent[i - 1].at;
    EXPECT_GE(gap, 1000u);
    EXPECT_LE(gap, 1125u) << "timeout + up to 1/8 jitter";
  }
  EXPECT_EQ(s.state(), ClientState::Closed);
  EXPECT_EQ(s.failure(), make_error_code(Errc::handshake_timeout));
  EXPECT_FALSE(s.next_timeout());
  auto e = s.poll_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::SessionClosed);
  EXPECT_EQ(e->error, make_error_code(Errc::handshake_timeout));
  EXPECT_FALSE(s.poll_event());
  EXPECT_EQ(s.stats().initiations_sent, 3u);
}

TEST(ClientSession, IgnoresEverythingButAValidResponse) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(4);
  ClientSession s(test::client_config(), fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  drive(s, 0, 0);
  // Response with the header outside H2 (201 instead of 200): not a Response.
  Bytes wrong_header = test::hex("ddeec900000078563412");
  s.handle_datagram(wrong_header, 1);
  // Garbage, an empty datagram, an Initiation and a Transport frame.
  SeededRng g(5);
  for (int i = 0; i < 200; ++i) {
    Bytes junk(g.uniform(0, 64));
    g.fill(junk);
    s.handle_datagram(junk, 2);
  }
  s.handle_datagram(Bytes{}, 2);
  s.handle_datagram(test::hex("aabbcc96000000"), 3);
  s.handle_datagram(test::hex(test::load_vectors("wire-example.json")["server_transport_ack"]
                                  ["datagram_hex"].get<std::string>()),
                    3);
  // A Response whose payload is too short for a conv.
  Bytes short_resp = test::hex("ddeec8000000785634");
  s.handle_datagram(short_resp, 4);
  EXPECT_EQ(s.state(), ClientState::Handshaking);
  EXPECT_EQ(s.stats().ignored_short_response, 1u);
  EXPECT_EQ(s.stats().ignored_unexpected, 2u);
  EXPECT_GE(s.stats().ignored_unclassified, 190u);
  EXPECT_FALSE(s.poll_event());
  // The real Response still establishes the session.
  s.handle_datagram(test::hex("ddeec800000078563412"), 5);
  EXPECT_EQ(s.state(), ClientState::Established);
  EXPECT_EQ(s.conv(), 0x12345678u);
  auto e = s.poll_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::Established);
  // A late duplicate Response is noise now.
  s.handle_datagram(response_for(fr, 0x9999, rng), 6);
  EXPECT_EQ(s.conv(), 0x12345678u);
  EXPECT_EQ(s.stats().ignored_unexpected, 3u);
}

// The first transport datagram of a client with the vector's config and conv 0x12345678:
// 1-byte prefix, header in H4, u16 length, then exactly the vector's KCP segment (PUSH sn 0,
// ts 1000, wnd 1024, smux SYN(3) + PSH(3, "CONNECT example.com:443")), then the padding.
TEST(ClientSession, FirstTransportDatagramMatchesWireExample) {
  const auto v = test::load_vectors("wire-example.json");
  const auto& ct = v["client_transport_1"];
  const Bytes want_segment = test::hex(ct["kcp_segment_hex"].get<std::string>());
  const Bytes request = test::hex(ct["proxy_request_hex"].get<std::string>());
  const Bytes padding = test::hex(ct["padding_hex"].get<std::string>());
  const Bytes want_datagram = test::hex(ct["datagram_hex"].get<std::string>());

  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(6);
  ClientConfig cfg = test::client_config();
  cfg.link.padding.enabled = true;
  cfg.link.padding.pad_min = cfg.link.padding.pad_max = static_cast<std::uint32_t>(padding.size());
  cfg.link.padding.pad_burst_prob = 0.0;
  cfg.link.sizes = [&] {
    envelope::SizeInputs in;
    in.s4 = 1;
    in.padding = cfg.link.padding;
    return envelope::derive_sizes(in);
  }();
  cfg.link.kcp.mtu = cfg.link.sizes.kcp_mtu;
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  drive(s, 0, 0);
  s.handle_datagram(test::hex(v["response_datagram_hex"].get<std::string>()), 1000);
  ASSERT_EQ(s.state(), ClientState::Established);
  ASSERT_EQ(s.conv(), v["conv_id"].get<std::uint32_t>());
  auto id = s.mux()->open_stream(1000);
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 3u);
  ASSERT_EQ(*s.mux()->write(*id, request, 1000), request.size());
  s.flush(1000);
  const auto tx = s.transmit();
  ASSERT_EQ(tx.size(), 1u);
  const ByteView d = tx[0];
  ASSERT_EQ(d.size(), want_datagram.size());
  const auto c = fr.classify(d);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, obf::MessageType::Transport);
  const std::uint32_t header = get_u32_le(d.data() + 1);
  EXPECT_GE(header, 1000u);
  EXPECT_LE(header, 1999u);
  EXPECT_EQ(Bytes(d.begin() + 5, d.begin() + 7), Bytes(want_datagram.begin() + 5, want_datagram.begin() + 7));
  EXPECT_EQ(Bytes(d.begin() + 7, d.end() - 3), want_segment);
  const auto tv = envelope::decode_transport(c->payload, false);
  ASSERT_TRUE(tv);
  EXPECT_EQ(tv->padding_len, padding.size());
}

TEST(ClientSession, LowOrderServerKeyFailsStart) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(7);
  ClientConfig cfg = test::client_config();
  cfg.auth.server_public = crypto::Key32{};  // all zero: a low-order point
  ClientSession s(cfg, fr, rng);
  auto r = s.start(0, kWall);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::initiation_failed));
  EXPECT_EQ(s.state(), ClientState::Closed);
  EXPECT_TRUE(s.transmit().empty());
  auto e = s.poll_event();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, EventKind::SessionClosed);
  EXPECT_THROW((void)s.start(0, kWall), std::logic_error);
}

TEST(ClientSession, GoStyleInitiationCarriesAuthPayload) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(8);
  ClientConfig cfg = test::client_config();
  crypto::Key32 server_secret{};
  server_secret.fill(0x42);
  cfg.auth.server_public = crypto::x25519_public(server_secret);
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  const auto c = fr.classify(s.initiation());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->payload.size(), cfg.auth.payload_len());
}

// Issue #6: each retransmission of the (identical) Initiation follows a fresh preamble, as the
// Go client sends it, with <t> at the time of sending, so a server that checks signatures still
// gets them when the first ones were lost.
TEST(ClientSession, RetransmissionResendsAFreshPreamble) {
  const obf::Framer fr = test::framer(test::preamble_obf_config());
  SeededRng rng(10);
  ClientConfig cfg = test::client_config();
  cfg.preamble_delay_ms = 5;
  cfg.handshake_timeout_ms = 2000;
  cfg.handshake_attempts = 2;
  ClientSession s(cfg, fr, rng);
  ASSERT_TRUE(s.start(1000, kWall));
  const auto sent = drive(s, 1000, 100'000);
  // 3 junk, 2 signatures, Initiation; then again, 2 s later.
  ASSERT_EQ(sent.size(), 12u);
  EXPECT_EQ(sent[11].data, sent[5].data) << "the same Initiation bytes";
  EXPECT_GE(sent[6].at, 3000u);
  EXPECT_LE(sent[6].at, 3275u) << "timeout + up to 1/8 jitter after the first Initiation";
  EXPECT_NE(sent[6].data, sent[0].data) << "fresh junk";
  EXPECT_EQ(get_u32_be(sent[4].data.data()), 1'700'000'000u);
  const std::uint32_t t2 = get_u32_be(sent[10].data.data());
  EXPECT_EQ(t2, 1'700'000'000u + (sent[6].at - 1000) / 1000) << "<t> of the retransmission";
  EXPECT_EQ(s.stats().preamble_datagrams, 10u);
  EXPECT_EQ(s.stats().initiations_sent, 2u);
  EXPECT_EQ(s.failure(), make_error_code(Errc::handshake_timeout));
}

TEST(ClientSession, EncryptedTimestampsRiseAcrossSessions) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  crypto::Key32 server_secret{};
  server_secret.fill(0x42);
  ClientConfig cfg = test::client_config();
  cfg.auth.server_public = crypto::x25519_public(server_secret);
  envelope::Tai64nStamper stamper;
  std::optional<WallTime> last;
  for (int i = 0; i < 3; ++i) {
    SeededRng rng(20 + i);
    ClientSession s(cfg, fr, rng, &stamper);
    ASSERT_TRUE(s.start(0, kWall));  // the same wall time every time (a clock read twice)
    const auto c = fr.classify(s.initiation());
    ASSERT_TRUE(c);
    auto t = envelope::open_timestamp(c->payload, server_secret);
    ASSERT_TRUE(t);
    if (last) {
      EXPECT_TRUE(t->seconds > last->seconds || (t->seconds == last->seconds && t->nanos > last->nanos))
          << "strictly rising";
    }
    last = *t;
  }
}

TEST(ClientSession, CloseDuringHandshake) {
  const obf::Framer fr = test::framer(test::wire_obf_config());
  SeededRng rng(9);
  ClientSession s(test::client_config(), fr, rng);
  ASSERT_TRUE(s.start(0, kWall));
  s.close(make_error_code(Errc::closed));
  EXPECT_EQ(s.state(), ClientState::Closed);
  EXPECT_TRUE(s.transmit().empty());
  s.handle_datagram(test::hex("ddeec800000078563412"), 1);
  EXPECT_EQ(s.state(), ClientState::Closed) << "a Response after close changes nothing";
}

}  // namespace
}  // namespace paniq::tunnel
