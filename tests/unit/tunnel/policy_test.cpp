// AuthPolicy (issue #6, docs/auth.md): the Go original's authenticated Initiations
// (tests/vectors/go-auth-initiation-vectors.json, go-mac1-vectors.json) through the policy,
// tampering, wrong keys, skew, replay, signatures, timestamp requirements, legacy mode, the
// rate limit and the bounded log.
#include <gtest/gtest.h>

#include "envelope/handshake.hpp"
#include "tunnel/policy.hpp"
#include "tunnel_test_util.hpp"

namespace paniq::tunnel {
namespace {

using test::hex;
using test::load_vectors;

crypto::Key32 key32(const std::string& h) {
  const Bytes b = hex(h);
  crypto::Key32 k{};
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

obf::Config vector_obf(const nlohmann::json& f) {
  obf::Config c;
  c.s = {f["s1"].get<std::uint32_t>(), f["s2"].get<std::uint32_t>(), f["s3"].get<std::uint32_t>(),
         f["s4"].get<std::uint32_t>()};
  const char* const keys[] = {"h1", "h2", "h3", "h4"};
  for (std::size_t i = 0; i < 4; ++i) c.h[i] = *obf::parse_header_range(f[keys[i]].get<std::string>());
  return c;
}

// Everything on: the authenticated mode of examples/profile-authenticated.json.
AuthConfig strict(const crypto::Key32& server_private) {
  AuthConfig a;
  a.server_private_key = server_private;
  a.require_encrypted_timestamp = true;
  a.require_timestamp = true;
  a.skew_soft_seconds = 15;
  a.skew_hard_seconds = 30;
  a.replay_window_seconds = 30;
  a.replay_cache_size = 4096;
  return a;
}

// One policy over one framer, deciding datagrams from `peer`.
struct Bench {
  Bench(const obf::Config& oc, const AuthConfig& ac, std::uint64_t seed = 1)
      : framer(test::framer(oc)), rng(seed), policy(ac, framer, rng) {}

  PolicyDecision decide(ByteView datagram, TimeMs now, std::optional<WallTime> wall,
                        const PeerAddr& from = test::peer4(1, 1000)) {
    const auto c = framer.classify(datagram);
    EXPECT_TRUE(c && c->type == obf::MessageType::Initiation) << "not an Initiation";
    if (!c) return PolicyDecision{PolicyVerdict::drop, AuthReason::policy, 0};
    return policy.decide(InitiationInfo{from, datagram, c->payload, now, wall});
  }
  // decide() and, when accepted, the commit the endpoint does after creating the session.
  PolicyDecision admit(ByteView datagram, TimeMs now, std::optional<WallTime> wall,
                       const PeerAddr& from = test::peer4(1, 1000)) {
    const auto d = decide(datagram, now, wall, from);
    if (d.verdict == PolicyVerdict::accept) {
      const auto c = framer.classify(datagram);
      policy.accepted(InitiationInfo{from, datagram, c->payload, now, wall});
    }
    return d;
  }

  obf::Framer framer;
  SeededRng rng;
  AuthPolicy policy;
};

::testing::AssertionResult dropped(const PolicyDecision& d, AuthReason want) {
  if (d.verdict == PolicyVerdict::drop && d.reason == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << (d.verdict == PolicyVerdict::drop ? "dropped for " : "accepted, not dropped for ")
         << (d.verdict == PolicyVerdict::drop ? to_string(d.reason) : "") << " want " << to_string(want);
}

constexpr WallTime kNow{1'700'000'000, 0};
const crypto::Key32 kServer = [] {
  crypto::Key32 k{};
  k.fill(0x24);
  return k;
}();

obf::Config padded_obf() {
  obf::Config c = test::wire_obf_config();  // S1 = 3, H1 = 100-199
  c.s[0] = 8;
  return c;
}

Bytes our_initiation(const obf::Framer& fr, const crypto::Key32& server_private, WallTime at,
                     std::uint64_t seed, bool encrypted = true) {
  SeededRng r(seed);
  envelope::InitiationAuth auth;
  auth.server_public = crypto::x25519_public(server_private);
  auth.encrypted_timestamp = encrypted;
  return *envelope::build_initiation(fr, r, auth, at);
}

TEST(AuthPolicy, GoVectorsAcceptedWithEveryRequirement) {
  const auto v = load_vectors("go-auth-initiation-vectors.json");
  for (const auto& c : v["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& in = c["inputs"];
    const crypto::Key32 priv = key32(in["server_private_key_hex"].get<std::string>());
    Bench b(vector_obf(c["framer"]), strict(priv));
    // The policy's MAC1 key is the vector's.
    EXPECT_EQ(to_hex(envelope::mac1_key(crypto::x25519_public(priv))),
              c["intermediates"]["mac1_key_hex"].get<std::string>());
    const Bytes datagram = hex(c["datagram_hex"].get<std::string>());
    ASSERT_EQ(datagram.size(), c["datagram_len"].get<std::size_t>());
    const WallTime t{in["unix_seconds"].get<std::int64_t>(), in["unix_nanoseconds"].get<std::uint32_t>()};
    const auto d = b.decide(datagram, 0, t);
    EXPECT_EQ(d.verdict, PolicyVerdict::accept) << to_string(d.reason);
    EXPECT_EQ(d.notes, 0) << "no skew: decided at the client's own time";
    EXPECT_EQ(b.policy.stats().timestamps_opened, 1u);
    // The same datagram a minute later: past the hard skew.
    EXPECT_TRUE(dropped(b.decide(datagram, 1, WallTime{t.seconds + 60, 0}), AuthReason::skew_hard));
  }
}

TEST(AuthPolicy, GoMac1VectorsAreThePolicysMac) {
  const auto v = load_vectors("go-mac1-vectors.json");
  const crypto::Key32 pub = key32(v["server_public_key_hex"].get<std::string>());
  const crypto::Key32 mk = envelope::mac1_key(pub);
  EXPECT_EQ(to_hex(mk), v["derived_mac1_key_hex"].get<std::string>());
  for (const auto& m : v["vectors"]) {
    EXPECT_EQ(to_hex(envelope::compute_mac1(hex(m["message_hex"].get<std::string>()), mk)),
              m["mac1_hex"].get<std::string>());
  }
  // The MAC1 the policy verifies is that primitive over the datagram with the tail zeroed.
  const auto a = load_vectors("go-auth-initiation-vectors.json");
  for (const auto& c : a["cases"]) {
    const auto& im = c["intermediates"];
    EXPECT_EQ(to_hex(envelope::compute_mac1(hex(im["mac1_input_hex"].get<std::string>()),
                                            key32(im["mac1_key_hex"].get<std::string>()))),
              im["mac1_hex"].get<std::string>());
  }
}

TEST(AuthPolicy, GoMac1OnlyInitiation) {
  const auto v = load_vectors("go-auth-initiation-vectors.json");
  const auto& c = v["mac1_only_cases"][0];
  const crypto::Key32 priv = key32(c["inputs"]["server_private_key_hex"].get<std::string>());
  const Bytes datagram = hex(c["datagram_hex"].get<std::string>());
  const obf::Config oc = vector_obf(c["framer"]);
  {
    Bench b(oc, strict(priv));
    EXPECT_TRUE(dropped(b.decide(datagram, 0, kNow), AuthReason::encrypted_timestamp_missing));
  }
  {
    AuthConfig a;  // MAC1 checked (a key), nothing required
    a.server_private_key = priv;
    Bench b(oc, a);
    EXPECT_EQ(b.decide(datagram, 0, kNow).verdict, PolicyVerdict::accept);
    Bytes bad = datagram;
    bad.back() ^= 1;
    EXPECT_TRUE(dropped(b.decide(bad, 0, kNow), AuthReason::mac1_invalid));
    a.require_timestamp = true;  // no <t> chain, no encrypted timestamp: nothing dates it
    Bench r(oc, a);
    EXPECT_TRUE(dropped(r.decide(datagram, 0, kNow), AuthReason::timestamp_missing));
    a.legacy_mode_enabled = true;
    Bench l(oc, a);
    const auto d = l.decide(datagram, 0, kNow);
    EXPECT_EQ(d.verdict, PolicyVerdict::accept);
    EXPECT_TRUE(d.has_note(AuthReason::legacy_accepted));
  }
}

TEST(AuthPolicy, GoNegativeCases) {
  const auto v = load_vectors("go-auth-initiation-vectors.json");
  const auto& base = v["cases"][0];
  const crypto::Key32 priv = key32(base["inputs"]["server_private_key_hex"].get<std::string>());
  const WallTime t{base["inputs"]["unix_seconds"].get<std::int64_t>(), 0};
  Bench b(vector_obf(base["framer"]), strict(priv));
  const auto& tamper = v["negative_cases"][0];
  EXPECT_TRUE(dropped(b.decide(hex(tamper["datagram_mac1_recomputed_hex"].get<std::string>()), 0, t),
                      AuthReason::timestamp_invalid));
  EXPECT_TRUE(dropped(b.decide(hex(tamper["datagram_mac1_stale_hex"].get<std::string>()), 0, t),
                      AuthReason::mac1_invalid));
  const auto& wrong = v["negative_cases"][1];
  EXPECT_TRUE(dropped(b.decide(hex(wrong["datagram_hex"].get<std::string>()), 0, t),
                      AuthReason::mac1_invalid));
  EXPECT_EQ(b.policy.stats().timestamps_opened, 1u) << "only the recomputed-MAC one is opened";
}

TEST(AuthPolicy, EncryptedTimestampRoundTripAndEveryByteFlipped) {
  const obf::Config oc = padded_obf();
  Bench b(oc, strict(kServer));
  const Bytes good = our_initiation(b.framer, kServer, kNow, 7);
  ASSERT_EQ(good.size(), 8u + 4 + 101);
  EXPECT_EQ(b.decide(good, 0, kNow).verdict, PolicyVerdict::accept);
  const crypto::Key32 mk = envelope::mac1_key(crypto::x25519_public(kServer));
  std::size_t unclassified = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      Bytes bad = good;
      bad[i] ^= mask;
      const auto c = b.framer.classify(bad);
      if (!c || c->type != obf::MessageType::Initiation) {
        ++unclassified;  // a flipped header: not even an Initiation
        continue;
      }
      EXPECT_TRUE(dropped(b.decide(bad, 0, kNow), AuthReason::mac1_invalid)) << "byte " << i;
      // An attacker holding the server public key recomputes MAC1: a flip inside the
      // encrypted timestamp still fails.
      const std::size_t ts_at = 12;  // S1 + 4
      if (i >= ts_at && i < ts_at + envelope::kEncTimestampLen) {
        envelope::write_mac1(bad, mk);
        const auto d = b.decide(bad, 0, kNow);
        EXPECT_EQ(d.verdict, PolicyVerdict::drop) << "byte " << i;
        EXPECT_TRUE(d.reason == AuthReason::timestamp_invalid ||
                    (i == ts_at && d.reason == AuthReason::encrypted_timestamp_missing))
            << "byte " << i << " " << to_string(d.reason);
      }
    }
  }
  EXPECT_LE(unclassified, 2u * 4) << "only header bits may unclassify it";
  EXPECT_EQ(b.policy.stats().accepted, 1u) << "only the untouched one";
}

TEST(AuthPolicy, WrongServerKeyRejected) {
  const obf::Config oc = padded_obf();
  Bench b(oc, strict(kServer));
  crypto::Key32 other{};
  other.fill(0x77);
  EXPECT_TRUE(dropped(b.decide(our_initiation(b.framer, other, kNow, 1), 0, kNow), AuthReason::mac1_invalid));
  EXPECT_TRUE(dropped(b.decide(our_initiation(b.framer, other, kNow, 2, false), 0, kNow),
                      AuthReason::mac1_invalid));
  // Rust clients' empty payload: no MAC1 at all.
  EXPECT_TRUE(dropped(b.decide(b.framer.encode(obf::MessageType::Initiation, {}, b.rng), 0, kNow),
                      AuthReason::mac1_missing));
  EXPECT_EQ(b.policy.stats().timestamps_opened, 0u);
}

TEST(AuthPolicy, SkewHardRejectedSoftAcceptedAndCounted) {
  const obf::Config oc = padded_obf();
  AuthConfig a = strict(kServer);
  a.replay_cache_size = 0;  // the same datagram decided at several server times
  Bench b(oc, a);
  const Bytes init = our_initiation(b.framer, kServer, kNow, 3);
  auto at = [&](std::int64_t s, std::uint32_t ns = 0) { return b.decide(init, 0, WallTime{kNow.seconds + s, ns}); };
  EXPECT_EQ(at(15).notes, 0) << "15 s is not above skew_soft_seconds";
  const auto soft = at(20);
  EXPECT_EQ(soft.verdict, PolicyVerdict::accept);
  EXPECT_TRUE(soft.has_note(AuthReason::skew_soft));
  EXPECT_TRUE(at(-20).has_note(AuthReason::skew_soft)) << "a client clock ahead counts too";
  EXPECT_EQ(at(30).verdict, PolicyVerdict::accept);
  EXPECT_TRUE(dropped(at(30, 1), AuthReason::skew_hard));
  EXPECT_TRUE(dropped(at(-31), AuthReason::skew_hard));
  EXPECT_TRUE(dropped(at(-3'000'000'000LL), AuthReason::skew_hard)) << "far past: saturates";
  // No wall time from the shell: accepted, noted.
  const auto unknown = b.decide(init, 0, std::nullopt);
  EXPECT_EQ(unknown.verdict, PolicyVerdict::accept);
  EXPECT_TRUE(unknown.has_note(AuthReason::wall_unknown));
  // The soft skew was logged with its value.
  bool saw_soft = false;
  while (auto l = b.policy.poll_log()) {
    if (l->reason == AuthReason::skew_soft && l->skew_seconds == 20) saw_soft = true;
  }
  EXPECT_TRUE(saw_soft);
}

TEST(AuthPolicy, ReplayRejectedWithinLifetimeFromAnySource) {
  const obf::Config oc = padded_obf();
  AuthConfig a = strict(kServer);
  a.skew_hard_seconds = 0;
  a.skew_soft_seconds = 0;
  a.replay_window_seconds = 30;
  Bench b(oc, a);
  EXPECT_EQ(b.policy.replay_cache().lifetime_ms(), 30'000u);
  const Bytes init = our_initiation(b.framer, kServer, kNow, 4);
  EXPECT_EQ(b.admit(init, 1000, kNow).verdict, PolicyVerdict::accept);
  const auto opened = b.policy.stats().timestamps_opened;
  EXPECT_TRUE(dropped(b.decide(init, 2000, kNow), AuthReason::replay));
  EXPECT_TRUE(dropped(b.decide(init, 2000, kNow, test::peer4(9, 9)), AuthReason::replay));
  EXPECT_EQ(b.policy.stats().timestamps_opened, opened) << "a known replay costs no X25519";
  // A profile holder re-MACs the captured timestamp behind new padding: still a replay.
  Bytes repadded = init;
  repadded[0] ^= 0xff;
  envelope::write_mac1(repadded, envelope::mac1_key(crypto::x25519_public(kServer)));
  EXPECT_TRUE(dropped(b.decide(repadded, 2000, kNow), AuthReason::replay));
  EXPECT_TRUE(dropped(b.decide(init, 30'999, kNow), AuthReason::replay));
  EXPECT_EQ(b.decide(init, 31'000, kNow).verdict, PolicyVerdict::accept) << "lifetime over";
  // A decision that was not committed (the endpoint's caps dropped it) is not remembered.
  const Bytes other = our_initiation(b.framer, kServer, kNow, 5);
  EXPECT_EQ(b.decide(other, 40'000, kNow).verdict, PolicyVerdict::accept);
  EXPECT_EQ(b.decide(other, 40'001, kNow).verdict, PolicyVerdict::accept);
}

TEST(AuthPolicy, ReplayLifetimeCoversTheHardSkew) {
  AuthConfig a = strict(kServer);
  a.replay_window_seconds = 10;
  a.skew_hard_seconds = 30;
  EXPECT_EQ(a.replay_lifetime_ms(), 61'000u);
  a.replay_window_seconds = 90;
  EXPECT_EQ(a.replay_lifetime_ms(), 90'000u);
  a.replay_cache_size = 0;
  EXPECT_EQ(a.replay_lifetime_ms(), 0u);
  // Accepted at the first second its timestamp passes the hard skew, still known at the last.
  Bench b(padded_obf(), strict(kServer));
  const Bytes init = our_initiation(b.framer, kServer, kNow, 6);
  EXPECT_EQ(b.admit(init, 0, WallTime{kNow.seconds - 30, 0}).verdict, PolicyVerdict::accept);
  EXPECT_TRUE(dropped(b.decide(init, 60'000, WallTime{kNow.seconds + 30, 0}), AuthReason::replay));
  EXPECT_TRUE(dropped(b.decide(init, 60'999, WallTime{kNow.seconds + 30, 999'000'000}), AuthReason::replay));
  EXPECT_TRUE(dropped(b.decide(init, 61'000, WallTime{kNow.seconds + 31, 0}), AuthReason::skew_hard));
}

obf::Config signed_obf() {
  obf::Config c = padded_obf();
  c.i[0] = "<b 0xf00d><r 8>";
  c.i[2] = "<t><rd 4>";
  return c;
}

TEST(AuthPolicy, SignaturesRequiredAndDateTheInitiation) {
  const obf::Config oc = signed_obf();
  AuthConfig a;  // no key: the <t> signature is the only timestamp (the legacy path)
  a.signature_validate = true;
  a.require_timestamp = true;
  a.skew_soft_seconds = 15;
  a.skew_hard_seconds = 30;
  a.replay_window_seconds = 30;
  a.replay_cache_size = 64;
  Bench b(oc, a);
  const PeerAddr peer = test::peer4(2, 2000);
  const Bytes init = b.framer.encode(obf::MessageType::Initiation, {}, b.rng);  // a Rust client
  EXPECT_TRUE(dropped(b.decide(init, 0, kNow, peer), AuthReason::signature_missing));
  auto sigs = b.framer.signatures(static_cast<std::uint32_t>(kNow.seconds), b.rng);
  ASSERT_EQ(sigs.size(), 2u);
  b.policy.observe_unclassified(peer, sigs[0], 1);
  EXPECT_TRUE(dropped(b.decide(init, 2, kNow, peer), AuthReason::signature_missing)) << "I3 missing";
  b.policy.observe_unclassified(peer, sigs[1], 3);
  EXPECT_TRUE(dropped(b.decide(init, 4, kNow, test::peer4(2, 2001)), AuthReason::signature_missing))
      << "another port is another source";
  EXPECT_TRUE(dropped(b.decide(init, 4, WallTime{kNow.seconds + 31, 0}, peer), AuthReason::skew_hard))
      << "<t> is checked against the server clock";
  EXPECT_EQ(b.admit(init, 5, kNow, peer).verdict, PolicyVerdict::accept);
  EXPECT_EQ(b.policy.stats().signatures_seen, 2u);
  // The signatures authorised one session: a new Initiation needs a new preamble.
  const Bytes init2 = b.framer.encode(obf::MessageType::Initiation, {}, b.rng);
  EXPECT_TRUE(dropped(b.decide(init2, 6, kNow, peer), AuthReason::signature_missing));
  // Replayed with the same <t>: the cache remembers time and bytes.
  for (const Bytes& s : sigs) b.policy.observe_unclassified(peer, s, 7);
  EXPECT_TRUE(dropped(b.decide(init, 8, kNow, peer), AuthReason::replay));
  EXPECT_EQ(b.decide(init2, 8, kNow, peer).verdict, PolicyVerdict::accept);
  // Junk and near-misses leave no state.
  SeededRng g(3);
  for (int i = 0; i < 200; ++i) {
    Bytes junk(g.uniform(0, 40));
    g.fill(junk);
    b.policy.observe_unclassified(test::peer4(3, static_cast<std::uint16_t>(i)), junk, 9);
  }
  Bytes near = sigs[0];
  near[0] ^= 1;
  b.policy.observe_unclassified(test::peer4(4, 4), near, 9);
  EXPECT_EQ(b.policy.preamble().size(), 1u) << "only `peer`'s record";
}

TEST(AuthPolicy, TimestampRequirementAndLegacyMode) {
  const obf::Config oc = signed_obf();
  const Bytes empty_init = [] {
    SeededRng r(1);
    return test::framer(padded_obf()).encode(obf::MessageType::Initiation, {}, r);
  }();
  AuthConfig a;
  a.server_private_key = kServer;
  a.require_timestamp = true;  // satisfiable by an encrypted timestamp
  {
    Bench b(oc, a);
    EXPECT_TRUE(dropped(b.decide(empty_init, 0, kNow), AuthReason::timestamp_missing));
    EXPECT_EQ(b.decide(our_initiation(b.framer, kServer, kNow, 1), 0, kNow).verdict, PolicyVerdict::accept);
  }
  a.legacy_mode_enabled = true;
  {
    Bench b(oc, a);
    const auto d = b.decide(empty_init, 0, kNow);
    EXPECT_EQ(d.verdict, PolicyVerdict::accept) << "legacy mode waives require_timestamp";
    EXPECT_TRUE(d.has_note(AuthReason::legacy_accepted));
  }
  a.require_encrypted_timestamp = true;
  {
    Bench b(oc, a);
    EXPECT_TRUE(dropped(b.decide(empty_init, 0, kNow), AuthReason::mac1_missing))
        << "legacy mode never waives require_encrypted_timestamp";
  }
}

TEST(AuthPolicy, RateLimitPerSourceAddressBeforeAnyX25519) {
  const obf::Config oc = padded_obf();
  AuthConfig a = strict(kServer);
  a.rate_limit_pps = 2;
  a.rate_limit_burst = 3;
  a.replay_cache_size = 0;
  Bench b(oc, a);
  const Bytes init = our_initiation(b.framer, kServer, kNow, 9);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(b.decide(init, 0, kNow, test::peer4(1, static_cast<std::uint16_t>(i))).verdict,
              PolicyVerdict::accept);
  }
  EXPECT_TRUE(dropped(b.decide(init, 0, kNow, test::peer4(1, 77)), AuthReason::rate_limited))
      << "every port of one address shares the bucket";
  EXPECT_EQ(b.decide(init, 0, kNow, test::peer4(2, 1)).verdict, PolicyVerdict::accept);
  EXPECT_TRUE(dropped(b.decide(init, 499, kNow), AuthReason::rate_limited));
  EXPECT_EQ(b.decide(init, 500, kNow).verdict, PolicyVerdict::accept) << "2 per second";
  EXPECT_EQ(b.policy.stats().timestamps_opened, 5u);
  // Invalid MACs are refused before the bucket: they cannot drain a client's budget.
  Bytes bad = init;
  bad.back() ^= 1;
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(dropped(b.decide(bad, 2000, kNow, test::peer4(3, 1)), AuthReason::mac1_invalid));
  EXPECT_EQ(b.decide(init, 2000, kNow, test::peer4(3, 1)).verdict, PolicyVerdict::accept);
}

TEST(AuthPolicy, LogRecordsAreRateLimitedPerReason) {
  const obf::Config oc = padded_obf();
  AuthConfig a = strict(kServer);
  a.log_per_second = 3;
  Bench b(oc, a);
  Bytes bad = our_initiation(b.framer, kServer, kNow, 1);
  bad.back() ^= 1;
  const Bytes empty = b.framer.encode(obf::MessageType::Initiation, {}, b.rng);
  for (TimeMs t = 0; t < 1000; ++t) {
    (void)b.decide(bad, t, kNow);
    (void)b.decide(empty, t, kNow);
  }
  std::size_t invalid = 0, missing = 0;
  while (auto l = b.policy.poll_log()) {
    invalid += l->reason == AuthReason::mac1_invalid;
    missing += l->reason == AuthReason::mac1_missing;
    EXPECT_EQ(l->peer, test::peer4(1, 1000));
  }
  EXPECT_EQ(invalid, 3u);
  EXPECT_EQ(missing, 3u);
  EXPECT_EQ(b.policy.stats().logs_suppressed, 2u * 997);
  (void)b.decide(bad, 1000, kNow);  // next window: one record carrying the suppressed count
  const auto l = b.policy.poll_log();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->suppressed, 997u);
  EXPECT_NE(to_string(*l).find("mac1_invalid (997 similar suppressed)"), std::string::npos) << to_string(*l);
}

TEST(AuthPolicy, ConstructionRejectsAnInvalidConfig) {
  AuthConfig a;
  a.require_encrypted_timestamp = true;
  const obf::Framer fr = test::framer(padded_obf());
  SeededRng rng(1);
  EXPECT_THROW({ AuthPolicy p(a, fr, rng); }, std::invalid_argument);
}

// accept_unauthenticated: a paniq-rs client (empty Initiation payload) is admitted by a server
// whose profile requires authentication, and everything it does send is still checked.
TEST(AuthPolicy, AcceptUnauthenticatedAdmitsOnlyWhatItMustAndChecksTheRest) {
  obf::Config oc = signed_obf();
  AuthConfig a = strict(kServer);
  a.signature_validate = true;
  const PeerAddr peer = test::peer4(5, 5000);
  {
    Bench b(oc, a);  // switch off: the reference-style Initiation is refused
    const Bytes init = b.framer.encode(obf::MessageType::Initiation, {}, b.rng);
    for (const Bytes& s : b.framer.signatures(static_cast<std::uint32_t>(kNow.seconds), b.rng)) {
      b.policy.observe_unclassified(peer, s, 1);
    }
    EXPECT_TRUE(dropped(b.decide(init, 2, kNow, peer), AuthReason::mac1_missing));
  }
  a.accept_unauthenticated = true;
  Bench b(oc, a);
  const Bytes init = b.framer.encode(obf::MessageType::Initiation, {}, b.rng);
  // Still required: the I1..I5 signatures it sends, their <t> date's skew, the replay cache.
  EXPECT_TRUE(dropped(b.decide(init, 0, kNow, peer), AuthReason::signature_missing));
  for (const Bytes& s : b.framer.signatures(static_cast<std::uint32_t>(kNow.seconds), b.rng)) {
    b.policy.observe_unclassified(peer, s, 1);
  }
  EXPECT_TRUE(dropped(b.decide(init, 2, WallTime{kNow.seconds + 31, 0}, peer), AuthReason::skew_hard));
  const auto d = b.admit(init, 3, kNow, peer);
  EXPECT_EQ(d.verdict, PolicyVerdict::accept);
  EXPECT_TRUE(d.has_note(AuthReason::unauthenticated_accepted));
  for (const Bytes& s : b.framer.signatures(static_cast<std::uint32_t>(kNow.seconds), b.rng)) {
    b.policy.observe_unclassified(peer, s, 4);
  }
  EXPECT_TRUE(dropped(b.decide(init, 5, kNow, peer), AuthReason::replay)) << "same bytes and <t>";
  // A client that does send MAC1 gets every check: a wrong one, or a MAC1 without the
  // encrypted timestamp, is refused; a valid one is accepted without the note.
  crypto::Key32 other{};
  other.fill(0x77);
  const PeerAddr p2 = test::peer4(6, 6000);
  auto sign = [&](TimeMs t) {
    for (const Bytes& s : b.framer.signatures(static_cast<std::uint32_t>(kNow.seconds), b.rng)) {
      b.policy.observe_unclassified(p2, s, t);
    }
  };
  sign(10);
  EXPECT_TRUE(dropped(b.decide(our_initiation(b.framer, other, kNow, 1), 11, kNow, p2), AuthReason::mac1_invalid));
  EXPECT_TRUE(dropped(b.decide(our_initiation(b.framer, kServer, kNow, 2, false), 12, kNow, p2),
                      AuthReason::encrypted_timestamp_missing));
  const auto ok = b.decide(our_initiation(b.framer, kServer, kNow, 3), 13, kNow, p2);
  EXPECT_EQ(ok.verdict, PolicyVerdict::accept);
  EXPECT_FALSE(ok.has_note(AuthReason::unauthenticated_accepted));
}

TEST(AuthPolicy, AcceptUnauthenticatedWithoutAnyDateWaivesRequireTimestamp) {
  AuthConfig a = strict(kServer);  // no signatures: an empty Initiation has no date at all
  a.accept_unauthenticated = true;
  Bench b(padded_obf(), a);
  const auto d = b.decide(b.framer.encode(obf::MessageType::Initiation, {}, b.rng), 0, kNow);
  EXPECT_EQ(d.verdict, PolicyVerdict::accept);
  EXPECT_TRUE(d.has_note(AuthReason::unauthenticated_accepted));
}

}  // namespace
}  // namespace paniq::tunnel
