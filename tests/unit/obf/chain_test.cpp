// Chains (PROTOCOL.md 3.2): grammar, errors, golden vectors, ported reference tests, round trips.
#include <gtest/gtest.h>

#include <string>

#include "obf/base64.hpp"
#include "obf/chain.hpp"
#include "obf/errors.hpp"
#include "support/vectors.hpp"

namespace paniq::obf {
namespace {

using test::hex;

Chain must_parse(std::string_view spec) {
  auto c = Chain::parse(spec);
  EXPECT_TRUE(c.ok()) << spec << ": " << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(*c) : Chain{};
}

std::string parse_error(std::string_view spec) {
  auto c = Chain::parse(spec);
  EXPECT_FALSE(c.ok()) << spec;
  if (c.ok()) return "";
  EXPECT_EQ(c.error().code, make_error_code(Errc::bad_chain));
  return c.error().message;
}

std::vector<std::string> names(const Chain& c) {
  std::vector<std::string> out;
  for (std::size_t k = 0; k < c.size(); ++k) out.emplace_back(c.tag(k).name());
  return out;
}

bool all_of(ByteView b, bool (*pred)(std::uint8_t)) {
  for (auto c : b) {
    if (!pred(c)) return false;
  }
  return true;
}
bool is_letter(std::uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }

// Walks `out` tag by tag and checks each segment's layout for payload `payload`; returns the
// "raw choices" that make a ScriptedRng reproduce `out` (r: bytes; rc: letter index; rd: digit).
Bytes check_layout(const Chain& chain, std::string_view spec, ByteView out, ByteView payload,
                   std::uint32_t unix_seconds) {
  Bytes choices;
  std::size_t at = 0;
  for (std::size_t k = 0; k < chain.size(); ++k) {
    const Tag& t = chain.tag(k);
    const std::size_t len = t.obfuscated_len(payload.size());
    EXPECT_LE(at + len, out.size()) << spec;
    if (at + len > out.size()) return choices;
    const ByteView seg = out.subspan(at, len);
    const std::string_view n = t.name();
    if (n == "rc") {
      EXPECT_TRUE(all_of(seg, is_letter)) << spec;
      for (auto c : seg) choices.push_back(static_cast<std::uint8_t>(c >= 'a' ? c - 'a' : c - 'A' + 26));
    } else if (n == "rd") {
      EXPECT_TRUE(all_of(seg, is_digit)) << spec;
      for (auto c : seg) choices.push_back(static_cast<std::uint8_t>(c - '0'));
    } else if (n == "r") {
      choices.insert(choices.end(), seg.begin(), seg.end());
    } else if (n == "d") {
      EXPECT_EQ(Bytes(seg.begin(), seg.end()), Bytes(payload.begin(), payload.end())) << spec;
    } else if (n == "ds") {
      Bytes text(base64::encoded_len(payload.size()));
      base64::encode(payload, text.data());
      EXPECT_EQ(Bytes(seg.begin(), seg.end()), text) << spec;
    } else if (n == "dz") {
      for (std::size_t b = 0; b < len; ++b) {
        const std::size_t shift = len - 1 - b;
        const auto want = shift < 8 ? static_cast<std::uint8_t>(std::uint64_t{payload.size()} >> (8 * shift)) : 0;
        EXPECT_EQ(seg[b], want) << spec << " dz byte " << b;
      }
    } else if (n == "t") {
      EXPECT_EQ(get_u32_be(seg.data()), unix_seconds) << spec;
    } else {  // "b": must de-obfuscate alone, i.e. equal its fixed bytes
      Bytes sink;
      EXPECT_TRUE(t.deobfuscate(seg, sink)) << spec;
    }
    at += len;
  }
  EXPECT_EQ(at, out.size()) << spec;
  return choices;
}

TEST(ChainVectors, ObfParityChains) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_GE(v["chains"].size(), 2u);
  for (const auto& c : v["chains"]) {
    const std::string spec = c["spec"];
    const Bytes input = hex(c["input_hex"]);
    const Bytes output = hex(c["output_hex"]);
    const Chain chain = must_parse(spec);
    EXPECT_EQ(chain.obfuscated_len(input.size()), output.size()) << spec;
    auto back = chain.deobfuscate(output);
    ASSERT_TRUE(back.ok()) << spec << ": " << back.error().message;
    EXPECT_EQ(*back, input) << spec;
    const Bytes choices = check_layout(chain, spec, output, input, 0);
    // Same structure from our side: replaying the vector's choices reproduces it byte for byte.
    ScriptedRng rng;
    rng.push(choices);
    Bytes ours;
    chain.obfuscate(ours, input, 0, rng);
    EXPECT_EQ(to_hex(ours), to_hex(output)) << spec;
    EXPECT_EQ(rng.remaining(), 0u);
  }
}

TEST(ChainVectors, DocumentedExamples) {
  // PROTOCOL.md 3.2 and the vectors README spell these two out.
  const auto v = test::load_vectors("obf-parity-vectors.json");
  const Bytes out0 = hex(v["chains"][0]["output_hex"]);
  EXPECT_EQ(out0.front(), 0x01);
  EXPECT_EQ(to_hex(ByteView(out0).last(4)), "41424344");
  const Bytes out1 = hex(v["chains"][1]["output_hex"]);
  EXPECT_EQ(std::string(out1.begin() + 4, out1.begin() + 11), "aGVsbG8");
  EXPECT_EQ(to_hex(ByteView(out1).last(2)), "0005");
}

// Ports of the reference's src/obf/tests.rs.
TEST(ChainReference, BytesObfMatchesInput) {
  const Chain c = must_parse("<b 0a0b0c>");
  SeededRng rng(1);
  Bytes out;
  c.obfuscate(out, ByteView{}, 0, rng);
  EXPECT_EQ(to_hex(out), "0a0b0c");
  auto back = c.deobfuscate(out);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
}

TEST(ChainReference, ChainObfuscatesInOrder) {
  const Chain c = must_parse("<b 0x0102><dz 2><d>");
  SeededRng rng(1);
  Bytes out;
  c.obfuscate(out, as_bytes("AB"), 0, rng);
  EXPECT_EQ(to_hex(out), "0102" "0002" "4142");
  auto back = c.deobfuscate(out);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, Bytes({'A', 'B'}));
}

