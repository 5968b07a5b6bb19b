// The eight tags one by one (tag_*.cpp, PROTOCOL.md 3.2): bytes written, RNG use, checks.
#include <gtest/gtest.h>

#include "obf/chain.hpp"
#include "obf/tags.hpp"
#include "support/vectors.hpp"

namespace paniq::obf {
namespace {

using tags::TagPtr;

TagPtr ok(Result<TagPtr> r) {
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : nullptr;
}

Bytes run(const Tag& t, ByteView payload, Rng& rng, std::uint32_t now = 0) {
  Bytes out(t.obfuscated_len(payload.size()));
  t.obfuscate(out.data(), payload, now, rng);
  return out;
}

TEST(TagBytes, WritesAndChecksFixedBytes) {
  const TagPtr t = ok(tags::make_bytes("0xDEadbe"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "b");
  EXPECT_TRUE(t->fixed());
  EXPECT_EQ(t->obfuscated_len(100), 3u);
  EXPECT_EQ(t->deobfuscated_input_len(7), 3u);
  SeededRng rng(0);
  EXPECT_EQ(to_hex(run(*t, as_bytes("xyz"), rng)), "deadbe");
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(test::hex("deadbe"), sink));
  EXPECT_FALSE(t->deobfuscate(test::hex("deadbf"), sink));
  EXPECT_FALSE(t->deobfuscate(test::hex("dead"), sink));
  EXPECT_TRUE(sink.empty());
}

TEST(TagBytes, HexErrorMessagesLikeRust) {
  const auto err = [](std::string_view arg) {
    auto r = tags::make_bytes(arg);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(err("zz"), "Invalid character 'z' at position 0");
  EXPECT_EQ(err("0x0a0\t"), "Invalid character '\\t' at position 3");
  EXPECT_EQ(err("a'"), "Invalid character '\\'' at position 1");
  EXPECT_EQ(err(std::string_view("a\x01", 2)), "Invalid character '\\u{1}' at position 1");
  EXPECT_EQ(err("\xC3\xA9"), "Invalid character '\xC3\x83' at position 0");  // byte C3 as char
  EXPECT_EQ(err("0x"), "empty argument");
  EXPECT_EQ(err("0X"), "Invalid character 'X' at position 1");
  EXPECT_EQ(err("abc"), "odd amount of symbols");
  EXPECT_EQ(err(std::string(2 * 65535, 'a')), "ok");
  EXPECT_EQ(err(std::string(2 * 65536, 'a')), "length above the 65535-byte datagram limit");
}

TEST(TagTime, WritesSecondsBigEndian) {
  const TagPtr t = tags::make_time();
  EXPECT_EQ(t->name(), "t");
  SeededRng rng(0);
  EXPECT_EQ(to_hex(run(*t, {}, rng, 0x65a1b2c3)), "65a1b2c3");
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(test::hex("00000000"), sink));
  EXPECT_EQ(t->deobfuscated_input_len(0), 4u);
}

TEST(TagRandom, BytesComeFromRng) {
  const TagPtr t = ok(tags::make_random(tags::RandomKind::bytes, "5"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "r");
  ScriptedRng rng;
  rng.push(test::hex("0001fffe7f"));
  EXPECT_EQ(to_hex(run(*t, {}, rng)), "0001fffe7f");
  EXPECT_EQ(rng.remaining(), 0u);
}

TEST(TagRandom, LettersMapByteMod52) {
  const TagPtr t = ok(tags::make_random(tags::RandomKind::letters, "6"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "rc");
  ScriptedRng rng;
  rng.push(test::hex("00" "19" "1a" "33" "34" "ff"));  // 0, 25, 26, 51, 52 -> 0, 255 -> 47
  const Bytes out = run(*t, {}, rng);
  EXPECT_EQ(std::string(out.begin(), out.end()), "azAZaV");
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(out, sink));
  EXPECT_FALSE(t->deobfuscate(as_bytes("azAZa0"), sink));
  EXPECT_FALSE(t->deobfuscate(as_bytes("azAZa["), sink));
}

TEST(TagRandom, DigitsMapByteMod10) {
  const TagPtr t = ok(tags::make_random(tags::RandomKind::digits, "4"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "rd");
  ScriptedRng rng;
  rng.push(test::hex("00" "09" "0a" "ff"));  // 0, 9, 10 -> 0, 255 -> 5
  const Bytes out = run(*t, {}, rng);
  EXPECT_EQ(std::string(out.begin(), out.end()), "0905");
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(out, sink));
  EXPECT_FALSE(t->deobfuscate(as_bytes("09a5"), sink));
  EXPECT_FALSE(t->deobfuscate(as_bytes("095"), sink));
}

TEST(TagData, CopiesPayload) {
  const TagPtr t = tags::make_data();
  EXPECT_EQ(t->name(), "d");
  EXPECT_FALSE(t->fixed());
  EXPECT_EQ(t->obfuscated_len(9), 9u);
  EXPECT_EQ(t->deobfuscated_input_len(9), 9u);
  SeededRng rng(0);
  EXPECT_EQ(to_hex(run(*t, test::hex("0102ff"), rng)), "0102ff");
  Bytes sink{0x07};
  EXPECT_TRUE(t->deobfuscate(test::hex("0a0b"), sink));
  EXPECT_EQ(to_hex(sink), "070a0b");  // appended
}

TEST(TagDataString, Base64WithoutPadding) {
  const TagPtr t = tags::make_data_string();
  EXPECT_EQ(t->name(), "ds");
  EXPECT_FALSE(t->fixed());
  SeededRng rng(0);
  const auto enc = [&](std::string_view s) {
    const Bytes b = run(*t, as_bytes(s), rng);
    return std::string(b.begin(), b.end());
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("hello"), "aGVsbG8");
  EXPECT_EQ(enc("\xfb\xff"), "+/8");
  EXPECT_EQ(t->deobfuscated_input_len(7), 7u);
  EXPECT_FALSE(t->deobfuscated_input_len(5).has_value());
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(as_bytes("aGVsbG8"), sink));
  EXPECT_EQ(std::string(sink.begin(), sink.end()), "hello");
}

TEST(TagSize, BigEndianTruncatedOrZeroFilled) {
  SeededRng rng(0);
  const Bytes payload(0x0305);
  const auto size_bytes = [&](std::string_view n) {
    const TagPtr t = ok(tags::make_size(n));
    return t ? to_hex(run(*t, payload, rng)) : std::string();
  };
  EXPECT_EQ(size_bytes("0"), "");
  EXPECT_EQ(size_bytes("1"), "05");
  EXPECT_EQ(size_bytes("2"), "0305");
  EXPECT_EQ(size_bytes("4"), "00000305");
  EXPECT_EQ(size_bytes("10"), "00000000000000000305");
  const TagPtr t = ok(tags::make_size("2"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name(), "dz");
  Bytes sink;
  EXPECT_TRUE(t->deobfuscate(test::hex("ffff"), sink));  // value not checked (reference)
  EXPECT_FALSE(t->deobfuscate(test::hex("ff"), sink));
}

TEST(TagLength, RustUsizeParsing) {
  EXPECT_EQ(*tags::parse_length("+12"), 12u);
  EXPECT_EQ(*tags::parse_length("65535"), 65535u);
  EXPECT_EQ(tags::parse_length("").error().message, "cannot parse integer from empty string");
  EXPECT_EQ(tags::parse_length(" 1").error().message, "invalid digit found in string");
  EXPECT_EQ(tags::parse_length("18446744073709551616").error().message,
            "number too large to fit in target type");
  EXPECT_EQ(tags::parse_length("18446744073709551615").error().message,
            "length above the 65535-byte datagram limit");
}

}  // namespace
}  // namespace paniq::obf
