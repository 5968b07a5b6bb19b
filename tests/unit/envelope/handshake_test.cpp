#include "envelope/handshake.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::envelope {
namespace {

using obf::MessageType;
using test::hex;

crypto::Key32 key32(const std::string& h) {
  const Bytes b = hex(h);
  crypto::Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

obf::Framer framer_from(const nlohmann::json& f) {
  obf::Config cfg;
  for (int k = 0; k < 4; ++k) {
    const std::string n = std::to_string(k + 1);
    cfg.s[k] = f.at("s" + n).get<std::uint32_t>();
    auto h = obf::parse_header_range(f.at("h" + n).get<std::string>());
    EXPECT_TRUE(h.ok());
    if (h.ok()) cfg.h[k] = *h;
  }
  auto framer = obf::Framer::create(cfg);
  if (!framer.ok()) throw std::runtime_error(framer.error().message);
  return std::move(*framer);
}

// 4 bytes that the framer's header draw (u32 LE mod width + start) maps to `value`.
Bytes header_draw_for(const obf::Framer& f, std::uint32_t value) {
  const obf::HeaderRange h = f.config().h[obf::index(MessageType::Initiation)];
  if (h.start == h.end) return {};
  Bytes b(4);
  put_u32_le(b.data(), value - h.start);
  return b;
}

WallTime time_of(const nlohmann::json& in) {
  return WallTime{in.at("unix_seconds").get<std::int64_t>(),
                  in.at("unix_nanoseconds").get<std::uint32_t>()};
}

TEST(Handshake, GoAuthenticatedInitiationByteForByte) {
  const auto v = test::load_vectors("go-auth-initiation-vectors.json");
  for (const auto& c : v.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& in = c.at("inputs");
    const obf::Framer framer = framer_from(c.at("framer"));
    const ServerKeys keys = ServerKeys::from_private(key32(in.at("server_private_key_hex")));
    // The Go client's draw order: ephemeral secret, nonce, padding, header.
    ScriptedRng rng;
    rng.push(hex(in.at("client_ephemeral_private_key_hex")));
    rng.push(hex(in.at("nonce_hex")));
    rng.push(hex(in.at("padding_hex")));
    rng.push(header_draw_for(framer, in.at("header_value").get<std::uint32_t>()));
    InitiationAuth auth;
    auth.server_public = keys.public_key;
    EXPECT_EQ(auth.payload_len(), 101u);
    auto datagram = build_initiation(framer, rng, auth, time_of(in));
    ASSERT_TRUE(datagram.ok());
    EXPECT_EQ(rng.remaining(), 0u);
    EXPECT_EQ(to_hex(*datagram), c.at("datagram_hex").get<std::string>());

    // Server side: classify, then verify.
    auto cls = framer.classify(*datagram);
    ASSERT_TRUE(cls);
    EXPECT_EQ(cls->type, MessageType::Initiation);
    EXPECT_EQ(to_hex(cls->payload), c.at("intermediates").at("payload_hex").get<std::string>());
    const auto verdict = verify_initiation(*datagram, cls->payload, keys);
    EXPECT_EQ(verdict.mac1, Mac1Check::Valid);
    EXPECT_EQ(verdict.timestamp, TimestampCheck::Valid);
    ASSERT_TRUE(verdict.time);
    EXPECT_EQ(verdict.time->seconds,
              c.at("server_view").at("decoded_unix_seconds").get<std::int64_t>());
  }
}

TEST(Handshake, Mac1OnlyInitiationByteForByte) {
  const auto v = test::load_vectors("go-auth-initiation-vectors.json");
  for (const auto& c : v.at("mac1_only_cases")) {
    const auto& in = c.at("inputs");
    const obf::Framer framer = framer_from(c.at("framer"));
    const ServerKeys keys = ServerKeys::from_private(key32(in.at("server_private_key_hex")));
    ScriptedRng rng;
    rng.push(hex(in.at("padding_hex")));
    rng.push(header_draw_for(framer, in.at("header_value").get<std::uint32_t>()));
    InitiationAuth auth;
    auth.server_public = keys.public_key;
    auth.encrypted_timestamp = false;
    EXPECT_EQ(auth.payload_len(), 16u);
    auto datagram = build_initiation(framer, rng, auth, WallTime{1, 0});
    ASSERT_TRUE(datagram.ok());
    EXPECT_EQ(rng.remaining(), 0u);
    EXPECT_EQ(to_hex(*datagram), c.at("datagram_hex").get<std::string>());
    auto cls = framer.classify(*datagram);
    ASSERT_TRUE(cls);
    const auto verdict = verify_initiation(*datagram, cls->payload, keys);
    EXPECT_EQ(verdict.mac1, Mac1Check::Valid);
    EXPECT_EQ(verdict.timestamp, TimestampCheck::Absent);
  }
}

TEST(Handshake, NegativeCasesRejectedAtTheRightStage) {
  const auto v = test::load_vectors("go-auth-initiation-vectors.json");
  const auto& base = v.at("cases").at(0);
  const obf::Framer framer = framer_from(base.at("framer"));
  const ServerKeys keys =
      ServerKeys::from_private(key32(base.at("inputs").at("server_private_key_hex")));
  const auto& tampered = v.at("negative_cases").at(0);
  const auto& wrong = v.at("negative_cases").at(1);
  for (const auto& [hexstr, mac1, ts] :
       {std::tuple{tampered.at("datagram_mac1_recomputed_hex").get<std::string>(), Mac1Check::Valid,
                   TimestampCheck::Invalid},
        std::tuple{tampered.at("datagram_mac1_stale_hex").get<std::string>(), Mac1Check::Invalid,
                   TimestampCheck::NotChecked},
        std::tuple{wrong.at("datagram_hex").get<std::string>(), Mac1Check::Invalid,
                   TimestampCheck::NotChecked}}) {
    const Bytes d = hex(hexstr);
    auto cls = framer.classify(d);
    ASSERT_TRUE(cls);
    ASSERT_EQ(cls->type, MessageType::Initiation);
    const auto verdict = verify_initiation(d, cls->payload, keys);
    EXPECT_EQ(verdict.mac1, mac1);
    EXPECT_EQ(verdict.timestamp, ts);
    EXPECT_FALSE(verdict.time);
  }
}

TEST(Handshake, RustStyleEmptyInitiationAndResponse) {
  const auto v = test::load_vectors("wire-example.json");
  const obf::Framer framer = framer_from(v.at("config"));
  // Initiation: 3 padding bytes aabbcc, header 150 (draw 50 over start 100), empty payload.
  ScriptedRng rng;
  rng.push(hex("aabbcc"));
  rng.push(header_draw_for(framer, 150));
  auto init = build_initiation(framer, rng, InitiationAuth{}, WallTime{1, 0});
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(to_hex(*init), v.at("initiation_datagram_hex").get<std::string>());
  EXPECT_EQ(rng.remaining(), 0u);
  auto cls = framer.classify(*init);
  ASSERT_TRUE(cls);
  EXPECT_EQ(cls->type, MessageType::Initiation);
  EXPECT_TRUE(cls->payload.empty());

  // Response: 2 padding bytes ddee, header 200 (single value: no draw), conv LE.
  rng.push(hex("ddee"));
  const std::uint32_t conv = v.at("conv_id");
  const Bytes resp = build_response(framer, conv, rng);
  EXPECT_EQ(to_hex(resp), v.at("response_datagram_hex").get<std::string>());
  EXPECT_EQ(rng.remaining(), 0u);
  auto rcls = framer.classify(resp);
  ASSERT_TRUE(rcls);
  EXPECT_EQ(rcls->type, MessageType::Response);
  auto parsed = parse_response_conv(rcls->payload);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, conv);
}

TEST(Handshake, ParseResponseConv) {
  auto extra = parse_response_conv(hex("78563412ffff"));  // extra bytes ignored
  ASSERT_TRUE(extra.ok());
  EXPECT_EQ(*extra, 0x12345678u);
  for (const char* h : {"", "01", "010203"}) {
    auto r = parse_response_conv(hex(h));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::response_too_short);
    EXPECT_EQ(r.error().message, "Response payload too short for conv_id");
  }
}

