// The encrypted transport channel (envelope/secure.hpp) and its handshake
// (envelope/secure_handshake.hpp).
#include "envelope/secure.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/rng.hpp"
#include "envelope/secure_handshake.hpp"

namespace paniq::envelope {
namespace {

struct Pair {
  SecureKeys a_keys, b_keys;
};

Pair make_keys(crypto::Aead aead, std::uint64_t seed) {
  SeededRng rng(seed);
  Pair p;
  crypto::Key32 k1{}, k2{}, h1{}, h2{};
  rng.fill(k1);
  rng.fill(k2);
  rng.fill(h1);
  rng.fill(h2);
  p.a_keys = SecureKeys{aead, k1, k2, h1, h2, 0x1111, 0x2222};
  p.b_keys = SecureKeys{aead, k2, k1, h2, h1, 0x2222, 0x1111};
  return p;
}

std::vector<crypto::Aead> algorithms() {
  std::vector<crypto::Aead> a{crypto::Aead::chacha20poly1305};
  if (crypto::aes256gcm_available()) a.push_back(crypto::Aead::aes256gcm);
  return a;
}

Bytes seal(SecureChannel& c, ByteView inner, TimeMs now, Rng& rng,
           PaddingPolicy pad = PaddingPolicy::enabled_defaults()) {
  Bytes out(2048);
  std::copy(inner.begin(), inner.end(), out.begin() + SecureChannel::inner_offset());
  auto n = c.seal(out, inner.size(), pad, 1400, rng, now);
  EXPECT_TRUE(static_cast<bool>(n));
  out.resize(n ? *n : 0);
  return out;
}

Bytes text(const char* s) { return Bytes(s, s + std::strlen(s)); }

TEST(SecureChannel, RoundTripHidesEverythingAndRoutesByReceiverId) {
  for (const crypto::Aead aead : algorithms()) {
    auto keys = make_keys(aead, 1);
    SecureChannel a(keys.a_keys, {}, 0), b(keys.b_keys, {}, 0);
    SeededRng rng(2);
    Bytes scratch(2048);
    const Bytes msg = text("a KCP segment with a constant conv");
    Bytes prev;
    for (int i = 0; i < 50; ++i) {
      const Bytes d = seal(a, msg, 10 * i, rng);
      ASSERT_GE(d.size(), msg.size() + kSecureOverhead + 2);
      // The plaintext appears nowhere, and no two datagrams share their first 16 bytes.
      EXPECT_EQ(std::search(d.begin(), d.end(), msg.begin(), msg.end()), d.end());
      if (!prev.empty()) {
        EXPECT_FALSE(std::equal(d.begin(), d.begin() + 16, prev.begin()));
      }
      prev = d;
      const auto h = peek_header(d, crypto::HeaderProtection(aead, keys.b_keys.hp_recv));
      ASSERT_TRUE(h);
      EXPECT_EQ(h->receiver_id, 0x1111u);
      EXPECT_EQ(h->counter, static_cast<std::uint64_t>(i));
      const Opened o = b.open(d, scratch, 10 * i);
      ASSERT_EQ(o.status, OpenStatus::ok) << crypto::to_string(aead) << " " << i;
      EXPECT_EQ(Bytes(o.inner.begin(), o.inner.end()), msg);
      EXPECT_TRUE(o.newest);
    }
  }
}

TEST(SecureChannel, TamperReplayAndWrongReceiverAreDropped) {
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 3);
  SecureChannel a(keys.a_keys, {}, 0), b(keys.b_keys, {}, 0);
  SeededRng rng(4);
  Bytes scratch(2048);
  const Bytes d = seal(a, text("hello"), 0, rng, PaddingPolicy::disabled());
  for (std::size_t i = 0; i < d.size(); ++i) {
    Bytes t = d;
    t[i] ^= 0x40;
    EXPECT_NE(b.open(t, scratch, 0).status, OpenStatus::ok) << "byte " << i;
  }
  EXPECT_EQ(b.open(d, scratch, 0).status, OpenStatus::ok);
  EXPECT_EQ(b.open(d, scratch, 0).status, OpenStatus::replayed);
  EXPECT_EQ(b.stats().drop_replay, 1u);
  // A channel whose receiver id differs (another session) refuses it before any AEAD work.
  SecureKeys other = keys.b_keys;
  other.recv_rid = 0x3333;
  SecureChannel c(other, {}, 0);
  EXPECT_EQ(c.open(seal(a, text("x"), 0, rng), scratch, 0).status, OpenStatus::wrong_receiver);
  EXPECT_EQ(b.open(Bytes(20), scratch, 0).status, OpenStatus::malformed);
}

TEST(SecureChannel, ReplayWindowAcceptsReorderingWithinItAndRefusesOlder) {
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 5);
  SecureChannel a(keys.a_keys, {}, 0), b(keys.b_keys, {}, 0);
  SeededRng rng(6);
  Bytes scratch(2048);
  std::vector<Bytes> ds;
  for (std::size_t i = 0; i < kSecureReplayWindow + 100; ++i) {
    ds.push_back(seal(a, text("x"), 0, rng, PaddingPolicy::disabled()));
  }
  // Deliver the last one first, then datagrams 4096 and more behind it: still in the window.
  ASSERT_EQ(b.open(ds.back(), scratch, 0).status, OpenStatus::ok);
  const std::size_t last = ds.size() - 1;
  EXPECT_EQ(b.open(ds[last - 4096], scratch, 0).status, OpenStatus::ok);
  EXPECT_FALSE(b.open(ds[last - 4095], scratch, 0).newest);
  EXPECT_EQ(b.open(ds[0], scratch, 0).status, OpenStatus::replayed) << "behind the window";
}

