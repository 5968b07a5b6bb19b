#include "envelope/auth.hpp"

#include <gtest/gtest.h>

#include "support/vectors.hpp"

namespace paniq::envelope {
namespace {

using test::hex;

crypto::Key32 key32(const std::string& h) {
  const Bytes b = hex(h);
  crypto::Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

nlohmann::json go_vectors() { return test::load_vectors("go-auth-initiation-vectors.json"); }

ByteView payload_of(const Bytes& datagram, const nlohmann::json& c) {
  return ByteView(datagram).subspan(c.at("server_view").at("payload_offset").get<std::size_t>());
}

TEST(Mac1, GoPrimitiveVectors) {
  const auto v = test::load_vectors("go-mac1-vectors.json");
  const crypto::Key32 key = mac1_key(key32(v.at("server_public_key_hex")));
  EXPECT_EQ(to_hex(key), v.at("derived_mac1_key_hex").get<std::string>());
  ASSERT_EQ(v.at("vectors").size(), 3u);
  for (const auto& c : v.at("vectors")) {
    EXPECT_EQ(to_hex(compute_mac1(hex(c.at("message_hex")), key)),
              c.at("mac1_hex").get<std::string>());
  }
}

TEST(Mac1, WriteAndVerify) {
  const crypto::Key32 key = mac1_key(crypto::Key32{7});
  Bytes d(40, 0xab);
  write_mac1(d, key);
  EXPECT_TRUE(verify_mac1(d, key));
  Bytes zeroed = d;
  std::fill(zeroed.end() - 16, zeroed.end(), 0);
  EXPECT_EQ(to_hex(compute_mac1(zeroed, key)), to_hex(ByteView(d).last(16)));
  d[0] ^= 1;
  EXPECT_FALSE(verify_mac1(d, key));
  EXPECT_FALSE(verify_mac1(Bytes(15), key));
  Bytes small(15);
  EXPECT_THROW(write_mac1(small, key), std::invalid_argument);
}

// Every intermediate of each case, then the datagram assembled from the primitives (the
// framer-level build_initiation is checked in handshake_test.cpp).
TEST(GoAuth, CasesIntermediatesAndDatagram) {
  const auto v = go_vectors();
  ASSERT_EQ(v.at("cases").size(), 3u);
  for (const auto& c : v.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const auto& in = c.at("inputs");
    const auto& im = c.at("intermediates");
    const ServerKeys keys = ServerKeys::from_private(key32(in.at("server_private_key_hex")));
    EXPECT_EQ(to_hex(keys.public_key), im.at("server_public_key_hex").get<std::string>());
    EXPECT_EQ(crypto::base64_encode(keys.public_key),
              im.at("server_public_key_base64").get<std::string>());
    EXPECT_EQ(to_hex(keys.mac1_key), im.at("mac1_key_hex").get<std::string>());
    const crypto::Key32 eph = key32(in.at("client_ephemeral_private_key_hex"));
    EXPECT_EQ(to_hex(crypto::x25519_public(eph)),
              im.at("client_ephemeral_public_key_hex").get<std::string>());
    auto shared = crypto::x25519(eph, keys.public_key);
    ASSERT_TRUE(shared);
    EXPECT_EQ(to_hex(*shared), im.at("x25519_shared_hex").get<std::string>());
    EXPECT_EQ(to_hex(timestamp_key(*shared)), im.at("aead_key_hex").get<std::string>());

    const WallTime now{in.at("unix_seconds").get<std::int64_t>(),
                       in.at("unix_nanoseconds").get<std::uint32_t>()};
    ScriptedRng rng;
    rng.push(hex(in.at("client_ephemeral_private_key_hex")));
    rng.push(hex(in.at("nonce_hex")));
    Bytes enc(kEncTimestampLen);
    ASSERT_TRUE(seal_timestamp(enc, tai64n_encode(now), keys.public_key, rng).ok());
    EXPECT_EQ(rng.remaining(), 0u);
    EXPECT_EQ(to_hex(enc), im.at("enc_timestamp_hex").get<std::string>());
    EXPECT_EQ(to_hex(ByteView(enc).subspan(57)), im.at("ciphertext_hex").get<std::string>());
    EXPECT_EQ(to_hex(ByteView(enc).last(16)), im.at("tag_hex").get<std::string>());
    // The hashed inputs, and the XChaCha20 construction spelled out: RFC 8439 AEAD under the
    // HChaCha20 subkey with nonce 00000000 || n[16..24] gives the same ciphertext.
    EXPECT_EQ(to_hex(as_bytes("ts-encrypt")) + to_hex(*shared),
              im.at("ts_key_input_hex").get<std::string>());
    EXPECT_EQ(to_hex(as_bytes("mac1----")) + to_hex(keys.public_key),
              im.at("mac1_key_input_hex").get<std::string>());
    const Bytes n = hex(in.at("nonce_hex"));
    std::array<std::uint8_t, 12> chacha_nonce{};
    std::copy(n.begin() + 16, n.end(), chacha_nonce.begin() + 4);
    EXPECT_EQ(to_hex(chacha_nonce), im.at("chacha20_nonce_hex").get<std::string>());
    Bytes ct(kTai64nLen + crypto::kAeadTagLen);
    crypto::chacha20poly1305_seal(ct, tai64n_encode(now).bytes, {}, chacha_nonce,
                                  key32(im.at("hchacha20_subkey_hex")));
    EXPECT_EQ(to_hex(ct), im.at("ciphertext_hex").get<std::string>());

    Bytes datagram = hex(in.at("padding_hex"));
    const Bytes header = hex(im.at("header_hex"));
    datagram.insert(datagram.end(), header.begin(), header.end());
    datagram.insert(datagram.end(), enc.begin(), enc.end());
    datagram.resize(datagram.size() + kMac1Len, 0);
    EXPECT_EQ(to_hex(ByteView(datagram).subspan(datagram.size() - kEncTimestampLen - kMac1Len)),
              im.at("payload_with_zero_mac1_hex").get<std::string>());
    EXPECT_EQ(to_hex(datagram), im.at("mac1_input_hex").get<std::string>());
    write_mac1(datagram, mac1_key(keys.public_key));
    EXPECT_EQ(to_hex(ByteView(datagram).last(16)), im.at("mac1_hex").get<std::string>());
    EXPECT_EQ(to_hex(datagram), c.at("datagram_hex").get<std::string>());
    EXPECT_EQ(datagram.size(), c.at("datagram_len").get<std::size_t>());
  }
}

TEST(GoAuth, ServerAcceptsCasesAndDecodesTime) {
  const auto v = go_vectors();
  for (const auto& c : v.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const ServerKeys keys =
        ServerKeys::from_private(key32(c.at("inputs").at("server_private_key_hex")));
    const Bytes datagram = hex(c.at("datagram_hex"));
    const auto& sv = c.at("server_view");
    const auto verdict = verify_initiation(datagram, payload_of(datagram, c), keys);
    EXPECT_EQ(verdict.mac1, Mac1Check::Valid);
    ASSERT_EQ(verdict.timestamp, TimestampCheck::Valid);
    ASSERT_TRUE(verdict.time);
    EXPECT_EQ(verdict.time->seconds, sv.at("decoded_unix_seconds").get<std::int64_t>());
    EXPECT_EQ(verdict.time->nanos, sv.at("decoded_nanoseconds").get<std::uint32_t>());
    // The encrypted timestamp opens on its own too.
    auto t =
        open_timestamp(ByteView(datagram).subspan(sv.at("enc_timestamp_offset").get<std::size_t>()),
                       keys.private_key);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, *verdict.time);
    // Skipping the open.
    const auto cheap =
        verify_initiation(datagram, payload_of(datagram, c), keys, VerifyOptions{false});
    EXPECT_EQ(cheap.mac1, Mac1Check::Valid);
    EXPECT_EQ(cheap.timestamp, TimestampCheck::NotChecked);
    EXPECT_FALSE(cheap.time);
  }
}

TEST(GoAuth, Mac1OnlyCase) {
  const auto v = go_vectors();
  ASSERT_FALSE(v.at("mac1_only_cases").empty());
  for (const auto& c : v.at("mac1_only_cases")) {
    const auto& in = c.at("inputs");
    const ServerKeys keys = ServerKeys::from_private(key32(in.at("server_private_key_hex")));
    EXPECT_EQ(to_hex(keys.mac1_key), c.at("intermediates").at("mac1_key_hex").get<std::string>());
    Bytes datagram = hex(in.at("padding_hex"));
    Bytes header(4);
    put_u32_le(header.data(), in.at("header_value").get<std::uint32_t>());
    datagram.insert(datagram.end(), header.begin(), header.end());
    datagram.resize(datagram.size() + kMac1Len, 0);
    EXPECT_EQ(to_hex(datagram), c.at("intermediates").at("mac1_input_hex").get<std::string>());
    write_mac1(datagram, keys.mac1_key);
    EXPECT_EQ(to_hex(datagram), c.at("datagram_hex").get<std::string>());
    const auto verdict = verify_initiation(datagram, payload_of(datagram, c), keys);
    EXPECT_EQ(verdict.mac1, Mac1Check::Valid);
    EXPECT_EQ(verdict.timestamp, TimestampCheck::Absent);
    EXPECT_FALSE(verdict.time);
  }
}

TEST(GoAuth, NegativeTamperedCiphertext) {
  const auto v = go_vectors();
  const auto& base = v.at("cases").at(0);
  const auto& n = v.at("negative_cases").at(0);
  ASSERT_EQ(n.at("name"), "tampered_ciphertext");
  const ServerKeys keys =
      ServerKeys::from_private(key32(base.at("inputs").at("server_private_key_hex")));

  Bytes tampered = hex(base.at("datagram_hex"));
  tampered[n.at("flipped_datagram_offset").get<std::size_t>()] ^= hex(n.at("flip_mask_hex"))[0];
  EXPECT_EQ(to_hex(tampered), n.at("datagram_mac1_stale_hex").get<std::string>());
  auto stale = verify_initiation(tampered, payload_of(tampered, base), keys);
  EXPECT_EQ(stale.mac1, Mac1Check::Invalid);
  EXPECT_EQ(stale.timestamp, TimestampCheck::NotChecked);

  write_mac1(tampered, keys.mac1_key);
  EXPECT_EQ(to_hex(tampered), n.at("datagram_mac1_recomputed_hex").get<std::string>());
  auto recomputed = verify_initiation(tampered, payload_of(tampered, base), keys);
  EXPECT_EQ(recomputed.mac1, Mac1Check::Valid);
  EXPECT_EQ(recomputed.timestamp, TimestampCheck::Invalid);
  EXPECT_FALSE(recomputed.time);
  auto open = open_timestamp(ByteView(tampered).subspan(4), keys.private_key);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, Errc::timestamp_auth_failed);
}

TEST(GoAuth, NegativeWrongServerKey) {
  const auto v = go_vectors();
  const auto& base = v.at("cases").at(0);
  const auto& n = v.at("negative_cases").at(1);
  ASSERT_EQ(n.at("name"), "wrong_server_key");
  const ServerKeys wrong = ServerKeys::from_private(key32(n.at("wrong_server_private_key_hex")));
  EXPECT_EQ(to_hex(wrong.public_key), n.at("wrong_server_public_key_hex").get<std::string>());
  EXPECT_EQ(to_hex(wrong.mac1_key), n.at("wrong_mac1_key_hex").get<std::string>());
  // What the misconfigured client builds.
  ScriptedRng rng;
  rng.push(hex(base.at("inputs").at("client_ephemeral_private_key_hex")));
  rng.push(hex(base.at("inputs").at("nonce_hex")));
  Bytes datagram = hex("01000000");
  datagram.resize(4 + kEncTimestampLen + kMac1Len, 0);
  const WallTime now{base.at("inputs").at("unix_seconds").get<std::int64_t>(),
                     base.at("inputs").at("unix_nanoseconds").get<std::uint32_t>()};
  ASSERT_TRUE(
      seal_timestamp(MutByteView(datagram).subspan(4), tai64n_encode(now), wrong.public_key, rng)
          .ok());
  write_mac1(datagram, wrong.mac1_key);
  EXPECT_EQ(to_hex(datagram), n.at("datagram_hex").get<std::string>());
  EXPECT_EQ(to_hex(ByteView(datagram).subspan(61, 28)), n.at("ciphertext_hex").get<std::string>());

  const ServerKeys server =
      ServerKeys::from_private(key32(n.at("receiving_server_private_key_hex")));
  EXPECT_EQ(to_hex(server.mac1_key), n.at("receiving_server_mac1_key_hex").get<std::string>());
  Bytes zeroed = datagram;
  std::fill(zeroed.end() - 16, zeroed.end(), 0);
  EXPECT_EQ(to_hex(compute_mac1(zeroed, server.mac1_key)),
            n.at("expected_mac1_at_server_hex").get<std::string>());
  auto verdict = verify_initiation(datagram, ByteView(datagram).subspan(4), server);
  EXPECT_EQ(verdict.mac1, Mac1Check::Invalid);
  auto open = open_timestamp(ByteView(datagram).subspan(4), server.private_key);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, Errc::timestamp_auth_failed);
}

