#include "crypto/crypto.hpp"

#include <gtest/gtest.h>

#include <thread>

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

// ---- Transport AEADs (AeadKey), header-protection keystream (chacha20_xor) ----

using Nonce12 = std::array<std::uint8_t, 12>;

Nonce12 nonce_of(const Bytes& b) {
  Nonce12 n{};
  std::copy(b.begin(), b.end(), n.begin());
  return n;
}

constexpr const char* kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
    "sunscreen would be it.";

// Seals `pt` in place under `key` and checks ciphertext || tag, then opens it back in place.
void expect_in_place_vector(const AeadKey& key, const Bytes& pt, const Bytes& ad,
                            const Nonce12& nonce, const std::string& sealed_hex) {
  Bytes buf(pt.size() + kAeadTagLen);
  std::copy(pt.begin(), pt.end(), buf.begin());
  key.seal(buf, pt.size(), ad, nonce);
  EXPECT_EQ(to_hex(buf), sealed_hex);
  ASSERT_TRUE(key.open(buf, ad, nonce));
  EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin()));
}

// McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", test cases 13-16 (AES-256,
// 96-bit IV); the same values as NIST's gcmEncryptExtIV256 set.
void expect_gcm_spec_test_cases_13_to_16() {
  const AeadKey zero(Aead::aes256gcm, Key32{});
  expect_in_place_vector(zero, {}, {}, Nonce12{}, "530f8afbc74536b9a963b4f1c4cb738b");
  expect_in_place_vector(zero, Bytes(16, 0), {}, Nonce12{},
                         "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  const AeadKey key(Aead::aes256gcm,
                    key_of(hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")));
  const auto nonce = nonce_of(hex("cafebabefacedbaddecaf888"));
  const auto pt = hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
  expect_in_place_vector(key, pt, {}, nonce,
                         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                         "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
                         "b094dac5d93471bdec1a502270e3cc6c");
  expect_in_place_vector(key, Bytes(pt.begin(), pt.begin() + 60),
                         hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"), nonce,
                         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                         "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                         "76fc6ece0f4e1768cddf8853bb2d551b");
}

TEST(Crypto, Aes256GcmMatchesGcmSpecTestCases13To16) {
  if (!aes256gcm_available()) GTEST_SKIP() << "no AES-NI/PCLMULQDQ: libsodium offers no AES-GCM";
  expect_gcm_spec_test_cases_13_to_16();
}

// The library has one AES-GCM implementation per instruction set and the fastest this CPU runs
// is picked at start: every one this CPU can run gives the spec's values, and what one seals
// the others open (datagram-sized, with a header as associated data).
TEST(Crypto, EveryAes256GcmPathThisCpuRunsAgrees) {
  const auto paths = aes256gcm_paths();
  if (paths.empty()) GTEST_SKIP() << "no AES-NI/PCLMULQDQ: libsodium offers no AES-GCM";
  const std::string in_use = aes256gcm_path();
  EXPECT_EQ(in_use, paths.front()) << "the fastest path is the one in use";
  Key32 k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i * 13 + 1);
  const Nonce12 nonce{9, 8, 7, 6};
  const auto ad = as_bytes("header bytes");
  Bytes pt(1350);
  for (std::size_t i = 0; i < pt.size(); ++i) pt[i] = static_cast<std::uint8_t>(i * 31 + 7);
  std::vector<Bytes> sealed;
  for (const char* name : paths) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(use_aes256gcm_path_for_testing(name));
    EXPECT_STREQ(aes256gcm_path(), name);
    expect_gcm_spec_test_cases_13_to_16();
    Bytes buf = pt;
    buf.resize(pt.size() + kAeadTagLen);
    AeadKey(Aead::aes256gcm, k).seal(buf, pt.size(), ad, nonce);
    sealed.push_back(buf);
  }
  EXPECT_FALSE(use_aes256gcm_path_for_testing("no-such-path"));
  for (std::size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    EXPECT_EQ(sealed[i], sealed.front());
    ASSERT_TRUE(use_aes256gcm_path_for_testing(paths[i]));
    Bytes buf = sealed[(i + 1) % sealed.size()];
    ASSERT_TRUE(AeadKey(Aead::aes256gcm, k).open(buf, ad, nonce));
    EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin()));
  }
  ASSERT_TRUE(use_aes256gcm_path_for_testing(in_use));
}

