#include "envelope/rust_compat.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::envelope::rust {
namespace {

using test::hex;

crypto::Key32 key32(const std::string& h) {
  const Bytes b = hex(h);
  crypto::Key32 k{};
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

TEST(RustCompat, Mac1Vector) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_FALSE(v.at("mac1").empty());
  for (const auto& c : v.at("mac1")) {
    const Bytes key = hex(c.at("key_hex"));
    const Bytes data = hex(c.at("input_hex"));
    const Mac1 mac = mac1(key, data);
    EXPECT_EQ(to_hex(mac), c.at("output_hex").get<std::string>());
    EXPECT_TRUE(verify_mac1(key, data, mac));
    Bytes bad(mac.begin(), mac.end());
    bad[15] ^= 1;
    EXPECT_FALSE(verify_mac1(key, data, bad));
    EXPECT_FALSE(verify_mac1(key, data, ByteView(mac).first(15)));
    // Not BLAKE2s-128.
    Mac1 b128{};
    crypto::blake2s(b128, data, key);
    EXPECT_NE(to_hex(b128), c.at("output_hex").get<std::string>());
  }
}

TEST(RustCompat, EncryptedTimestampVector) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_FALSE(v.at("enc_timestamp").empty());
  for (const auto& c : v.at("enc_timestamp")) {
    const crypto::Key32 client = key32(c.at("client_secret_hex"));
    const crypto::Key32 server = key32(c.at("server_secret_hex"));
    ScriptedRng rng;
    rng.push(hex(c.at("nonce_hex")));
    const WallTime t{c.at("timestamp").get<std::int64_t>(), 0};
    auto ts = seal_timestamp(client, crypto::x25519_public(server), t, rng);
    ASSERT_TRUE(ts.ok());
    EXPECT_EQ(rng.remaining(), 0u);
    EXPECT_EQ(to_hex(ts->ciphertext), c.at("ciphertext_hex").get<std::string>());
    EXPECT_EQ(to_hex(ts->client_public), c.at("ephemeral_hex").get<std::string>());
    EXPECT_EQ(to_hex(ts->nonce), c.at("nonce_hex").get<std::string>());
    auto back = open_timestamp(*ts, server);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, t);
    EncryptedTimestamp bad = *ts;
    bad.ciphertext[0] ^= 1;
    EXPECT_EQ(open_timestamp(bad, server).error().code, Errc::timestamp_auth_failed);
    EXPECT_EQ(open_timestamp(*ts, client).error().code, Errc::timestamp_auth_failed);
  }
}

TEST(RustCompat, EncryptedTimestampEdges) {
  SeededRng rng(1);
  const crypto::Key32 server{4};
  EXPECT_EQ(seal_timestamp(crypto::Key32{3}, crypto::Key32{}, WallTime{1, 0}, rng).error().code,
            Errc::low_order_key);
  EncryptedTimestamp zero_pub;
  EXPECT_EQ(open_timestamp(zero_pub, server).error().code, Errc::low_order_key);
  auto ts =
      seal_timestamp(crypto::Key32{3}, crypto::x25519_public(server), WallTime{7, 123456789}, rng);
  ASSERT_TRUE(ts.ok());
  auto back = open_timestamp(*ts, server);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (WallTime{7, 123456789}));  // nanoseconds kept whole (no TAI64N grain)
}

TEST(RustCompat, ReplayCacheVector) {
  const auto v = test::load_vectors("obf-parity-vectors.json");
  ASSERT_FALSE(v.at("replay").empty());
  for (const auto& c : v.at("replay")) {
    ReplayCache cache(c.at("window_secs").get<std::uint64_t>(),
                      c.at("max_entries").get<std::size_t>());
    ASSERT_EQ(c.at("events").size(), 6u);
    int i = 0;
    for (const auto& e : c.at("events")) {
      EXPECT_EQ(cache.check_and_insert(e.at("timestamp").get<std::uint64_t>(),
                                       hex(e.at("payload_hex")), hex(e.at("mac1_hex"))),
                e.at("accepted").get<bool>())
          << "event " << i;
      ++i;
    }
    EXPECT_LE(cache.size(), c.at("max_entries").get<std::size_t>());
  }
}

TEST(RustCompat, ReplayCacheEvictionRules) {
  const Bytes mac(16, 0x01);
  const Bytes a{'a'}, b{'b'}, cc{'c'};
  ReplayCache cache(10, 2);
  EXPECT_TRUE(cache.check_and_insert(100, a, mac));
  EXPECT_TRUE(cache.check_and_insert(101, b, mac));
  EXPECT_TRUE(cache.check_and_insert(102, cc, mac));  // over max_entries: a@100 dropped
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.check_and_insert(100, a, mac));  // earlier than b@101: cache cleared
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.check_and_insert(100, a, mac));
  // A different MAC1 is a different key.
  EXPECT_TRUE(cache.check_and_insert(100, a, Bytes(16, 0x02)));
  // Exactly the window old stays; one more second evicts.
  ReplayCache w(5, 100);
  EXPECT_TRUE(w.check_and_insert(10, a, mac));
  EXPECT_TRUE(w.check_and_insert(15, b, mac));  // a@10 is exactly 5 s old: kept
  EXPECT_EQ(w.size(), 2u);
  EXPECT_FALSE(w.check_and_insert(15, b, mac));
  EXPECT_TRUE(w.check_and_insert(16, cc, mac));
  EXPECT_EQ(w.size(), 2u);  // a@10 evicted (age 6 > 5)
  EXPECT_TRUE(w.check_and_insert(16, a, mac));
}

}  // namespace
}  // namespace paniq::envelope::rust