TEST(GoAuth, EveryFlippedByteFailsVerification) {
  const auto v = go_vectors();
  for (const auto& c : v.at("cases")) {
    const ServerKeys keys =
        ServerKeys::from_private(key32(c.at("inputs").at("server_private_key_hex")));
    Bytes datagram = hex(c.at("datagram_hex"));
    const std::size_t off = c.at("server_view").at("payload_offset");
    for (std::size_t i = 0; i < datagram.size(); ++i) {
      for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
        datagram[i] ^= mask;
        const auto verdict = verify_initiation(datagram, ByteView(datagram).subspan(off), keys);
        ASSERT_EQ(verdict.mac1, Mac1Check::Invalid) << "byte " << i;
        ASSERT_NE(verdict.timestamp, TimestampCheck::Valid);
        datagram[i] ^= mask;
      }
    }
    EXPECT_EQ(verify_initiation(datagram, ByteView(datagram).subspan(off), keys).mac1,
              Mac1Check::Valid);
  }
}

TEST(GoAuth, AbsentAndMalformedPayloads) {
  const ServerKeys keys = ServerKeys::from_private(crypto::Key32{1, 2, 3});
  const Bytes empty_init = hex("aabbcc96000000");  // what Rust clients send
  auto v0 = verify_initiation(empty_init, ByteView(empty_init).subspan(7), keys);
  EXPECT_EQ(v0.mac1, Mac1Check::Absent);
  EXPECT_EQ(v0.timestamp, TimestampCheck::Absent);
  Bytes short_payload(4 + 15, 0x11);
  EXPECT_EQ(verify_initiation(short_payload, ByteView(short_payload).subspan(4), keys).mac1,
            Mac1Check::Absent);
  // A payload that is not the datagram's tail is never valid.
  Bytes d(4 + 16, 0);
  write_mac1(d, keys.mac1_key);
  EXPECT_EQ(verify_initiation(d, ByteView(d).subspan(4), keys).mac1, Mac1Check::Valid);
  EXPECT_EQ(verify_initiation(d, ByteView(d).subspan(3, 16), keys).mac1, Mac1Check::Invalid);
  // MAC1 valid, 85 bytes that do not start with 0x01 -> Absent; starting with 0x01 but
  // garbage -> Invalid.
  Bytes g(4 + kEncTimestampLen + kMac1Len, 0x5a);
  write_mac1(g, keys.mac1_key);
  EXPECT_EQ(verify_initiation(g, ByteView(g).subspan(4), keys).timestamp, TimestampCheck::Absent);
  g[4] = kEncTimestampVersion;
  write_mac1(g, keys.mac1_key);
  EXPECT_EQ(verify_initiation(g, ByteView(g).subspan(4), keys).timestamp, TimestampCheck::Invalid);
}

