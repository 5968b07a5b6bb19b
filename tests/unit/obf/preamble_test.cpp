// Junk (PROTOCOL.md 3.4) and signature datagrams (3.2): Framer::junk, Framer::signatures.
#include <gtest/gtest.h>

#include "obf/framer.hpp"
#include "support/vectors.hpp"

namespace paniq::obf {
namespace {

Framer make(const Config& cfg) {
  auto f = Framer::create(cfg);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? std::move(*f) : Framer{};
}

Config junk_config(std::int32_t jc, std::int32_t jmin, std::int32_t jmax) {
  Config c;
  c.jc = jc;
  c.jmin = jmin;
  c.jmax = jmax;
  return c;
}

TEST(Junk, OffCases) {
  SeededRng rng(1);
  EXPECT_TRUE(make(junk_config(0, 10, 20)).junk(rng).empty());
  EXPECT_TRUE(make(junk_config(5, 0, 20)).junk(rng).empty());
  EXPECT_TRUE(make(junk_config(5, 10, 0)).junk(rng).empty());
  EXPECT_TRUE(make(junk_config(5, 900, 0)).junk(rng).empty());  // jmax 0: junk off
}

TEST(Junk, EqualBoundsDrawNoLength) {
  ScriptedRng rng;
  const Bytes script = test::hex("000102030405060708090a0b");
  rng.push(script);
  const auto junk = make(junk_config(3, 4, 4)).junk(rng);
  ASSERT_EQ(junk.size(), 3u);
  EXPECT_EQ(to_hex(junk[0]), "00010203");
  EXPECT_EQ(to_hex(junk[1]), "04050607");
  EXPECT_EQ(to_hex(junk[2]), "08090a0b");
  EXPECT_EQ(rng.remaining(), 0u);
}

TEST(Junk, LengthDrawThenFill) {
  ScriptedRng rng;
  // Datagram 1: length draw 7 -> 10 + 7 mod 11 = 17, then 17 fill bytes.
  rng.push(test::hex("07000000"));
  rng.push(Bytes(17, 0xab));
  // Datagram 2: draw 0xFFFFFFFF -> 10 + 4294967295 mod 11 = 10 + 3 = 13.
  rng.push(test::hex("ffffffff"));
  rng.push(Bytes(13, 0xcd));
  const auto junk = make(junk_config(2, 10, 20)).junk(rng);
  ASSERT_EQ(junk.size(), 2u);
  EXPECT_EQ(junk[0], Bytes(17, 0xab));
  EXPECT_EQ(junk[1], Bytes(13, 0xcd));
  EXPECT_EQ(rng.remaining(), 0u);
}

TEST(Junk, LengthsStayInBoundsAndCoverThem) {
  SeededRng rng(42);
  const Framer f = make(junk_config(50, 3, 9));
  bool seen_min = false, seen_max = false;
  for (int round = 0; round < 20; ++round) {
    const auto junk = f.junk(rng);
    ASSERT_EQ(junk.size(), 50u);
    for (const auto& d : junk) {
      ASSERT_GE(d.size(), 3u);
      ASSERT_LE(d.size(), 9u);
      seen_min |= d.size() == 3;
      seen_max |= d.size() == 9;
    }
  }
  EXPECT_TRUE(seen_min);
  EXPECT_TRUE(seen_max);
}

TEST(Signatures, InOrderSkippingEmptySpecs) {
  Config cfg;
  cfg.i = {"<b 0xc0ffee><t>", "", "<d>", "text without tags", "<dz 2><rd 3>"};
  const Framer f = make(cfg);
  SeededRng rng(7);
  const auto sigs = f.signatures(0x5f5e1000, rng);
  ASSERT_EQ(sigs.size(), 4u);
  EXPECT_EQ(to_hex(sigs[0]), "c0ffee" "5f5e1000");
  EXPECT_TRUE(sigs[1].empty());  // <d> with an empty payload: a zero-length datagram
  EXPECT_TRUE(sigs[2].empty());  // non-empty spec without tags still yields a datagram
  ASSERT_EQ(sigs[3].size(), 5u);
  EXPECT_EQ(to_hex(ByteView(sigs[3]).first(2)), "0000");
  for (std::size_t k = 2; k < 5; ++k) EXPECT_TRUE(sigs[3][k] >= '0' && sigs[3][k] <= '9');
}

TEST(Signatures, NoneConfigured) {
  SeededRng rng(7);
  EXPECT_TRUE(make(Config{}).signatures(0, rng).empty());
}

}  // namespace
}  // namespace paniq::obf
