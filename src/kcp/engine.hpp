// The KCP engine: a pure, allocation-free-in-steady-state port of ikcp 1.7's behaviour
// (PROTOCOL.md 6, STYLE.md 3). No sockets, clock or threads: bytes and `now` go in, datagrams
// come out of a queue the caller drains, check() says when to call update() next.
//
// Field names follow ikcp.c (snd_una_, rcv_nxt_, rx_rto_, cwnd_ ...) so the two can be read
// side by side. Where the data structures differ (rings indexed by sn instead of linked lists,
// one output arena instead of a callback) the observable behaviour is ikcp's; the deliberate
// differences are listed in docs/kcp.md.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/time.hpp"
#include "kcp/buffers.hpp"
#include "kcp/config.hpp"
#include "kcp/congestion.hpp"
#include "kcp/errors.hpp"
#include "kcp/segment.hpp"

namespace paniq::kcp {

namespace detail {
inline constexpr std::uint32_t kAskSend = 1;          // IKCP_ASK_SEND: send WASK
inline constexpr std::uint32_t kAskTell = 2;          // IKCP_ASK_TELL: send WINS
inline constexpr std::uint32_t kRtoNoDelay = 30;      // IKCP_RTO_NDL
inline constexpr std::uint32_t kRtoMin = 100;         // IKCP_RTO_MIN
inline constexpr std::uint32_t kRtoDefault = 200;     // IKCP_RTO_DEF
// The paced sender's RTO before the first RTT sample (RFC 6298's 1 s): a 200 ms first guess
// resends the whole initial window on every path slower than that.
inline constexpr std::uint32_t kPacedRtoInitial = 1000;
inline constexpr std::uint32_t kAckHoldMinMs = 1;     // paced engines: ACK delay bound,
inline constexpr std::uint32_t kAckHoldMaxMs = 8;     // srtt/32 within these
inline constexpr std::size_t kAckHoldCount = 16;     // ... or this many ACKs waiting
inline constexpr std::uint32_t kRtoMax = 60000;       // IKCP_RTO_MAX
inline constexpr std::uint32_t kThreshInit = 2;       // IKCP_THRESH_INIT
inline constexpr std::uint32_t kThreshMin = 2;        // IKCP_THRESH_MIN
inline constexpr std::uint32_t kProbeInit = 7000;     // IKCP_PROBE_INIT
inline constexpr std::uint32_t kProbeLimit = 120000;  // IKCP_PROBE_LIMIT
inline constexpr std::uint32_t kInitialRmtWnd = 128;  // IKCP_WND_RCV: remote window until told
// A segment's back-off stops growing here (about 12 days) so 32-bit time arithmetic stays
// meaningful with huge dead_link values; ikcp has no cap but never gets near it.
inline constexpr std::uint32_t kRtoBackoffCap = 1u << 30;
}  // namespace detail

// Counters for telemetry and tests (PROTOCOL.md 12 "kcp_telemetry").
struct Stats {
  std::uint64_t in_datagrams = 0;       // input() calls
  std::uint64_t in_bad_datagrams = 0;   // input() calls rejected as a whole
  std::uint64_t in_segments = 0;
  std::uint64_t in_duplicates = 0;      // PUSH segments already received (or below rcv_nxt)
  std::uint64_t in_beyond_window = 0;   // PUSH segments at or above rcv_nxt + rcv_wnd
  std::uint64_t in_zero_window_acks = 0;  // ACKs with wnd 0 and una 0 (PROTOCOL.md 6.5)
  std::uint64_t out_datagrams = 0;
  std::uint64_t out_segments = 0;
  std::uint64_t out_data_segments = 0;  // first transmissions of PUSH segments
  std::uint64_t retransmits = 0;        // timeout retransmissions (ikcp's kcp->xmit)
  std::uint64_t fast_retransmits = 0;
  std::uint64_t acks_sent = 0;
  std::uint64_t wask_sent = 0;
  std::uint64_t wins_sent = 0;
  std::uint64_t bytes_sent = 0;      // application bytes accepted by send()
  std::uint64_t bytes_received = 0;  // application bytes returned by recv()
  // Paced sender (Config::paced_sender()) only:
  std::uint64_t rack_losses = 0;       // segments declared lost by RACK (or ikcp's fast rule)
  std::uint64_t timeout_losses = 0;    // segments declared lost by the retransmission timer
  std::uint64_t spurious_retransmits = 0;  // an ACK echoed an earlier transmission's ts
  std::uint64_t pacing_waits = 0;      // flushes that stopped on the pacing budget
  std::uint64_t thin_copies = 0;       // second copies of a thin sender's new segments
};

class Engine {
 public:
  // `cfg` must pass Config::validate(); throws std::invalid_argument otherwise (a programmer
  // error: configs are validated at start-up).
  explicit Engine(const Config& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- application side -------------------------------------------------------------------

  // Queues application bytes (ikcp_send). Stream mode: copies as many bytes as the send queue
  // has room for (max_snd_queue segments, the last one filled up first) and returns that count;
  // 0 means the queue is full: call input()/update() and retry. Message mode: queues the whole
  // message or nothing: returns data.size(), or 0 when the queue lacks room; fails with
  // Errc::message_too_large when the message needs more than 127 fragments or more than
  // max_snd_queue segments (it can never be sent: the caller must split it). An empty `data`
  // queues nothing and returns 0.
  Result<std::size_t> send(ByteView data);
  // Stream mode, for a caller whose records must each stay within one segment (stream offsets,
  // docs/protocol.md 7.8): queues `record` whole, appended to the last queued segment only
  // when it fits there entirely, else as a new segment. Returns record.size(), or 0 when the
  // queue has no room. A record longer than the MSS (up to Config::record_stretch more) gets a
  // segment of its own that nothing is appended to. Fails with Errc::message_too_large when the
  // record exceeds MSS + record_stretch. Message mode: the same as send().
  Result<std::size_t> send_record(ByteView record);

  // Data segments that the last input() stored ahead of a gap (sn above the next one in order),
  // oldest first: views of their payloads, valid until the next input() or recv(). For a
  // caller that can use some of their content before the gap is filled.
  void early_segments(std::vector<ByteView>& out) const;

  // Delivers received bytes in order (ikcp_recv). Stream mode: copies up to out.size() bytes
  // and returns the count; 0 means nothing is ready. Message mode: copies the next whole
  // message and returns its size; 0 means no complete message is ready (zero-length messages
  // are skipped); fails with Errc::buffer_too_small (nothing consumed) when the message is
  // larger than `out`: call peek_size() and retry with a larger buffer.
  Result<std::size_t> recv(MutByteView out);

  // Bytes the next recv() would return in message mode (ikcp_peeksize); in stream mode the
  // bytes of the first ready segment. nullopt when nothing is ready.
  std::optional<std::size_t> peek_size() const;

  // True while send() would accept at least one byte.
  bool writable() const;

  // --- network side -------------------------------------------------------------------------

  // Feeds one received datagram holding one or more segments (ikcp_input); `now` becomes the
  // engine's current time (used for RTT samples). Returns Errc::ok, or the reason the whole
  // datagram was ignored (short_datagram, conv_mismatch, truncated_segment, unknown_command):
  // the caller counts it and carries on; the engine is unchanged. Trailing bytes shorter than a
  // header are ignored, as ikcp does. ACKs with wnd 0 and una 0 (the kcp-tokio 0.3.5 layout,
  // PROTOCOL.md 6.5) acknowledge their sn but do not shrink the remote window.
  [[nodiscard]] Errc input(ByteView datagram, Clock32 now);

  // Advances time (ikcp_update): flushes when the flush interval has elapsed. Call it at the
  // time check() returns, and after input()/send() when they should take effect promptly.
  void update(Clock32 now);

  // When update() must be called next (ikcp_check): `now` if it is due, else the earliest of the
  // next flush tick and the first retransmission deadline, at most `interval` ahead.
  Clock32 check(Clock32 now) const;

  // Flushes now regardless of the interval (ikcp_flush): pending ACKs, window probes, new data
  // within the window, due retransmissions. The reference calls this after every input.
  void flush(Clock32 now);

  // Datagrams produced by flush()/update() and not yet consumed, in send order. The views stay
  // valid until the next non-const call on the engine.
  std::span<const ByteView> output() { return out_.views(); }
  std::size_t output_count() const { return out_.count(); }
  // Drops the first n pending datagrams (after the caller sent them); n >= count drops all.
  void consume_output(std::size_t n) { out_.consume(n); }
  void clear_output() { out_.consume(out_.count()); }

  // True once a segment reached dead_link transmissions (ikcp state == -1): the peer is gone;
  // the caller must tear the session down. The engine keeps working if it does not.
  bool dead() const { return state_ != 0; }

  // Frees cached data blocks (an idle session giving memory back).
  void trim();

  // Switches how flush() packs segments into datagrams (Config::output) from the next flush
  // on; the tunnel turns batching on once both ends are known to accept it (docs/protocol.md,
  // "segment packing").
  void set_output_mode(OutputMode m) { cfg_.output = m; }
  // Sends a WINS (window size) segment at the next flush (IKCP_ASK_TELL). Harmless to any
  // peer: it only restates our window.
  void tell_window() { probe_ |= detail::kAskTell; }

  // --- inspection (ikcp's fields) ----------------------------------------------------------
  const Stats& stats() const { return stats_; }
  const Config& config() const { return cfg_; }
  std::uint32_t conv() const { return conv_; }
  std::uint32_t mss() const { return mss_; }
  std::uint32_t snd_una() const { return snd_una_; }
  std::uint32_t snd_nxt() const { return snd_nxt_; }
  std::uint32_t rcv_nxt() const { return rcv_nxt_; }
  std::uint32_t rmt_wnd() const { return rmt_wnd_; }
  std::uint32_t cwnd() const { return cc_->cwnd_segments(); }
  const CongestionController& congestion() const { return *cc_; }
  std::uint64_t inflight_bytes() const { return inflight_bytes_; }  // paced sender only
  // Segments send() may still queue: max_snd_queue, or with a pacing controller 4 ms of the
  // pacing rate (at least 16): a short queue keeps a new stream's first bytes from waiting
  // behind seconds of bulk data, the multiplexer holds the rest. The shell refills it on every
  // flush (at least once per pacing tick), so 4 ms never starves the pacer.
  std::uint32_t send_queue_limit() const;
  std::uint32_t rx_rto() const { return rx_rto_; }
  std::int64_t rx_srtt() const { return rx_srtt_; }
  std::int64_t rx_rttval() const { return rx_rttval_; }
  std::uint32_t nsnd_que() const { return nsnd_que_; }
  std::uint32_t nsnd_buf() const { return nsnd_buf_; }
  std::uint32_t nrcv_que() const { return nrcv_que_; }
  std::uint32_t nrcv_buf() const { return nrcv_buf_; }
  std::uint32_t wait_snd() const { return nsnd_buf_ + nsnd_que_; }  // ikcp_waitsnd
  bool acks_pending() const { return !acklist_.empty(); }  // held ACKs (check() covers them)
  // How long a paced receiver may hold ACKs: srtt/32, 1..8 ms (3 % of the RTT at most).
  std::uint32_t ack_hold_ms() const {
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(
        rx_srtt_ / 32, detail::kAckHoldMinMs, detail::kAckHoldMaxMs));
  }
  Clock32 current() const { return current_; }

