#include "envelope/tai64n.hpp"

#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "support/vectors.hpp"

namespace paniq::envelope {
namespace {

TEST(Tai64n, EncodesGoVectors) {
  const auto v = test::load_vectors("go-auth-initiation-vectors.json");
  for (const auto& c : v.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& in = c.at("inputs");
    const WallTime t{in.at("unix_seconds").get<std::int64_t>(),
                     in.at("unix_nanoseconds").get<std::uint32_t>()};
    const Tai64n stamp = tai64n_encode(t);
    EXPECT_EQ(to_hex(stamp.bytes), c.at("intermediates").at("tai64n_hex").get<std::string>());
    auto back = tai64n_decode(stamp.bytes);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->seconds, t.seconds);
    EXPECT_EQ(back->nanos,
              c.at("intermediates").at("tai64n_nanoseconds_after_clearing").get<std::uint32_t>());
  }
}

TEST(Tai64n, GrainIsTwoToThe24Nanoseconds) {
  // Go's TestMonotonic: +10 ms lands in the same stamp, +20 ms in a later one.
  const WallTime t0{1700000000, 0};
  EXPECT_EQ(tai64n_encode(t0), tai64n_encode(WallTime{1700000000, 10'000'000}));
  EXPECT_LT(tai64n_encode(t0), tai64n_encode(WallTime{1700000000, 20'000'000}));
  EXPECT_LT(tai64n_encode(WallTime{1700000000, 999'999'999}),
            tai64n_encode(WallTime{1700000001, 0}));
}

TEST(Tai64n, DecodeRejectsBadInput) {
  EXPECT_EQ(tai64n_decode(Bytes(11)).error().code, Errc::timestamp_malformed);
  EXPECT_EQ(tai64n_decode(Bytes(13)).error().code, Errc::timestamp_malformed);
  // Label below the 1970 base.
  EXPECT_EQ(tai64n_decode(test::hex("400000000000000900000000")).error().code,
            Errc::timestamp_out_of_range);
  // Nanoseconds of 1e9.
  EXPECT_EQ(tai64n_decode(test::hex("400000000000000a3b9aca00")).error().code,
            Errc::timestamp_out_of_range);
  // Label beyond int64 seconds.
  EXPECT_EQ(tai64n_decode(test::hex("ffffffffffffffff00000000")).error().code,
            Errc::timestamp_out_of_range);
  auto epoch = tai64n_decode(test::hex("400000000000000a00000000"));
  ASSERT_TRUE(epoch.ok());
  EXPECT_EQ(*epoch, (WallTime{0, 0}));
}

TEST(Tai64n, StamperIsStrictlyIncreasing) {
  Tai64nStamper s;
  EXPECT_FALSE(s.last());
  const Tai64n a = s.stamp(WallTime{1000, 0});
  EXPECT_EQ(a, tai64n_encode(WallTime{1000, 0}));
  const Tai64n b = s.stamp(WallTime{1000, 5'000'000});  // same grain
  EXPECT_GT(b, a);
  EXPECT_EQ(to_hex(b.bytes), "40000000000003f201000000");
  const Tai64n c = s.stamp(WallTime{900, 0});  // clock stepped back
  EXPECT_GT(c, b);
  const Tai64n d = s.stamp(WallTime{2000, 0});  // clock ahead again: real time wins
  EXPECT_EQ(d, tai64n_encode(WallTime{2000, 0}));
  ASSERT_TRUE(s.last());
  EXPECT_EQ(*s.last(), d);
}

TEST(Tai64n, StamperCarriesIntoSeconds) {
  Tai64nStamper s;
  const Tai64n last_grain = s.stamp(WallTime{5, 999'999'999});
  EXPECT_EQ(to_hex(last_grain.bytes), "400000000000000f3b000000");
  const Tai64n next = s.stamp(WallTime{5, 999'999'999});
  EXPECT_EQ(to_hex(next.bytes), "400000000000001000000000");
  auto t = tai64n_decode(next.bytes);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (WallTime{6, 0}));
}

TEST(Tai64n, StamperPropertyManyCalls) {
  SeededRng rng(99);
  Tai64nStamper s;
  Tai64n prev{};
  std::int64_t secs = 1'700'000'000;
  for (int i = 0; i < 3000; ++i) {
    secs += static_cast<std::int64_t>(rng.uniform(0, 4)) - 2;  // jitters back and forth
    const Tai64n t =
        s.stamp(WallTime{secs, static_cast<std::uint32_t>(rng.uniform(0, 999'999'999))});
    if (i > 0) {
      ASSERT_GT(t, prev);
    }
    ASSERT_TRUE(tai64n_decode(t.bytes).ok());
    prev = t;
  }
}

}  // namespace
}  // namespace paniq::envelope
