// Framer (PROTOCOL.md 3.5, 3.6): vectors, reference ports, both classify modes, properties.
#include <gtest/gtest.h>

#include <algorithm>

#include "obf/errors.hpp"
#include "obf/framer.hpp"
#include "support/vectors.hpp"

namespace paniq::obf {
namespace {

using test::hex;
constexpr std::uint32_t kMax = 0xFFFFFFFFu;
constexpr MessageType kTypes[4] = {MessageType::Initiation, MessageType::Response,
                                   MessageType::CookieReply, MessageType::Transport};

Framer make(const Config& cfg) {
  auto f = Framer::create(cfg);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(*f) : Framer{};
}

Bytes view_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }

TEST(FramerVectors, ObfParityFrames) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_FALSE(v["frames"].empty());
  for (const auto& f : v["frames"]) {
    Config cfg;
    cfg.h = {{*parse_header_range(f["header"].get<std::string>()), {200, 200}, {300, 300},
              {400, 400}}};
    cfg.s[0] = f["padding"].get<std::uint32_t>();
    const Framer framer = make(cfg);
    const auto t = static_cast<MessageType>(f["msg_type"].get<int>());
    const Bytes payload = hex(f["payload_hex"]);
    SeededRng rng(1);
    EXPECT_EQ(to_hex(framer.encode(t, payload, rng)), f["output_hex"].get<std::string>());
    const Bytes wire = hex(f["output_hex"]);
    auto c = framer.classify(wire);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->type, t);
    EXPECT_EQ(view_bytes(c->payload), payload);
  }
}

struct WireCase {
  const char* key;
  MessageType type;
};

Config wire_config(const nlohmann::json& j) {
  Config cfg;
  for (std::size_t k = 0; k < 4; ++k) {
    const std::string n = std::to_string(k + 1);
    cfg.s[k] = j["s" + n].get<std::uint32_t>();
    auto h = parse_header_field(k, j["h" + n].get<std::string>());
    EXPECT_TRUE(h.ok());
    if (h.ok()) cfg.h[k] = *h;
  }
  return cfg;
}

TEST(FramerVectors, WireExampleClassifiesAndReencodes) {
  const auto v = test::load_vectors("wire-example.json");
  for (ClassifyMode mode : {ClassifyMode::FirstMatch, ClassifyMode::Strict}) {
    Config cfg = wire_config(v["config"]);
    cfg.classify = mode;
    const Framer framer = make(cfg);
    const std::pair<Bytes, MessageType> cases[] = {
        {hex(v["initiation_datagram_hex"]), MessageType::Initiation},
        {hex(v["response_datagram_hex"]), MessageType::Response},
        {hex(v["client_transport_1"]["datagram_hex"]), MessageType::Transport},
        {hex(v["server_transport_ack"]["datagram_hex"]), MessageType::Transport},
        {hex(v["server_transport_reply"]["datagram_hex"]), MessageType::Transport},
        {hex(v["transport_with_counter"]["datagram_hex"]), MessageType::Transport},
    };
    for (const auto& [wire, type] : cases) {
      const std::size_t prefix = framer.prefix_len(type);
      auto c = framer.classify(wire);
      ASSERT_TRUE(c.has_value()) << to_hex(wire);
      EXPECT_EQ(c->type, type) << to_hex(wire);
      EXPECT_EQ(c->payload.data(), wire.data() + prefix);  // a view, not a copy
      EXPECT_EQ(view_bytes(c->payload), Bytes(wire.begin() + static_cast<long>(prefix), wire.end()));
      // Re-encode: the padding bytes, then the 4 bytes whose value mod width + start is the header.
      const HeaderRange& h = cfg.h[index(type)];
      const std::uint32_t value = get_u32_le(wire.data() + cfg.s[index(type)]);
      ScriptedRng rng;
      rng.push(ByteView(wire).first(cfg.s[index(type)]));
      if (h.start != h.end) {
        std::uint8_t draw[4];
        put_u32_le(draw, value - h.start);
        rng.push(draw);
      }
      EXPECT_EQ(to_hex(framer.encode(type, c->payload, rng)), to_hex(wire));
      EXPECT_EQ(rng.remaining(), 0u);
    }
  }
}

