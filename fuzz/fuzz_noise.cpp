// LINK: paniq_crypto
// Arbitrary bytes as Noise handshake messages (NK and IK, fixed keys): as message 1 to a
// responder, and as message 2 to an initiator that wrote message 1. Never crash, never accept
// (nobody here can forge the AEAD tags), and a failed state stays failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "crypto/noise.hpp"

using namespace paniq;
using namespace paniq::crypto;
using namespace paniq::crypto::noise;

namespace {

const Key32 kInitStatic{0x11, 0x12, 0x13};
const Key32 kRespStatic{0x21, 0x22, 0x23};
const Key32 kInitEph{0x31, 0x32, 0x33};
const Key32 kRespEph{0x41, 0x42, 0x43};
const std::uint8_t kPrologue[] = {'f', 'u', 'z', 'z'};

void must_fail(HandshakeState& hs, ByteView message) {
  if (hs.read_message(message).ok()) std::abort();
  if (!hs.failed() || hs.finished()) std::abort();
  if (hs.read_message(message).error().code != Errc::unusable) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Key32 resp_public = x25519_public(kRespStatic);
  const ByteView input(data, size);
  for (Pattern p : {Pattern::NK, Pattern::IK}) {
    auto resp = HandshakeState::responder(p, kPrologue, kRespStatic, kRespEph);
    must_fail(resp, input);

    auto init = HandshakeState::initiator(p, kPrologue, kInitStatic, resp_public, kInitEph);
    if (!init.write_message(ByteView(data, size < 64 ? size : 64)).ok()) std::abort();
    must_fail(init, input);
  }
  return 0;
}
