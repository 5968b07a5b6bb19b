// One smux session (async_smux 0.3.4 compatible, PROTOCOL.md 7) as a pure state machine: bytes
// from the transport go in through input(), frames for the transport come out of
// pending_output(), application commands act on streams, events say what changed, and
// next_timeout()/handle_timeout() drive keepalive NOPs, idle detection and input stalls.
// No sockets, threads or clock reads: `now` is a parameter (STYLE.md 1).
//
// Bounds and policies (docs/architecture.md "Multiplexer"):
// * received payload: <= Config::stream_recv_buffer per stream and session_recv_budget in all;
//   when the next payload has no room, input() stops consuming (the caller stops reading the
//   transport: back-pressure through KCP's window). A pause that lasts recv_stall_timeout_ms
//   resets the stream(s) holding the memory (Errc::recv_overflow).
// * outbound frames: write() accepts only what fits under Config::outbound_limit; FINs answering
//   the peer are queued only below it; a NOP only into an empty buffer; SYN/FIN caused by
//   open_stream/shutdown_write/close are always queued (8 bytes each).
// * outbound order: two queues. A stream's SYN, its first Config::priority_bytes of payload,
//   and FINs of such young streams or answering unknown ids go to the priority queue, served
//   first whenever the other queue is at a frame boundary; everything else is first in, first
//   out. A stream's frames keep their order (its priority frames are all queued before its
//   others, and a queue that started a frame finishes it before the other is served).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <system_error>
#include <unordered_map>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "mux/buffer.hpp"
#include "mux/config.hpp"
#include "mux/errors.hpp"
#include "mux/frame.hpp"

namespace paniq::mux {

enum class EventKind : std::uint8_t {
  StreamOpened,  // the peer opened `id` (accept it: read/write/close it like your own)
  Readable,      // read(id) has data, end-of-stream or an error (after it said would_block)
  Writable,      // write(id) may accept bytes again, or will report why not (after a short write)
  StreamClosed,  // `id` carries nothing more either way; `error` empty = orderly, else the
                 // reset reason. Buffered data may still be read. Release it with close(id).
  InputReady,    // input() consumes again after a pause: offer the held-back bytes
  Idle,          // no SYN/FIN/PSH either way for Config::idle_timeout_ms
  SessionError,  // the session is dead (`error`); drop the transport. Streams see it in read().
};
const char* to_string(EventKind k);

struct Event {
  EventKind kind = EventKind::Readable;
  StreamId id = 0;
  std::error_code error{};
};

struct Stats {
  std::uint64_t frames_in = 0, frames_out = 0;
  std::uint64_t payload_in = 0, payload_out = 0;  // PSH payload bytes
  std::uint64_t syn_refused = 0;      // peer SYNs answered with FIN
  std::uint64_t syn_over_limit = 0;   // of those: refused because max_streams were live
  std::uint64_t fin_answers = 0;      // FINs sent for PSH on unknown ids
  std::uint64_t answers_dropped = 0;  // such answers skipped (outbound over its limit)
  std::uint64_t dropped_bytes = 0;    // PSH payload discarded (unknown/closed/reset stream)
  std::uint64_t streams_reset = 0;
  std::uint64_t input_stalls = 0;
  // Stream offsets (Config::stream_offsets): frames delivered by input_early() and their bytes,
  // and payload bytes input() skipped because input_early() had delivered them.
  std::uint64_t early_frames = 0, early_bytes = 0, duplicate_bytes = 0;
};

class Session {
 public:
  // `config` must pass validate(); throws std::invalid_argument otherwise (start-up error).
  Session(const Config& config, TimeMs now);
  Session(const Session&) = delete;  // streams point into the session's chunk pool
  Session& operator=(const Session&) = delete;

  // --- bytes from the transport (any split of the byte stream) ---

  // Consumes a prefix of `bytes` and returns its length. Less than bytes.size() means either
  // input is paused (input_blocked(): keep the rest, stop reading the transport, offer the rest
  // again after Event::InputReady) or the session failed (failed(): drop the transport).
  std::size_t input(ByteView bytes, TimeMs now);
  bool input_blocked() const { return blocked_; }
  // Stream offsets only (Config::stream_offsets; otherwise does nothing): `segment` is one whole
  // KCP segment that arrived ahead of a gap in the byte stream input() sees, holding whole
  // frames. Each PshAt frame in it whose offset is exactly where its (live, reading) stream's
  // data has got to, and that fits its buffers, is delivered now; input() skips those bytes
  // when the byte stream reaches them. Anything else in the segment waits for input(). Never
  // fails the session: a segment it cannot read is left to input().
  void input_early(ByteView segment, TimeMs now);
  // The byte stream underneath ended or broke: fails the session (Errc::transport_closed).
  void transport_closed();