TEST(FramerVectors, WireExamplePayloadContents) {
  const auto v = test::load_vectors("wire-example.json");
  const Framer framer = make(wire_config(v["config"]));
  EXPECT_TRUE(framer.classify(hex(v["initiation_datagram_hex"]))->payload.empty());
  EXPECT_EQ(to_hex(framer.classify(hex(v["response_datagram_hex"]))->payload), "78563412");
  for (const char* key : {"client_transport_1", "server_transport_ack", "server_transport_reply",
                          "transport_with_counter"}) {
    const auto& j = v[key];
    const Bytes wire = hex(j["datagram_hex"]);
    const std::string payload = to_hex(framer.classify(wire)->payload);
    const Bytes seg = hex(j["kcp_segment_hex"]);
    std::string expect;
    if (j.contains("counter")) {
      std::uint8_t ctr[8];
      put_u64_be(ctr, j["counter"].get<std::uint64_t>());
      expect += to_hex(ctr);
    }
    std::uint8_t len[2];
    put_u16_be(len, static_cast<std::uint16_t>(seg.size()));
    expect += to_hex(len) + to_hex(seg) + (j.contains("padding_hex") ? j["padding_hex"].get<std::string>() : "");
    EXPECT_EQ(payload, expect) << key;
  }
}

// Port of the reference's framer_round_trip.
TEST(FramerReference, RoundTrip) {
  Config cfg;
  cfg.h[0] = {10, 10};
  const Framer framer = make(cfg);
  SeededRng rng(3);
  const Bytes wire = framer.encode(MessageType::Initiation, as_bytes("hello"), rng);
  EXPECT_EQ(to_hex(wire), "0a000000" + to_hex(as_bytes("hello")));
  auto c = framer.classify(wire);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->type, MessageType::Initiation);
  EXPECT_EQ(view_bytes(c->payload), view_bytes(as_bytes("hello")));
}

// Port of the reference's framer_rng_can_be_seeded.
TEST(FramerReference, SeededFramersAreDeterministic) {
  Config cfg;
  cfg.jc = 3;
  cfg.jmin = 10;
  cfg.jmax = 50;
  cfg.s = {5, 6, 7, 8};
  cfg.h = {{{100, 199}, {200, 299}, {300, 399}, {400, 499}}};
  cfg.i[0] = "<b 0xf0><r 8><rc 4><t>";
  const Framer a = make(cfg), b = make(cfg);
  SeededRng ra(9), rb(9);
  EXPECT_EQ(a.encode(MessageType::Transport, as_bytes("x"), ra),
            b.encode(MessageType::Transport, as_bytes("x"), rb));
  EXPECT_EQ(a.junk(ra), b.junk(rb));
  EXPECT_EQ(a.signatures(1700000000, ra), b.signatures(1700000000, rb));
  EXPECT_EQ(a.encode(MessageType::Initiation, {}, ra), b.encode(MessageType::Initiation, {}, rb));
}

TEST(FramerCreate, RejectsInvalidConfig) {
  Config cfg;
  cfg.h[0] = {1, 10};
  auto f = Framer::create(cfg);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, make_error_code(Errc::bad_config));
  EXPECT_EQ(f.error().message, "obfuscation.h1/obfuscation.h2: headers must not overlap (1-10 and 2)");
  Config bad_chain;
  bad_chain.i[2] = "<q>";
  EXPECT_EQ(Framer::create(bad_chain).error().message, "obfuscation.i3: \"<q>\": unknown tag <q>");
}

TEST(FramerCreate, ParsesChains) {
  Config cfg;
  cfg.i = {"<b 01>", "", "<d>", "", "<r 2><t>"};
  const Framer f = make(cfg);
  EXPECT_EQ(f.chains()[0].obfuscated_len(0), 1u);
  EXPECT_TRUE(f.chains()[1].empty());
  EXPECT_EQ(f.chains()[4].obfuscated_len(0), 6u);
  EXPECT_EQ(f.config().i[2], "<d>");
}

TEST(FramerEncode, PrefixLayoutAndDraws) {
  Config cfg;
  cfg.s = {3, 0, 0, 2};
  cfg.h = {{{100, 199}, {5, 5}, {6, 6}, {1000, 1999}}};
  const Framer f = make(cfg);
  EXPECT_EQ(f.prefix_len(MessageType::Initiation), 7u);
  EXPECT_EQ(f.prefix_len(MessageType::Transport), 6u);
  ScriptedRng rng;
  rng.push(hex("aabbcc" "ffffffff"));  // 4294967295 mod 100 = 95 -> 195
  std::uint8_t buf[8] = {};
  f.write_prefix(MessageType::Initiation, rng, buf);
  EXPECT_EQ(to_hex(ByteView(buf, 7)), "aabbcc" "c3000000");
  EXPECT_EQ(buf[7], 0);  // nothing written past the prefix
  EXPECT_EQ(rng.remaining(), 0u);
  // Single-value header: no draw at all, and no padding draw for S = 0.
  ScriptedRng none;
  none.push(hex("01"));
  EXPECT_EQ(to_hex(f.encode(MessageType::Response, hex("99"), none)), "0500000099");
  EXPECT_EQ(none.remaining(), 1u);
  // encode appends.
  Bytes out{0xee};
  ScriptedRng r2;
  r2.push(hex("1122" "e8030000"));  // 1000 mod 1000 = 0 -> 1000
  f.encode(MessageType::Transport, hex("abcd"), r2, out);
  EXPECT_EQ(to_hex(out), "ee" "1122" "e8030000" "abcd");
}

