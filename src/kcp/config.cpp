#include "kcp/config.hpp"

#include <algorithm>
#include <string>

#include "kcp/errors.hpp"
#include "kcp/segment.hpp"

namespace paniq::kcp {
namespace {

constexpr std::uint32_t kMinMtu = 50;           // ikcp_setmtu's lower bound
constexpr std::uint32_t kMaxMtu = 65535;        // the transport's u16 inner length
constexpr std::uint32_t kMaxInterval = 5000;    // ikcp_interval's upper bound
constexpr std::uint32_t kMaxSndQueue = 1u << 20;

Error bad(const char* field, std::uint64_t value, const char* why) {
  return make_error(Errc::invalid_config,
                    std::string("kcp.") + field + ": " + std::to_string(value) + ": " + why);
}

}  // namespace

Config Config::reference(std::uint32_t conv, std::uint32_t mtu, std::uint32_t flush_interval_ms,
                         std::uint32_t snd_wnd, std::uint32_t rcv_wnd,
                         std::uint32_t max_snd_queue) {
  Config c = defaults();
  c.conv = conv;
  c.mtu = mtu;
  c.interval = flush_interval_ms;
  c.snd_wnd = snd_wnd;
  c.rcv_wnd = rcv_wnd;
  c.max_snd_queue = max_snd_queue;
  return c;
}

Result<void> Config::validate() const {
  if (mtu < kMinMtu) return bad("mtu", mtu, "below 50, ikcp's smallest MTU");
  if (mtu > kMaxMtu) return bad("mtu", mtu, "above 65535, the largest transport payload");
  if (record_stretch > kMaxMtu - mtu) {
    return bad("record_stretch", record_stretch, "mtu + record_stretch above 65535");
  }
  if (nodelay > 2) return bad("nodelay", nodelay, "must be 0, 1 or 2");
  if (interval < 1) return bad("interval", interval, "must be at least 1 ms");
  if (interval > kMaxInterval) return bad("interval", interval, "above 5000 ms");
  if (snd_wnd < 1) return bad("snd_wnd", snd_wnd, "must be at least 1");
  if (snd_wnd > kMaxWindow) return bad("snd_wnd", snd_wnd, "above 65535, the u16 wnd field");
  if (rcv_wnd < kMinRecvWindow) return bad("rcv_wnd", rcv_wnd, "below 128, ikcp's minimum");
  if (rcv_wnd > kMaxWindow) return bad("rcv_wnd", rcv_wnd, "above 65535, the u16 wnd field");
  if (dead_link < 1) return bad("dead_link", dead_link, "must be at least 1");
  if (max_snd_queue < 1) return bad("max_snd_queue", max_snd_queue, "must be at least 1");
  if (max_snd_queue > kMaxSndQueue) {
    return bad("max_snd_queue", max_snd_queue, "above 1048576 segments");
  }
  return {};
}

std::optional<std::uint32_t> bdp_window(std::uint32_t mtu, std::uint64_t target_bps,
                                        std::uint64_t rtt_ms) {
  if (mtu <= kOverhead || target_bps == 0 || rtt_ms == 0) return std::nullopt;
  const std::uint64_t mss = mtu - kOverhead;
  const std::uint64_t bytes_per_sec = target_bps / 8;
  if (bytes_per_sec == 0) return std::nullopt;
  std::uint64_t product = 0;
  if (__builtin_mul_overflow(bytes_per_sec, rtt_ms, &product)) product = UINT64_MAX;
  const std::uint64_t inflight = product / 1000 + (product % 1000 != 0 ? 1 : 0);
  const std::uint64_t window = inflight / mss + (inflight % mss != 0 ? 1 : 0);
  return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(window, 1, UINT32_MAX));
}

Windows resolve_windows(const WindowInputs& in) {
  std::optional<std::uint32_t> bdp;
  if (in.target_bps && in.rtt_ms) bdp = bdp_window(in.mtu, *in.target_bps, *in.rtt_ms);
  const std::uint32_t base = in.default_window;
  const std::uint32_t derived = bdp ? std::max(*bdp, base) : base;
  Windows w;
  w.snd_wnd = std::min(in.send_window.value_or(derived), kMaxWindow);
  w.rcv_wnd = std::clamp(in.recv_window.value_or(derived), kMinRecvWindow, kMaxWindow);
  // An explicit send window of 0 stays 0 here so validate() names it.
  w.max_snd_queue = in.max_snd_queue.value_or(w.snd_wnd);
  return w;
}

}  // namespace paniq::kcp
