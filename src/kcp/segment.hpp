// The ikcp segment: a 24-byte little-endian header and `len` data bytes (PROTOCOL.md 6.1).
//
//   0 conv u32 | 4 cmd u8 | 5 frg u8 | 6 wnd u16 | 8 ts u32 | 12 sn u32 | 16 una u32 | 20 len u32
//
// A datagram holds one or more segments back to back (6.2): the engine emits exactly one per
// datagram for the Rust peer, or packs several for C++ <-> C++ links, and accepts both.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/bytes.hpp"
#include "kcp/errors.hpp"

namespace paniq::kcp {

inline constexpr std::size_t kOverhead = 24;  // IKCP_OVERHEAD

enum class Cmd : std::uint8_t {
  push = 81,  // IKCP_CMD_PUSH: data
  ack = 82,   // IKCP_CMD_ACK: acknowledges one sn, echoes its ts
  wask = 83,  // IKCP_CMD_WASK: window probe (ask)
  wins = 84,  // IKCP_CMD_WINS: window size (tell)
};

inline bool is_known_cmd(std::uint8_t cmd) { return cmd >= 81 && cmd <= 84; }

struct SegmentHeader {
  std::uint32_t conv = 0;
  std::uint8_t cmd = 0;
  std::uint8_t frg = 0;
  std::uint16_t wnd = 0;
  std::uint32_t ts = 0;
  std::uint32_t sn = 0;
  std::uint32_t una = 0;
  std::uint32_t len = 0;
  friend bool operator==(const SegmentHeader&, const SegmentHeader&) = default;
};

// A decoded segment; `data` points into the datagram it was read from.
struct SegmentView {
  SegmentHeader header;
  ByteView data;
};

// Writes the 24 header bytes at `out` (which must have room for them).
inline void encode_header(const SegmentHeader& h, std::uint8_t* out) {
  put_u32_le(out, h.conv);
  out[4] = h.cmd;
  out[5] = h.frg;
  put_u16_le(out + 6, h.wnd);
  put_u32_le(out + 8, h.ts);
  put_u32_le(out + 12, h.sn);
  put_u32_le(out + 16, h.una);
  put_u32_le(out + 20, h.len);
}

// Reads the 24 header bytes at `in` (which must hold them). No validation.
inline SegmentHeader decode_header(const std::uint8_t* in) {
  SegmentHeader h;
  h.conv = get_u32_le(in);
  h.cmd = in[4];
  h.frg = in[5];
  h.wnd = get_u16_le(in + 6);
  h.ts = get_u32_le(in + 8);
  h.sn = get_u32_le(in + 12);
  h.una = get_u32_le(in + 16);
  h.len = get_u32_le(in + 20);
  return h;
}

// Decodes the segment at the start of `in`. Returns Errc::ok and fills `out` (the segment
// occupies kOverhead + out.header.len bytes of `in`); Errc::short_datagram when `in` holds fewer
// than 24 bytes, Errc::truncated_segment when `len` runs past the end, else
// Errc::unknown_command for a cmd outside 81..84 (ikcp's order of checks). On failure `out` is
// unspecified and the caller drops the datagram. The conv is not checked here (the engine
// does).
Errc decode_segment(ByteView in, SegmentView& out);

// Appends header (with len = data.size()) and data to `out`. For tests and tools; the engine
// encodes in place.
void append_segment(Bytes& out, SegmentHeader h, ByteView data);

}  // namespace paniq::kcp
