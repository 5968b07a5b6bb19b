#include "mux/config.hpp"

#include <string>

#include "mux/errors.hpp"
#include "mux/frame.hpp"

namespace paniq::mux {
namespace {

Error bad(const char* field, std::uint64_t value, const char* rule) {
  return make_error(Errc::invalid_config,
                    std::string("mux.") + field + ": " + std::to_string(value) + ": " + rule);
}

}  // namespace

Result<void> Config::validate() const {
  if (role != Role::Client && role != Role::Server) {
    return bad("role", static_cast<std::uint64_t>(role), "must be client or server");
  }
  if (max_frame_size == 0 || max_frame_size > kMaxPayload) {
    return bad("max_frame_size", max_frame_size, "must be 1..65535");
  }
  if (frame_stretch_max != 0 && !stream_offsets) {
    return bad("frame_stretch_max", frame_stretch_max, "needs stream_offsets");
  }
  if (frame_stretch_max > kMaxPayload - max_frame_size) {
    return bad("frame_stretch_max", frame_stretch_max, "max_frame_size + stretch above 65535");
  }
  if (stream_offsets && max_frame_size <= kOffsetSize) {
    return bad("max_frame_size", max_frame_size, "must be above 4 with stream_offsets");
  }
  if (stream_offsets && stream_outbound_limit != 0 && stream_outbound_limit <= kHeaderSize + kOffsetSize) {
    return bad("stream_outbound_limit", stream_outbound_limit,
               "must be 0 (off) or above 12 with stream_offsets");
  }
  if (max_streams == 0 || max_streams > (1u << 30)) {
    return bad("max_streams", max_streams, "must be 1..1073741824");
  }
  if (stream_recv_buffer == 0) return bad("stream_recv_buffer", 0, "must be positive");
  if (stream_outbound_limit != 0 && stream_outbound_limit <= kHeaderSize) {
    return bad("stream_outbound_limit", stream_outbound_limit, "must be 0 (off) or above 8");
  }
  if (session_recv_budget < stream_recv_buffer) {
    return bad("session_recv_budget", session_recv_budget,
               "must be at least stream_recv_buffer");
  }
  if (recv_stall_timeout_ms == 0) return bad("recv_stall_timeout_ms", 0, "must be positive");
  if (outbound_limit < max_frame_size + frame_stretch_max + kHeaderSize) {
    return bad("outbound_limit", outbound_limit,
               "must hold one frame (max_frame_size + frame_stretch_max + 8)");
  }
  return {};
}

}  // namespace paniq::mux