  // --- application commands ---

  // Opens a stream: queues SYN; data may follow at once. Errors: session_failed,
  // too_many_streams, ids_exhausted (ids are never reused: open a new session).
  Result<StreamId> open_stream(TimeMs now);
  // Queues as much of `data` as fits under the outbound limit, as PSH frames of at most
  // max_frame_size, and returns how much; fewer than data.size() (possibly 0) means "wait for
  // Event::Writable(id)". Errors: unknown_stream, stream_closed (after shutdown_write or the
  // peer's FIN in async_smux mode, or a second FIN in half-close mode), the stream's reset
  // reason, session_failed. On error nothing was queued.
  Result<std::size_t> write(StreamId id, ByteView data, TimeMs now);
  // Segment fill (Config::frame_stretch_max): each new data frame may hold as many bytes
  // beyond max_frame_size as `source` returns for it (capped at frame_stretch_max). The shell
  // draws them from the padding policy with its Rng; without a source frames are not
  // stretched.
  void set_frame_stretch(std::function<std::uint32_t()> source) { stretch_ = std::move(source); }
  // Moves up to out.size() (> 0) received bytes into `out` and returns how many; 0 = orderly
  // end-of-stream. Errors: would_block (wait for Event::Readable(id)), the reset reason
  // (data was discarded), session_failed (after the buffered data), unknown_stream.
  Result<std::size_t> read(StreamId id, MutByteView out);
  // Ends our direction: queues FIN after the data already written. In async_smux mode
  // (Config::half_close false) the read side ends too once its buffer is read, and later
  // data from the peer is dropped. Idempotent. Errors: unknown_stream, session_failed.
  Result<void> shutdown_write(StreamId id, TimeMs now);
  // Releases the stream: discards unread data, queues FIN unless one was sent or (async_smux
  // mode) the peer already closed. Unknown ids are ignored. The id is never reused.
  void close(StreamId id, TimeMs now);

  // --- what the caller must do next ---

  // Encoded frames for the transport, in the order they go out (see "outbound order" above).
  // Hand a prefix to KCP, then consume it; call again for more: the view ends at a frame
  // boundary when the other queue has frames waiting to go first.
  ByteView pending_output() const;
  void consume_output(std::size_t n);
  // The rest of the next frame pending_output() would give (the whole frame when nothing of it
  // was consumed): for a caller that keeps frames within KCP segments (stream offsets).
  ByteView pending_frame() const;
  // Copying variant: moves up to out.size() bytes into `out`; returns how many.
  std::size_t poll_output(MutByteView out);
  std::optional<Event> poll_event();
  // Earliest time handle_timeout() has work (never before `now`); nullopt = none.
  std::optional<TimeMs> next_timeout(TimeMs now) const;
  void handle_timeout(TimeMs now);

  // --- inspection ---

  bool failed() const { return failure_ != Errc{}; }
  std::error_code failure() const {
    return failed() ? make_error_code(failure_) : std::error_code{};
  }
  std::size_t stream_count() const { return streams_.size(); }
  bool contains(StreamId id) const { return streams_.count(id) != 0; }
  std::size_t readable_bytes(StreamId id) const;
  std::size_t recv_buffered() const { return recv_total_; }
  // Upper bound on what write() accepts now on an open stream (0: wait for Writable).
  std::size_t write_room() const;
  const Stats& stats() const { return stats_; }
  const Config& config() const { return cfg_; }