TEST(SecureChannel, RekeysByTimeAndVolumeAndErasesOldKeys) {
  RekeyPolicy pol;
  pol.after_ms = 1000;
  pol.reject_after_ms = 1500;
  pol.previous_grace_ms = 100;
  pol.after_bytes = 10'000;
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 7);
  SecureChannel a(keys.a_keys, pol, 0), b(keys.b_keys, pol, 0);
  SeededRng rng(8);
  Bytes scratch(2048);
  // By time: one datagram per 300 ms for 4 s: the key changes every second.
  Bytes before_rekey;
  for (TimeMs t = 0; t <= 4000; t += 300) {
    if (t == 900) before_rekey = seal(a, text("held back"), t, rng);  // never delivered in time
    const Bytes d = seal(a, text("tick"), t, rng);
    ASSERT_EQ(b.open(d, scratch, t).status, OpenStatus::ok) << t;
  }
  EXPECT_EQ(a.stats().rekeys_sent, 3u);  // at 1200, 2400 and 3600 ms
  EXPECT_EQ(b.stats().rekeys_received, 3u);
  EXPECT_EQ(a.send_epoch(), b.recv_epoch());
  // By volume: 10 kB under one key, then the next.
  const std::uint32_t e0 = a.send_epoch();
  const Bytes big(1000, 0x55);
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(b.open(seal(a, big, 4000, rng), scratch, 4000).status, OpenStatus::ok);
  }
  EXPECT_EQ(a.send_epoch(), e0 + 1);
  // A datagram of an epoch the receiver has let go of does not open, although its counter is
  // inside the replay window and was never seen: the key is gone.
  EXPECT_NE(b.open(before_rekey, scratch, 4000).status, OpenStatus::ok);
}

