#include "crypto/noise.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/vectors.hpp"

namespace paniq::crypto::noise {
namespace {

using test::hex;

Key32 key32(const std::string& h) {
  const Bytes b = hex(h);
  Key32 k{};
  EXPECT_EQ(b.size(), k.size());
  std::copy_n(b.begin(), std::min(b.size(), k.size()), k.begin());
  return k;
}

// noise-vectors.json: under tests/vectors once copied there, else the shared vector directory.
nlohmann::json noise_vectors() {
  const char* file = "noise-vectors.json";
  if (std::filesystem::exists(std::string(PANIQ_VECTOR_DIR) + "/" + file)) {
    return test::load_vectors(file);
  }
  const std::string shared = std::string("/work/shared/vectors/") + file;
  std::ifstream in(shared);
  if (!in) throw std::runtime_error("cannot find noise-vectors.json");
  return nlohmann::json::parse(in);
}

// Runs one cacophony/snow vector: both handshake messages byte for byte, the handshake hash,
// then the transport messages with the split CipherStates.
void run_vector(const nlohmann::json& v, Pattern p) {
  const std::optional<Key32> init_static =
      v.contains("init_static") ? std::optional(key32(v.at("init_static"))) : std::nullopt;
  auto init = HandshakeState::initiator(p, hex(v.at("init_prologue")), init_static,
                                        key32(v.at("init_remote_static")),
                                        key32(v.at("init_ephemeral")));
  auto resp = HandshakeState::responder(p, hex(v.at("resp_prologue")),
                                        key32(v.at("resp_static")),
                                        key32(v.at("resp_ephemeral")));
  const auto& msgs = v.at("messages");
  ASSERT_GE(msgs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    HandshakeState& writer = i == 0 ? init : resp;
    HandshakeState& reader = i == 0 ? resp : init;
    const Bytes payload = hex(msgs[i].at("payload"));
    auto m = writer.write_message(payload);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(to_hex(*m), msgs[i].at("ciphertext").get<std::string>()) << "message " << i;
    EXPECT_EQ(m->size(), i == 0 ? HandshakeState::message1_len(p, payload.size())
                                : HandshakeState::message2_len(payload.size()));
    auto got = reader.read_message(*m);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, payload);
  }
  ASSERT_TRUE(init.finished());
  ASSERT_TRUE(resp.finished());
  EXPECT_EQ(init.handshake_hash(), resp.handshake_hash());
  if (v.contains("handshake_hash")) {
    EXPECT_EQ(to_hex(init.handshake_hash()), v.at("handshake_hash").get<std::string>());
  }
  if (p == Pattern::IK) {
    ASSERT_TRUE(resp.remote_static());
    EXPECT_EQ(*resp.remote_static(), x25519_public(*init_static));
  }
  auto [i_send, i_recv] = init.split();
  auto [r_recv, r_send] = resp.split();
  for (std::size_t i = 2; i < msgs.size(); ++i) {
    CipherState& sender = i % 2 == 0 ? i_send : r_send;
    CipherState& receiver = i % 2 == 0 ? r_recv : i_recv;
    const Bytes payload = hex(msgs[i].at("payload"));
    Bytes ct(payload.size() + kAeadTagLen);
    ASSERT_TRUE(sender.encrypt_with_ad({}, payload, ct));
    EXPECT_EQ(to_hex(ct), msgs[i].at("ciphertext").get<std::string>()) << "message " << i;
    Bytes pt(payload.size());
    ASSERT_TRUE(receiver.decrypt_with_ad({}, ct, pt));
    EXPECT_EQ(pt, payload);
  }
}

TEST(NoiseVectors, CacophonyAndSnowNkIk) {
  const auto doc = noise_vectors();
  int nk = 0;
  int ik = 0;
  for (const auto& v : doc.at("vectors")) {
    const std::string name = v.at("protocol_name");
    const bool is_nk = name == protocol_name(Pattern::NK);
    if (!is_nk && name != protocol_name(Pattern::IK)) continue;
    SCOPED_TRACE(name + " from " + v.value("_source", std::string("?")));
    run_vector(v, is_nk ? Pattern::NK : Pattern::IK);
    ++(is_nk ? nk : ik);
  }
  EXPECT_GE(nk, 2);
  EXPECT_GE(ik, 2);
}

// ---- Fixed-key handshakes for the behaviour tests ----

const Key32 kInitStatic{0x11, 0x12, 0x13};
const Key32 kRespStatic{0x21, 0x22, 0x23};
const Key32 kInitEph{0x31, 0x32, 0x33};
const Key32 kRespEph{0x41, 0x42, 0x43};
const Bytes kPrologue{'p', 'a', 'n', 'i', 'q'};
const Bytes kPayload1{1, 2, 3, 4, 5, 6, 7, 8};
const Bytes kPayload2{9, 10, 11};

HandshakeState make_initiator(Pattern p, const Key32& rs = x25519_public(kRespStatic)) {
  return HandshakeState::initiator(p, kPrologue, kInitStatic, rs, kInitEph);
}
HandshakeState make_responder(Pattern p) {
  return HandshakeState::responder(p, kPrologue, kRespStatic, kRespEph);
}

constexpr Pattern kPatterns[] = {Pattern::NK, Pattern::IK};

TEST(Noise, TamperedMessage1FailsEveryByte) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p);
    const Bytes m1 = *init.write_message(kPayload1);
    ASSERT_EQ(m1.size(), HandshakeState::message1_len(p, kPayload1.size()));
    ASSERT_TRUE(make_responder(p).read_message(m1).ok());
    // Every byte: e, (IK) encrypted s and its tag, payload, payload tag.
    for (std::size_t i = 0; i < m1.size(); ++i) {
      Bytes bad = m1;
      bad[i] ^= 0x01;
      auto resp = make_responder(p);
      auto r = resp.read_message(bad);
      ASSERT_FALSE(r.ok()) << "byte " << i;
      EXPECT_TRUE(resp.failed());
      EXPECT_EQ(resp.read_message(m1).error().code, Errc::unusable);
      if (p == Pattern::IK) {
        EXPECT_FALSE(resp.remote_static());
      }
    }
  }
}