TEST(FramerEncode, HeaderDrawFullRangeAndTop) {
  const HeaderRange full{0, kMax};
  ScriptedRng rng;
  rng.push(hex("ffffffff" "00000000" "78563412"));
  EXPECT_EQ(draw_header_value(full, rng), kMax);
  EXPECT_EQ(draw_header_value(full, rng), 0u);
  EXPECT_EQ(draw_header_value(full, rng), 0x12345678u);
  const HeaderRange top{kMax - 5, kMax};
  ScriptedRng r2;
  r2.push(hex("ffffffff" "05000000" "06000000"));
  EXPECT_EQ(draw_header_value(top, r2), kMax - 5 + 3);  // 4294967295 mod 6 = 3
  EXPECT_EQ(draw_header_value(top, r2), kMax);
  EXPECT_EQ(draw_header_value(top, r2), kMax - 5);
  SeededRng seeded(1);
  for (int i = 0; i < 1000; ++i) {
    const auto v = draw_header_value(HeaderRange{kMax - 1000, kMax - 1}, seeded);
    EXPECT_TRUE(v >= kMax - 1000 && v <= kMax - 1);
  }
  // Near-full range inside a valid config (a full range cannot be disjoint from three others).
  Config cfg;
  cfg.h = {{{0, 0}, {1, 1}, {2, 2}, {3, kMax}}};
  const Framer f = make(cfg);
  ScriptedRng r3;
  r3.push(hex("ffffffff"));  // 4294967295 mod 4294967293 = 2 -> 5
  EXPECT_EQ(to_hex(f.encode(MessageType::Transport, {}, r3)), "05000000");
}

TEST(FramerClassify, ShortAndForeignDatagrams) {
  Config cfg;  // S = 0, H = 1..4
  for (ClassifyMode mode : {ClassifyMode::FirstMatch, ClassifyMode::Strict}) {
    cfg.classify = mode;
    const Framer f = make(cfg);
    EXPECT_FALSE(f.classify({}).has_value());
    EXPECT_FALSE(f.classify(hex("040000")).has_value());   // < 4: "frame too short"
    EXPECT_FALSE(f.classify(hex("05000000")).has_value());  // no range holds 5
    EXPECT_FALSE(f.classify(hex("00000000ff")).has_value());
    auto t = f.classify(hex("04000000"));
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->type, MessageType::Transport);
    EXPECT_TRUE(t->payload.empty());
  }
  Config padded;
  padded.s = {10, 10, 10, 10};
  const Framer p = make(padded);
  EXPECT_FALSE(p.classify(hex("0000000000000000000004")).has_value());  // 11 < S4 + 4
  EXPECT_EQ(p.classify(hex("0000000000000000000003000000"))->type, MessageType::CookieReply);
}

// Ambiguity across offsets: FirstMatch returns the reference's choice, Strict drops it.
TEST(FramerClassify, AmbiguousDatagram) {
  Config cfg;
  cfg.s = {4, 8, 0, 0};
  cfg.h = {{{5, 5}, {6, 6}, {7, 7}, {1000, 1000}}};
  // u32 1000 at 0 (Transport), 5 at 4 (Initiation), 6 at 8 (Response).
  const Bytes wire = hex("e8030000" "05000000" "06000000" "aa");
  const Framer first = make(cfg);
  auto c = first.classify(wire);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->type, MessageType::Transport);  // Transport fast path wins
  EXPECT_EQ(to_hex(c->payload), "05000000" "06000000" "aa");
  cfg.classify = ClassifyMode::Strict;
  const Framer strict = make(cfg);
  EXPECT_FALSE(strict.classify(wire).has_value());

  // Initiation and Response both match (no Transport): Initiation comes first.
  const Bytes ir = hex("00000000" "05000000" "06000000");
  EXPECT_EQ(first.classify(ir)->type, MessageType::Initiation);
  EXPECT_FALSE(strict.classify(ir).has_value());
  // Response and CookieReply: Response first.
  const Bytes rc = hex("07000000" "00000000" "06000000");
  EXPECT_EQ(first.classify(rc)->type, MessageType::Response);
  EXPECT_EQ(to_hex(first.classify(rc)->payload), "");
  EXPECT_FALSE(strict.classify(rc).has_value());
  // Exactly one match is accepted by Strict.
  const Bytes only = hex("07000000" "00000000");
  EXPECT_EQ(strict.classify(only)->type, MessageType::CookieReply);
  EXPECT_EQ(to_hex(strict.classify(only)->payload), "00000000");
}

