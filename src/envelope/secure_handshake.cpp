#include "envelope/secure_handshake.hpp"

#include <string_view>

#include "envelope/errors.hpp"

namespace paniq::envelope {
namespace {

using crypto::noise::HandshakeState;
using crypto::noise::Pattern;

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kFlagAesFast = 0x01;
constexpr std::uint8_t kFlagStreamOffsets = 0x02;     // payload1 flags: offered
constexpr std::uint8_t kFeatureStreamOffsets = 0x01;  // payload2 features: on
constexpr std::uint8_t kAeadChaCha = 0;
constexpr std::uint8_t kAeadAes = 1;

ByteView text(std::string_view s) {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

crypto::Key32 hp_key_s2c(const crypto::Key32& handshake_hash) {
  crypto::Key32 k{};
  crypto::blake2s(k, text("paniq-cpp hp s2c v1"), handshake_hash);
  return k;
}

Error noise_error(std::string what) { return Error{Errc::noise_failed, std::move(what)}; }

}  // namespace

std::optional<Pattern> secure_pattern_of(std::size_t len) {
  if (len == kEncTimestampLen + kNoiseMsg1NkLen + kMac1Len) return Pattern::NK;
  if (len == kEncTimestampLen + kNoiseMsg1IkLen + kMac1Len) return Pattern::IK;
  return std::nullopt;
}

crypto::Key32 hp_key_c2s(const crypto::Key32& server_public) {
  crypto::Key32 k{};
  crypto::Blake2s h(32);
  h.update(text("paniq-cpp hp c2s v1"));
  h.update(server_public);
  h.final(k);
  return k;
}

Bytes secure_prologue(const crypto::Key32& capability_key) {
  const ByteView label = text("paniq-cpp noise v1");
  Bytes p(label.size() + capability_key.size());
  std::copy(label.begin(), label.end(), p.begin());
  std::copy(capability_key.begin(), capability_key.end(),
            p.begin() + static_cast<std::ptrdiff_t>(label.size()));
  return p;
}

Result<std::unique_ptr<SecureClientHandshake>> SecureClientHandshake::start(
    const SecureClientParams& p, Rng& rng) {
  std::unique_ptr<SecureClientHandshake> c(new SecureClientHandshake());
  crypto::Key32 e{};
  rng.fill(e);
  c->rid_ = rng.next_u32();
  c->server_public_ = p.server_public;
  c->pattern_ = p.client_private ? Pattern::IK : Pattern::NK;
  c->hs_ = std::make_unique<HandshakeState>(HandshakeState::initiator(
      c->pattern_, secure_prologue(p.capability_key), p.client_private, p.server_public, e));
  crypto::secure_zero(e);
  std::array<std::uint8_t, kNoisePayload1Len> payload{};
  put_u32_le(payload.data(), c->rid_);
  payload[4] = kVersion;
  payload[5] = static_cast<std::uint8_t>((p.aes_fast ? kFlagAesFast : 0) |
                                         (p.stream_offsets ? kFlagStreamOffsets : 0));
  c->offer_offsets_ = p.stream_offsets;
  auto msg = c->hs_->write_message(payload);
  if (!msg) return Error{Errc::low_order_key, "encrypted handshake: " + msg.error().message};
  c->msg1_ = std::move(*msg);
  return c;
}

SecureClientHandshake::~SecureClientHandshake() = default;

std::optional<SecureEstablished> SecureClientHandshake::finish(ByteView response_payload) {
  if (response_payload.size() != kSecureResponsePayloadLen || !hs_) return std::nullopt;
  // Noise's read fails without changing what a retry needs? It does change the state, so try
  // on a copy: a forged Response must not spoil the real one that may still come.
  HandshakeState trial = *hs_;
  auto payload = trial.read_message(response_payload.subspan(4));
  if (!payload || payload->size() != kNoisePayload2Len) return std::nullopt;
  const std::uint8_t aead = (*payload)[8];
  if (aead != kAeadChaCha && aead != kAeadAes) return std::nullopt;
  if (aead == kAeadAes && !crypto::aes256gcm_available()) return std::nullopt;
  SecureEstablished est;
  est.conv = get_u32_le(payload->data() + 4);
  est.keys.aead = aead == kAeadAes ? crypto::Aead::aes256gcm : crypto::Aead::chacha20poly1305;
  est.keys.send_rid = get_u32_le(payload->data());
  est.keys.recv_rid = rid_;
  auto [c1, c2] = trial.split();
  est.keys.send = c1.key();
  est.keys.recv = c2.key();
  est.keys.hp_send = hp_key_c2s(server_public_);
  est.keys.hp_recv = hp_key_s2c(trial.handshake_hash());
  // On only when we offered it (a server must not turn on what was not offered).
  est.keys.stream_offsets = offer_offsets_ && ((*payload)[9] & kFeatureStreamOffsets) != 0;
  hs_.reset();  // its ephemeral secret is erased by its destructor
  return est;
}

Result<SecureAccepted> accept_secure_initiation(const SecureServerParams& p, Pattern pattern,
                                                ByteView msg1, std::uint32_t conv,
                                                std::uint32_t server_rid, Rng& rng) {
  const std::size_t want = pattern == Pattern::IK ? kNoiseMsg1IkLen : kNoiseMsg1NkLen;
  if (msg1.size() != want) return noise_error("message 1 length");
  crypto::Key32 e{};
  rng.fill(e);
  HandshakeState hs = HandshakeState::responder(pattern, secure_prologue(p.capability_key),
                                                p.server_private, e);
  crypto::secure_zero(e);
  auto payload = hs.read_message(msg1);
  if (!payload) return noise_error("message 1: " + payload.error().message);
  if (payload->size() != kNoisePayload1Len || (*payload)[4] != kVersion) {
    return noise_error("message 1: unknown version");
  }
  const bool client_aes = ((*payload)[5] & kFlagAesFast) != 0;
  const bool aes = client_aes && p.aes_fast;
  std::array<std::uint8_t, kNoisePayload2Len> reply{};
  put_u32_le(reply.data(), server_rid);
  put_u32_le(reply.data() + 4, conv);
  reply[8] = aes ? kAeadAes : kAeadChaCha;
  const bool offsets = p.stream_offsets && ((*payload)[5] & kFlagStreamOffsets) != 0;
  reply[9] = offsets ? kFeatureStreamOffsets : 0;
  auto msg2 = hs.write_message(reply);
  if (!msg2) return noise_error("message 2: " + msg2.error().message);

  SecureAccepted a;
  a.client_public = hs.remote_static();
  a.response_payload.resize(4);
  rng.fill(a.response_payload);
  a.response_payload.insert(a.response_payload.end(), msg2->begin(), msg2->end());
  a.keys.aead = aes ? crypto::Aead::aes256gcm : crypto::Aead::chacha20poly1305;
  a.keys.send_rid = get_u32_le(payload->data());
  a.keys.recv_rid = server_rid;
  auto [c1, c2] = hs.split();
  a.keys.send = c2.key();
  a.keys.recv = c1.key();
  a.keys.hp_send = hp_key_s2c(hs.handshake_hash());
  a.keys.hp_recv = hp_key_c2s(p.server_public);
  a.keys.stream_offsets = offsets;
  return a;
}

}  // namespace paniq::envelope