TEST(Noise, TamperedMessage2FailsEveryByte) {
  for (Pattern p : kPatterns) {
    auto resp = make_responder(p);
    auto init0 = make_initiator(p);
    ASSERT_TRUE(resp.read_message(*init0.write_message(kPayload1)).ok());
    const Bytes m2 = *resp.write_message(kPayload2);
    ASSERT_EQ(m2.size(), HandshakeState::message2_len(kPayload2.size()));
    for (std::size_t i = 0; i < m2.size(); ++i) {
      Bytes bad = m2;
      bad[i] ^= 0x80;
      auto init = make_initiator(p);
      ASSERT_TRUE(init.write_message(kPayload1).ok());
      ASSERT_FALSE(init.read_message(bad).ok()) << "byte " << i;
      EXPECT_FALSE(init.finished());
    }
    auto init = make_initiator(p);
    ASSERT_TRUE(init.write_message(kPayload1).ok());
    auto got = init.read_message(m2);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, kPayload2);
  }
}

// A caller tries message 2 on a copy, so a forged one does not spoil the real one.
TEST(Noise, CopyTriesMessage2WithoutSpoilingTheOriginal) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p);
    auto resp = make_responder(p);
    ASSERT_TRUE(resp.read_message(*init.write_message(kPayload1)).ok());
    Bytes m2 = *resp.write_message(kPayload2);
    Bytes forged = m2;
    forged.back() ^= 1;
    HandshakeState trial = init;
    EXPECT_FALSE(trial.read_message(forged).ok());
    EXPECT_FALSE(init.failed());
    HandshakeState trial2 = init;
    auto got = trial2.read_message(m2);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, kPayload2);
    EXPECT_EQ(trial2.handshake_hash(), resp.handshake_hash());
    auto [a, b] = trial2.split();
    auto [c, d] = resp.split();
    EXPECT_EQ(a.key(), c.key());
    EXPECT_EQ(b.key(), d.key());
  }
}

TEST(Noise, WrongLengthsFail) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p);
    const Bytes m1 = *init.write_message({});
    EXPECT_EQ(make_responder(p).read_message(ByteView(m1).first(m1.size() - 1)).error().code,
              Errc::message_size);
    EXPECT_EQ(make_responder(p).read_message({}).error().code, Errc::message_size);
    EXPECT_EQ(make_responder(p).read_message(Bytes(kMaxMessageLen + 1)).error().code,
              Errc::message_too_long);
    // Too long to write: an error, and the state stays usable.
    auto init2 = make_initiator(p);
    EXPECT_EQ(init2.write_message(Bytes(kMaxMessageLen)).error().code, Errc::message_too_long);
    EXPECT_FALSE(init2.failed());
    EXPECT_TRUE(init2.write_message(kPayload1).ok());
    // The largest payload that fits.
    auto init3 = make_initiator(p);
    const std::size_t max_payload = kMaxMessageLen - HandshakeState::message1_len(p, 0);
    auto big = init3.write_message(Bytes(max_payload, 7));
    ASSERT_TRUE(big.ok());
    EXPECT_EQ(big->size(), kMaxMessageLen);
    EXPECT_EQ(make_responder(p).read_message(*big)->size(), max_payload);
  }
}

