// Errors of the mux layer (STYLE.md 5): one enum, one std::error_category.
#pragma once

#include <system_error>

namespace paniq::mux {

enum class Errc {
  // Results of application commands on a stream.
  would_block = 1,  // read: no data yet; wait for Event::Readable
  stream_closed,    // write after the write side ended (shutdown_write or the peer's FIN)
  unknown_stream,   // id never opened here or already released with close()
  too_many_streams, // open_stream with Config::max_streams streams live
  ids_exhausted,    // open_stream after the last id of the 32-bit space (ids are never reused)
  session_failed,   // the session is dead (see Session::failure())
  // Why a stream was reset (read()/write() report it; Event::StreamClosed carries it).
  recv_overflow,    // its reader kept a full receive buffer for recv_stall_timeout_ms
  duplicate_syn,    // the peer sent SYN again for this live id: later data cannot be attributed
  // Why the whole session failed (Event::SessionError carries it).
  bad_version,      // frame version byte not 1 (PROTOCOL.md 7.2)
  bad_command,      // command byte above 3 (or PshAt where offsets were not agreed)
  frame_too_large,  // length above the decoder's limit
  transport_closed, // the caller reported the end of the byte stream underneath
  bad_offset,       // PshAt frame whose offset is ahead of the data its stream received
  // Configuration.
  invalid_config,
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::mux

template <>
struct std::is_error_code_enum<paniq::mux::Errc> : std::true_type {};
