// LINK: paniq_envelope paniq_obf
// Arbitrary datagrams through classification and Initiation verification with a fixed server
// key: never crash, never report a valid MAC1 or timestamp (nobody here knows how to forge one).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "envelope/auth.hpp"
#include "envelope/handshake.hpp"
#include "obf/framer.hpp"

using namespace paniq;
using namespace paniq::envelope;

namespace {

obf::Framer make_framer(std::uint32_t s1, obf::HeaderRange h1) {
  obf::Config cfg;
  cfg.s = {s1, 2, 0, 1};
  cfg.h = {h1, obf::HeaderRange{200, 200}, obf::HeaderRange{300, 399},
           obf::HeaderRange{1000, 1999}};
  auto f = obf::Framer::create(cfg);
  if (!f) std::abort();
  return std::move(*f);
}

void check(const InitiationVerdict& v) {
  if (v.mac1 == Mac1Check::Valid || v.timestamp == TimestampCheck::Valid || v.time) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const ServerKeys keys = ServerKeys::from_private(crypto::Key32{0x40, 0x41, 0x42});
  static const obf::Framer framers[2] = {make_framer(0, {1, 1}), make_framer(3, {100, 199})};
  const ByteView datagram(data, size);
  for (const obf::Framer& framer : framers) {
    const auto cls = framer.classify(datagram);
    if (!cls) continue;
    if (cls->type == obf::MessageType::Initiation) {
      check(verify_initiation(datagram, cls->payload, keys));
    } else if (cls->type == obf::MessageType::Response) {
      auto conv = parse_response_conv(cls->payload);
      if (conv.ok() != (cls->payload.size() >= 4)) std::abort();
    }
  }
  // Every suffix split as a payload, too (bounded).
  for (std::size_t off = 0; off <= size && off < 8; ++off) {
    check(verify_initiation(datagram, datagram.subspan(off), keys));
  }
  // The encrypted timestamp opener on its own.
  if (open_timestamp(datagram, keys.private_key).ok()) std::abort();
  return 0;
}
