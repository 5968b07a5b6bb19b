#include "mux/frame.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::mux {

const char* to_string(Cmd c) {
  switch (c) {
    case Cmd::Syn: return "SYN";
    case Cmd::Fin: return "FIN";
    case Cmd::Psh: return "PSH";
    case Cmd::Nop: return "NOP";
    case Cmd::PshAt: return "PSH@";
  }
  return "?";
}

void encode_header(std::uint8_t* out, const FrameHeader& h) {
  out[0] = kVersion;
  out[1] = static_cast<std::uint8_t>(h.cmd);
  put_u16_le(out + 2, h.length);
  put_u32_le(out + 4, h.stream_id);
}

Bytes encode_frame(Cmd cmd, StreamId id, ByteView payload) {
  if (payload.size() > kMaxPayload) throw std::length_error("smux payload over 65535 bytes");
  Bytes out(kHeaderSize + payload.size());
  encode_header(out.data(), {cmd, static_cast<std::uint16_t>(payload.size()), id});
  std::copy(payload.begin(), payload.end(), out.begin() + kHeaderSize);
  return out;
}

std::optional<FrameHeader> decode_header(ByteView in, bool offsets) {
  if (in.size() < kHeaderSize || in[0] != kVersion) return std::nullopt;
  const std::uint8_t cmd = in[1];
  if (cmd > static_cast<std::uint8_t>(Cmd::Nop) &&
      !(offsets && cmd == static_cast<std::uint8_t>(Cmd::PshAt))) {
    return std::nullopt;
  }
  return FrameHeader{static_cast<Cmd>(cmd), get_u16_le(in.data() + 2), get_u32_le(in.data() + 4)};
}

FrameDecoder::Step FrameDecoder::finish_header(std::size_t consumed) {
  have_ = 0;
  Step s;
  s.consumed = consumed;
  if (hdr_[0] != kVersion) {
    error_ = Errc::bad_version;
  } else if (hdr_[1] > static_cast<std::uint8_t>(Cmd::Nop) &&
             !(offsets_ && hdr_[1] == static_cast<std::uint8_t>(Cmd::PshAt))) {
    error_ = Errc::bad_command;
  } else {
    current_ = {static_cast<Cmd>(hdr_[1]), get_u16_le(&hdr_[2]), get_u32_le(&hdr_[4])};
    if (current_.length > max_payload_) error_ = Errc::frame_too_large;
  }
  if (error_ != Errc{}) {
    failed_ = true;
    s.status = Status::Error;
    s.error = error_;
    return s;
  }
  remaining_ = current_.length;
  s.status = Status::Header;
  s.header = current_;
  return s;
}

FrameDecoder::Step FrameDecoder::next(ByteView in, std::size_t payload_limit) {
  if (failed_) return Step{Status::Error, 0, {}, {}, false, error_};
  if (remaining_ > 0) {
    const std::size_t n = std::min({remaining_, in.size(), payload_limit});
    remaining_ -= n;
    Step s;
    s.status = Status::Payload;
    s.consumed = n;
    s.header = current_;
    s.payload = in.first(n);
    s.frame_done = remaining_ == 0;
    return s;
  }
  const std::size_t take = std::min(kHeaderSize - have_, in.size());
  std::copy_n(in.begin(), take, hdr_.begin() + static_cast<std::ptrdiff_t>(have_));
  have_ += take;
  if (have_ < kHeaderSize) return Step{Status::NeedMore, take, {}, {}, false, {}};
  return finish_header(take);
}

}  // namespace paniq::mux
