// pnq:// links (docs/protocol.md 8): round trips with and without every extension field, the
// extension map's placement, and one clear error for each kind of malformed link.
#include "profile/link.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "profile/cbor.hpp"
#include "profile/generate.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/validate.hpp"
#include "support/vectors.hpp"

namespace paniq::profile {
namespace {

// A generated server profile's client view: every field the compact form carries.
Profile plain_client(std::uint64_t seed) {
  SeededRng rng(seed);
  auto p = generate_profile(rng, 1420, "bf-2026-12-05", "127.0.0.1:4443");
  EXPECT_TRUE(p.ok());
  Profile c = client_view(*p);
  c.obfuscation.encryption = "off";
  return c;
}

// The same with every extension field set to something other than its default.
Profile full_client(std::uint64_t seed) {
  Profile p = plain_client(seed);
  SeededRng rng(seed + 100);
  p.obfuscation.encryption = "required";
  p.obfuscation.client_private_key = generate_keypair(rng).private_key;
  p.obfuscation.rekey_interval = Millis(500);
  p.obfuscation.classify_mode = obf::ClassifyMode::Strict;
  p.servers = {"127.0.0.1:4443", "127.0.0.2:5000-5010"};
  p.hop_interval = "20s-40s";
  p.kcp->pack_segments = false;
  p.kcp->stream_offsets = false;
  p.kcp->congestion = "ikcp";
  p.kcp->loss_recovery = "ikcp";
  p.kcp->bandwidth_mbps = 12.5;
  return p;
}

Result<Profile> decode(std::string_view link) {
  std::vector<std::string> warnings;
  return decode_link(link, warnings);
}

// The error message of decoding `link` ("" when it decoded).
std::string error_of(std::string_view link) {
  auto r = decode(link);
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, make_error_code(Errc::link)) << r.error().message;
  return r.error().message;
}

std::string link_of_cbor(const Bytes& b) { return "pnq://" + base64url_encode(b); }

Bytes cbor_of(const cbor::Value& v) {
  Bytes out;
  cbor::encode(v, out);
  return out;
}

// The compact encoding of `p` as a CBOR value, so tests can tamper with single keys.
cbor::Value compact_value(const Profile& p) {
  auto b = encode_compact_profile(p);
  EXPECT_TRUE(b.ok());
  auto v = cbor::decode(*b);
  EXPECT_TRUE(v.ok());
  return *v;
}

cbor::Value& text_entry(cbor::Value& map, const std::string& key) {
  for (std::size_t i = 0; i + 1 < map.items.size(); i += 2) {
    if (map.items[i].kind == cbor::Value::Kind::Text && map.items[i].text == key) return map.items[i + 1];
  }
  map.items.push_back(cbor::Value::string(key));
  map.items.push_back(cbor::Value::map());
  return map.items.back();
}

TEST(Link, RoundTripWithoutExtensions) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Profile p = plain_client(seed);
    auto link = encode_link(p);
    ASSERT_TRUE(link.ok()) << link.error().message;
    EXPECT_EQ(link->rfind("pnq://", 0), 0u);
    EXPECT_NE(link->find("#bf-2026-12-05"), std::string::npos);
    auto back = decode(*link);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(to_json(*back), to_json(p));
    EXPECT_EQ(*back, p);
    // No extension: the payload is exactly the reference's compact profile.
    auto ref = encode_compact_profile(p);
    ASSERT_TRUE(ref.ok());
    EXPECT_EQ(link->substr(6, link->find('#') - 6), base64url_encode(*ref));
  }
}

TEST(Link, RoundTripWithEveryExtension) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Profile p = full_client(seed);
    std::vector<std::string> warnings;
    ASSERT_TRUE(validate_profile(p, warnings).ok());
    auto link = encode_link(p, false);
    ASSERT_TRUE(link.ok()) << link.error().message;
    EXPECT_EQ(link->find('#'), std::string::npos);
    auto back = decode(*link);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(to_json(*back), to_json(p));
    EXPECT_EQ(*back, p);
  }
}