 private:
  struct Stream {
    explicit Stream(ChunkPool& pool) : rx(pool) {}
    ChunkQueue rx;
    bool rx_open = true;        // data from the peer is still accepted
    bool tx_open = true;        // write() still allowed
    bool fin_sent = false;
    bool fin_received = false;
    bool want_readable = true;  // a reader waits for Event::Readable
    bool want_writable = false; // a writer waits for Event::Writable
    bool closed_reported = false;
    Errc error{};               // reset reason
    std::uint32_t queued = 0;   // bytes of its PSH frames still in the outbound buffer
    std::uint32_t sent = 0;     // payload bytes written, counted up to priority_bytes
    std::uint32_t tx_offset = 0; // stream offsets: payload bytes written (mod 2^32)
    std::uint32_t rx_offset = 0; // stream offsets: payload bytes received in order (mod 2^32)
  };
  // One frame in the outbound buffer (bytes not yet consumed), for per-stream accounting.
  struct FrameMark {
    StreamId id;  // 0 for frames that count against no stream's limit
    std::uint32_t bytes;
    std::uint32_t limit = 0;  // data frames: the most bytes top_up() may bring it to
  };
  enum class StallReason : std::uint8_t { Stream, Budget };
  // One outbound queue: encoded frames and their marks; `mid` once a frame is partly consumed.
  struct OutQueue {
    explicit OutQueue(std::size_t reserve) : bytes(reserve) {}
    OutBuffer bytes;
    RingQueue<FrameMark> marks;  // the frames in `bytes`, oldest first
    bool mid = false;
  };

  // Ids we sent FIN for (or refused) whose late PSH frames are dropped without another FIN.
  class RecentFins {
   public:
    void remember(StreamId id);
    void forget(StreamId id);
    bool contains(StreamId id) const;

   private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    std::array<std::uint64_t, 256> ids_{};
    std::size_t next_ = 0;
    std::size_t count_ = 0;
  };

  Stream* find(StreamId id);
  const Stream* find(StreamId id) const;
  Stream& add_stream(StreamId id);
  void emit(EventKind kind, StreamId id, std::error_code error = {});
  // `offset` set: a PshAt frame, the offset written before the payload.
  // `limit`: a data frame's largest encoded size for top_up() (0: header + max_frame_size).
  void push_frame(Cmd cmd, StreamId id, ByteView payload = {}, bool priority = false,
                  const std::uint32_t* offset = nullptr, std::uint32_t limit = 0);
  std::uint32_t next_stretch();
  bool young(const Stream& s) const { return s.sent < cfg_.priority_bytes; }
  std::size_t top_up(OutQueue& q, StreamId id, ByteView data);
  bool serve_priority() const;
  std::size_t out_size() const { return out_.bytes.size() + prio_.bytes.size(); }
  void touch(TimeMs now);
  bool fin_needed(const Stream& s) const;
  void send_fin(Stream& s, StreamId id);
  void wake_reader(Stream& s, StreamId id);
  void wake_writer(Stream& s, StreamId id);
  void close_tx(Stream& s, StreamId id);
  void report_if_closed(Stream& s, StreamId id);
  void reset(Stream& s, StreamId id, Errc reason, bool send_fin = true);
  void fail(Errc reason);

  // Peer frames (session_input.cpp).
  void on_header(const FrameHeader& h, TimeMs now);
  void on_syn(StreamId id);
  void on_fin(StreamId id);
  void on_psh(StreamId id);
  bool begin_at_data();
  bool refuse(StreamId id);
  std::size_t payload_room(Stream*& target, StallReason& why);
  void stall(StallReason why, StreamId id, TimeMs now);
  void maybe_resume();
  void on_stall_timeout();

  Config cfg_;
  std::function<std::uint32_t()> stretch_;
  ChunkPool pool_;
  std::unordered_map<StreamId, Stream> streams_;
  FrameDecoder decoder_;
  OutQueue out_;   // first in, first out
  OutQueue prio_;  // young streams' frames, served first at frame boundaries
  RingQueue<Event> events_;
  RingQueue<StreamId> writers_;  // streams waiting for Writable, in the order they blocked
  RecentFins recent_fins_;
  Stats stats_;
  std::size_t recv_total_ = 0;
  std::uint64_t next_id_;
  TimeMs now_;
  TimeMs last_tx_;        // last frame queued (keepalive)
  TimeMs last_activity_;  // last SYN/FIN/PSH either way (idle)
  bool idle_reported_ = false;
  StreamId rx_sid_ = 0;   // stream of the frame whose payload is being decoded
  bool rx_deliver_ = false;
  // The PshAt frame whose payload input() is decoding: its offset field as it arrives, then
  // how many of its data bytes input_early() delivered already.
  bool rx_at_ = false;
  std::uint32_t rx_at_have_ = 0;
  std::array<std::uint8_t, kOffsetSize> rx_at_buf_{};
  std::uint32_t rx_skip_ = 0;
  bool blocked_ = false;
  StallReason stall_reason_ = StallReason::Stream;
  StreamId stall_sid_ = 0;
  TimeMs stall_since_ = 0;
  Errc failure_{};
};

}  // namespace paniq::mux