// Random disjoint ranges of random widths, some touching 0 and 0xFFFFFFFF, assigned to types in
// random order.
std::array<HeaderRange, 4> random_ranges(SeededRng& rng) {
  std::uint64_t widths[4];
  std::uint64_t total = 0;
  for (auto& w : widths) {
    switch (rng.uniform(0, 3)) {
      case 0: w = 1; break;
      case 1: w = rng.uniform(2, 1000); break;
      case 2: w = rng.uniform(1001, 1u << 20); break;
      default: w = rng.uniform(1u << 20, 1u << 30); break;
    }
    total += w;
  }
  const std::uint64_t slack = (std::uint64_t{1} << 32) - total;
  const bool touch_low = rng.uniform(0, 3) == 0, touch_high = rng.uniform(0, 3) == 0;
  std::array<HeaderRange, 4> r{};
  std::uint64_t pos = touch_low ? 0 : rng.uniform(0, slack / 5);
  for (std::size_t k = 0; k < 4; ++k) {
    r[k] = {static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(pos + widths[k] - 1)};
    pos += widths[k] + rng.uniform(0, slack / 5);
  }
  if (touch_high) r[3].end = kMax;
  for (std::size_t k = 3; k > 0; --k) std::swap(r[k], r[rng.uniform(0, k)]);
  return r;
}

// Independent statement of 3.6: which types match at their own offset, in reference order.
std::vector<MessageType> matching(const Config& cfg, ByteView d) {
  std::vector<MessageType> out;
  if (d.size() < 4) return out;
  for (MessageType t : {MessageType::Transport, MessageType::Initiation, MessageType::Response,
                        MessageType::CookieReply}) {
    const std::size_t s = cfg.s[index(t)];
    if (d.size() >= s + 4 && cfg.h[index(t)].contains(get_u32_le(d.data() + s))) out.push_back(t);
  }
  return out;
}

TEST(FramerProperty, RandomConfigsEncodeClassify) {
  SeededRng rng(0x0bf5eed);
  int unambiguous = 0, touched_low = 0, touched_high = 0;
  constexpr int kIters = 5000;
  Bytes wire;
  for (int iter = 0; iter < kIters; ++iter) {
    Config cfg;
    for (auto& s : cfg.s) s = static_cast<std::uint32_t>(rng.uniform(0, 600));
    cfg.h = random_ranges(rng);
    for (const auto& h : cfg.h) {
      touched_low += h.start == 0;
      touched_high += h.end == kMax;
    }
    const Framer first = make(cfg);
    cfg.classify = ClassifyMode::Strict;
    const Framer strict = make(cfg);
    const MessageType t = kTypes[rng.uniform(0, 3)];
    Bytes payload(rng.uniform(0, 64));
    rng.fill(payload);
    wire.clear();
    first.encode(t, payload, rng, wire);
    ASSERT_EQ(wire.size(), first.prefix_len(t) + payload.size());
    ASSERT_TRUE(cfg.h[index(t)].contains(get_u32_le(wire.data() + cfg.s[index(t)])));

    const auto m = matching(cfg, wire);
    ASSERT_FALSE(m.empty());
    auto c = first.classify(wire);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->type, m.front()) << iter;  // documented first-match order
    EXPECT_EQ(c->payload.data(), wire.data() + first.prefix_len(c->type));
    EXPECT_EQ(c->payload.size(), wire.size() - first.prefix_len(c->type));
    auto sc = strict.classify(wire);
    if (m.size() == 1) {
      ++unambiguous;
      EXPECT_EQ(c->type, t);
      EXPECT_EQ(view_bytes(c->payload), payload);
      ASSERT_TRUE(sc.has_value());
      EXPECT_EQ(sc->type, t);
      EXPECT_EQ(view_bytes(sc->payload), payload);
    } else {
      EXPECT_FALSE(sc.has_value()) << iter;
    }
  }
  // The generator must mostly produce unambiguous datagrams and exercise the extremes.
  EXPECT_GT(unambiguous, kIters * 3 / 4);
  EXPECT_LT(unambiguous, kIters);
  EXPECT_GT(touched_low, kIters / 10);
  EXPECT_GT(touched_high, kIters / 10);
}

}  // namespace
}  // namespace paniq::obf
