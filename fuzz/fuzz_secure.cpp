// LINK: paniq_envelope
// Encrypted transport decoder (envelope/secure.hpp) and the encrypted handshake's server side:
// arbitrary bytes as a sealed datagram (header unmasking, replay window, key schedule, AEAD,
// inner length) and as Noise message 1 of either pattern. Nothing may crash, and nothing
// forged may open: only the datagram sealed here with the right key does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/rng.hpp"
#include "envelope/secure.hpp"
#include "envelope/secure_handshake.hpp"

using namespace paniq;
using namespace paniq::envelope;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const SecureKeys keys = [] {
    SecureKeys k;
    k.send.fill(1);
    k.recv.fill(2);
    k.hp_send.fill(3);
    k.hp_recv.fill(4);
    k.send_rid = 5;
    k.recv_rid = 6;
    return k;
  }();
  const ByteView in(data, size);
  static Bytes scratch(70000);
  SecureChannel ch(keys, {}, 0);
  static const crypto::HeaderProtection hp(crypto::Aead::chacha20poly1305, keys.hp_recv);
  (void)peek_header(in, hp);
  const Opened o = ch.open(in, scratch, 0);
  if (o.status == OpenStatus::ok) std::abort();  // a forgery opened
  // Noise message 1 for both patterns against a fixed server key.
  SeededRng rng(size);
  SecureServerParams sp;
  sp.server_private.fill(7);
  sp.server_public = crypto::x25519_public(sp.server_private);
  sp.capability_key.fill(8);
  for (const auto pattern : {crypto::noise::Pattern::NK, crypto::noise::Pattern::IK}) {
    auto a = accept_secure_initiation(sp, pattern, in, 1, 2, rng);
    if (a) std::abort();  // no random message 1 opens
  }
  return 0;
}
