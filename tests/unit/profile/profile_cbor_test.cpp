// Compact CBOR profile (11): encode/decode vectors byte for byte, base64, decoder rules.
#include "profile/profile_cbor.hpp"

#include <gtest/gtest.h>

#include "crypto/crypto.hpp"
#include "profile/cbor.hpp"
#include "profile/validate.hpp"
#include "support/vectors.hpp"

namespace paniq::profile {
namespace {

using std::chrono::milliseconds;

Profile parse_ok(const nlohmann::json& j) {
  std::vector<std::string> warnings;
  auto r = parse_profile_json(j.dump(), warnings);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  EXPECT_TRUE(warnings.empty());
  return r.ok() ? *r : Profile{};
}

TEST(ProfileCbor, EncodeVectorsByteForByte) {
  const auto vectors = test::load_vectors("cbor-profile-vectors.json")["encode_vectors"];
  ASSERT_EQ(vectors.size(), 6u);
  for (const auto& v : vectors) {
    const Profile p = parse_ok(v["profile_json"]);
    auto bytes = encode_compact_profile(p);
    ASSERT_TRUE(bytes.ok()) << v["name"];
    EXPECT_EQ(to_hex(*bytes), v["cbor_hex"].get<std::string>()) << v["name"];
    auto b64 = encode_profile_base64(p);
    ASSERT_TRUE(b64.ok());
    EXPECT_EQ(*b64, v["base64"].get<std::string>()) << v["name"];
  }
}

TEST(ProfileCbor, EncodeVectorsDecodeBackToEncodedFields) {
  const auto vectors = test::load_vectors("cbor-profile-vectors.json")["encode_vectors"];
  for (const auto& v : vectors) {
    const Profile p = parse_ok(v["profile_json"]);
    auto d = decode_profile_base64(v["base64"].get<std::string>());
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->name, p.name);
    EXPECT_EQ(d->obfuscation.jc, p.obfuscation.jc);
    EXPECT_EQ(d->obfuscation.s4, p.obfuscation.s4);
    EXPECT_EQ(d->obfuscation.skew_soft_seconds, p.obfuscation.skew_soft_seconds);
    EXPECT_EQ(d->obfuscation.server_public_key, p.obfuscation.server_public_key);
    EXPECT_EQ(d->obfuscation.server_private_key, p.obfuscation.server_private_key);
    EXPECT_EQ(obf_config(*d).h, obf_config(p).h) << v["name"];
    // Re-encoding the decoded profile gives the same bytes.
    EXPECT_EQ(to_hex(*encode_compact_profile(*d)), v["cbor_hex"].get<std::string>()) << v["name"];
  }
}

TEST(ProfileCbor, DecodeVectorGivesExpectedProfile) {
  const auto vectors = test::load_vectors("cbor-profile-vectors.json")["decode_vectors"];
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    auto from_b64 = decode_profile_base64(v["base64"].get<std::string>());
    ASSERT_TRUE(from_b64.ok()) << from_b64.error().message;
    auto from_hex = decode_compact_profile(test::hex(v["cbor_hex"].get<std::string>()));
    ASSERT_TRUE(from_hex.ok());
    EXPECT_EQ(*from_b64, *from_hex);
    EXPECT_EQ(*from_b64, parse_ok(v["expected_profile"]));
    // The JSON the decoder side prints has the reference's shape and values.
    EXPECT_EQ(nlohmann::json::parse(to_json(*from_b64)), v["expected_profile"]);
  }
}

