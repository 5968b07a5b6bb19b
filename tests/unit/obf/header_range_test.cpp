// Header ranges (PROTOCOL.md 3.3): parsing with Rust u32 rules, defaults, formatting.
#include <gtest/gtest.h>

#include <string>

#include "obf/errors.hpp"
#include "obf/types.hpp"

namespace paniq::obf {
namespace {

std::string parse_error(std::string_view spec) {
  auto r = parse_header_range(spec);
  EXPECT_FALSE(r.ok()) << spec;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, make_error_code(Errc::bad_header));
  return r.error().message;
}

// Port of the reference's header_range_validates.
TEST(HeaderRange, ReferenceValidates) {
  auto r = parse_header_range("1-3");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->contains(1));
  EXPECT_TRUE(r->contains(3));
  EXPECT_FALSE(r->contains(4));
  EXPECT_FALSE(r->contains(0));
  EXPECT_EQ(r->to_string(), "1-3");
}

TEST(HeaderRange, SingleValue) {
  auto r = parse_header_range("100");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (HeaderRange{100, 100}));
  EXPECT_EQ(r->to_string(), "100");
  EXPECT_EQ(r->width(), 1u);
}

TEST(HeaderRange, FullRangeAndEdges) {
  auto r = parse_header_range("0-4294967295");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->start, 0u);
  EXPECT_EQ(r->end, 4294967295u);
  EXPECT_EQ(r->width(), 4294967296ull);
  EXPECT_TRUE(r->contains(0));
  EXPECT_TRUE(r->contains(4294967295u));
  auto top = parse_header_range("4294967295");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->start, 4294967295u);
}

TEST(HeaderRange, RustIntegerSyntax) {
  auto plus = parse_header_range("+5-+7");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(*plus, (HeaderRange{5, 7}));
  auto zeros = parse_header_range("007");
  ASSERT_TRUE(zeros.ok());
  EXPECT_EQ(zeros->start, 7u);
  auto same = parse_header_range("9-9");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->to_string(), "9");
}

TEST(HeaderRange, Errors) {
  EXPECT_EQ(parse_error("1-2-3"), "bad format");
  EXPECT_EQ(parse_error("--"), "bad format");
  EXPECT_EQ(parse_error("9-3"), "start above end");
  EXPECT_EQ(parse_error(""), "failed to parse : cannot parse integer from empty string");
  EXPECT_EQ(parse_error("-5"), "failed to parse : cannot parse integer from empty string");
  EXPECT_EQ(parse_error("5-"), "failed to parse : cannot parse integer from empty string");
  EXPECT_EQ(parse_error("abc"), "failed to parse abc: invalid digit found in string");
  EXPECT_EQ(parse_error(" 5"), "failed to parse  5: invalid digit found in string");
  EXPECT_EQ(parse_error("5 "), "failed to parse 5 : invalid digit found in string");
  EXPECT_EQ(parse_error("+"), "failed to parse +: invalid digit found in string");
  EXPECT_EQ(parse_error("++5"), "failed to parse ++5: invalid digit found in string");
  EXPECT_EQ(parse_error("1-x"), "failed to parse x: invalid digit found in string");
  EXPECT_EQ(parse_error("4294967296"),
            "failed to parse 4294967296: number too large to fit in target type");
  EXPECT_EQ(parse_error("1-99999999999"),
            "failed to parse 99999999999: number too large to fit in target type");
  // Left to right like Rust: overflow seen before the bad character, and the other way round.
  EXPECT_EQ(parse_error("99999999999x"),
            "failed to parse 99999999999x: number too large to fit in target type");
  EXPECT_EQ(parse_error("x99999999999"),
            "failed to parse x99999999999: invalid digit found in string");
}

TEST(HeaderRange, FieldDefaultsAndPath) {
  for (std::size_t k = 0; k < 4; ++k) {
    auto r = parse_header_field(k, "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, (HeaderRange{static_cast<std::uint32_t>(k + 1), static_cast<std::uint32_t>(k + 1)}));
  }
  auto bad = parse_header_field(1, "9-3");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "obfuscation.h2: \"9-3\": start above end");
  auto bad4 = parse_header_field(3, "x");
  ASSERT_FALSE(bad4.ok());
  EXPECT_EQ(bad4.error().message,
            "obfuscation.h4: \"x\": failed to parse x: invalid digit found in string");
}

TEST(HeaderRange, Overlaps) {
  const HeaderRange a{1, 10}, b{2, 2}, c{11, 20}, d{10, 10};
  EXPECT_TRUE(a.overlaps(b));
  EXPECT_TRUE(b.overlaps(a));
  EXPECT_FALSE(a.overlaps(c));
  EXPECT_TRUE(a.overlaps(d));
  EXPECT_FALSE(c.overlaps(d));
}

TEST(MessageTypeNames, ToString) {
  EXPECT_STREQ(to_string(MessageType::Initiation), "Initiation");
  EXPECT_STREQ(to_string(MessageType::Response), "Response");
  EXPECT_STREQ(to_string(MessageType::CookieReply), "CookieReply");
  EXPECT_STREQ(to_string(MessageType::Transport), "Transport");
  EXPECT_EQ(index(MessageType::Initiation), 0u);
  EXPECT_EQ(index(MessageType::Transport), 3u);
}

}  // namespace
}  // namespace paniq::obf