TEST(Link, EachExtensionAloneRoundTrips) {
  const Profile base = plain_client(7);
  const Profile full = full_client(7);
  std::vector<std::function<void(Profile&)>> set = {
      [&](Profile& p) { p.obfuscation.encryption = "preferred"; },
      [&](Profile& p) { p.obfuscation.client_private_key = full.obfuscation.client_private_key; },
      [&](Profile& p) { p.obfuscation.rekey_interval = Millis(120'000); },
      [&](Profile& p) { p.obfuscation.classify_mode = obf::ClassifyMode::Strict; },
      [&](Profile& p) { p.servers = full.servers; },
      [&](Profile& p) { p.hop_interval = "5s"; },
      [&](Profile& p) { p.kcp->pack_segments = false; },
      [&](Profile& p) { p.kcp->stream_offsets = false; },
      [&](Profile& p) { p.kcp->congestion = "none"; },
      [&](Profile& p) { p.kcp->loss_recovery = "ikcp"; },
      [&](Profile& p) { p.kcp->bandwidth_mbps = 0.25; },
  };
  for (std::size_t i = 0; i < set.size(); ++i) {
    Profile p = base;
    set[i](p);
    auto b = encode_compact_profile(p);
    ASSERT_TRUE(b.ok());
    auto back = decode_compact_profile(*b);
    ASSERT_TRUE(back.ok()) << i << ": " << back.error().message;
    EXPECT_EQ(*back, p) << "extension " << i;
  }
}

// The extension map is one entry appended after the reference's keys: take it out and the
// bytes are the reference encoding of the same profile without extensions.
TEST(Link, ExtensionMapIsOneTextKeyAfterTheReferenceKeys) {
  const Profile p = full_client(3);
  cbor::Value v = compact_value(p);
  ASSERT_GE(v.items.size(), 2u);
  const cbor::Value& key = v.items[v.items.size() - 2];
  ASSERT_EQ(key.kind, cbor::Value::Kind::Text);
  EXPECT_EQ(key.text, "x");
  v.items.resize(v.items.size() - 2);
  Profile without = p;
  without.obfuscation.encryption = "off";
  without.obfuscation.client_private_key.clear();
  without.obfuscation.rekey_interval.reset();
  without.obfuscation.classify_mode = obf::ClassifyMode::FirstMatch;
  without.servers.clear();
  without.hop_interval.reset();
  without.kcp->pack_segments = true;
  without.kcp->stream_offsets = true;
  without.kcp->congestion = "bbr";
  without.kcp->loss_recovery = "rack";
  without.kcp->bandwidth_mbps.reset();
  EXPECT_EQ(to_hex(cbor_of(v)), to_hex(*encode_compact_profile(without)));
}

TEST(Link, ReferenceVectorsStillEncodeByteForByte) {
  // Profiles without extensions keep the reference's bytes in a link's payload too.
  for (const auto& v : test::load_vectors("cbor-profile-vectors.json")["encode_vectors"]) {
    std::vector<std::string> warnings;
    auto p = parse_profile_json(v["profile_json"].dump(), warnings);
    ASSERT_TRUE(p.ok());
    auto b = encode_compact_profile(*p);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(to_hex(*b), v["cbor_hex"].get<std::string>()) << v["name"];
  }
}

TEST(Link, NameTravelsPercentEncoded) {
  Profile p = plain_client(2);
  p.name = "Café #1 / 100%";
  auto link = encode_link(p);
  ASSERT_TRUE(link.ok());
  EXPECT_NE(link->find("#Caf%C3%A9%20%231%20%2F%20100%25"), std::string::npos) << *link;
  auto back = decode(*link);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->name, p.name);
  // The fragment renames; an empty fragment keeps the CBOR name.
  const std::string bare = link->substr(0, link->find('#'));
  EXPECT_EQ(decode(bare + "#home%20server")->name, "home server");
  EXPECT_EQ(decode(bare + "#")->name, p.name);
}

TEST(Link, LeniencyThatIsSafe) {
  auto link = encode_link(plain_client(4));
  ASSERT_TRUE(link.ok());
  EXPECT_TRUE(decode("  " + *link + "\r\n").ok());  // a saved file's newline
  EXPECT_TRUE(decode("PNQ://" + link->substr(6)).ok());  // schemes are case-insensitive
  EXPECT_TRUE(looks_like_link("\n pNq://x"));
  EXPECT_FALSE(looks_like_link("{\"name\": \"pnq://\"}"));
  EXPECT_FALSE(looks_like_link("/etc/paniq/client.json"));
  EXPECT_TRUE(has_url_scheme(" vless://abc"));
  EXPECT_TRUE(has_url_scheme("https://example.com/x"));
  EXPECT_FALSE(has_url_scheme("client.json"));
  EXPECT_FALSE(has_url_scheme("dir/a://b"));
  EXPECT_FALSE(has_url_scheme("://x"));
}

TEST(Link, EncodeRefusesServerPrivateKey) {
  SeededRng rng(9);
  auto server = generate_profile(rng, 1420, "s", "127.0.0.1:1");
  ASSERT_TRUE(server.ok());
  auto r = encode_link(*server);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, make_error_code(Errc::link));
  EXPECT_NE(r.error().message.find("obfuscation.server_private_key"), std::string::npos);
  EXPECT_TRUE(encode_link(client_view(*server)).ok());
}

