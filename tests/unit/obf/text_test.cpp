// Rust-compatible text helpers (text.cpp): integer parsing and Unicode whitespace.
#include <gtest/gtest.h>

#include <limits>

#include "obf/text.hpp"

namespace paniq::obf::text {
namespace {

constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kU64 = std::numeric_limits<std::uint64_t>::max();

TEST(ParseUnsigned, Accepts) {
  std::uint64_t v = 99;
  EXPECT_EQ(parse_unsigned("0", kU32, v), nullptr);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(parse_unsigned("+4294967295", kU32, v), nullptr);
  EXPECT_EQ(v, 4294967295u);
  EXPECT_EQ(parse_unsigned("18446744073709551615", kU64, v), nullptr);
  EXPECT_EQ(v, kU64);
}

TEST(ParseUnsigned, RejectsLikeRust) {
  std::uint64_t v = 7;
  EXPECT_STREQ(parse_unsigned("", kU32, v), "cannot parse integer from empty string");
  EXPECT_STREQ(parse_unsigned("+", kU32, v), "invalid digit found in string");
  EXPECT_STREQ(parse_unsigned("-", kU32, v), "invalid digit found in string");
  EXPECT_STREQ(parse_unsigned("-0", kU32, v), "invalid digit found in string");
  EXPECT_STREQ(parse_unsigned("1_000", kU32, v), "invalid digit found in string");
  EXPECT_STREQ(parse_unsigned("4294967296", kU32, v), "number too large to fit in target type");
  EXPECT_STREQ(parse_unsigned("18446744073709551616", kU64, v),
               "number too large to fit in target type");
  EXPECT_EQ(v, 7u);  // untouched on failure
}

TEST(Whitespace, TrimAndSplit) {
  EXPECT_EQ(trim(" \t\n\v\f\rab c\r\n "), "ab c");
  EXPECT_EQ(trim("\xC2\xA0x\xE2\x80\x83"), "x");  // U+00A0, U+2003
  EXPECT_EQ(trim("\xE3\x80\x80"), "");             // U+3000
  EXPECT_EQ(trim("x\xC2\xA9"), "x\xC2\xA9");        // U+00A9 is not whitespace
  EXPECT_EQ(split_whitespace("  a \xE2\x80\xA8 bc\x85"),
            (std::vector<std::string_view>{"a", "bc\x85"}));  // lone 0x85 byte is not U+0085
  EXPECT_EQ(split_whitespace("a\xC2\x85" "b\xE1\x9A\x80" "c\xE2\x81\x9F" "d"),
            (std::vector<std::string_view>{"a", "b", "c", "d"}));
  EXPECT_TRUE(split_whitespace(" \t ").empty());
  EXPECT_EQ(whitespace_len("\xE2\x80\x8B", 0), 0u);  // U+200B zero width space: not White_Space
  EXPECT_EQ(whitespace_len("\xE2\x80\x8A", 0), 3u);  // U+200A hair space
  EXPECT_EQ(whitespace_len("\xE2\x80", 0), 0u);      // truncated sequence
}

}  // namespace
}  // namespace paniq::obf::text