TEST(SecureChannel, PreviousKeyServesReorderingThenExpires) {
  RekeyPolicy pol;
  pol.after_ms = 1000;
  pol.previous_grace_ms = 200;
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 9);
  SecureChannel a(keys.a_keys, pol, 0), b(keys.b_keys, pol, 0);
  SeededRng rng(10);
  Bytes scratch(2048);
  const Bytes old1 = seal(a, text("old1"), 990, rng);
  const Bytes old2 = seal(a, text("old2"), 995, rng);
  const Bytes next = seal(a, text("new"), 1000, rng);  // epoch 1
  ASSERT_EQ(b.open(next, scratch, 1000).status, OpenStatus::ok);
  EXPECT_EQ(b.open(old1, scratch, 1100).status, OpenStatus::ok) << "reordered across the rekey";
  EXPECT_EQ(b.open(old2, scratch, 1300).status, OpenStatus::auth) << "previous key expired";
}

TEST(SecureChannel, StaleKeyIsRefused) {
  RekeyPolicy pol;
  pol.after_ms = 1000;
  pol.reject_after_ms = 1500;
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 11);
  SecureChannel a(keys.a_keys, {}, 0), b(keys.b_keys, pol, 0);  // a never rekeys (defaults)
  SeededRng rng(12);
  Bytes scratch(2048);
  EXPECT_EQ(b.open(seal(a, text("x"), 1400, rng), scratch, 1400).status, OpenStatus::ok);
  EXPECT_EQ(b.open(seal(a, text("x"), 1600, rng), scratch, 1600).status, OpenStatus::stale_key);
  EXPECT_EQ(b.stats().drop_stale_key, 1u);
}

TEST(SecureChannel, BudgetIsRespected) {
  auto keys = make_keys(crypto::Aead::chacha20poly1305, 13);
  SecureChannel a(keys.a_keys, {}, 0);
  SeededRng rng(14);
  Bytes out(4096);
  for (std::size_t inner : {0u, 100u, 1000u, 1400u - 34u}) {
    auto n = a.seal(out, inner, PaddingPolicy::enabled_defaults(), 1400, rng, 0);
    ASSERT_TRUE(n) << inner;
    EXPECT_LE(*n, 1400u);
  }
  EXPECT_FALSE(a.seal(out, 1400 - 33, PaddingPolicy::disabled(), 1400, rng, 0));
}

TEST(SecureChannel, NoiseRekeyIsTheSpecFunction) {
  // REKEY(k) = first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros[32]).
  crypto::Key32 k{};
  k.fill(7);
  std::array<std::uint8_t, 48> ct{};
  std::array<std::uint8_t, 12> n{};
  std::fill(n.begin() + 4, n.end(), 0xff);
  crypto::chacha20poly1305_seal(ct, std::array<std::uint8_t, 32>{}, {}, n, k);
  const crypto::Key32 r = noise_rekey(k);
  EXPECT_TRUE(std::equal(r.begin(), r.end(), ct.begin()));
}

// ---- handshake -------------------------------------------------------------------------------

struct HsSetup {
  crypto::Key32 server_private{}, server_public{}, client_private{}, cap{};
};

HsSetup hs_setup() {
  SeededRng rng(20);
  HsSetup s;
  rng.fill(s.server_private);
  s.server_public = crypto::x25519_public(s.server_private);
  rng.fill(s.client_private);
  rng.fill(s.cap);
  return s;
}

