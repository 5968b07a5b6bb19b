// Configuration of one mux session (STYLE.md 4). docs/architecture.md "Multiplexer" explains
// the choices and the bounds they give.
#pragma once

#include <cstdint>

#include "core/result.hpp"

namespace paniq::mux {

// Client = socks5d (opens odd ids 3, 5, 7, ...; accepts even ids from the peer).
// Server = proxy-server (opens even ids 2, 4, ...; accepts odd ids from the peer).
enum class Role : std::uint8_t { Client, Server };

struct Config {
  Role role = Role::Client;
  // Largest PSH payload we send. Any value <= 65535 interoperates (both async_smux and xtaci
  // accept any u16 length); 16 KiB keeps other streams' frames from queueing behind one big
  // frame on slow links at a header overhead of 0.05 %.
  std::uint32_t max_frame_size = 16384;
  // A NOP is sent when nothing else was sent for this long (0 = off). Harmless to the Rust
  // peer; keeps its 120 s session idle timer fed through KCP (PROTOCOL.md 6.6).
  std::uint32_t keepalive_interval_ms = 20000;
  // Event::Idle when no SYN/FIN/PSH went either way for this long (0 = off). Never closes the
  // session by itself: the Rust peer sends nothing while idle (PROTOCOL.md 7.2).
  std::uint32_t idle_timeout_ms = 0;
  // Live streams (both directions of opening); a peer SYN over it is refused with FIN.
  std::uint32_t max_streams = 1024;
  // Received bytes buffered per stream / over all streams before input is paused.
  std::uint32_t stream_recv_buffer = 1u << 20;
  std::uint32_t session_recv_budget = 16u << 20;
  // Longest input may stay paused before the stream(s) holding the buffers are reset.
  std::uint32_t recv_stall_timeout_ms = 2000;
  // Encoded frames waiting for the caller (pending_output); write() accepts nothing beyond it.
  std::uint32_t outbound_limit = 256u << 10;
  // Of that, frames one stream may have waiting (0 = no per-stream limit). A quarter, so a
  // bulk stream leaves room ahead of it: a new stream's first frames wait behind at most this
  // much of the bulk stream's data, not the whole buffer (at 20 Mbit/s, 26 ms instead of 105).
  std::uint32_t stream_outbound_limit = 64u << 10;
  // A stream's SYN and first this many payload bytes (and its FIN while still within them) go
  // out ahead of the frames other streams already queued, at frame boundaries: a new request's
  // first bytes, or a small reply, then wait behind at most one frame of a bulk stream, not
  // behind its share of the buffer. Frames of one stream never overtake each other. 0 = one
  // first-in-first-out queue.
  std::uint32_t priority_bytes = 16384;
  // Our half-close extension (docs/architecture.md): false = async_smux semantics (FIN closes
  // both directions); true = FIN only ends the sender's direction. Both peers need it on.
  bool half_close = false;
  // Stream offsets (our extension, docs/protocol.md 7.8; both ends must have agreed): data goes
  // as PshAt frames that carry their stream offset, and input_early() can deliver a stream's
  // next frame from a KCP segment that arrived ahead of a gap in the session's byte stream.
  // The caller also keeps every frame within one KCP segment (max_frame_size small enough).
  bool stream_offsets = false;
  // Segment fill (docs/protocol.md 7.9; needs stream_offsets): a new data frame may carry up
  // to this many bytes beyond max_frame_size, as many as Session::set_frame_stretch's source
  // gives it. 0 = off.
  std::uint32_t frame_stretch_max = 0;

  static Config defaults() { return Config{}; }
  static Config server_defaults() {
    Config c;
    c.role = Role::Server;
    return c;
  }
  // Returns the first broken rule, naming the field: "mux.max_frame_size: 70000: must be
  // 1..65535". Error code Errc::invalid_config.
  Result<void> validate() const;
};

}  // namespace paniq::mux
