// Generic CBOR codec: heads, floats, limits, malformed input.
#include "profile/cbor.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::profile::cbor {
namespace {

std::string enc(const Value& v) {
  Bytes out;
  encode(v, out);
  return to_hex(out);
}

TEST(Cbor, ShortestIntegerHeads) {
  EXPECT_EQ(enc(Value::uint(0)), "00");
  EXPECT_EQ(enc(Value::uint(23)), "17");
  EXPECT_EQ(enc(Value::uint(24)), "1818");
  EXPECT_EQ(enc(Value::uint(255)), "18ff");
  EXPECT_EQ(enc(Value::uint(256)), "190100");
  EXPECT_EQ(enc(Value::uint(65535)), "19ffff");
  EXPECT_EQ(enc(Value::uint(65536)), "1a00010000");
  EXPECT_EQ(enc(Value::uint(4294967295u)), "1affffffff");
  EXPECT_EQ(enc(Value::uint(4294967296ull)), "1b0000000100000000");
  EXPECT_EQ(enc(Value::sint(-1)), "20");
  EXPECT_EQ(enc(Value::sint(-24)), "37");
  EXPECT_EQ(enc(Value::sint(-25)), "3818");
  EXPECT_EQ(enc(Value::sint(-500)), "3901f3");
  EXPECT_EQ(enc(Value::sint(std::numeric_limits<std::int64_t>::min())), "3b7fffffffffffffff");
}

TEST(Cbor, ShortestExactFloat) {
  EXPECT_EQ(enc(Value::float64(0.5)), "f93800");
  EXPECT_EQ(enc(Value::float64(0.25)), "f93400");
  EXPECT_EQ(enc(Value::float64(0.0)), "f90000");
  EXPECT_EQ(enc(Value::float64(-0.0)), "f98000");
  EXPECT_EQ(enc(Value::float64(1.0)), "f93c00");
  EXPECT_EQ(enc(Value::float64(65504.0)), "f97bff");
  EXPECT_EQ(enc(Value::float64(65536.0)), "fa47800000");
  EXPECT_EQ(enc(Value::float64(5.960464477539063e-8)), "f90001");  // smallest half subnormal
  EXPECT_EQ(enc(Value::float64(0.00006103515625)), "f90400");      // smallest half normal
  EXPECT_EQ(enc(Value::float64(100000.0)), "fa47c35000");
  EXPECT_EQ(enc(Value::float64(3.4028234663852886e+38)), "fa7f7fffff");
  EXPECT_EQ(enc(Value::float64(0.1)), "fb3fb999999999999a");
  EXPECT_EQ(enc(Value::float64(0.02)), "fb3f947ae147ae147b");
  EXPECT_EQ(enc(Value::float64(1e300)), "fb7e37e43c8800759c");
  EXPECT_EQ(enc(Value::float64(std::numeric_limits<double>::infinity())), "f97c00");
  EXPECT_EQ(enc(Value::float64(-std::numeric_limits<double>::infinity())), "f9fc00");
  EXPECT_EQ(enc(Value::float64(std::numeric_limits<double>::quiet_NaN())), "f97e00");
}

TEST(Cbor, HalfDecodesExactly) {
  EXPECT_EQ(half_to_double(0x3800), 0.5);
  EXPECT_EQ(half_to_double(0x0001), 5.960464477539063e-8);
  EXPECT_EQ(half_to_double(0x7bff), 65504.0);
  EXPECT_EQ(half_to_double(0xc000), -2.0);
  EXPECT_TRUE(std::isinf(half_to_double(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_double(0x7e00)));
  // Every finite half round-trips through half_exact.
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7c00) == 0x7c00) continue;
    std::uint16_t back = 0;
    ASSERT_TRUE(half_exact(half_to_double(static_cast<std::uint16_t>(bits)), back)) << bits;
    EXPECT_EQ(back, bits);
  }
}

TEST(Cbor, DecodesEveryKind) {
  auto v =
      decode(test::hex("a6"
                       "00"
                       "20"
                       "01"
                       "6161"
                       "02"
                       "4201ff"
                       "03"
                       "8201f5"
                       "04"
                       "c101"
                       "05"
                       "f7"));
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_EQ(v->kind, Value::Kind::Map);
  EXPECT_EQ(v->get(0)->kind, Value::Kind::Negative);
  EXPECT_EQ(v->get(1)->text, "a");
  EXPECT_EQ(v->get(2)->bytes, (Bytes{0x01, 0xff}));
  EXPECT_EQ(v->get(3)->items.size(), 2u);
  EXPECT_EQ(v->get(4)->kind, Value::Kind::Tag);
  EXPECT_EQ(v->get(5)->kind, Value::Kind::Undefined);
  EXPECT_EQ(v->get(6), nullptr);
}

TEST(Cbor, IndefiniteLengths) {
  auto s = decode(test::hex("7f616161626163ff"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->text, "abc");
  auto m = decode(test::hex("bf0102ff"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->get(1)->u, 2u);
  auto a = decode(test::hex("9f0102ff"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->items.size(), 2u);
  EXPECT_FALSE(decode(test::hex("bf01ff")).ok());    // break in value position
  EXPECT_FALSE(decode(test::hex("7f4161ff")).ok());  // byte chunk in a text string
  EXPECT_FALSE(decode(test::hex("9f01")).ok());      // no break
}

TEST(Cbor, MalformedInputIsAnError) {
  for (const char* hex : {"", "18", "19ff", "1c", "1f", "3f", "5f", "61", "62ff", "a1", "a101", "8201", "c1",
                          "ff", "f818", "fc", "62c328", "63eda080", "7801"}) {
    const auto bytes = test::hex(hex);
    EXPECT_FALSE(decode(bytes).ok()) << hex;
  }
  // Huge declared lengths fail without allocating.
  EXPECT_FALSE(decode(test::hex("5bffffffffffffffff")).ok());
  EXPECT_FALSE(decode(test::hex("9bffffffffffffffff")).ok());
  EXPECT_FALSE(decode(test::hex("bbffffffffffffffff")).ok());
}

TEST(Cbor, DepthAndSizeLimits) {
  Bytes deep(kMaxDepth, 0x81);
  deep.push_back(0x00);
  EXPECT_TRUE(decode(deep).ok());
  deep.insert(deep.begin(), 0x81);
  EXPECT_FALSE(decode(deep).ok());
  Bytes big(kMaxInput + 1, 0x00);
  EXPECT_FALSE(decode(big).ok());
}

TEST(Cbor, TrailingBytesIgnored) {
  auto v = decode(test::hex("01ffff"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->u, 1u);
}

TEST(Cbor, RandomBytesNeverCrashAndReencodeStable) {
  SeededRng rng(7);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng.uniform(0, 24));
    rng.fill(b);
    auto v = decode(b);
    if (!v) continue;
    ++decoded;
    Bytes again;
    encode(*v, again);
    auto v2 = decode(again);
    ASSERT_TRUE(v2.ok()) << to_hex(b);
    Bytes third;
    encode(*v2, third);
    EXPECT_EQ(again, third) << to_hex(b);
  }
  EXPECT_GT(decoded, 1000);
}

}  // namespace
}  // namespace paniq::profile::cbor
