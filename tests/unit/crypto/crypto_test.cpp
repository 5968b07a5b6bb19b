#include "crypto/crypto.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::crypto {
namespace {

using test::hex;

Key32 key_of(const Bytes& b) {
  Key32 k{};
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

TEST(Crypto, X25519MatchesRfc7748) {
  // RFC 7748 section 6.1.
  auto alice = key_of(hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob_pub = key_of(hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
  EXPECT_EQ(to_hex(x25519_public(alice)),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  auto shared = x25519(alice, bob_pub);
  ASSERT_TRUE(shared);
  EXPECT_EQ(to_hex(*shared), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_FALSE(x25519(alice, Key32{}));  // all-zero result rejected
}

TEST(Crypto, XChaChaMatchesDraftVectorA31) {
  // draft-irtf-cfrg-xchacha-03 appendix A.3.1.
  auto pt = as_bytes(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.");
  auto ad = hex("50515253c0c1c2c3c4c5c6c7");
  auto key = key_of(hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
  std::array<std::uint8_t, 24> nonce{};
  auto n = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::copy(n.begin(), n.end(), nonce.begin());
  Bytes ct(pt.size() + 16);
  xchacha20poly1305_seal(ct, pt, ad, nonce, key);
  EXPECT_EQ(to_hex(ByteView(ct).last(16)), "c0875924c1c7987947deafd8780acf49");
  EXPECT_EQ(to_hex(ByteView(ct).first(8)), "bd6d179d3e83d43b");
  Bytes back(pt.size());
  ASSERT_TRUE(xchacha20poly1305_open(back, ct, ad, nonce, key));
  EXPECT_TRUE(std::equal(back.begin(), back.end(), pt.begin()));
  ct[3] ^= 1;
  EXPECT_FALSE(xchacha20poly1305_open(back, ct, ad, nonce, key));
}

TEST(Crypto, ChaChaRoundTripAndTamper) {
  Key32 key{};
  key[0] = 9;
  std::array<std::uint8_t, 12> nonce{};
  auto pt = as_bytes("hello");
  Bytes ct(pt.size() + 16), back(pt.size());
  chacha20poly1305_seal(ct, pt, {}, nonce, key);
  ASSERT_TRUE(chacha20poly1305_open(back, ct, {}, nonce, key));
  EXPECT_EQ(std::string(back.begin(), back.end()), "hello");
  ct.back() ^= 0x80;
  EXPECT_FALSE(chacha20poly1305_open(back, ct, {}, nonce, key));
  EXPECT_FALSE(chacha20poly1305_open(back, ByteView(ct).first(10), {}, nonce, key));
}

TEST(Crypto, Blake2sKnownAnswersAndDigestLengthIsAParameter) {
  std::uint8_t out32[32];
  blake2s(out32, as_bytes("abc"));  // RFC 7693 appendix B
  EXPECT_EQ(to_hex(out32), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  // Go MAC1 vectors: derived key = BLAKE2s-256("mac1----" || pk), mac = keyed BLAKE2s-128.
  auto v = test::load_vectors("go-mac1-vectors.json");
  auto pk = hex(v["server_public_key_hex"]);
  std::uint8_t k[32];
  Blake2s(32).update(as_bytes("mac1----")).update(pk).final(k);
  EXPECT_EQ(to_hex(k), v["derived_mac1_key_hex"].get<std::string>());
  for (const auto& c : v["vectors"]) {
    std::uint8_t mac[16];
    blake2s(mac, hex(c["message_hex"]), k);
    EXPECT_EQ(to_hex(mac), c["mac1_hex"].get<std::string>());
  }
}

TEST(Crypto, ConstantTimeCompareAndBase64) {
  EXPECT_TRUE(ct_equal(as_bytes("abc"), as_bytes("abc")));
  EXPECT_FALSE(ct_equal(as_bytes("abc"), as_bytes("abd")));
  EXPECT_FALSE(ct_equal(as_bytes("abc"), as_bytes("ab")));
  EXPECT_EQ(base64_encode(as_bytes("hello")), "aGVsbG8=");
  auto d = base64_decode("aGVsbG8=");
  ASSERT_TRUE(d);
  EXPECT_EQ(std::string(d->begin(), d->end()), "hello");
  EXPECT_FALSE(base64_decode("aGVsbG8"));
  EXPECT_FALSE(base64_decode("a*VsbG8="));
  // The example profile's key pair is consistent.
  auto sk = base64_decode("HeiWa3ophccyGIw+3HIPJbPxSDP9kS+OY2L+ZdQdWcU=");
  ASSERT_TRUE(sk && sk->size() == 32);
  EXPECT_EQ(base64_encode(x25519_public(key_of(*sk))), "N2q78AwSzvTwmB9IAEdPTrHIzlyPBvwUQvWQu7eARzk=");
}

TEST(Crypto, OsRngProducesDistinctOutputs) {
  OsRng r;
  std::uint8_t a[32], b[32];
  r.fill(a);
  r.fill(b);
  EXPECT_FALSE(ct_equal(a, b));
}

TEST(Crypto, FastRngIsUnpredictableAcrossInstancesAndRefills) {
  FastRng a, b;
  std::vector<std::uint8_t> x(10000), y(10000);
  a.fill(x);
  b.fill(y);
  EXPECT_FALSE(ct_equal(x, y));
  // Byte histogram over 10000 bytes spanning several refills: every value appears, none dominates.
  std::array<int, 256> counts{};
  for (auto v : x) counts[v]++;
  for (int c : counts) {
    EXPECT_GT(c, 5);
    EXPECT_LT(c, 90);
  }
  // Odd-sized draws straddling the buffer boundary do not repeat the stream.
  std::uint8_t p[7], q[7];
  a.fill(p);
  a.fill(q);
  EXPECT_FALSE(ct_equal(p, q));
}

}  // namespace
}  // namespace paniq::crypto
