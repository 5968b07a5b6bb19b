#include "envelope/handshake.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::envelope {

using obf::MessageType;

std::size_t InitiationAuth::payload_len() const {
  if (!server_public) return 0;
  return encrypted_timestamp ? kEncTimestampLen + kMac1Len : kMac1Len;
}

Result<Bytes> build_initiation(const obf::Framer& framer, Rng& rng, const InitiationAuth& auth,
                               const Tai64n& stamp, ByteView noise_message) {
  if (!noise_message.empty() && !(auth.server_public && auth.encrypted_timestamp)) {
    throw std::invalid_argument("build_initiation: a Noise message needs the encrypted timestamp");
  }
  const std::size_t prefix = framer.prefix_len(MessageType::Initiation);
  Bytes out(prefix + auth.payload_len() + noise_message.size(), 0);
  if (!noise_message.empty()) {
    std::copy(noise_message.begin(), noise_message.end(),
              out.begin() + static_cast<std::ptrdiff_t>(prefix + kEncTimestampLen));
  }
  const MutByteView payload = MutByteView(out).subspan(prefix);
  if (auth.server_public && auth.encrypted_timestamp) {
    auto sealed = seal_timestamp(payload, stamp, *auth.server_public, rng);
    if (!sealed) return sealed.error();
  }
  framer.write_prefix(MessageType::Initiation, rng, MutByteView(out).first(prefix));
  if (auth.capability_key) {
    write_capability_tag(out, framer.config().s[obf::index(MessageType::Initiation)], *auth.capability_key);
  }
  if (auth.server_public) write_mac1(out, mac1_key(*auth.server_public));
  return out;
}

Result<Bytes> build_initiation(const obf::Framer& framer, Rng& rng, const InitiationAuth& auth,
                               WallTime now) {
  return build_initiation(framer, rng, auth, tai64n_encode(now));
}

Bytes build_response(const obf::Framer& framer, std::uint32_t conv, Rng& rng) {
  const std::size_t prefix = framer.prefix_len(MessageType::Response);
  Bytes out(prefix + kConvLen);
  framer.write_prefix(MessageType::Response, rng, MutByteView(out).first(prefix));
  put_u32_le(out.data() + prefix, conv);
  return out;
}

Bytes build_response_payload(const obf::Framer& framer, ByteView payload, Rng& rng) {
  const std::size_t prefix = framer.prefix_len(MessageType::Response);
  Bytes out(prefix + payload.size());
  framer.write_prefix(MessageType::Response, rng, MutByteView(out).first(prefix));
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(prefix));
  return out;
}

Result<std::uint32_t> parse_response_conv(ByteView payload) {
  if (payload.size() < kConvLen) {
    return make_error(Errc::response_too_short, "Response payload too short for conv_id");
  }
  return get_u32_le(payload.data());
}

}  // namespace paniq::envelope
