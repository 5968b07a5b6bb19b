// Congestion control beside the engine (STYLE.md 3, after Linux's tcp_congestion_ops and
// quinn's congestion::Controller): the engine reports sends, acknowledgements (with a delivery
// rate sample) and losses, and asks for a window and a pacing rate. Pure: `now` comes in every
// event. Three implementations:
//   * NoCongestion — the reference's `nc`: no limit beyond the windows, unpaced;
//   * IkcpCongestion — ikcp 1.7's cwnd (slow start to ssthresh, additive increase, halving on
//     fast resend, 1 on timeout), unpaced;
//   * Bbr — a path model in the manner of BBR (bbr.hpp): delivery rate and minimum RTT give
//     the pacing rate and an in-flight cap; random loss does not lower the rate, a queue does.
#pragma once

#include <cstdint>
#include <memory>

#include "core/time.hpp"
#include "kcp/config.hpp"

namespace paniq::kcp {

// One delivery-rate sample (the "rate sample" of the delivery rate estimation draft): bytes
// delivered over an interval, taken when an ACK arrives. `interval_ms` 0 = no valid sample.
struct RateSample {
  std::uint64_t delivered = 0;   // bytes delivered in the interval
  std::uint32_t interval_ms = 0;
  bool app_limited = false;      // the sender had nothing to send for part of the interval
  std::uint64_t prior_delivered = 0;  // the engine's delivered count when the sample began
};

// What one input() batch acknowledged.
struct AckEvent {
  Clock32 now = 0;
  std::uint32_t acked_segments = 0;   // newly acknowledged (selective or cumulative)
  bool una_advanced = false;          // snd_una moved (ikcp grows cwnd only then)
  std::int32_t min_rtt_sample = -1;   // smallest RTT (ms) measured by this batch, -1 = none
  std::int64_t rttvar = 0;            // the engine's smoothed RTT deviation (ms) after it
  std::uint64_t spurious_bytes = 0;   // declared lost earlier, but the first copy arrived
  std::uint64_t delivered = 0;        // the engine's running total of delivered bytes
  std::uint64_t inflight_bytes = 0;   // after this batch
  std::uint32_t rmt_wnd = 0;          // the peer's window (ikcp caps cwnd at it)
  RateSample rate;
};

struct LossEvent {
  Clock32 now = 0;
  std::uint32_t lost_segments = 0;
  std::uint64_t lost_bytes = 0;
  bool timeout = false;              // declared by the retransmission timer (else fast/RACK)
  std::uint32_t inflight_segments = 0;  // snd_nxt - snd_una when declared (ikcp's inflight)
  std::uint32_t window_used = 0;     // the window the flush ran with (ikcp halves it)
};

class CongestionController {
 public:
  virtual ~CongestionController() = default;
  // A segment left (first transmission or retransmission); `inflight_bytes` includes it.
  virtual void on_sent(Clock32 now, std::uint32_t bytes, std::uint64_t inflight_bytes) {
    (void)now, (void)bytes, (void)inflight_bytes;
  }
  virtual void on_ack(const AckEvent& e) = 0;
  virtual void on_loss(const LossEvent& e) = 0;
  // The end of every flush (ikcp keeps its cwnd at least 1 there).
  virtual void on_flush_end() {}

  // Segments allowed beyond snd_una (ikcp) — UINT32_MAX when the controller sets no such limit.
  virtual std::uint32_t sequence_window() const { return UINT32_MAX; }
  // Bytes allowed in flight (sent, neither acknowledged nor declared lost); UINT64_MAX = none.
  virtual std::uint64_t inflight_limit() const { return UINT64_MAX; }
  // Pacing rate in bytes per second; 0 = unpaced.
  virtual std::uint64_t pacing_rate() const { return 0; }
  // For telemetry: the controller's window in segments (ikcp's cwnd; BBR's in-flight cap).
  virtual std::uint32_t cwnd_segments() const = 0;
};

// The reference's `nc`: no congestion window.
class NoCongestion final : public CongestionController {
 public:
  void on_ack(const AckEvent&) override {}
  void on_loss(const LossEvent&) override {}
  std::uint32_t cwnd_segments() const override { return 0; }
};

// ikcp 1.7's congestion window, field for field (ikcp_input's cwnd growth, ikcp_flush's
// reaction to fast resend and timeout).
class IkcpCongestion final : public CongestionController {
 public:
  IkcpCongestion(std::uint32_t mss, std::uint32_t fast_resend);
  void on_ack(const AckEvent& e) override;
  void on_loss(const LossEvent& e) override;
  void on_flush_end() override;
  std::uint32_t sequence_window() const override { return cwnd_; }
  std::uint32_t cwnd_segments() const override { return cwnd_; }

 private:
  std::uint32_t mss_;
  std::uint32_t resent_;
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_;
  std::uint64_t incr_ = 0;
};

// The controller named by cfg.congestion.
std::unique_ptr<CongestionController> make_controller(const Config& cfg);

}  // namespace paniq::kcp
