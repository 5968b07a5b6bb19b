// Profile (2.1.5) and daemon-config (2.2) duration syntaxes.
#include "profile/duration.hpp"

#include <gtest/gtest.h>

namespace paniq::profile {
namespace {

using std::chrono::milliseconds;

TEST(ProfileDuration, AcceptsReferenceForms) {
  const std::pair<const char*, std::int64_t> cases[] = {
      {"5s", 5000},
      {"0s", 0},
      {"2m", 120'000},
      {"1h", 3'600'000},
      {"30", 30'000},
      {" 7s ", 7000},
      {"+5s", 5000},
      {"0", 0},
      {"\t10m\n", 600'000},
      {"500ms", 500},
      {"1500ms", 1500},
      {"0ms", 0},
      {"007s", 7000},
      {"\xc2\xa0"
       "5s"
       "\xe3\x80\x80",
       5000},  // Unicode whitespace (NBSP, ideographic space) trimmed
  };
  for (const auto& [text, ms] : cases) {
    const auto d = parse_profile_duration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(ProfileDuration, RejectsEverythingElse) {
  for (const char* text : {"", "s", "ms", "5x", "-5s", "1.5s", "5 s", "5S", "1m30s", "5sec", "++5", "5d",
                           "0x10", "1e3", "h", "99999999999999999999s", "18446744073709551615h"}) {
    EXPECT_FALSE(parse_profile_duration(text).has_value()) << text;
  }
}

TEST(ProfileDuration, IntegerSecondsBounded) {
  EXPECT_EQ(profile_duration_from_seconds(90)->count(), 90'000);
  EXPECT_TRUE(profile_duration_from_seconds(9'223'372'036'854'775ull).has_value());
  EXPECT_FALSE(profile_duration_from_seconds(9'223'372'036'854'776ull).has_value());
}

TEST(ProfileDuration, FormatKeepsPrecisionAndRoundTrips) {
  EXPECT_EQ(format_profile_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_profile_duration(milliseconds(5000)), "5s");
  EXPECT_EQ(format_profile_duration(milliseconds(120'000)), "2m");
  EXPECT_EQ(format_profile_duration(milliseconds(90'000)), "90s");  // reference: "1m" (truncated)
  EXPECT_EQ(format_profile_duration(milliseconds(500)), "500ms");   // reference: "0s"
  EXPECT_EQ(format_profile_duration(milliseconds(7'200'000)), "120m");
  for (std::int64_t ms : {0LL, 1LL, 999LL, 1000LL, 59'000LL, 60'000LL, 61'000LL, 3'600'000LL, 123'456'789LL,
                          9'223'372'036'854'775'807LL}) {
    const auto back = parse_profile_duration(format_profile_duration(milliseconds(ms)));
    ASSERT_TRUE(back.has_value()) << ms;
    EXPECT_EQ(back->count(), ms);
  }
}

TEST(DaemonDuration, AcceptedForms) {
  const std::pair<const char*, std::int64_t> cases[] = {
      {"500ms", 500},  {"5s", 5000},   {"1.5s", 1500}, {"1.25s", 1250}, {"1.2345s", 1234},
      {"2m", 120'000}, {" 5S ", 5000}, {"10MS", 10},   {"5 ms", 5},     {"0s", 0},
      {"1.s", 1000},   {"0.001s", 1},  {"+3s", 3000},
  };
  for (const auto& [text, ms] : cases) {
    const auto d = parse_daemon_duration(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.error().message;
    EXPECT_EQ(d->count(), ms) << text;
  }
}

TEST(DaemonDuration, RejectedFormsWithReasons) {
  const std::pair<const char*, const char*> cases[] = {
      {"5", "unknown duration format: 5"},     {"1h", "unknown duration format: 1h"},
      {"abc", "unknown duration format: abc"}, {"xms", "invalid milliseconds: x"},
      {"1.5ms", "invalid milliseconds: 1.5"},  {".5s", "invalid seconds: "},
      {"1.x5s", "invalid milliseconds: x50"},  {"1.2.3s", "invalid duration: 1.2.3s"},
      {"-1s", "invalid duration: -1s"},        {"xm", "invalid minutes: x"},
  };
  for (const auto& [text, reason] : cases) {
    const auto d = parse_daemon_duration(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.error().message, reason);
  }
}

TEST(DaemonDuration, Format) {
  EXPECT_EQ(format_daemon_duration(milliseconds(120'000)), "120s");
  EXPECT_EQ(format_daemon_duration(milliseconds(5000)), "5.000s");
  EXPECT_EQ(format_daemon_duration(milliseconds(61'500)), "61.500s");
  EXPECT_EQ(format_daemon_duration(milliseconds(500)), "500ms");
  EXPECT_EQ(format_daemon_duration(milliseconds(0)), "0s");
  for (std::int64_t ms : {0LL, 1LL, 500LL, 1000LL, 1500LL, 60'000LL, 61'001LL, 86'400'000LL}) {
    EXPECT_EQ(parse_daemon_duration(format_daemon_duration(milliseconds(ms)))->count(), ms);
  }
}

TEST(ParseUnsigned, RustRules) {
  EXPECT_EQ(parse_unsigned("0"), 0u);
  EXPECT_EQ(parse_unsigned("+42"), 42u);
  EXPECT_EQ(parse_unsigned("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_unsigned("18446744073709551616"));
  EXPECT_FALSE(parse_unsigned("4294967296", UINT32_MAX));
  EXPECT_EQ(parse_unsigned("4294967295", UINT32_MAX), 4294967295u);
  for (const char* bad : {"", "+", "-1", " 1", "1 ", "1_000", "0x1"})
    EXPECT_FALSE(parse_unsigned(bad)) << bad;
}

}  // namespace
}  // namespace paniq::profile
