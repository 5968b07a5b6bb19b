#include "net/telemetry.hpp"

#include <cstdlib>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "kcp/bbr.hpp"

namespace paniq::net {

std::optional<std::chrono::seconds> telemetry_interval() {
  const char* v = std::getenv("PANIQ_KCP_TELEMETRY");
  if (v == nullptr) return std::nullopt;
  const std::string_view s(v);
  if (s == "1" || s == "true" || s == "yes" || s == "on") return std::chrono::seconds(1);
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (end != v && *end == '\0' && n > 0) return std::chrono::seconds(n);
  return std::nullopt;
}

namespace {

// The path model's state, for a paced sender: the mode (0 Startup, 1 Drain, 2 ProbeBW), the
// filtered delivery rate, the random-loss share it compensates, min RTT and how often a
// standing queue cut the estimate.
std::string path_model(const kcp::Engine& k) {
  const auto* b = dynamic_cast<const kcp::Bbr*>(&k.congestion());
  if (b == nullptr) return {};
  return fmt::format(" bbr_mode={} max_bw={} loss_share={:.3f} min_rtt={} backoffs={}",
                     static_cast<int>(b->mode()), b->max_bandwidth(), b->loss_share(),
                     b->min_rtt(), b->backoffs());
}

}  // namespace

void log_link_telemetry(const char* role, std::uint64_t session, const tunnel::Link& link) {
  const auto& k = link.kcp();
  const auto& ks = k.stats();
  const auto& ls = link.stats();
  spdlog::info(
      "kcp_telemetry {} session={} conv={:08x} app_out={} app_in={} dgram_out={} dgram_in={} "
      "retrans={} fast_retrans={} srtt={} rto={} cwnd={} rmt_wnd={} snd_que={} snd_buf={} "
      "rcv_que={} rcv_buf={} drop_invalid={} drop_kcp={} drop_backlog={} input_pauses={} "
      "packing={} out_segments={} packed_in={} pacing_Bps={} inflight={} rack_lost={} "
      "rto_lost={} spurious={} pacing_waits={} thin_copies={} early_frames={}{}",
      role, session, link.conv(), ks.bytes_sent, ks.bytes_received, ks.out_datagrams,
      ks.in_datagrams, ks.retransmits, ks.fast_retransmits, k.rx_srtt(), k.rx_rto(), k.cwnd(),
      k.rmt_wnd(), k.nsnd_que(), k.nsnd_buf(), k.nrcv_que(), k.nrcv_buf(), ls.drop_invalid_length,
      ls.drop_kcp_rejected, ls.drop_backlog, ls.input_pauses, link.packing(), ks.out_segments,
      ls.packed_datagrams_in, k.congestion().pacing_rate(), k.inflight_bytes(), ks.rack_losses,
      ks.timeout_losses, ks.spurious_retransmits, ks.pacing_waits, ks.thin_copies,
      link.mux().stats().early_frames, path_model(k));
}

}  // namespace paniq::net