TEST(Link, MalformedScheme) {
  EXPECT_EQ(error_of("https://example.com/profile"), "pnq:// link: wrong scheme \"https://\": expected pnq://");
  EXPECT_EQ(error_of("pnq:/AAAA"), "pnq:// link: does not start with pnq:// (starts with \"pnq:/AAAA\")");
  EXPECT_EQ(error_of(""), "pnq:// link: does not start with pnq:// (starts with \"\")");
  EXPECT_EQ(error_of("pnq://"), "pnq:// link: no profile data after pnq://");
  EXPECT_EQ(error_of("pnq://#name"), "pnq:// link: no profile data after pnq://");
}

TEST(Link, MalformedBase64url) {
  const std::string link = *encode_link(plain_client(5), false);
  std::string plus = link;
  plus[10] = '+';
  EXPECT_EQ(error_of(plus),
            "pnq:// link: invalid base64url character '+' at position 11 (standard base64 is not a link: "
            "links use - and _ for + and /)");
  EXPECT_EQ(error_of(link + "=="),
            "pnq:// link: invalid base64url character '=' at position " + std::to_string(link.size() + 1) +
                " (links use A-Z a-z 0-9 - _ without '=' padding)");
  std::string wrapped = link;
  wrapped.insert(40, "\n");
  EXPECT_EQ(error_of(wrapped),
            "pnq:// link: invalid base64url character \\x0a at position 41 (the link was broken across "
            "lines or has a space inside)");
  EXPECT_NE(error_of("pnq://AAAA?x=1").find("'?' at position 11"), std::string::npos);
  // 4n+1 characters can never be base64.
  EXPECT_EQ(error_of("pnq://AAAAA"),
            "pnq:// link: base64url payload of 5 characters cannot be complete (one character too many or "
            "missing): truncated link?");
  // "AB": the last character has bits beyond the one byte it ends.
  EXPECT_EQ(error_of("pnq://AB"),
            "pnq:// link: the last base64url character 'B' (position 8) has bits set past the end of the "
            "data: truncated or altered link");
}

TEST(Link, TruncatedOrInvalidCbor) {
  const std::string link = *encode_link(plain_client(6), false);
  // Cut at a multiple of 4 characters: clean base64url, CBOR ends early.
  const std::string cut = link.substr(0, 6 + ((link.size() - 6) / 2) / 4 * 4);
  EXPECT_EQ(error_of(cut).rfind("pnq:// link: truncated or invalid profile data: CBOR: ", 0), 0u) << error_of(cut);
  EXPECT_EQ(error_of(link_of_cbor({0xff})),
            "pnq:// link: truncated or invalid profile data: CBOR: unexpected break");
  EXPECT_EQ(error_of(link_of_cbor({0x01})), "pnq:// link: expected CBOR map");
}

TEST(Link, TrailingGarbage) {
  auto b = encode_compact_profile(plain_client(6));
  ASSERT_TRUE(b.ok());
  const std::size_t n = b->size();
  b->push_back(0x00);
  b->push_back(0x2a);
  EXPECT_EQ(error_of(link_of_cbor(*b)),
            "pnq:// link: 2 unexpected bytes after the " + std::to_string(n) +
                "-byte profile data: the link was altered or two links were joined");
}

TEST(Link, Version) {
  cbor::Value v = cbor::Value::map();
  v.put(0, cbor::Value::uint(2));
  EXPECT_EQ(error_of(link_of_cbor(cbor_of(v))),
            "pnq:// link: unsupported version 2: this program reads version 1 links (a newer paniq made it?)");
  cbor::Value none = cbor::Value::map();
  none.put(1, cbor::Value::string("n"));
  EXPECT_EQ(error_of(link_of_cbor(cbor_of(none))), "pnq:// link: missing version");
}

TEST(Link, MissingRequiredFields) {
  Profile p = plain_client(8);
  p.proxy_addr.clear();
  EXPECT_EQ(error_of(link_of_cbor(*encode_compact_profile(p))),
            "pnq:// link: no proxy_addr and no servers: the profile names no server to connect to");
  // Encryption without the server's public key: the validator's message, field named.
  Profile q = full_client(8);
  q.obfuscation.server_public_key.clear();
  const std::string e = error_of(link_of_cbor(*encode_compact_profile(q)));
  EXPECT_EQ(e.rfind("pnq:// link: profile: obfuscation.encryption: \"required\": needs obfuscation.server_public_key", 0),
            0u)
      << e;
}