TEST(Noise, LowOrderEphemeralFails) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p);
    Bytes m1 = *init.write_message(kPayload1);
    Bytes zero_e = m1;
    std::fill_n(zero_e.begin(), kDhLen, 0);
    auto resp_bad = make_responder(p);
    EXPECT_EQ(resp_bad.read_message(zero_e).error().code, Errc::low_order_key);

    auto resp = make_responder(p);
    ASSERT_TRUE(resp.read_message(m1).ok());
    Bytes m2 = *resp.write_message(kPayload2);
    std::fill_n(m2.begin(), kDhLen, 0);
    EXPECT_EQ(init.read_message(m2).error().code, Errc::low_order_key);
    EXPECT_TRUE(init.failed());
  }
}

TEST(Noise, LowOrderResponderStaticFailsToWrite) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p, Key32{});
    EXPECT_EQ(init.write_message(kPayload1).error().code, Errc::low_order_key);
    EXPECT_EQ(init.write_message(kPayload1).error().code, Errc::unusable);
  }
}

TEST(Noise, WrongResponderKeyOrPrologueFails) {
  for (Pattern p : kPatterns) {
    auto init = make_initiator(p, x25519_public(Key32{0x99}));
    EXPECT_EQ(make_responder(p).read_message(*init.write_message(kPayload1)).error().code,
              Errc::auth_failed);
    auto init2 = make_initiator(p);
    auto resp = HandshakeState::responder(p, Bytes{'x'}, kRespStatic, kRespEph);
    EXPECT_EQ(resp.read_message(*init2.write_message(kPayload1)).error().code,
              Errc::auth_failed);
  }
}

TEST(Noise, RemoteStatic) {
  auto ik_init = make_initiator(Pattern::IK);
  auto ik_resp = make_responder(Pattern::IK);
  EXPECT_EQ(ik_init.remote_static(), x25519_public(kRespStatic));
  EXPECT_FALSE(ik_resp.remote_static());
  ASSERT_TRUE(ik_resp.read_message(*ik_init.write_message(kPayload1)).ok());
  EXPECT_EQ(ik_resp.remote_static(), x25519_public(kInitStatic));

  auto nk_init = make_initiator(Pattern::NK);
  auto nk_resp = make_responder(Pattern::NK);
  ASSERT_TRUE(nk_resp.read_message(*nk_init.write_message(kPayload1)).ok());
  EXPECT_FALSE(nk_resp.remote_static());
  EXPECT_THROW(HandshakeState::initiator(Pattern::IK, {}, std::nullopt, Key32{9}, kInitEph),
               std::invalid_argument);
}

TEST(Noise, TurnOrderAndSplitPreconditions) {
  auto init = make_initiator(Pattern::IK);
  auto resp = make_responder(Pattern::IK);
  EXPECT_THROW((void)init.read_message(Bytes(100)), std::logic_error);
  EXPECT_THROW((void)resp.write_message({}), std::logic_error);
  EXPECT_THROW((void)init.split(), std::logic_error);
  const Bytes m1 = *init.write_message({});
  EXPECT_THROW((void)init.write_message({}), std::logic_error);
  ASSERT_TRUE(resp.read_message(m1).ok());
  ASSERT_TRUE(init.read_message(*resp.write_message({})).ok());
  EXPECT_TRUE(init.finished());
  EXPECT_THROW((void)init.write_message({}), std::logic_error);
  (void)init.split();
  EXPECT_THROW((void)init.split(), std::logic_error);
}

