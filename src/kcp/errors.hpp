// Error codes of the KCP layer (STYLE.md 5). Errc::ok is zero so input() can return the enum
// itself on its per-datagram hot path without building an Error.
#pragma once

#include <system_error>

namespace paniq::kcp {

enum class Errc {
  ok = 0,
  invalid_config,     // Config::validate() rejected a field
  short_datagram,     // fewer than 24 bytes
  conv_mismatch,      // a segment's conv is not this engine's
  truncated_segment,  // a segment's len runs past the end of the datagram
  unknown_command,    // cmd is not PUSH/ACK/WASK/WINS
  message_too_large,  // message mode: more fragments than ikcp allows (or than max_snd_queue)
  buffer_too_small,   // message mode: the next message does not fit the caller's buffer
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::kcp

template <>
struct std::is_error_code_enum<paniq::kcp::Errc> : std::true_type {};
