// Engine configuration (STYLE.md 4) and the profile-derived values of PROTOCOL.md 6.3-6.4.
#pragma once

#include <cstdint>
#include <optional>

#include "core/result.hpp"

namespace paniq::kcp {

// How flush() turns segments into datagrams (PROTOCOL.md 6.2).
enum class OutputMode : std::uint8_t {
  one_segment_per_datagram,  // what the Rust peer requires: it ignores datagrams holding several
  batched,                   // canonical ikcp: pack segments up to `mtu` bytes (C++ <-> C++ links)
};

// Which RTO estimate update_ack() computes (PROTOCOL.md 6.3).
enum class RtoMode : std::uint8_t {
  ikcp,       // canonical: rto = srtt + max(interval, 4*rttval); timeout back-off per ikcp 1.7
  reference,  // kcp-tokio 0.3.5: rto = srtt + 4*max(rttval, interval); back-off rto += rx_rto/2
};

// Which congestion controller limits and paces the sender (congestion.hpp).
enum class Congestion : std::uint8_t {
  none,  // the reference's nc = 1: send up to min(snd_wnd, rmt_wnd), unpaced
  ikcp,  // ikcp 1.7's cwnd (nc = 0), unpaced
  bbr,   // path model: paced at the measured delivery rate, in-flight cap ~2 BDP (bbr.hpp)
};

// How lost segments are found (docs/kcp.md "Loss recovery").
enum class LossRecovery : std::uint8_t {
  ikcp,  // fast resend after `resend` later ACKs (while xmit <= fast_limit), and the RTO
  rack,  // time-based: lost when a segment sent later was acknowledged and the reordering
         // window (min RTT / 4, widened on spurious resends) has passed; and the RTO
};

inline constexpr std::uint32_t kMaxWindow = 65535;  // the u16 `wnd` field
inline constexpr std::uint32_t kMinRecvWindow = 128;  // IKCP_WND_RCV: ikcp's floor for rcv_wnd
inline constexpr std::uint32_t kMaxFragments = 127;   // a message needs count < IKCP_WND_RCV

struct Config {
  std::uint32_t conv = 0;       // conversation id (the server picks it, PROTOCOL.md 4)
  std::uint32_t mtu = 1400;     // bytes per datagram incl. the 24-byte header; from envelope
                                // derive_sizes().kcp_mtu in the tunnel (PROTOCOL.md 5.4)
  // Bytes a record (send_record) may carry beyond the MSS. Such a record goes alone in its
  // segment, and the segment alone in its datagram, up to mtu + record_stretch bytes: the
  // tunnel's segment fill (docs/protocol.md 7.9) gives a full datagram's padding to payload.
  // Any KCP receiver of ours accepts it (segments up to the datagram); 0 = off.
  std::uint32_t record_stretch = 0;
  std::uint32_t nodelay = 1;    // 0 normal (min RTO 100 ms), 1 nodelay (30 ms), 2 (ikcp's step)
  std::uint32_t interval = 10;  // flush interval, ms (profile flush_interval_ms; NOT clamped to 10)
  std::uint32_t resend = 2;     // fast resend after this many out-of-order ACKs; 0 = off
  std::uint32_t fast_limit = 5; // fast resend only while xmit <= this; 0 = unlimited
  Congestion congestion = Congestion::none;  // the reference: nc (no congestion window)
  LossRecovery loss_recovery = LossRecovery::ikcp;
  // The link's rate in segment bytes per second as the user knows it (0 = measure): BBR starts
  // at it instead of searching and never paces above it.
  std::uint64_t bandwidth_hint = 0;
  std::uint32_t snd_wnd = 1024; // segments
  std::uint32_t rcv_wnd = 1024; // segments, >= 128
  bool stream = true;           // stream mode (frg 0, boundaries lost) vs message mode
  std::uint32_t dead_link = 20; // transmissions of one segment after which the link is dead
  std::uint32_t max_snd_queue = 1024;  // send() accepts data while the queue is below this
  OutputMode output = OutputMode::one_segment_per_datagram;
  RtoMode rto_mode = RtoMode::ikcp;
  // First sequence number of both directions (0 on the wire with the Rust peer). Tests start
  // near 2^32 to prove the wrap-around; both peers must use the same value.
  std::uint32_t initial_sn = 0;

  // The reference's parameters (PROTOCOL.md 6.3): nodelay 1, interval 10, resend 2, nc
  // (Congestion::none, ikcp loss recovery),
  // stream mode, windows 1024, one segment per datagram. conv 0, mtu 1400 until the caller sets
  // them.
  static Config defaults() { return Config{}; }

  // The reference's parameters with the profile-derived MTU, interval and windows.
  static Config reference(std::uint32_t conv, std::uint32_t mtu, std::uint32_t flush_interval_ms,
                          std::uint32_t snd_wnd, std::uint32_t rcv_wnd,
                          std::uint32_t max_snd_queue);

  // Checks every field. Returns the first broken rule as Errc::invalid_config with a message
  // naming the field and value (e.g. `kcp.mtu: 30: below 50, ikcp's smallest MTU`); the
  // caller must not build an Engine from a config that fails.
  Result<void> validate() const;

  std::uint32_t mss() const { return mtu - 24; }
  // Paced sender only: a sender with at most two new segments and nothing else queued sends
  // each of them twice while the path shows loss (engine_paced.cpp, docs/kcp.md 6.3).
  bool thin_copies = true;
  // True when flush() runs the paced sender (engine_paced.cpp) rather than ikcp's flush.
  bool paced_sender() const {
    return congestion == Congestion::bbr || loss_recovery == LossRecovery::rack;
  }
};

// PROTOCOL.md 6.4: the window (segments) carrying target_bps over rtt_ms with the MSS of `mtu`:
// ceil(ceil(target_bps/8 * rtt_ms / 1000) / mss), clamped to [1, 2^32-1], saturating. Returns
// nullopt when it is undefined (a zero input or mtu <= 24); the caller then uses the default.
std::optional<std::uint32_t> bdp_window(std::uint32_t mtu, std::uint64_t target_bps,
                                        std::uint64_t rtt_ms);

// The profile's kcp window fields (null = unset).
struct WindowInputs {
  std::uint32_t mtu = 1400;
  std::optional<std::uint32_t> send_window, recv_window;
  std::optional<std::uint64_t> target_bps, rtt_ms;
  std::optional<std::uint32_t> max_snd_queue;
  // The window when nothing else sets it (the reference: 1024). A paced sender takes a larger
  // one (kPacedDefaultWindow): its in-flight data is capped by the path model, and the window
  // only bounds memory and how far past a hole the sender may go during loss recovery.
  std::uint32_t default_window = 1024;
};

inline constexpr std::uint32_t kPacedDefaultWindow = 4096;

struct Windows {
  std::uint32_t snd_wnd = 1024;
  std::uint32_t rcv_wnd = 1024;
  std::uint32_t max_snd_queue = 1024;
  friend bool operator==(const Windows&, const Windows&) = default;
};

// PROTOCOL.md 6.4 window resolution: an explicit window wins, else max(bdp, default), else the
// default (1024 unless WindowInputs::default_window says otherwise);
// max_snd_queue defaults to the send window. Then clamped to what the u16 `wnd` field carries
// (65535), and rcv_wnd raised to 128 as ikcp_wndsize and the reference do. Never fails; a
// max_snd_queue of 0 is passed through for validate() to reject.
Windows resolve_windows(const WindowInputs& in);

}  // namespace paniq::kcp