TEST(ChainReference, DeterministicRngOutputs) {
  const Chain c = must_parse("<r 4>");
  SeededRng a(42), b(42), other(43);
  EXPECT_EQ(c.signature(0, a), c.signature(0, b));
  EXPECT_EQ(c.signature(0, a).size(), 4u);
  SeededRng a2(42);
  EXPECT_NE(c.signature(0, a2), c.signature(0, other));
}

TEST(ChainGrammar, TextOutsideTagsAndEmptyTags) {
  EXPECT_EQ(names(must_parse("junk <b 01> more <> < \t > <d> tail >")),
            (std::vector<std::string>{"b", "d"}));
  EXPECT_TRUE(must_parse("").empty());
  EXPECT_TRUE(must_parse("no tags here > at all").empty());
  EXPECT_EQ(must_parse("plain").obfuscated_len(10), 0u);
}

TEST(ChainGrammar, WhitespaceAndExtraTokens) {
  const Chain c = must_parse("<  r   4  ignored tokens ><\trc\n2\r><rd\xC2\xA0" "3><dz\xE3\x80\x80" "1>");
  EXPECT_EQ(names(c), (std::vector<std::string>{"r", "rc", "rd", "dz"}));
  EXPECT_EQ(c.obfuscated_len(0), 4u + 2 + 3 + 1);
  EXPECT_EQ(names(must_parse("<t 123><d x><ds y>")), (std::vector<std::string>{"t", "d", "ds"}));
}

