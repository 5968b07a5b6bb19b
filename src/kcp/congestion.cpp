#include "kcp/congestion.hpp"

#include <algorithm>

#include "kcp/bbr.hpp"
#include "kcp/segment.hpp"

namespace paniq::kcp {

IkcpCongestion::IkcpCongestion(std::uint32_t mss, std::uint32_t fast_resend)
    : mss_(mss), resent_(fast_resend > 0 ? fast_resend : UINT32_MAX), ssthresh_(2) {}

// ikcp_input: grows cwnd once per input that advanced snd_una, up to the remote window.
void IkcpCongestion::on_ack(const AckEvent& e) {
  if (!e.una_advanced || cwnd_ >= e.rmt_wnd) return;
  const std::uint64_t mss = mss_;
  if (cwnd_ < ssthresh_) {
    ++cwnd_;
    incr_ += mss;
  } else {
    if (incr_ < mss) incr_ = mss;
    incr_ += (mss * mss) / incr_ + (mss / 16);
    if ((std::uint64_t{cwnd_} + 1) * mss <= incr_) {
      cwnd_ = static_cast<std::uint32_t>(std::min<std::uint64_t>((incr_ + mss - 1) / mss,
                                                                 UINT32_MAX));
    }
  }
  if (cwnd_ > e.rmt_wnd) {
    cwnd_ = e.rmt_wnd;
    incr_ = std::uint64_t{e.rmt_wnd} * mss;
  }
}

// ikcp_flush: after a fast resend ssthresh = inflight/2 and cwnd = ssthresh + resend; after a
// timeout ssthresh = window/2 and cwnd = 1.
void IkcpCongestion::on_loss(const LossEvent& e) {
  if (!e.timeout) {
    ssthresh_ = std::max<std::uint32_t>(e.inflight_segments / 2, 2);
    cwnd_ = ssthresh_ + resent_;
    incr_ = std::uint64_t{cwnd_} * mss_;
  } else {
    ssthresh_ = std::max<std::uint32_t>(e.window_used / 2, 2);
    cwnd_ = 1;
    incr_ = mss_;
  }
}

void IkcpCongestion::on_flush_end() {
  if (cwnd_ < 1) {
    cwnd_ = 1;
    incr_ = mss_;
  }
}

std::unique_ptr<CongestionController> make_controller(const Config& cfg) {
  switch (cfg.congestion) {
    case Congestion::none:
      return std::make_unique<NoCongestion>();
    case Congestion::ikcp:
      return std::make_unique<IkcpCongestion>(cfg.mss(), cfg.resend);
    case Congestion::bbr: {
      BbrParams p;
      p.mtu = cfg.mtu;
      p.bandwidth_hint = cfg.bandwidth_hint;
      p.max_inflight = std::uint64_t{cfg.snd_wnd} * cfg.mtu;
      return std::make_unique<Bbr>(p);
    }
  }
  return std::make_unique<NoCongestion>();
}

}  // namespace paniq::kcp
