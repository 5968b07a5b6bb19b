// Key, header and profile generation (2.4), seeded.
#include "profile/generate.hpp"

#include <gtest/gtest.h>

#include "crypto/crypto.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/validate.hpp"

namespace paniq::profile {
namespace {

TEST(Generate, KeyPairIsX25519) {
  SeededRng rng(1);
  const KeyPair k = generate_keypair(rng);
  EXPECT_EQ(k.private_key.size(), 44u);
  EXPECT_EQ(k.public_key.size(), 44u);
  const auto secret = crypto::base64_decode(k.private_key);
  const auto pub = crypto::base64_decode(k.public_key);
  ASSERT_TRUE(secret && pub);
  crypto::Key32 s{};
  std::copy(secret->begin(), secret->end(), s.begin());
  const crypto::Key32 expected = crypto::x25519_public(s);
  EXPECT_EQ(*pub, Bytes(expected.begin(), expected.end()));
  EXPECT_NE(generate_keypair(rng).private_key, k.private_key);
}

TEST(Generate, HeadersDisjointDistinctBuckets) {
  SeededRng rng(2);
  for (int i = 0; i < 200; ++i) {
    auto h = generate_headers(rng);
    ASSERT_TRUE(h.ok());
    for (std::size_t a = 0; a < 4; ++a) {
      EXPECT_EQ((*h)[a].end - (*h)[a].start, 1024u);
      EXPECT_GE((*h)[a].start, 1u);
      EXPECT_EQ((*h)[a].start >> 24, (*h)[a].end >> 24);
      if (a > 0) {
        EXPECT_LT((*h)[a - 1].start >> 24, (*h)[a].start >> 24);  // sorted, distinct MSB
        EXPECT_FALSE((*h)[a - 1].overlaps((*h)[a]));
      }
    }
  }
}

TEST(Generate, HeaderOptionErrors) {
  SeededRng rng(3);
  HeaderGenOptions o;
  o.width = 1u << 24;
  EXPECT_EQ(generate_headers(rng, o).error().message, "width must be < 2^24");
  o = {};
  o.min = 100;
  o.max = 1000;
  EXPECT_EQ(generate_headers(rng, o).error().message, "max must be >= min + width");
  o.max = 3u << 24;  // only buckets 0..2 (plus a sliver of 3) available
  EXPECT_FALSE(generate_headers(rng, o).ok());
  o.max = (4u << 24) - 1;
  EXPECT_TRUE(generate_headers(rng, o).ok());
}

TEST(Generate, MtuErrors) {
  SeededRng rng(4);
  EXPECT_EQ(generate_profile(rng, 1279, "n", "").error().message, "mtu must be >= 1280");
  EXPECT_EQ(generate_profile(rng, 65508, "n", "").error().message, "mtu must be <= 65507");
}

TEST(Generate, ThousandProfilesValidateWithinBounds) {
  SeededRng rng(20240107);
  const unsigned mtus[] = {1280, 1281, 1290, 1300, 1350, 1400, 1420, 1500, 9000};
  for (int i = 0; i < 1000; ++i) {
    const unsigned mtu = mtus[i % std::size(mtus)];
    auto r = generate_profile(rng, mtu, "bf-2026-01-07", "127.0.0.1:9000");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Profile& p = *r;
    std::vector<std::string> warnings;
    auto v = validate_profile(p, warnings);
    ASSERT_TRUE(v.ok()) << mtu << ": " << v.error().message;
    EXPECT_TRUE(warnings.empty());
    const ObfuscationSection& o = p.obfuscation;
    EXPECT_GE(o.jc, 3);
    EXPECT_LE(o.jc, 5);
    EXPECT_GE(o.jmin, 200);
    EXPECT_LE(o.jmin, 600);
    EXPECT_GE(o.jmax, 900);
    EXPECT_LE(o.jmax, static_cast<std::int32_t>(std::min(1400u, std::max(mtu - 100, 900u))));
    EXPECT_GT(o.jmax, o.jmin);
    EXPECT_GE(o.s1, 200);
    EXPECT_LE(o.s1, 520);
    EXPECT_GE(o.s2, 260);
    EXPECT_LE(o.s2, 640);
    EXPECT_GE(o.s3, 120);
    EXPECT_LE(o.s3, 360);
    EXPECT_LE(o.s4, std::min<std::int32_t>(80, static_cast<std::int32_t>(mtu - 1206)));
    EXPECT_GE(o.s4, std::min<std::int32_t>(20, static_cast<std::int32_t>(mtu - 1206)));
    // Headers: disjoint, distinct MSB buckets, width in [512, 2048].
    const obf::Config c = obf_config(p);
    const std::uint64_t width = c.h[0].end - c.h[0].start;
    EXPECT_GE(width, 512u);
    EXPECT_LE(width, 2048u);
    for (std::size_t a = 0; a < 4; ++a) {
      EXPECT_EQ(c.h[a].end - c.h[a].start, width);
      for (std::size_t b = a + 1; b < 4; ++b) {
        EXPECT_FALSE(c.h[a].overlaps(c.h[b]));
        EXPECT_NE(c.h[a].start >> 24, c.h[b].start >> 24);
      }
    }
    // Padding sized from the headroom keeps the KCP MTU at >= 1200 - reserve.
    const std::uint64_t headroom = mtu - (o.s4 + 6) - 1200;
    ASSERT_TRUE(p.transport_padding);
    EXPECT_LE(p.transport_padding->pad_max, std::min<std::uint64_t>(96, headroom));
    EXPECT_LE(p.transport_padding->pad_burst_max, std::min<std::uint64_t>(128, headroom));
    const envelope::Sizes s = envelope::derive_sizes(size_inputs(p));
    EXPECT_GE(s.kcp_mtu, 1200u);
    EXPECT_LE(s.max_datagram, mtu);
    EXPECT_FALSE(o.server_private_key.empty());
    EXPECT_TRUE(encode_compact_profile(client_view(p)).ok());
  }
}

TEST(Generate, FixedFields) {
  SeededRng rng(5);
  auto r = generate_profile(rng, 1420, "name", "");
  ASSERT_TRUE(r.ok());
  const Profile& p = *r;
  EXPECT_EQ(p.name, "name");
  EXPECT_EQ(p.proxy_addr, "");
  EXPECT_EQ(p.handshake_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(p.preamble_delay_ms, 5u);
  EXPECT_EQ(p.preamble_jitter_ms, 5u);
  ASSERT_TRUE(p.kcp);
  EXPECT_EQ(p.kcp->max_packet_size, 1420u);
  EXPECT_EQ(p.kcp->keepalive, std::chrono::milliseconds(20'000));
  EXPECT_EQ(p.kcp->idle_timeout, std::chrono::milliseconds(120'000));
  EXPECT_FALSE(p.kcp->send_window);
  EXPECT_EQ(p.kcp->flush_interval_ms, 10u);
  EXPECT_EQ(p.obfuscation.i1, "<t>");
  EXPECT_EQ(p.obfuscation.require_timestamp, true);
  EXPECT_EQ(p.obfuscation.rate_limit_pps, 50u);
  EXPECT_EQ(p.obfuscation.rate_limit_burst, 20u);
}

TEST(Generate, PaddingTableOfHeadroom) {
  // At MTU 1280 the headroom is 74 - s4 with s4 in [20, 74]: every row of the 2.4 table occurs.
  bool zero = false, small = false, normal = false, burst = false;
  SeededRng rng(6);
  for (int i = 0; i < 400; ++i) {
    const unsigned mtu = i % 2 == 0 ? 1280 : 1400;
    auto r = generate_profile(rng, mtu, "n", "");
    ASSERT_TRUE(r.ok());
    const std::uint64_t headroom = mtu - (r->obfuscation.s4 + 6) - 1200;
    const PaddingSection& t = *r->transport_padding;
    if (headroom == 0) {
      zero = true;
      EXPECT_EQ(t, (PaddingSection{0, 0, 0, 0, 0.0}));
    } else if (headroom < 16) {
      small = true;
      EXPECT_EQ(t, (PaddingSection{0, headroom, 0, 0, 0.0}));
    } else if (headroom < 96) {
      normal = true;
      EXPECT_EQ(t, (PaddingSection{16, std::min<std::uint64_t>(96, headroom), 0, 0, 0.0}));
    } else {
      burst = true;
      EXPECT_EQ(t, (PaddingSection{16, 96, 96, std::min<std::uint64_t>(128, headroom), 0.02}));
    }
  }
  EXPECT_TRUE(zero && small && normal && burst);
}

TEST(Generate, SameSeedSameProfile) {
  SeededRng a(42), b(42);
  EXPECT_EQ(*generate_profile(a, 1400, "x", ""), *generate_profile(b, 1400, "x", ""));
}

}  // namespace
}  // namespace paniq::profile