TEST(Handshake, AuthenticatedInitiationRoundTripWithStamper) {
  obf::Config cfg;
  cfg.s = {5, 7, 0, 3};
  auto framer = obf::Framer::create(cfg);
  ASSERT_TRUE(framer.ok());
  const ServerKeys keys = ServerKeys::from_private(crypto::Key32{0x21});
  InitiationAuth auth;
  auth.server_public = keys.public_key;
  SeededRng rng(8);
  Tai64nStamper stamper;
  WallTime last{};
  for (int i = 0; i < 5; ++i) {
    auto d = build_initiation(*framer, rng, auth, stamper.stamp(WallTime{100, 0}));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->size(), 5u + 4 + 101);
    auto cls = framer->classify(*d);
    ASSERT_TRUE(cls);
    const auto verdict = verify_initiation(*d, cls->payload, keys);
    ASSERT_EQ(verdict.timestamp, TimestampCheck::Valid);
    if (i > 0) {
      EXPECT_TRUE(verdict.time->seconds > last.seconds ||
                  (verdict.time->seconds == last.seconds && verdict.time->nanos > last.nanos));
    }
    last = *verdict.time;
  }
  // A low-order configured key is reported, not sent.
  auth.server_public = crypto::Key32{};
  auto bad = build_initiation(*framer, rng, auth, WallTime{1, 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::low_order_key);
}

}  // namespace
}  // namespace paniq::envelope