TEST(SecureHandshake, NkAndIkEstablishMatchingChannels) {
  const HsSetup s = hs_setup();
  for (const bool ik : {false, true}) {
    SeededRng rng(ik ? 21 : 22);
    SecureClientParams cp{s.server_public, std::nullopt, s.cap, true};
    if (ik) cp.client_private = s.client_private;
    auto c = SecureClientHandshake::start(cp, rng);
    ASSERT_TRUE(c);
    const auto pattern = secure_pattern_of(kEncTimestampLen + (*c)->message1().size() + kMac1Len);
    ASSERT_TRUE(pattern);
    EXPECT_EQ(*pattern, ik ? crypto::noise::Pattern::IK : crypto::noise::Pattern::NK);
    SecureServerParams sp{s.server_private, s.server_public, s.cap, true};
    auto a = accept_secure_initiation(sp, *pattern, (*c)->message1(), 0xc0ffee, 0xabcd, rng);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->client_public.has_value(), ik);
    if (ik) {
      EXPECT_EQ(*a->client_public, crypto::x25519_public(s.client_private));
    }
    ASSERT_EQ(a->response_payload.size(), kSecureResponsePayloadLen);
    // A forged Response first: ignored, and the real one still completes.
    Bytes forged = a->response_payload;
    forged[10] ^= 1;
    EXPECT_FALSE((*c)->finish(forged));
    auto est = (*c)->finish(a->response_payload);
    ASSERT_TRUE(est);
    EXPECT_EQ(est->conv, 0xc0ffeeu);
    EXPECT_EQ(est->keys.send_rid, 0xabcdu);
    EXPECT_EQ(est->keys.aead, crypto::aes256gcm_available() ? crypto::Aead::aes256gcm
                                                            : crypto::Aead::chacha20poly1305);
    SecureChannel client(est->keys, {}, 0), server(a->keys, {}, 0);
    Bytes scratch(2048);
    const Bytes d = seal(client, text("up"), 0, rng);
    EXPECT_EQ(peek_header(d, crypto::HeaderProtection(est->keys.aead, hp_key_c2s(s.server_public)))
                  ->receiver_id,
              0xabcdu)
        << "the server unmasks with a key from its public key alone";
    EXPECT_EQ(server.open(d, scratch, 0).status, OpenStatus::ok);
    EXPECT_EQ(client.open(seal(server, text("down"), 0, rng), scratch, 0).status, OpenStatus::ok);
  }
}

TEST(SecureHandshake, WrongServerKeyOrProfileFails) {
  const HsSetup s = hs_setup();
  SeededRng rng(23);
  auto c = SecureClientHandshake::start({s.server_public, std::nullopt, s.cap, false}, rng);
  ASSERT_TRUE(c);
  crypto::Key32 other_cap = s.cap;
  other_cap[0] ^= 1;
  SecureServerParams sp{s.server_private, s.server_public, other_cap, false};
  EXPECT_FALSE(accept_secure_initiation(sp, crypto::noise::Pattern::NK, (*c)->message1(), 1, 2, rng))
      << "the prologue binds the obfuscation parameters";
  SecureServerParams wrong{s.cap, crypto::x25519_public(s.cap), s.cap, false};
  EXPECT_FALSE(accept_secure_initiation(wrong, crypto::noise::Pattern::NK, (*c)->message1(), 1, 2, rng));
  EXPECT_FALSE(secure_pattern_of(0));
  EXPECT_FALSE(secure_pattern_of(101));
}

// Stream offsets (docs/protocol.md 7.8) are on only when the client offered them (payload1 flag
// bit 1) and the server took the offer (payload2 features bit 0): an older server, which never
// sets the bit, or an older client, which never offers, leave them off on both ends.
TEST(SecureHandshake, StreamOffsetsAreOnOnlyWhenBothEndsWantThem) {
  const HsSetup s = hs_setup();
  for (const bool offer : {false, true}) {
    for (const bool accept : {false, true}) {
      SeededRng rng(offer * 2 + accept + 30);
      SecureClientParams cp{s.server_public, std::nullopt, s.cap, false};
      cp.stream_offsets = offer;
      auto c = SecureClientHandshake::start(cp, rng);
      ASSERT_TRUE(c);
      SecureServerParams sp{s.server_private, s.server_public, s.cap, false};
      sp.stream_offsets = accept;
      auto a = accept_secure_initiation(sp, crypto::noise::Pattern::NK, (*c)->message1(), 7, 8, rng);
      ASSERT_TRUE(a) << a.error().message;
      auto est = (*c)->finish(a->response_payload);
      ASSERT_TRUE(est);
      EXPECT_EQ(a->keys.stream_offsets, offer && accept) << offer << accept;
      EXPECT_EQ(est->keys.stream_offsets, offer && accept) << offer << accept;
    }
  }
}

}  // namespace
}  // namespace paniq::envelope
