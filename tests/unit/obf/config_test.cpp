// Config::validate (PROTOCOL.md 2.1.4): one test per rule, exact messages.
#include <gtest/gtest.h>

#include "obf/errors.hpp"
#include "obf/types.hpp"

namespace paniq::obf {
namespace {

std::string error_of(const Config& c) {
  auto r = c.validate();
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, make_error_code(Errc::bad_config));
  return r.error().message;
}

TEST(ConfigValidate, DefaultsAreValid) {
  EXPECT_TRUE(Config::defaults().validate().ok());
  const Config c = Config::defaults();
  EXPECT_EQ(c.h[0], (HeaderRange{1, 1}));
  EXPECT_EQ(c.h[3], (HeaderRange{4, 4}));
  EXPECT_EQ(c.classify, ClassifyMode::FirstMatch);
}

TEST(ConfigValidate, JcNegative) {
  Config c;
  c.jc = -1;
  EXPECT_EQ(error_of(c), "obfuscation.jc: -1: must be non-negative");
}

TEST(ConfigValidate, JminNegative) {
  Config c;
  c.jmin = -5;
  EXPECT_EQ(error_of(c), "obfuscation.jmin: -5: must be non-negative");
}

TEST(ConfigValidate, JmaxNegative) {
  Config c;
  c.jmax = -2;
  EXPECT_EQ(error_of(c), "obfuscation.jmax: -2: must be non-negative");
}

TEST(ConfigValidate, JminAboveJmax) {
  Config c;
  c.jc = 4;
  c.jmin = 900;
  c.jmax = 800;
  EXPECT_EQ(error_of(c), "obfuscation.jmin: 900: must be <= jmax (800)");
}

TEST(ConfigValidate, JminAboveZeroJmaxIsAccepted) {
  Config c;  // jmax == 0 turns junk off; any jmin is accepted (reference rule 3)
  c.jc = 4;
  c.jmin = 900;
  c.jmax = 0;
  EXPECT_TRUE(c.validate().ok());
  c.jmin = 800;
  c.jmax = 800;
  EXPECT_TRUE(c.validate().ok());
}

TEST(ConfigValidate, HeadersOverlap) {
  Config c;
  c.h[0] = {1, 10};  // h2 left at its default "2"
  EXPECT_EQ(error_of(c), "obfuscation.h1/obfuscation.h2: headers must not overlap (1-10 and 2)");
  Config d;
  d.h[2] = {100, 200};
  d.h[3] = {200, 300};
  EXPECT_EQ(error_of(d),
            "obfuscation.h3/obfuscation.h4: headers must not overlap (100-200 and 200-300)");
  Config e;
  e.h = {{{0, 99}, {100, 199}, {200, 4294967295u}, {150, 150}}};
  EXPECT_EQ(error_of(e), "obfuscation.h2/obfuscation.h4: headers must not overlap (100-199 and 150)");
}

TEST(ConfigValidate, HeadersTouchingAreDisjoint) {
  Config c;
  c.h = {{{0, 9}, {10, 10}, {11, 4294967294u}, {4294967295u, 4294967295u}}};
  EXPECT_TRUE(c.validate().ok());
}

TEST(ConfigValidate, HeaderStartAboveEnd) {
  Config c;
  c.h[1] = {9, 3};
  EXPECT_EQ(error_of(c), "obfuscation.h2: \"9-3\": start above end");
}

TEST(ConfigValidate, ChainErrors) {
  Config c;
  c.i[1] = "<x>";
  EXPECT_EQ(error_of(c), "obfuscation.i2: \"<x>\": unknown tag <x>");
  Config d;
  d.i[0] = "<b 0x01";
  EXPECT_EQ(error_of(d), "obfuscation.i1: \"<b 0x01\": missing enclosing >");
  Config e;
  e.i[4] = "<r>";
  EXPECT_EQ(error_of(e), "obfuscation.i5: \"<r>\": cannot parse integer from empty string");
  Config f;
  f.i[2] = "<b 0x>";
  EXPECT_EQ(error_of(f), "obfuscation.i3: \"<b 0x>\": empty argument");
  Config g;
  g.i[3] = "<b 123>";
  EXPECT_EQ(error_of(g), "obfuscation.i4: \"<b 123>\": odd amount of symbols");
}

TEST(ConfigValidate, ValidChainsAndEmptySpecs) {
  Config c;
  c.i = {"<b 0x01><r 4><rc 6><d>", "", "<rd 4><ds><dz 2>", "<t>", "no tags at all"};
  EXPECT_TRUE(c.validate().ok());
}

TEST(ConfigValidate, FirstBrokenRuleWins) {
  Config c;
  c.jc = -1;
  c.h[0] = {1, 10};
  c.i[0] = "<x>";
  EXPECT_EQ(error_of(c), "obfuscation.jc: -1: must be non-negative");
  c.jc = 0;
  EXPECT_EQ(error_of(c), "obfuscation.h1/obfuscation.h2: headers must not overlap (1-10 and 2)");
}

}  // namespace
}  // namespace paniq::obf