TEST(ProfileCbor, DecoderDefaultsAndErrors) {
  auto empty = decode_compact_profile(test::hex("a10001"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->handshake_timeout, milliseconds(5000));
  EXPECT_EQ(empty->handshake_attempts, 3u);
  EXPECT_FALSE(empty->kcp);
  EXPECT_FALSE(empty->transport_padding);
  EXPECT_TRUE(empty->obfuscation.signature_validate);
  EXPECT_EQ(empty->obfuscation.rate_limit_burst, 500u);

  auto kcp = decode_compact_profile(test::hex("a2000107a0"));  // key 7 present, empty
  ASSERT_TRUE(kcp.ok());
  ASSERT_TRUE(kcp->kcp);
  EXPECT_EQ(kcp->kcp->keepalive, milliseconds(20'000));
  EXPECT_EQ(kcp->kcp->idle_timeout, milliseconds(120'000));
  EXPECT_EQ(kcp->kcp->flush_interval_ms, 10u);

  const std::pair<const char*, const char*> errors[] = {
      {"01", "expected CBOR map"},         {"a0", "missing version"},
      {"a1006161", "missing version"},     {"a10002", "unsupported version 2"},
      {"a10020", "unsupported version 0"},
  };
  for (const auto& [hex, msg] : errors) {
    auto r = decode_compact_profile(test::hex(hex));
    ASSERT_FALSE(r.ok()) << hex;
    EXPECT_EQ(r.error().message, msg);
  }
  EXPECT_EQ(decode_compact_profile(test::hex("a2")).error().code, make_error_code(Errc::cbor));
  EXPECT_EQ(decode_profile_base64("!!!!").error().message, "compact profile: invalid base64");
}

TEST(ProfileCbor, DecoderIgnoresWrongTypesAndClampsIntegers) {
  // jc = 2^32 (does not fit i32 -> 0), s1 = "x" (ignored), h1 = [5, "x"] -> "5-0", h2 = 7,
  // h3 = -2 -> "-2", h4 = true -> "", skew_soft = -9, key "z" ignored, pad_burst_prob integer ignored.
  const Bytes cbor = test::hex(
      "a4"
      "0001"
      "02"
      "43010203"
      "08"
      "a8"
      "01"
      "1b0000000100000000"
      "04"
      "6178"
      "08"
      "82056178"
      "09"
      "07"
      "0a"
      "21"
      "0b"
      "f5"
      "181a"
      "28"
      "617a"
      "01"
      "09"
      "a10501");
  auto r = decode_compact_profile(cbor);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->proxy_addr, "");  // bytes of the wrong shape
  EXPECT_EQ(r->obfuscation.jc, 0);
  EXPECT_EQ(r->obfuscation.s1, 0);
  EXPECT_EQ(r->obfuscation.h1, "5-0");
  EXPECT_EQ(r->obfuscation.h2, "7");
  EXPECT_EQ(r->obfuscation.h3, "-2");
  EXPECT_EQ(r->obfuscation.h4, "");
  EXPECT_EQ(r->obfuscation.skew_soft_seconds, -9);
  ASSERT_TRUE(r->transport_padding);
  EXPECT_EQ(r->transport_padding->pad_burst_prob, 0.02);
}

TEST(ProfileCbor, AddressForms) {
  Profile p;
  p.proxy_addr = "[::ffff:10.1.2.3]:9";
  auto d = decode_compact_profile(*encode_compact_profile(p));
  EXPECT_EQ(d->proxy_addr, "[::ffff:10.1.2.3]:9");
  p.proxy_addr = "[2001:0DB8::0001]:443";  // canonicalised through the byte form
  d = decode_compact_profile(*encode_compact_profile(p));
  EXPECT_EQ(d->proxy_addr, "[2001:db8::1]:443");
  p.proxy_addr = "example.org:443";
  d = decode_compact_profile(*encode_compact_profile(p));
  EXPECT_EQ(d->proxy_addr, "example.org:443");
}

TEST(ProfileCbor, HeaderEncodingRules) {
  Profile p;
  p.obfuscation.h1 = "+5";      // Rust u32 parsing accepts '+'
  p.obfuscation.h2 = "6-9-10";  // first two parts
  p.obfuscation.h3 = " 7";      // not a number -> text
  p.obfuscation.h4 = "9-3";     // not validated here
  auto bytes = encode_compact_profile(p);
  ASSERT_TRUE(bytes.ok());
  auto root = cbor::decode(*bytes);
  const cbor::Value* obf = root->get(8);
  ASSERT_NE(obf, nullptr);
  EXPECT_EQ(obf->get(8)->u, 5u);
  EXPECT_EQ(obf->get(9)->items.size(), 2u);
  EXPECT_EQ(obf->get(10)->text, " 7");
  EXPECT_EQ(obf->get(11)->items[0].u, 9u);
}

TEST(ProfileCbor, InvalidKeyBase64AbortsEncoding) {
  Profile p;
  p.obfuscation.server_public_key = "not base64";
  auto r = encode_compact_profile(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "obfuscation.server_public_key: invalid base64");
}

TEST(ProfileCbor, NotesListWhatTheLinkLoses) {
  std::vector<std::string> warnings;
  auto p = parse_profile_json(test::load_vectors("example-profile.json").dump(), warnings);
  ASSERT_TRUE(p.ok());
  p->obfuscation.classify_mode = obf::ClassifyMode::Strict;
  std::vector<std::string> notes;
  ASSERT_TRUE(encode_compact_profile(*p, &notes).ok());
  ASSERT_EQ(notes.size(), 4u);
  EXPECT_NE(notes[0].find("kcp window"), std::string::npos);
  EXPECT_NE(notes[1].find("transport_padding"), std::string::npos);
  EXPECT_NE(notes[2].find("classify_mode"), std::string::npos);
  EXPECT_NE(notes[3].find("server_private_key"), std::string::npos);
  notes.clear();
  ASSERT_TRUE(encode_compact_profile(client_view(*p), &notes).ok());
  EXPECT_EQ(notes.size(), 3u);
}

TEST(ProfileCbor, Base64StripsWhitespace) {
  const auto v = test::load_vectors("cbor-profile-vectors.json")["encode_vectors"][2];
  std::string b64 = v["base64"].get<std::string>();
  std::string spaced;
  for (std::size_t i = 0; i < b64.size(); ++i) {
    spaced += b64[i];
    if (i % 10 == 9) spaced += "\n ";
  }
  auto a = decode_profile_base64(b64), b = decode_profile_base64("  " + spaced + "\r\n");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
}

}  // namespace
}  // namespace paniq::profile
