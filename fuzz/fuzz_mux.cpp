// LINK: paniq_mux
// Fuzzes the smux frame decoder (any split must decode like the whole) and the session (peer
// bytes mixed with application commands) against the session's invariants: receive memory
// within its bounds, outbound bounded, our own output always a valid frame stream. With stream
// offsets (flag bit 2) peer bytes also come as whole segments through input_early(), and
// PSH@ frames with any offset.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "mux/frame.hpp"
#include "mux/session.hpp"

namespace {

using namespace paniq;
using namespace paniq::mux;

void check(bool ok) {
  if (!ok) std::abort();
}

struct Decoded {
  std::vector<FrameHeader> headers;
  Bytes payload;
  bool error = false;
  Errc code{};
};

Decoded decode(ByteView data, ByteView splits, bool offsets) {
  Decoded d;
  FrameDecoder dec(kMaxPayload, offsets);
  std::size_t s = 0;
  while (!data.empty() && !d.error) {
    std::size_t piece = data.size();
    if (!splits.empty()) piece = std::min<std::size_t>(1 + splits[s++ % splits.size()], piece);
    ByteView in = data.first(piece);
    data = data.subspan(piece);
    while (!in.empty()) {
      const std::size_t limit = splits.empty() ? SIZE_MAX : 1 + splits[s++ % splits.size()];
      const auto st = dec.next(in, limit);
      in = in.subspan(st.consumed);
      if (st.status == FrameDecoder::Status::Error) {
        d.error = true;
        d.code = st.error;
        break;
      }
      if (st.status == FrameDecoder::Status::Header) d.headers.push_back(st.header);
      d.payload.insert(d.payload.end(), st.payload.begin(), st.payload.end());
    }
  }
  return d;
}

void fuzz_decoder(ByteView data) {
  const bool offsets = !data.empty() && (data[0] & 0x10) != 0;
  const std::size_t n = data.empty() ? 0 : data[0] % 16;
  const ByteView splits = data.subspan(data.empty() ? 0 : 1).first(std::min(n, data.size() - 1));
  const ByteView body = data.subspan(std::min(data.size(), 1 + n));
  const Decoded whole = decode(body, {}, offsets);
  const Decoded split = decode(body, splits, offsets);
  if (!whole.error) {  // every header decode_header() reads the same way
    for (const FrameHeader& h : whole.headers) check(h.cmd != Cmd::PshAt || offsets);
  }
  check(whole.headers == split.headers && whole.payload == split.payload);
  check(whole.error == split.error && whole.code == split.code);
}

class SessionFuzz {
 public:
  explicit SessionFuzz(std::uint8_t flags)
      : s_(make_config(flags), 0), out_decoder_(kMaxPayload, (flags & 4) != 0) {}

  void run(ByteView ops) {
    Bytes buf(4096);
    while (ops.size() >= 3) {
      const std::uint8_t op = ops[0], a = ops[1], b = ops[2];
      ops = ops.subspan(3);
      const StreamId id = a % 16;
      switch (op % 14) {
        case 0: case 1: {  // raw peer bytes
          const std::size_t k = std::min<std::size_t>(b, ops.size());
          peer(ops.first(k));
          ops = ops.subspan(k);
          break;
        }
        case 2: case 3: {  // a well-formed peer frame
          const Bytes payload(b % 4 == 2 ? b : 0, a);
          peer(encode_frame(static_cast<Cmd>(b % 4), id, payload));
          break;
        }
        case 4: ++app_control_; (void)s_.open_stream(now_); break;
        case 5: (void)s_.write(id, ByteView(buf).first(b * 8u), now_); break;
        case 6: (void)s_.read(id, MutByteView(buf).first(1 + b * 8u)); break;
        case 7: ++app_control_; (void)s_.shutdown_write(id, now_); break;
        case 8: ++app_control_; s_.close(id, now_); break;
        case 9: take_output(b * 16u); break;
        case 10: now_ += b * 4u; s_.handle_timeout(now_); break;
        case 11: if (a == 0xff && b == 0xff) s_.transport_closed(); break;
        case 12: {  // a raw segment that arrived ahead of a gap
          const std::size_t k = std::min<std::size_t>(b, ops.size());
          s_.input_early(ops.first(k), now_);
          ops = ops.subspan(k);
          break;
        }
        case 13: {  // a well-formed PSH@ frame, early or in the byte stream
          Bytes payload(4 + b % 32, a);
          payload[0] = b % 8;  // small offsets: some match the stream's position
          payload[1] = payload[2] = payload[3] = 0;
          const Bytes f = encode_frame(Cmd::PshAt, id, payload);
          if ((b & 0x80) != 0) {
            s_.input_early(f, now_);
          } else if (s_.config().stream_offsets) {
            peer(f);
          }
          break;
        }
      }
      invariants();
      if (!held_.empty()) peer({});  // retry held-back input (after InputReady)
    }
  }

 private:
  static Config make_config(std::uint8_t flags) {
    Config c = (flags & 1) != 0 ? Config::server_defaults() : Config::defaults();
    c.half_close = (flags & 2) != 0;
    c.stream_offsets = (flags & 4) != 0;
    c.max_frame_size = 300;
    c.outbound_limit = 1000;
    c.max_streams = 6;
    c.stream_recv_buffer = 1500;
    c.session_recv_budget = 4000;
    c.recv_stall_timeout_ms = 200;
    c.keepalive_interval_ms = 500;
    c.idle_timeout_ms = 700;
    return c;
  }

  void peer(ByteView bytes) {
    held_.insert(held_.end(), bytes.begin(), bytes.end());
    const std::size_t n = s_.input(held_, now_);
    check(n <= held_.size());
    held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(n));
    if (s_.failed() || held_.size() > 100000) held_.clear();
  }

  void take_output(std::size_t n) {
    const ByteView out = s_.pending_output();
    n = std::min(n, out.size());
    ByteView rest = out.first(n);
    while (!rest.empty()) {
      const auto step = out_decoder_.next(rest);
      check(step.status != FrameDecoder::Status::Error);
      rest = rest.subspan(step.consumed);
    }
    s_.consume_output(n);
  }

  void invariants() {
    const Config& c = s_.config();
    check(s_.recv_buffered() <= c.session_recv_budget);
    for (StreamId id = 0; id < 16; ++id) check(s_.readable_bytes(id) <= c.stream_recv_buffer);
    check(s_.stream_count() <= c.max_streams);
    // Data and peer answers stay (about) under the limit; beyond it only the application's
    // open/shutdown/close calls and stream resets (one per stream) queue frames, 8 bytes each.
    const std::size_t pending = s_.pending_output().size();
    check(pending <= c.outbound_limit + kHeaderSize * (1 + app_control_ + c.max_streams));
    if (pending <= c.outbound_limit) app_control_ = 0;
    while (auto e = s_.poll_event()) (void)e;
  }

  Session s_;
  FrameDecoder out_decoder_;
  Bytes held_;
  TimeMs now_ = 0;
  std::size_t app_control_ = 0;  // open/shutdown/close calls since output was under its limit
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView in(data, size);
  if ((in[0] & 0x80) != 0) {
    fuzz_decoder(in.subspan(1));
  } else {
    SessionFuzz(in[0]).run(in.subspan(1));
  }
  return 0;
}
