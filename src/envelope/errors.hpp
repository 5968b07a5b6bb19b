// Errors of the envelope layer (STYLE.md 5): one enum, one std::error_category.
#pragma once

#include <system_error>

namespace paniq::envelope {

enum class Errc {
  // Building a transport payload.
  payload_too_large = 1,  // header + inner + padding over the budget (PROTOCOL.md 5.3 step 4)
  buffer_too_small,       // caller's buffer cannot hold the payload
  // Decoding a transport payload (PROTOCOL.md 5.5 step 2).
  too_short_for_counter,
  too_short_for_length,
  inner_truncated,
  // Handshake.
  response_too_short,   // Response payload under 4 bytes (PROTOCOL.md 4.1 step 5)
  low_order_key,        // X25519 gave the all-zero shared secret
  timestamp_malformed,  // wrong length or version byte
  timestamp_auth_failed,
  timestamp_out_of_range,  // decrypted TAI64N label/nanoseconds not a valid time
  noise_failed,            // encrypted-mode handshake message did not open or is malformed
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::envelope

template <>
struct std::is_error_code_enum<paniq::envelope::Errc> : std::true_type {};