TEST(GoAuth, LowOrderKeysRejected) {
  ScriptedRng rng;
  Bytes enc(kEncTimestampLen);
  auto sealed = seal_timestamp(enc, tai64n_encode(WallTime{1, 0}), crypto::Key32{}, rng);
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.error().code, Errc::low_order_key);
  Bytes zero_eph(kEncTimestampLen, 0);
  zero_eph[0] = kEncTimestampVersion;  // E = all zero -> all-zero shared secret
  auto opened = open_timestamp(zero_eph, crypto::Key32{9});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::low_order_key);
  EXPECT_EQ(open_timestamp(Bytes(84, 1), crypto::Key32{9}).error().code, Errc::timestamp_malformed);
  Bytes too_small(84);
  EXPECT_EQ(seal_timestamp(too_small, Tai64n{}, crypto::Key32{9}, rng).error().code,
            Errc::buffer_too_small);
}

TEST(GoAuth, SealOpenRoundTrip) {
  SeededRng rng(5);
  const ServerKeys keys = ServerKeys::from_private(crypto::Key32{42});
  for (std::int64_t s : {0LL, 1LL, 1'700'000'000LL, 4'000'000'000LL}) {
    Bytes enc(kEncTimestampLen);
    ASSERT_TRUE(
        seal_timestamp(enc, tai64n_encode(WallTime{s, 0x12345678}), keys.public_key, rng).ok());
    auto t = open_timestamp(enc, keys.private_key);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, (WallTime{s, 0x12000000}));
  }
}

}  // namespace
}  // namespace paniq::envelope