TEST(Crypto, ChaChaPoly1305InPlaceMatchesRfc8439Section282) {
  const AeadKey key(Aead::chacha20poly1305,
                    key_of(hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")));
  const auto pt = as_bytes(kSunscreen);
  expect_in_place_vector(key, Bytes(pt.begin(), pt.end()), hex("50515253c0c1c2c3c4c5c6c7"),
                         nonce_of(hex("070000004041424344454647")),
                         "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                         "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                         "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                         "3ff4def08e4b7a9de576d26586cec64b6116"
                         "1ae10b594f09e26a7e902ecbd0600691");
}

TEST(Crypto, AeadKeyInPlaceAgreesWithTheCopyingChaChaSeal) {
  Key32 k{};
  k[5] = 0x42;
  const AeadKey key(Aead::chacha20poly1305, k);
  const Nonce12 nonce{1, 2, 3};
  const auto ad = as_bytes("header");
  Bytes pt(1200);
  for (std::size_t i = 0; i < pt.size(); ++i) pt[i] = static_cast<std::uint8_t>(i * 7);
  Bytes copied(pt.size() + kAeadTagLen), in_place = pt;
  in_place.resize(pt.size() + kAeadTagLen);
  chacha20poly1305_seal(copied, pt, ad, nonce, k);
  key.seal(in_place, pt.size(), ad, nonce);
  EXPECT_EQ(copied, in_place);
}

// Round trips and tampering, run once per algorithm.
class AeadKeyTest : public ::testing::TestWithParam<Aead> {
 protected:
  void SetUp() override {
    if (GetParam() == Aead::aes256gcm && !aes256gcm_available()) {
      GTEST_SKIP() << "no AES-NI/PCLMULQDQ: libsodium offers no AES-GCM";
    }
  }
  static Key32 test_key() {
    Key32 k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(0xa0 + i);
    return k;
  }
};

// Out of place: the ciphertext is left as it was, the plaintext lands in `out`, and a tampered
// input still fails.
TEST_P(AeadKeyTest, OpensOutOfPlace) {
  const AeadKey key(GetParam(), test_key());
  const Bytes ad(16, 0x5c);
  const std::array<std::uint8_t, 12> nonce{1, 2, 3};
  for (std::size_t len : {0u, 1u, 64u, 1200u}) {
    Bytes pt(len);
    for (std::size_t i = 0; i < len; ++i) pt[i] = static_cast<std::uint8_t>(i * 7);
    Bytes sealed(len + kAeadTagLen);
    std::copy(pt.begin(), pt.end(), sealed.begin());
    key.seal(sealed, len, ad, nonce);
    const Bytes before = sealed;
    Bytes out(len);
    ASSERT_TRUE(key.open(out, sealed, ad, nonce)) << len;
    EXPECT_EQ(out, pt);
    EXPECT_EQ(sealed, before) << "the input is not modified";
    Bytes short_out(len > 0 ? len - 1 : 0);
    if (len > 0) {
      EXPECT_FALSE(key.open(short_out, sealed, ad, nonce));
    }
    Bytes bad = sealed;
    bad[len / 2] ^= 1;
    EXPECT_FALSE(key.open(out, bad, ad, nonce)) << len;
  }
}

TEST_P(AeadKeyTest, RoundTripsWithAdAtEverySize) {
  const AeadKey key(GetParam(), test_key());
  EXPECT_EQ(key.algorithm(), GetParam());
  const Bytes ad(16, 0x5c);
  for (std::size_t len : {0, 1, 15, 16, 17, 63, 64, 65, 255, 1200, 1350}) {
    Bytes pt(len);
    for (std::size_t i = 0; i < len; ++i) pt[i] = static_cast<std::uint8_t>(i ^ len);
    Bytes buf = pt;
    buf.resize(len + kAeadTagLen + 3, 0xee);  // spare room past the tag is left alone
    const Nonce12 nonce{static_cast<std::uint8_t>(len), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    key.seal(buf, len, ad, nonce);
    if (len >= 16) {
      EXPECT_FALSE(std::equal(pt.begin(), pt.end(), buf.begin())) << len;
    }
    EXPECT_EQ(buf[len + kAeadTagLen], 0xee);
    ASSERT_TRUE(key.open(MutByteView(buf).first(len + kAeadTagLen), ad, nonce)) << len;
    EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin())) << len;
  }
}

TEST_P(AeadKeyTest, DetectsTamperedTagCiphertextAdAndNonce) {
  const AeadKey key(GetParam(), test_key());
  const Bytes ad = hex("000102030405060708090a0b0c0d0e0f");
  const Nonce12 nonce{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes sealed(100 + kAeadTagLen, 0x61);
  key.seal(sealed, 100, ad, nonce);
  auto opens = [&](Bytes buf, const Bytes& a, const Nonce12& n) { return key.open(buf, a, n); };
  ASSERT_TRUE(opens(sealed, ad, nonce));
  for (std::size_t at : {std::size_t{0}, std::size_t{57}, std::size_t{99}, std::size_t{100},
                         sealed.size() - 1}) {  // ciphertext, then tag bytes
    Bytes bad = sealed;
    bad[at] ^= 0x01;
    EXPECT_FALSE(opens(bad, ad, nonce)) << "flipped byte " << at;
  }
  Bytes bad_ad = ad;
  bad_ad[15] ^= 0x80;
  EXPECT_FALSE(opens(sealed, bad_ad, nonce));
  EXPECT_FALSE(opens(sealed, {}, nonce));
  Nonce12 bad_nonce = nonce;
  bad_nonce[11] = 2;
  EXPECT_FALSE(opens(sealed, ad, bad_nonce));
  // Truncated: one byte off the end, and shorter than a tag.
  EXPECT_FALSE(opens(Bytes(sealed.begin(), sealed.end() - 1), ad, nonce));
  EXPECT_FALSE(opens(Bytes(sealed.begin(), sealed.begin() + 15), ad, nonce));
  // The other algorithm under the same key bytes does not open it.
  const Aead other = GetParam() == Aead::aes256gcm ? Aead::chacha20poly1305 : Aead::aes256gcm;
  if (other == Aead::chacha20poly1305 || aes256gcm_available()) {
    Bytes buf = sealed;
    EXPECT_FALSE(AeadKey(other, test_key()).open(buf, ad, nonce));
  }
}

TEST_P(AeadKeyTest, SealRejectsABufferWithoutRoomForTheTag) {
  const AeadKey key(GetParam(), test_key());
  Bytes buf(20);
  EXPECT_THROW(key.seal(buf, 5, {}, Nonce12{}), std::length_error);
  EXPECT_THROW(key.seal(MutByteView(buf).first(10), 0, {}, Nonce12{}), std::length_error);
  EXPECT_NO_THROW(key.seal(buf, 4, {}, Nonce12{}));
}

TEST_P(AeadKeyTest, MoveKeepsTheKeyInTheDestination) {
  AeadKey a(GetParam(), test_key());
  Bytes buf(32 + kAeadTagLen, 0x33);
  a.seal(buf, 32, {}, Nonce12{});
  AeadKey b(std::move(a));
  Bytes copy = buf;
  EXPECT_TRUE(b.open(copy, {}, Nonce12{}));
  AeadKey c(Aead::chacha20poly1305, Key32{});
  c = std::move(b);
  EXPECT_EQ(c.algorithm(), GetParam());
  EXPECT_TRUE(c.open(buf, {}, Nonce12{}));
}

INSTANTIATE_TEST_SUITE_P(BothAlgorithms, AeadKeyTest,
                         ::testing::Values(Aead::chacha20poly1305, Aead::aes256gcm),
                         [](const ::testing::TestParamInfo<Aead>& info) {
                           return info.param == Aead::aes256gcm ? std::string("Aes256Gcm")
                                                                : std::string("ChaCha20Poly1305");
                         });

TEST(Crypto, AesKeyThrowsWhenAesGcmIsUnavailable) {
  if (aes256gcm_available()) GTEST_SKIP() << "AES-GCM is available here";
  EXPECT_THROW(AeadKey(Aead::aes256gcm, Key32{}), std::invalid_argument);
}

TEST(Crypto, PreferredAeadIsUsableAndNamed) {
  const Aead a = preferred_aead();
  EXPECT_EQ(a, aes256gcm_available() ? Aead::aes256gcm : Aead::chacha20poly1305);
  EXPECT_NO_THROW(AeadKey(a, Key32{}));
  EXPECT_STREQ(to_string(Aead::chacha20poly1305), "chacha20-poly1305");
  EXPECT_STREQ(to_string(Aead::aes256gcm), "aes-256-gcm");
}

TEST(Crypto, ChaCha20XorMatchesRfc8439Section242) {
  auto key = key_of(hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  auto nonce = nonce_of(hex("000000000000004a00000000"));
  const auto pt = as_bytes(kSunscreen);
  Bytes buf(pt.begin(), pt.end());
  chacha20_xor(buf, key, nonce, 1);
  EXPECT_EQ(to_hex(buf),
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
            "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
            "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
            "5af90bbf74a35be6b40b8eedf2785e42874d");
  chacha20_xor(buf, key, nonce, 1);  // its own inverse
  EXPECT_TRUE(std::equal(pt.begin(), pt.end(), buf.begin()));
  // RFC 8439 section 2.3.2: the keystream itself (block 1 over zeros).
  Bytes block(64, 0);
  chacha20_xor(block, key, nonce_of(hex("000000090000004a00000000")), 1);
  EXPECT_EQ(to_hex(block),
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
            "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
}

TEST(Crypto, ChaCha20XorGivesTheRfc9001HeaderProtectionMask) {
  // RFC 9001 appendix A.5: counter = sample[0..4) little-endian, nonce = sample[4..16).
  auto hp = key_of(hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"));
  auto sample = hex("5e5cd55c41f69080575d7999c25a5bfb");
  Nonce12 nonce{};
  std::copy(sample.begin() + 4, sample.end(), nonce.begin());
  std::uint8_t mask[5] = {};
  chacha20_xor(mask, hp, nonce, get_u32_le(sample.data()));
  EXPECT_EQ(to_hex(mask), "aefefe7d03");
}

TEST(Crypto, AesHeaderProtectionMaskIsTheFips197Aes256Block) {
  // FIPS-197 appendix C.3: AES-256 of 00112233...ff under the key 000102...1f.
  if (!aes256gcm_available()) GTEST_SKIP() << "AES is not offered on this CPU or build";
  HeaderProtection hp(Aead::aes256gcm,
                      key_of(hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")));
  const auto sample = hex("00112233445566778899aabbccddeeff");
  EXPECT_EQ(to_hex(hp.mask(sample)), "8ea2b7ca516745bfeafc49904b496089");
  // Moving keeps the schedule; another thread (its own job manager) gets the same block.
  HeaderProtection moved(std::move(hp));
  std::array<std::uint8_t, 16> from_thread{};
  std::thread([&] { from_thread = moved.mask(sample); }).join();
  EXPECT_EQ(to_hex(from_thread), "8ea2b7ca516745bfeafc49904b496089");
}

}  // namespace
}  // namespace paniq::crypto