 private:
  // One slot of the send ring: sn in [snd_una_, snd_nxt_) is snd_buf (live = not yet acked),
  // sn in [snd_nxt_, snd_nxt_ + nsnd_que_) is snd_queue.
  struct SndSeg {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    std::uint32_t ts = 0, resendts = 0, rto = 0, fastack = 0, xmit = 0;
    std::uint8_t frg = 0;
    bool live = false;
    // paced sender: delivery-rate and RACK state of the latest transmission
    bool in_flight = false;     // counted in inflight_bytes_
    bool lost = false;          // declared lost, waiting for its retransmission
    bool lost_by_timeout = false;
    bool tx_app_limited = false;
    std::uint64_t tx_order = 0;       // position among all transmissions
    std::uint64_t tx_delivered = 0;   // delivered_ when sent
    std::uint32_t tx_delivered_ts = 0, tx_first_sent_ts = 0;
  };
  // One slot of the receive ring: sn in [rcv_nxt_ - nrcv_que_, rcv_nxt_) is rcv_queue (all
  // present), sn in [rcv_nxt_, rcv_nxt_ + rcv_wnd_) is rcv_buf (present where received).
  struct RcvSeg {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    std::uint8_t frg = 0;
    bool present = false;
  };
  struct Ack {
    std::uint32_t sn, ts;
  };

