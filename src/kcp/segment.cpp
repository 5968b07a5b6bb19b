#include "kcp/segment.hpp"

namespace paniq::kcp {

Errc decode_segment(ByteView in, SegmentView& out) {
  if (in.size() < kOverhead) return Errc::short_datagram;
  out.header = decode_header(in.data());
  if (out.header.len > in.size() - kOverhead) return Errc::truncated_segment;
  if (!is_known_cmd(out.header.cmd)) return Errc::unknown_command;
  out.data = in.subspan(kOverhead, out.header.len);
  return Errc::ok;
}

void append_segment(Bytes& out, SegmentHeader h, ByteView data) {
  h.len = static_cast<std::uint32_t>(data.size());
  const std::size_t at = out.size();
  out.resize(at + kOverhead);
  encode_header(h, out.data() + at);
  out.insert(out.end(), data.begin(), data.end());
}

}  // namespace paniq::kcp