TEST(ChainGrammar, AllEightTags) {
  const Chain c = must_parse("<b 0x0102><t><r 3><rc 2><rd 2><d><ds><dz 3>");
  EXPECT_EQ(names(c), (std::vector<std::string>{"b", "t", "r", "rc", "rd", "d", "ds", "dz"}));
  EXPECT_EQ(c.obfuscated_len(0), 2u + 4 + 3 + 2 + 2 + 0 + 0 + 3);
  EXPECT_EQ(c.obfuscated_len(5), 16u + 5 + 7);
}

TEST(ChainGrammar, Errors) {
  EXPECT_EQ(parse_error("<b 01"), "missing enclosing >");
  EXPECT_EQ(parse_error("<d><"), "missing enclosing >");
  EXPECT_EQ(parse_error("<x>"), "unknown tag <x>");
  EXPECT_EQ(parse_error("<B 01>"), "unknown tag <B>");
  EXPECT_EQ(parse_error("<b>"), "empty argument");
  EXPECT_EQ(parse_error("<b 0x>"), "empty argument");
  EXPECT_EQ(parse_error("<b 0x0x>"), "empty argument");
  EXPECT_EQ(parse_error("<b 012>"), "odd amount of symbols");
  EXPECT_EQ(parse_error("<b 0g>"), "Invalid character 'g' at position 1");
  EXPECT_EQ(parse_error("<b 0X01>"), "Invalid character 'X' at position 1");
  EXPECT_EQ(parse_error("<b <r 2>"), "Invalid character '<' at position 0");
  EXPECT_EQ(parse_error("<r>"), "cannot parse integer from empty string");
  EXPECT_EQ(parse_error("<rc x>"), "invalid digit found in string");
  EXPECT_EQ(parse_error("<rd -1>"), "invalid digit found in string");
  EXPECT_EQ(parse_error("<dz +>"), "invalid digit found in string");
  EXPECT_EQ(parse_error("<r 99999999999999999999>"), "number too large to fit in target type");
  EXPECT_EQ(parse_error("<r 65536>"), "length above the 65535-byte datagram limit");
  // The first error in the spec is reported.
  EXPECT_EQ(parse_error("<x><b>"), "unknown tag <x>");
}

TEST(ChainGrammar, ArgumentForms) {
  EXPECT_EQ(must_parse("<r +4>").obfuscated_len(0), 4u);
  EXPECT_EQ(must_parse("<r 0004>").obfuscated_len(0), 4u);
  EXPECT_EQ(must_parse("<r 65535>").obfuscated_len(0), 65535u);
  EXPECT_EQ(must_parse("<r 0>").obfuscated_len(0), 0u);
  SeededRng rng(0);
  EXPECT_EQ(must_parse("<b 0x0x0xABcd>").signature(0, rng), Bytes({0xab, 0xcd}));
}

TEST(ChainDeobfuscate, Rejections) {
  const auto fails = [](std::string_view spec, const Bytes& input) {
    auto r = must_parse(spec).deobfuscate(input);
    EXPECT_FALSE(r.ok()) << spec << " " << to_hex(input);
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, make_error_code(Errc::signature_mismatch));
    }
  };
  fails("<b 0102>", {0x01, 0x03});
  fails("<b 0102>", {0x01});                // too short
  fails("<b 0102>", {0x01, 0x02, 0x00});    // no data tag takes the extra byte
  fails("<rc 3>", {'a', '1', 'b'});
  fails("<rd 3>", {'1', 'a', '2'});
  fails("<ds>", {'a', 'G', 'V', 's', 'b'});  // 4k+1 characters
  fails("<ds>", {'a', 'G', '=', '='});       // padding is not part of <ds>
  fails("<ds>", {'a', 'H'});                 // non-zero trailing bits
  fails("<ds>", {'a', '!'});
  fails("<d><d>", {'A', 'B', 'A', 'C'});     // data tags disagree
  fails("<d><d>", {'A', 'B', 'A'});          // odd total for two copies
  fails("<t>", {1, 2, 3});
}