  std::size_t send_stream(ByteView data);
  void queue_segment(ByteView data, std::uint8_t frg);
  Result<std::size_t> send_message(ByteView data);
  std::size_t recv_stream(MutByteView out);
  Result<std::size_t> recv_message(MutByteView out);
  void process_segment(const SegmentView& seg, bool& flag, std::uint32_t& maxack);
  void update_ack(std::int32_t rtt);
  void shrink_buf();
  void parse_ack(std::uint32_t sn, std::uint32_t ts);
  bool acks_live(std::uint32_t sn) const;
  void parse_una(std::uint32_t una);
  void parse_fastack(std::uint32_t sn);
  void parse_data(const SegmentHeader& h, ByteView data);
  void move_rcv_buf_to_queue();
  std::uint32_t wnd_unused() const;
  void flush_body();
  void flush_data(std::uint16_t wnd, std::uint32_t first_new, std::uint32_t old_live,
                  bool& lost, std::uint32_t& change);
  void emit_segment(const SegmentHeader& h, const std::uint8_t* data);
  void note_resend(std::uint32_t resendts, bool& have_min);
  void back_off(SndSeg& s);
  void release_snd(SndSeg& s);
  // paced sender (engine_paced.cpp)
  void on_delivered(SndSeg& s, bool ts_known, std::uint32_t echoed_ts);
  void finish_ack_batch();
  void detect_losses();
  void mark_lost(SndSeg& s, bool timeout);
  void flush_paced(std::uint16_t wnd);
  bool pace_allows(std::uint32_t bytes);
  void transmit(std::uint32_t sn, SndSeg& s);
  std::optional<Clock32> paced_deadline() const;