TEST(Link, ServerPrivateKeyInsideIsRefused) {
  SeededRng rng(10);
  auto server = generate_profile(rng, 1420, "s", "127.0.0.1:1");
  ASSERT_TRUE(server.ok());
  const std::string e = error_of(link_of_cbor(*encode_compact_profile(*server)));
  EXPECT_EQ(e.rfind("pnq:// link: carries obfuscation.server_private_key: a link must never hold the server's "
                    "private key; refused",
                    0),
            0u)
      << e;
}

TEST(Link, OverLong) {
  EXPECT_EQ(error_of("pnq://" + std::string(9000, 'A')),
            "pnq:// link: 9006 characters, more than the 8192 a link may have");
  EXPECT_EQ(error_of("pnq://" + std::string(8190, 'A')),
            "pnq:// link: 8196 characters, more than the 8192 a link may have");
}

TEST(Link, BadName) {
  const std::string link = *encode_link(plain_client(11), false);
  const std::string at = std::to_string(link.size() + 2);
  EXPECT_EQ(error_of(link + "#%G1"), "pnq:// link: name after '#': bad percent-escape \"%G1\" at position " + at +
                                         " (expected % and two hex digits)");
  EXPECT_EQ(error_of(link + "#%4"), "pnq:// link: name after '#': bad percent-escape \"%4\" at position " + at +
                                        " (expected % and two hex digits)");
  EXPECT_EQ(error_of(link + "#a b"), "pnq:// link: name after '#': character \\x20 at position " +
                                         std::to_string(link.size() + 3) + " must be percent-encoded");
  EXPECT_EQ(error_of(link + "#a#b"), "pnq:// link: name after '#': character '#' at position " +
                                         std::to_string(link.size() + 3) + " must be percent-encoded");
  EXPECT_EQ(error_of(link + "#%FF%FE"), "pnq:// link: name after '#': not valid UTF-8 once percent-decoded");
  EXPECT_EQ(error_of(link + "#a%0Ab"), "pnq:// link: name after '#': contains a control character once percent-decoded");
  EXPECT_EQ(error_of(link + "#" + std::string(300, 'n')), "pnq:// link: name after '#': 300 bytes, more than 256");
}

TEST(Link, BadExtensionValues) {
  const Profile p = plain_client(12);
  auto with = [&](std::uint64_t key, cbor::Value value) {
    cbor::Value v = compact_value(p);
    text_entry(v, "x").put(key, std::move(value));
    return error_of(link_of_cbor(cbor_of(v)));
  };
  EXPECT_EQ(with(1, cbor::Value::uint(1)),
            "pnq:// link: compact profile extension x.1 (obfuscation.encryption): expected a text string, got an "
            "unsigned integer");
  EXPECT_EQ(with(1, cbor::Value::string("maybe")),
            "pnq:// link: compact profile extension x.1 (obfuscation.encryption): \"maybe\": must be one of "
            "\"off\", \"preferred\", \"required\"");
  EXPECT_EQ(with(2, cbor::Value::byte_string(Bytes(31, 1))),
            "pnq:// link: compact profile extension x.2 (obfuscation.client_private_key): 31 bytes, expected 32");
  EXPECT_EQ(with(5, cbor::Value::string("127.0.0.1:1")),
            "pnq:// link: compact profile extension x.5 (servers): expected an array, got a text string");
  cbor::Value kcp = cbor::Value::map();
  kcp.put(2, cbor::Value::string("cubic"));
  EXPECT_EQ(with(8, kcp), "pnq:// link: compact profile extension x.8.2 (kcp.congestion): \"cubic\": must be one of "
                          "\"bbr\", \"ikcp\", \"none\"");
  cbor::Value v = compact_value(p);
  v.items.push_back(cbor::Value::string("x"));
  v.items.push_back(cbor::Value::uint(3));
  EXPECT_EQ(error_of(link_of_cbor(cbor_of(v))),
            "pnq:// link: compact profile extension x (extension map): expected a map, got an unsigned integer");
  // Unknown extension keys are ignored (a newer writer may add fields an older reader skips).
  EXPECT_EQ(with(99, cbor::Value::uint(1)), "");
}

TEST(Link, Base64urlMatchesRfc4648) {
  const std::string in = "\xfb\xff\xbf any carnal pleas";
  EXPECT_EQ(base64url_encode(as_bytes(in)), "-_-_IGFueSBjYXJuYWwgcGxlYXM");
  auto back = base64url_decode("-_-_IGFueSBjYXJuYWwgcGxlYXM");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::string(back->begin(), back->end()), in);
  EXPECT_EQ(base64url_encode(as_bytes("f")), "Zg");
  EXPECT_EQ(base64url_encode(as_bytes("fo")), "Zm8");
  EXPECT_EQ(base64url_encode(as_bytes("foo")), "Zm9v");
}

}  // namespace
}  // namespace paniq::profile
