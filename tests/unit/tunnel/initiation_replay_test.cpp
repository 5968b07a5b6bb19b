// InitiationReplayCache: lifetime, capacity (oldest forgotten first), keys that separate what
// must differ, disabled modes.
#include <gtest/gtest.h>

#include "tunnel/initiation_replay.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

TEST(InitiationReplayCache, RemembersForTheLifetime) {
  SeededRng rng(1);
  InitiationReplayCache c(16, 30'000, rng);
  EXPECT_TRUE(c.enabled());
  const Bytes enc(85, 0x11);
  const auto k = c.key_encrypted(enc);
  EXPECT_FALSE(c.seen(k, 0));
  c.insert(k, 1000);
  EXPECT_TRUE(c.seen(k, 1000));
  EXPECT_TRUE(c.seen(k, 30'999));
  EXPECT_FALSE(c.seen(k, 31'000));
  c.insert(c.key_encrypted(Bytes(85, 0x22)), 31'000);
  EXPECT_EQ(c.size(), 1u) << "the expired entry was swept on insert";
}

TEST(InitiationReplayCache, KeysSeparateTimeBytesAndKind) {
  SeededRng a(1), b(2);
  InitiationReplayCache c(4, 1000, a), d(4, 1000, b);
  const Bytes dg = test::hex("0102030405");
  EXPECT_EQ(c.key_signature_time(7, dg), c.key_signature_time(7, dg));
  EXPECT_NE(c.key_signature_time(7, dg), c.key_signature_time(8, dg));
  EXPECT_NE(c.key_signature_time(7, dg), c.key_signature_time(7, test::hex("0102030406")));
  EXPECT_NE(c.key_encrypted(dg), c.key_signature_time(0, dg));
  EXPECT_NE(c.key_encrypted(dg), d.key_encrypted(dg)) << "a secret per cache";
  // An encrypted timestamp is known by its nonce and ciphertext, whatever encodes the key.
  Bytes enc(85, 0x44);
  Bytes other_key = enc;
  other_key[32] ^= 0x80;
  EXPECT_EQ(c.key_encrypted(enc), c.key_encrypted(other_key));
  Bytes other_nonce = enc;
  other_nonce[33] ^= 1;
  EXPECT_NE(c.key_encrypted(enc), c.key_encrypted(other_nonce));
  Bytes other_ct = enc;
  other_ct[84] ^= 1;
  EXPECT_NE(c.key_encrypted(enc), c.key_encrypted(other_ct));
}

TEST(InitiationReplayCache, BoundedOldestFirst) {
  SeededRng rng(3);
  InitiationReplayCache c(8, 60'000, rng);
  std::vector<InitiationReplayCache::Key> keys;
  for (std::uint8_t i = 0; i < 20; ++i) {
    keys.push_back(c.key_encrypted(Bytes(85, i)));
    c.insert(keys.back(), i);
    ASSERT_LE(c.size(), 8u);
  }
  EXPECT_EQ(c.evictions(), 12u);
  EXPECT_FALSE(c.seen(keys[11], 100));
  for (std::size_t i = 12; i < 20; ++i) EXPECT_TRUE(c.seen(keys[i], 100)) << i;
}

TEST(InitiationReplayCache, DisabledByZeroSizeOrLifetime) {
  SeededRng rng(4);
  for (auto [cap, life] : {std::pair<std::size_t, TimeMs>{0, 1000}, {16, 0}}) {
    InitiationReplayCache c(cap, life, rng);
    EXPECT_FALSE(c.enabled());
    const auto k = c.key_encrypted(Bytes(85, 1));
    c.insert(k, 0);
    EXPECT_FALSE(c.seen(k, 0));
    EXPECT_EQ(c.size(), 0u);
  }
}

}  // namespace
}  // namespace paniq::tunnel
