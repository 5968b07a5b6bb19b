// Profile JSON parsing (2.1), serialisation and round trip.
#include "profile/profile.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "support/vectors.hpp"

namespace paniq::profile {
namespace {

using std::chrono::milliseconds;

std::string vector_text(const std::string& file) { return test::load_vectors(file).dump(); }

Result<Profile> parse(const std::string& text) {
  std::vector<std::string> warnings;
  return parse_profile_json(text, warnings);
}

std::string error_of(const std::string& text) {
  auto r = parse(text);
  return r.ok() ? std::string("(parsed)") : r.error().message;
}

// A minimal valid profile with `extra` spliced into the top-level object.
std::string with(const std::string& extra) {
  return R"({"name":"t","proxy_addr":"127.0.0.1:1")" + (extra.empty() ? "" : "," + extra) + "}";
}

TEST(ProfileJson, ExampleProfileLoadsWithDocumentedValues) {
  std::vector<std::string> warnings;
  auto r = parse_profile_json(vector_text("example-profile.json"), warnings);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(warnings.empty());
  const Profile& p = *r;
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.proxy_addr, "127.0.0.1:9000");
  EXPECT_EQ(p.handshake_timeout, milliseconds(5000));
  EXPECT_EQ(p.handshake_attempts, 3u);
  EXPECT_EQ(p.preamble_delay_ms, 5u);
  EXPECT_EQ(p.preamble_jitter_ms, 5u);
  ASSERT_TRUE(p.kcp);
  EXPECT_EQ(p.kcp->max_packet_size, 1350u);
  EXPECT_EQ(p.kcp->max_payload, 1200u);
  EXPECT_EQ(p.kcp->keepalive, milliseconds(0));  // absent -> 0, not 20 s
  EXPECT_EQ(p.kcp->idle_timeout, milliseconds(0));
  EXPECT_EQ(p.kcp->max_streams, 256u);
  EXPECT_EQ(p.kcp->send_window, 1024u);
  EXPECT_EQ(p.kcp->recv_window, 1024u);
  EXPECT_EQ(p.kcp->target_bps, 100'000'000u);
  EXPECT_EQ(p.kcp->rtt_ms, 100u);
  EXPECT_FALSE(p.kcp->max_snd_queue);
  EXPECT_EQ(p.kcp->flush_interval_ms, 20u);
  ASSERT_TRUE(p.transport_padding);
  EXPECT_EQ(p.transport_padding->pad_burst_max, 104u);
  EXPECT_DOUBLE_EQ(p.transport_padding->pad_burst_prob, 0.02);
  const ObfuscationSection& o = p.obfuscation;
  EXPECT_EQ(o.jc, 4);
  EXPECT_EQ(o.jmin, 500);
  EXPECT_EQ(o.jmax, 1202);
  EXPECT_EQ(o.s1, 339);
  EXPECT_EQ(o.s4, 37);
  EXPECT_EQ(o.h1, "2367138250-2367139274");
  EXPECT_EQ(o.h4, "3845046654-3845047678");
  EXPECT_EQ(o.i1, "<t>");
  EXPECT_EQ(o.server_private_key, "HeiWa3ophccyGIw+3HIPJbPxSDP9kS+OY2L+ZdQdWcU=");
  EXPECT_EQ(o.require_timestamp, true);
  EXPECT_EQ(o.rate_limit_burst, 500u);
  EXPECT_EQ(o.classify_mode, obf::ClassifyMode::FirstMatch);
}

TEST(ProfileJson, MinimalProfileAppliesDefaults) {
  auto r = parse(vector_text("example-minimal-profile.json"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Profile& p = *r;
  EXPECT_EQ(p.name, "minimal");
  EXPECT_FALSE(p.kcp);
  EXPECT_FALSE(p.transport_padding);
  EXPECT_FALSE(p.preamble_delay_ms);
  EXPECT_EQ(p.obfuscation.h2, "");  // default "2" applied when building the framer config
  EXPECT_EQ(p.obfuscation.i1, "<d>");
  EXPECT_FALSE(p.obfuscation.signature_validate);
  EXPECT_FALSE(p.obfuscation.require_timestamp);
  EXPECT_EQ(p.obfuscation.skew_hard_seconds, 30);
}

TEST(ProfileJson, DefaultsWhenOnlyRequiredKeys) {
  auto r = parse(with(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  Profile expected;
  expected.name = "t";
  expected.proxy_addr = "127.0.0.1:1";
  EXPECT_EQ(*r, expected);
  auto empty_objects = parse(with(R"("kcp":{},"transport_padding":{},"obfuscation":{})"));
  ASSERT_TRUE(empty_objects.ok());
  EXPECT_EQ(empty_objects->kcp, KcpSection{});
  EXPECT_EQ(empty_objects->transport_padding, PaddingSection{});
  EXPECT_FALSE(parse(with(R"("kcp":null,"transport_padding":null)"))->transport_padding);
}

TEST(ProfileJson, MissingRequiredFields) {
  EXPECT_EQ(error_of(R"({"proxy_addr":"1.2.3.4:5"})"), "name: missing required field");
  EXPECT_EQ(error_of(R"({"name":"x"})"), "proxy_addr: missing required field");
  EXPECT_EQ(parse(R"({"name":"x"})").error().code, make_error_code(Errc::missing_field));
}

TEST(ProfileJson, TypeErrorsNameFieldAndValue) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"name":null,"proxy_addr":"a"})", "name: null: must be a string"},
      {R"({"name":"n","proxy_addr":5})", "proxy_addr: 5: must be a string"},
      {with(R"("kcp":{"max_packet_size":-5})"), "kcp.max_packet_size: -5: must be a non-negative integer"},
      {with(R"("kcp":{"max_packet_size":1350.0})"),
       "kcp.max_packet_size: 1350.0: must be a non-negative integer"},
      {with(R"("kcp":{"max_packet_size":"1350"})"),
       R"(kcp.max_packet_size: "1350": must be a non-negative integer)"},
      {with(R"("kcp":{"send_window":4294967296})"),
       "kcp.send_window: 4294967296: must be at most 4294967295"},
      {with(R"("kcp":{"flush_interval_ms":null})"),
       "kcp.flush_interval_ms: null: must be a non-negative integer"},
      {with(R"("kcp":5)"), "kcp: 5: must be an object or null"},
      {with(R"("obfuscation":null)"), "obfuscation: null: must be an object"},
      {with(R"("obfuscation":{"jc":2147483648})"),
       "obfuscation.jc: 2147483648: must be between -2147483648 and 2147483647"},
      {with(R"("obfuscation":{"s1":1.5})"), "obfuscation.s1: 1.5: must be an integer"},
      {with(R"("obfuscation":{"signature_validate":"true"})"),
       R"(obfuscation.signature_validate: "true": must be true or false)"},
      {with(R"("obfuscation":{"transport_replay":1})"),
       "obfuscation.transport_replay: 1: must be true or false"},
      {with(R"("obfuscation":{"require_timestamp":0})"),
       "obfuscation.require_timestamp: 0: must be true, false or null"},
      {with(R"("obfuscation":{"h1":1})"), "obfuscation.h1: 1: must be a string"},
      {with(R"("obfuscation":{"skew_soft_seconds":9223372036854775808})"),
       "obfuscation.skew_soft_seconds: 9223372036854775808: must be between -9223372036854775808 and "
       "9223372036854775807"},
      {with(R"("transport_padding":{"pad_burst_prob":"0.1"})"),
       R"(transport_padding.pad_burst_prob: "0.1": must be a number)"},
      {with(R"("preamble_delay_ms":"5ms")"), R"(preamble_delay_ms: "5ms": must be a non-negative integer)"},
      {with(R"("handshake_attempts":null)"), "handshake_attempts: null: must be a non-negative integer"},
      {with(R"("handshake_timeout":"5x")"), R"(handshake_timeout: "5x": invalid duration)"},
      {with(R"("handshake_timeout":1.5)"), "handshake_timeout: 1.5: invalid duration"},
      {with(R"("handshake_timeout":-1)"), "handshake_timeout: -1: invalid duration"},
      {with(R"("handshake_timeout":true)"), "handshake_timeout: true: invalid duration"},
      {with(R"("kcp":{"keepalive":null})"), "kcp.keepalive: null: invalid duration"},
      {with(R"("obfuscation":{"classify_mode":"loose"})"),
       R"(obfuscation.classify_mode: "loose": must be "first_match" or "strict")"},
      {"[1,2]", "profile: [1,2]: must be a JSON object"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(error_of(text), message) << text;
}

TEST(ProfileJson, NullAcceptedOnlyForOptionals) {
  auto r = parse(with(
      R"("handshake_timeout":null,"preamble_delay_ms":null,"preamble_jitter_ms":null,)"
      R"("kcp":{"send_window":null,"recv_window":null,"target_bps":null,"rtt_ms":null,"max_snd_queue":null},)"
      R"("obfuscation":{"require_timestamp":null})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->handshake_timeout);
  EXPECT_FALSE(r->kcp->send_window);
  EXPECT_FALSE(r->obfuscation.require_timestamp);
}

TEST(ProfileJson, DurationsInProfile) {
  auto r = parse(with(R"("handshake_timeout":"500ms","kcp":{"keepalive":20,"idle_timeout":"2m"})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->handshake_timeout, milliseconds(500));
  EXPECT_EQ(r->kcp->keepalive, milliseconds(20'000));
  EXPECT_EQ(r->kcp->idle_timeout, milliseconds(120'000));
  EXPECT_EQ(parse(with(R"("handshake_timeout":"1h")"))->handshake_timeout, milliseconds(3'600'000));
}

TEST(ProfileJson, UnknownFieldsWarnAndParsingGoesOn) {
  std::vector<std::string> warnings;
  auto r = parse_profile_json(
      with(
          R"("quic":{"x":1},"legacy_mode_sunset":"2030-01-01","kcp":{"mtu":1},"obfuscation":{"jc":1,"zz":null})"),
      warnings);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->obfuscation.jc, 1);
  ASSERT_EQ(warnings.size(), 4u);
  EXPECT_EQ(warnings[0], R"(unknown field "legacy_mode_sunset" ignored)");
  EXPECT_EQ(warnings[1], R"(unknown field "quic" ignored)");
  EXPECT_EQ(warnings[2], R"(unknown field "kcp.mtu" ignored)");
  EXPECT_EQ(warnings[3], R"(unknown field "obfuscation.zz" ignored)");
}

TEST(ProfileJson, DuplicateKeysInKnownObjectsRejected) {
  EXPECT_EQ(error_of(R"({"name":"a","name":"b","proxy_addr":"1.2.3.4:5"})"), "name: duplicate field");
  EXPECT_EQ(error_of(with(R"("obfuscation":{"s1":1,"s1":2})")), "obfuscation.s1: duplicate field");
  // Inside an ignored object duplicates do not matter.
  EXPECT_TRUE(parse(with(R"("quic":{"a":1,"a":2})")).ok());
}

TEST(ProfileJson, MalformedJsonHasLineAndColumn) {
  const std::string msg = error_of("{\n  \"name\": \"x\",\n  \"proxy_addr\": oops\n}");
  EXPECT_EQ(msg.rfind("invalid JSON at line 3 column 17", 0), 0u) << msg;
  EXPECT_EQ(parse("{\"name\":").error().code, make_error_code(Errc::invalid_json));
  EXPECT_EQ(parse("").error().code, make_error_code(Errc::invalid_json));
  EXPECT_EQ(parse(with("") + " trailing").error().code, make_error_code(Errc::invalid_json));
  EXPECT_EQ(error_of(with(R"("x":1e999)")), "invalid JSON: number overflow parsing '1e999'");
  EXPECT_EQ(parse(with(R"("q":)" + std::string(100, '[') + std::string(100, ']'))).error().code,
            make_error_code(Errc::invalid_json));
}

TEST(ProfileJson, RoundTripThroughToJson) {
  for (const char* file : {"example-profile.json", "example-minimal-profile.json"}) {
    auto p = parse(vector_text(file));
    ASSERT_TRUE(p.ok());
    const std::string text = to_json(*p);
    auto back = parse(text);
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
    EXPECT_EQ(*back, *p) << file;
  }
  auto odd = parse(with(
      R"("handshake_timeout":"1500ms","kcp":{"keepalive":"90s","idle_timeout":0},)"
      R"("transport_padding":{"pad_burst_prob":0.1234567890123},"obfuscation":{"classify_mode":"strict"})"));
  ASSERT_TRUE(odd.ok()) << odd.error().message;
  const std::string text = to_json(*odd);
  EXPECT_NE(text.find("\"1500ms\""), std::string::npos);
  EXPECT_NE(text.find("\"90s\""), std::string::npos);
  EXPECT_NE(text.find("\"classify_mode\": \"strict\""), std::string::npos);
  EXPECT_EQ(*parse(text), *odd);
}

TEST(ProfileJson, ToJsonShapeMatchesReference) {
  // Every key present, nulls for unset optionals, reference key order.
  const std::string text = to_json(*parse(with("")));
  const auto doc = nlohmann::json::parse(text);
  EXPECT_TRUE(doc["handshake_timeout"].is_null());
  EXPECT_TRUE(doc["kcp"].is_null());
  EXPECT_TRUE(doc["transport_padding"].is_null());
  EXPECT_EQ(doc["obfuscation"].size(), 31u);
  EXPECT_FALSE(doc["obfuscation"].contains("classify_mode"));
  EXPECT_LT(text.find("\"name\""), text.find("\"proxy_addr\""));
  EXPECT_LT(text.find("\"server_public_key\""), text.find("\"server_private_key\""));
}

TEST(ProfileJson, ShippedExamplesLoad) {
  const std::string dir = std::string(PANIQ_VECTOR_DIR) + "/../../examples/";
  std::vector<std::string> warnings;
  auto compat = load_profile_file(dir + "profile-compat.json", warnings);
  ASSERT_TRUE(compat.ok()) << compat.error().message;
  EXPECT_EQ(compat->obfuscation.classify_mode, obf::ClassifyMode::FirstMatch);
  auto strict = load_profile_file(dir + "profile-strict.json", warnings);
  ASSERT_TRUE(strict.ok()) << strict.error().message;
  EXPECT_EQ(strict->obfuscation.classify_mode, obf::ClassifyMode::Strict);
  EXPECT_TRUE(warnings.empty());
}

TEST(ProfileJson, LoadFile) {
  std::vector<std::string> warnings;
  auto missing = load_profile_file("/nonexistent/dir/p.json", warnings);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, make_error_code(Errc::io));
  EXPECT_NE(missing.error().message.find("/nonexistent/dir/p.json"), std::string::npos);

  const std::string path = ::testing::TempDir() + "profile_test_load.json";
  {
    std::ofstream out(path);
    out << with(R"("kcp":{"max_packet_size":10})");
  }
  auto bad = load_profile_file(path, warnings);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "profile " + path + ": kcp.max_packet_size: 10: must be between 64 and 65507");
  {
    std::ofstream out(path);
    out << vector_text("example-profile.json");
  }
  auto good = load_profile_file(path, warnings);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->name, "default");
  std::remove(path.c_str());
}

TEST(ProfileJson, ClientViewDropsPrivateKey) {
  auto p = parse(vector_text("example-profile.json"));
  ASSERT_TRUE(p.ok());
  const Profile c = client_view(*p);
  EXPECT_TRUE(c.obfuscation.server_private_key.empty());
  EXPECT_EQ(c.obfuscation.server_public_key, p->obfuscation.server_public_key);
  Profile again = c;
  again.obfuscation.server_private_key = p->obfuscation.server_private_key;
  EXPECT_EQ(again, *p);
}

TEST(ProfileJson, SessionTimingFallbacks) {
  const SessionTiming d = session_timing(*parse(with("")));
  EXPECT_EQ(d.handshake_timeout, milliseconds(5000));
  EXPECT_EQ(d.preamble_delay, milliseconds(5));
  EXPECT_EQ(d.keepalive, milliseconds(20'000));
  EXPECT_EQ(d.idle_timeout, milliseconds(120'000));
  const SessionTiming s = session_timing(*parse(with(
      R"("handshake_timeout":"2s","handshake_attempts":0,"preamble_delay_ms":0,"kcp":{"keepalive":"10s","idle_timeout":"1m","max_streams":9})")));
  EXPECT_EQ(s.handshake_timeout, milliseconds(2000));
  EXPECT_EQ(s.handshake_attempts, 1u);
  EXPECT_EQ(s.preamble_delay, milliseconds(0));
  EXPECT_EQ(s.keepalive, milliseconds(10'000));
  EXPECT_EQ(s.idle_timeout, milliseconds(60'000));
  EXPECT_EQ(s.max_streams, 9u);
}

}  // namespace
}  // namespace paniq::profile
