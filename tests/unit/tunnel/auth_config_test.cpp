// AuthConfig from profiles (examples/, tests/vectors/) and its validation errors.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "profile/profile.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/client.hpp"
#include "tunnel/server.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

profile::Profile load_path(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> warnings;
  auto p = profile::parse_profile_json(text.str(), warnings);
  if (!p) throw std::runtime_error(path + ": " + p.error().message);
  return *p;
}
profile::Profile vector_profile(const std::string& f) { return load_path(std::string(PANIQ_VECTOR_DIR) + "/" + f); }
profile::Profile example(const std::string& f) {
  return load_path(std::string(PANIQ_VECTOR_DIR) + "/../../examples/" + f);
}

TEST(AuthConfig, FromTheExampleProfile) {
  const auto c = auth_config_from_profile(vector_profile("example-profile.json"));
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->server_private_key);
  EXPECT_EQ(to_hex(crypto::x25519_public(*c->server_private_key)),
            "376abbf00c12cef4f0981f4800474f4eb1c8ce5c8f06fc1442f590bbb7804739");
  EXPECT_TRUE(c->signature_validate);
  EXPECT_TRUE(c->require_timestamp);
  EXPECT_TRUE(c->require_encrypted_timestamp);
  EXPECT_FALSE(c->legacy_mode_enabled);
  EXPECT_EQ(c->skew_soft_seconds, 15);
  EXPECT_EQ(c->skew_hard_seconds, 30);
  EXPECT_EQ(c->replay_window_seconds, 30u);
  EXPECT_EQ(c->replay_cache_size, 4096u);
  EXPECT_EQ(c->rate_limit_pps, 200u);
  EXPECT_EQ(c->rate_limit_burst, 500u);
  EXPECT_EQ(c->replay_lifetime_ms(), 61'000u);
  EXPECT_TRUE(c->authenticates());
}

TEST(AuthConfig, TheTwoExampleModes) {
  const auto rust = example("profile-rust-compatible.json");
  const auto relaxed = auth_config_from_profile(rust);
  ASSERT_TRUE(relaxed) << relaxed.error().message;
  EXPECT_FALSE(relaxed->authenticates());
  EXPECT_GT(relaxed->rate_limit_pps, 0u);
  auto rc = client_config_from_profile(rust);
  ASSERT_TRUE(rc) << rc.error().message;
  EXPECT_FALSE(rc->auth.server_public) << "a Rust-compatible client sends the empty payload";

  const auto authp = example("profile-authenticated.json");
  const auto strict = auth_config_from_profile(authp);
  ASSERT_TRUE(strict) << strict.error().message;
  EXPECT_TRUE(strict->require_encrypted_timestamp);
  EXPECT_TRUE(strict->signature_validate);
  auto ac = client_config_from_profile(profile::client_view(authp));
  ASSERT_TRUE(ac) << ac.error().message;
  ASSERT_TRUE(ac->auth.server_public);
  EXPECT_EQ(*ac->auth.server_public, crypto::x25519_public(*strict->server_private_key));
  EXPECT_EQ(ac->auth.payload_len(), 101u);
  auto sc = server_config_from_profile(authp);
  ASSERT_TRUE(sc) << sc.error().message;
  EXPECT_TRUE(sc->auth.require_encrypted_timestamp);
}

TEST(AuthConfig, RequireTimestampNullIsOff) {
  auto p = vector_profile("example-profile.json");
  p.obfuscation.require_timestamp.reset();
  const auto c = auth_config_from_profile(p);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->require_timestamp);
}

std::string error_of(const profile::Profile& p) {
  const auto c = auth_config_from_profile(p);
  return c ? std::string("(accepted)") : c.error().message;
}

TEST(AuthConfig, ErrorsNameTheField) {
  const auto base = vector_profile("example-profile.json");
  auto p = base;
  p.obfuscation.server_private_key = "not base64!";
  EXPECT_NE(error_of(p).find("obfuscation.server_private_key: not a base64 X25519 key"), std::string::npos);
  p = base;
  p.obfuscation.server_public_key = "eaYx7t4b+cmPEgMs3q3Q56B5OY/HhriMyEbsia+FpRo=";  // another key's
  EXPECT_NE(error_of(p).find("obfuscation.server_public_key"), std::string::npos) << error_of(p);
  p = base;
  p.obfuscation.server_private_key.clear();
  EXPECT_NE(error_of(p).find("obfuscation.require_encrypted_timestamp: true: needs obfuscation.server_private_key"),
            std::string::npos)
      << error_of(p);
  EXPECT_FALSE(server_config_from_profile(p)) << "the server refuses to start";
  p.obfuscation.require_encrypted_timestamp = false;
  EXPECT_EQ(error_of(p), "(accepted)") << "require_timestamp met by the <t> in i1";
  p.obfuscation.signature_validate = false;
  EXPECT_NE(error_of(p).find("obfuscation.require_timestamp: true: no timestamp can be checked"),
            std::string::npos)
      << error_of(p);
  p = base;
  p.obfuscation.replay_cache_size = (1u << 20) + 1;
  EXPECT_NE(error_of(p).find("obfuscation.replay_cache_size: 1048577: above 1048576"), std::string::npos);
}

TEST(AuthConfig, ClientKeyErrors) {
  auto p = vector_profile("example-profile.json");
  p.obfuscation.server_public_key = "AAAA";
  auto c = client_config_from_profile(p);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("obfuscation.server_public_key: \"AAAA\": not a base64 X25519 public key"),
            std::string::npos);
  p.obfuscation.server_public_key = crypto::base64_encode(crypto::Key32{});  // all zero: low order
  c = client_config_from_profile(p);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("low-order"), std::string::npos);
  p.obfuscation.encrypted_timestamp = false;
  p.obfuscation.server_public_key = "N2q78AwSzvTwmB9IAEdPTrHIzlyPBvwUQvWQu7eARzk=";
  c = client_config_from_profile(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth.payload_len(), 16u) << "a key but no encrypted timestamp: MAC1 only";
}

TEST(AuthConfig, ReasonNames) {
  for (std::size_t i = 0; i < kAuthReasonCount; ++i) {
    const std::string n = to_string(static_cast<AuthReason>(i));
    EXPECT_NE(n, "?");
    EXPECT_EQ(is_drop(static_cast<AuthReason>(i)), i < kAuthDropReasonCount);
  }
  EXPECT_STREQ(to_string(AuthReason::skew_soft), "skew_soft");
}

}  // namespace
}  // namespace paniq::tunnel