// Runs a complete handshake with fixed keys and returns the four transport CipherStates.
struct Transport {
  CipherState i_send, i_recv, r_recv, r_send;
};
Transport handshake(Pattern p) {
  auto init = make_initiator(p);
  auto resp = make_responder(p);
  if (!resp.read_message(*init.write_message(kPayload1)).ok()) throw std::runtime_error("m1");
  if (!init.read_message(*resp.write_message(kPayload2)).ok()) throw std::runtime_error("m2");
  auto [a, b] = init.split();
  auto [c, d] = resp.split();
  return {std::move(a), std::move(b), std::move(c), std::move(d)};
}

bool deliver(CipherState& from, CipherState& to, const Bytes& msg) {
  Bytes ct(msg.size() + kAeadTagLen);
  Bytes pt(msg.size());
  return from.encrypt_with_ad({}, msg, ct) && to.decrypt_with_ad({}, ct, pt) && pt == msg;
}

TEST(Noise, RekeyChangesKeyAndSidesStayInSync) {
  for (Pattern p : kPatterns) {
    Transport t = handshake(p);
    EXPECT_EQ(t.i_send.key(), t.r_recv.key());
    EXPECT_EQ(t.r_send.key(), t.i_recv.key());
    EXPECT_NE(t.i_send.key(), t.i_recv.key());
    ASSERT_TRUE(deliver(t.i_send, t.r_recv, kPayload1));
    const Key32 before = t.i_send.key();
    // Spec 11.3: first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes).
    std::array<std::uint8_t, 12> max_nonce{};
    std::fill(max_nonce.begin() + 4, max_nonce.end(), 0xff);
    std::array<std::uint8_t, 48> block{};
    chacha20poly1305_seal(block, std::array<std::uint8_t, 32>{}, {}, max_nonce, before);
    t.i_send.rekey();
    EXPECT_NE(t.i_send.key(), before);
    EXPECT_TRUE(std::equal(block.begin(), block.begin() + 32, t.i_send.key().begin()));
    EXPECT_EQ(t.i_send.nonce(), 1u);  // rekey keeps n
    // Out of sync until the receiver rekeys too (the failed attempt keeps its nonce).
    Bytes ct(kPayload1.size() + kAeadTagLen);
    ASSERT_TRUE(t.i_send.encrypt_with_ad({}, kPayload1, ct));
    Bytes pt(kPayload1.size());
    EXPECT_FALSE(t.r_recv.decrypt_with_ad({}, ct, pt));
    EXPECT_EQ(t.r_recv.nonce(), 1u);
    t.r_recv.rekey();
    ASSERT_TRUE(t.r_recv.decrypt_with_ad({}, ct, pt));
    EXPECT_EQ(pt, kPayload1);
    EXPECT_TRUE(deliver(t.r_send, t.i_recv, kPayload2));
    EXPECT_TRUE(deliver(t.i_send, t.r_recv, kPayload2));
  }
}

TEST(Noise, CipherStateNonceAndMove) {
  Transport t = handshake(Pattern::NK);
  t.i_send.set_nonce(kMaxNonce);
  Bytes ct(kPayload1.size() + kAeadTagLen);
  EXPECT_FALSE(t.i_send.encrypt_with_ad({}, kPayload1, ct));
  t.i_send.set_nonce(kMaxNonce - 1);
  t.r_recv.set_nonce(kMaxNonce - 1);
  EXPECT_TRUE(deliver(t.i_send, t.r_recv, kPayload1));
  EXPECT_EQ(t.i_send.nonce(), kMaxNonce);
  // Associated data is authenticated.
  Transport u = handshake(Pattern::IK);
  const Bytes ad{1};
  ASSERT_TRUE(u.i_send.encrypt_with_ad(ad, kPayload1, ct));
  Bytes pt(kPayload1.size());
  EXPECT_FALSE(u.r_recv.decrypt_with_ad({}, ct, pt));
  EXPECT_TRUE(u.r_recv.decrypt_with_ad(ad, ct, pt));
  // Moving leaves the source without a key; erase forgets it.
  CipherState moved = std::move(u.i_send);
  EXPECT_TRUE(moved.has_key());
  EXPECT_FALSE(u.i_send.has_key());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(u.i_send.key(), Key32{});
  moved.erase();
  EXPECT_FALSE(moved.has_key());
  EXPECT_EQ(moved.key(), Key32{});
}

TEST(Noise, ErrorCategory) {
  const std::error_code ec = Errc::auth_failed;
  EXPECT_STREQ(ec.category().name(), "noise");
  EXPECT_EQ(ec.message(), "Noise message failed authentication");
}

}  // namespace
}  // namespace paniq::crypto::noise
