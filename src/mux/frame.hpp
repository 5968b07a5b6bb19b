// smux v1 frame codec (PROTOCOL.md 7.1): an 8-byte header
//   | ver u8 = 1 | cmd u8 | length u16 LE | stream_id u32 LE | payload[length] |
// and an incremental decoder that accepts any split of the byte stream (STYLE.md 6).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "core/bytes.hpp"
#include "mux/errors.hpp"

namespace paniq::mux {

using StreamId = std::uint32_t;

// PshAt (our extension, docs/protocol.md 7.8; only where both ends agreed to it): a PSH whose
// payload starts with the u32 LE offset of its data in the stream's byte sequence.
enum class Cmd : std::uint8_t { Syn = 0, Fin = 1, Psh = 2, Nop = 3, PshAt = 5 };
const char* to_string(Cmd c);

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 8;
inline constexpr std::size_t kMaxPayload = 65535;
inline constexpr std::size_t kOffsetSize = 4;  // PshAt's offset field

struct FrameHeader {
  Cmd cmd = Cmd::Nop;
  std::uint16_t length = 0;
  StreamId stream_id = 0;
  friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

// The header at the front of `in` when it is complete and valid (cmd PshAt only with
// `offsets`); nullopt otherwise. For reading frames out of a whole KCP segment.
std::optional<FrameHeader> decode_header(ByteView in, bool offsets);

// Writes the 8 header bytes at `out` (which must have room for them).
void encode_header(std::uint8_t* out, const FrameHeader& h);
// Header + payload as one buffer (tests, tools). Throws std::length_error above kMaxPayload.
Bytes encode_frame(Cmd cmd, StreamId id, ByteView payload = {});

// Incremental decoder. Each next() call makes one step over the front of `in`:
//   NeedMore  every byte was taken into a partial header; call again with more bytes.
//   Header    a complete, valid header (`header`); its payload (if any) follows as Payload steps.
//   Payload   `payload` is the next piece of the current frame's payload: a view into `in`,
//             at most `payload_limit` bytes (valid until `in` is); `frame_done` when it is the
//             last piece.
//   Error     the stream is broken (`error`: bad_version, bad_command, frame_too_large). The
//             decoder stays in this state; the caller must abandon the byte stream (there is no
//             way to resynchronise).
// `consumed` says how many bytes of `in` the step used; the caller advances by it.
class FrameDecoder {
 public:
  enum class Status : std::uint8_t { NeedMore, Header, Payload, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;
    FrameHeader header{};
    ByteView payload{};
    bool frame_done = false;
    Errc error{};
  };

  // `max_payload`: longest accepted length field (a peer MUST be allowed 65535, PROTOCOL 7.2).
  // `offsets`: PshAt frames are accepted (bad_command otherwise).
  explicit FrameDecoder(std::size_t max_payload = kMaxPayload, bool offsets = false)
      : max_payload_(max_payload), offsets_(offsets) {}

  // One step (see above). With `payload_limit` 0 in the payload phase nothing is consumed.
  Step next(ByteView in, std::size_t payload_limit = std::numeric_limits<std::size_t>::max());

  bool in_payload() const { return remaining_ > 0; }
  std::size_t payload_remaining() const { return remaining_; }
  const FrameHeader& current() const { return current_; }  // the last complete header
  bool failed() const { return failed_; }

 private:
  Step finish_header(std::size_t consumed);

  std::array<std::uint8_t, kHeaderSize> hdr_{};
  std::size_t have_ = 0;        // header bytes buffered
  std::size_t remaining_ = 0;   // payload bytes of the current frame still to come
  std::size_t max_payload_;
  bool offsets_ = false;
  FrameHeader current_{};
  bool failed_ = false;
  Errc error_{};
};

}  // namespace paniq::mux