TEST(ChainDeobfuscate, AcceptedWithoutCheck) {
  // <r>, <t> and <dz> values are not checked (3.2).
  auto r = must_parse("<t><r 2><dz 2><d>").deobfuscate(hex("ffffffff" "0000" "ffff" "4142"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Bytes({'A', 'B'}));
}

TEST(ChainDeobfuscate, TwoDataTagsAndBase64) {
  const Chain c = must_parse("<d><b ff><ds><d>");
  SeededRng rng(5);
  for (std::size_t n = 0; n < 40; ++n) {
    Bytes payload(n);
    rng.fill(payload);
    Bytes out;
    c.obfuscate(out, payload, 0, rng);
    ASSERT_EQ(out.size(), 2 * n + 1 + base64::encoded_len(n));
    auto back = c.deobfuscate(out);
    ASSERT_TRUE(back.ok()) << n << ": " << back.error().message;
    EXPECT_EQ(*back, payload);
  }
}

TEST(ChainSignature, EmptyPayload) {
  const Chain c = must_parse("<b 0xaa><d><ds><dz 3><t>");
  SeededRng rng(0);
  const Bytes sig = c.signature(0x01020304, rng);
  EXPECT_EQ(to_hex(sig), "aa" "000000" "01020304");
  const Chain d = must_parse("<d>");
  EXPECT_TRUE(d.signature(0, rng).empty());  // PROTOCOL.md 17 item 10: a zero-length datagram
}

TEST(ChainObfuscate, AppendsToExistingBytes) {
  const Chain c = must_parse("<b 01><d>");
  SeededRng rng(0);
  Bytes out{0xee};
  c.obfuscate(out, as_bytes("x"), 0, rng);
  EXPECT_EQ(to_hex(out), "ee0178");
}

// Random specs: parse -> obfuscate -> layout check -> de-obfuscate recovers the payload.
TEST(ChainProperty, RandomChainsRoundTrip) {
  static const char* const kTags[] = {"b", "t", "r", "rc", "rd", "d", "ds", "dz"};
  static const char* const kSpace[] = {"", " ", "  ", "\t", " \n", "\xC2\xA0"};
  static const char* const kText[] = {"", "x", "> ", "hello", "0x"};
  SeededRng rng(20240601);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string spec;
    const auto ntags = rng.uniform(0, 6);
    for (std::uint64_t k = 0; k < ntags; ++k) {
      spec += kText[rng.uniform(0, 4)];
      const std::string tag = kTags[rng.uniform(0, 7)];
      spec += '<';
      spec += kSpace[rng.uniform(0, 5)];
      spec += tag;
      if (tag == "b") {
        Bytes b(rng.uniform(1, 6));
        rng.fill(b);
        spec += ' ';
        spec += rng.uniform(0, 1) ? "0x" : "";
        spec += to_hex(b);
      } else if (tag == "r" || tag == "rc" || tag == "rd" || tag == "dz") {
        spec += ' ';
        spec += std::to_string(rng.uniform(0, 12));
      }
      spec += kSpace[rng.uniform(0, 5)];
      spec += '>';
    }
    const Chain chain = must_parse(spec);
    ASSERT_EQ(chain.size(), ntags) << spec;
    Bytes payload(rng.uniform(0, 100));
    rng.fill(payload);
    const auto now = static_cast<std::uint32_t>(rng.next_u32());
    Bytes out;
    chain.obfuscate(out, payload, now, rng);
    ASSERT_EQ(out.size(), chain.obfuscated_len(payload.size())) << spec;
    check_layout(chain, spec, out, payload, now);
    auto back = chain.deobfuscate(out);
    ASSERT_TRUE(back.ok()) << spec << ": " << back.error().message;
    bool has_data = false;
    for (std::size_t k = 0; k < chain.size(); ++k) has_data |= !chain.tag(k).fixed();
    EXPECT_EQ(*back, has_data ? payload : Bytes{}) << spec;
    EXPECT_EQ(chain.signature(now, rng).size(), chain.obfuscated_len(0)) << spec;
  }
}

}  // namespace
}  // namespace paniq::obf