  Config cfg_;
  // ikcp fields
  std::uint32_t conv_, mtu_, mss_;
  std::int32_t state_ = 0;
  std::uint32_t snd_una_, snd_nxt_, rcv_nxt_;
  std::int64_t rx_rttval_ = 0, rx_srtt_ = 0;   // 64-bit: hostile ts cannot overflow them
  bool rtt_known_ = false;                     // update_ack() has taken a sample (srtt may be 0)
  std::uint32_t rx_rto_ = detail::kRtoDefault, rx_minrto_;
  std::uint32_t snd_wnd_, rcv_wnd_, rmt_wnd_ = detail::kInitialRmtWnd, probe_ = 0;
  std::uint32_t current_ = 0, interval_, ts_flush_;
  std::uint32_t nrcv_buf_ = 0, nsnd_buf_ = 0, nrcv_que_ = 0, nsnd_que_ = 0;
  std::vector<std::uint32_t> early_;  // sns stored ahead of a gap by the last input()
  // Thin-sender copies (engine_paced.cpp): a loss was seen (ours or the peer's) at this time.
  static constexpr std::size_t kThinSegments = 2;
  static constexpr std::uint32_t kThinLossMemoryMs = 10000;
  std::optional<Clock32> loss_seen_ts_;
  bool thin_copies_due() const;
  void send_thin_copies(const std::uint32_t* sns, std::size_t n);
  SegmentHeader push_header(std::uint32_t sn, const SndSeg& s) const;
  std::uint32_t nodelay_;
  bool updated_ = false;
  std::uint32_t ts_probe_ = 0, probe_wait_ = 0;
  std::uint32_t dead_link_;
  std::vector<Ack> acklist_;
  std::uint32_t fastresend_, fastlimit_;
  bool stream_;
  // our own
  std::uint32_t max_snd_queue_;
  std::uint32_t rcv_offset_ = 0;      // bytes of the first rcv_queue segment already read
  std::uint32_t min_resendts_ = 0;    // lower bound of live segments' resendts (nsnd_buf_ > 0)
  bool fastack_pending_ = false;      // a live segment may be due for fast resend
  std::unique_ptr<CongestionController> cc_;
  // paced sender: delivery rate (the delivery rate estimation draft), RACK, pacing budget
  std::uint64_t delivered_ = 0;
  Clock32 delivered_ts_ = 0, first_sent_ts_ = 0;
  std::uint64_t app_limited_until_ = 0;  // samples before this delivered count are app-limited
  std::uint64_t tx_counter_ = 0;
  std::uint64_t inflight_bytes_ = 0;
  std::uint32_t lost_pending_ = 0;       // segments marked lost, not yet retransmitted
  std::uint64_t rack_tx_order_ = 0;      // latest transmission known delivered
  std::int32_t rack_rtt_ = 0;            // its RTT
  bool rack_dirty_ = false;              // rack_tx_order_ moved since the last detection
  bool rack_timer_ = false;
  Clock32 rack_deadline_ = 0;
  std::int32_t min_rtt_ = -1;            // smallest RTT sample (RACK's reordering window)
  std::uint32_t reo_mult_ = 1;           // reordering window in quarters of min_rtt_
  Clock32 last_spurious_ts_ = 0;
  std::int64_t tokens_ = 0;              // pacing budget, bytes (may dip one segment below 0)
  Clock32 pace_ts_ = 0;
  bool pace_started_ = false;
  bool pace_blocked_ = false;            // something is waiting for the budget
  Clock32 next_send_ts_ = 0;
  std::vector<Ack> prev_acks_;           // the last ACK batch, repeated once when packing
  Clock32 ack_hold_ts_ = 0;              // when the oldest ACK in acklist_ was queued
  AckEvent batch_{};                     // what the current input() acknowledged
  bool batch_have_rs_ = false;
  std::uint64_t batch_rs_delivered_ = 0;
  Clock32 batch_rs_ts_ = 0;
  std::int32_t batch_rs_send_elapsed_ = 0;
  bool batch_rs_app_limited_ = false;
  detail::SnRing<SndSeg> snd_;
  detail::SnRing<RcvSeg> rcv_;
  detail::BlockPool snd_pool_;
  detail::BlockPool rcv_pool_;
  detail::OutputArena out_;
  Stats stats_;
};

}  // namespace paniq::kcp
