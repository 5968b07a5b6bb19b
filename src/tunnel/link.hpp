// One conversation: a KCP engine, an smux session on top of it and the transport envelope
// around every datagram (PROTOCOL.md 5-7). Pure (STYLE.md 1): payloads and `now` go in,
// datagrams, events and the next deadline come out. Used by both roles: ClientSession holds
// one after its handshake, ServerEndpoint one per (peer, conv).
//
// Driving a Link (docs/tunnel.md "Link"):
//   handle_transport(payload, now)   for each received Transport datagram (after the obf prefix)
//   mux().open_stream / write / read / shutdown_write / close   application commands
//   flush(now)                       after a batch of the above: moves data KCP <-> mux, runs
//                                    KCP's flush, builds datagrams
//   transmit() / consume_transmit(n) datagrams to send, whole (prefix included)
//   poll_event()                     stream events; SessionClosed once when the link dies
//   next_timeout() / handle_timeout(now)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "envelope/config.hpp"
#include "envelope/replay_window.hpp"
#include "envelope/secure.hpp"
#include "envelope/transport.hpp"
#include "kcp/config.hpp"
#include "kcp/engine.hpp"
#include "mux/config.hpp"
#include "mux/session.hpp"
#include "obf/framer.hpp"
#include "tunnel/errors.hpp"

namespace paniq::profile {
struct Profile;
}

namespace paniq::tunnel {

// Encrypted transport between paniq-cpp peers (profile obfuscation.encryption,
// docs/protocol.md 7).
enum class Encryption : std::uint8_t {
  off,        // the reference's plain mode only
  preferred,  // client: offer, fall back to plain; server: accept both
  required,   // client: never plain; server: silent to plain Initiations
};
const char* to_string(Encryption e);

// Declares a link dead when it has been waiting for an answer and heard nothing: KCP segments
// in flight (data or a keepalive NOP) and no valid datagram received for
//   bound = clamp(rto_multiple * kcp rx_rto, min_ms, max_ms)
// counted from the later of the last received datagram and the moment data went in flight.
// KCP's own dead-link rule (20 transmissions with RTO back-off) takes tens of seconds; this
// bound is what lets a client notice a restarted server (which silently drops our datagrams)
// within seconds. A live peer ACKs every segment, so at 10 % loss each way the chance that a
// live link is declared dead is about 0.19^(transmissions within the bound) per stall.
//
// With liveness on, the link also nudges the peer when data it was receiving stops arriving:
// after 2 * srtt + 50 ms (at least 100 ms) of silence it sends a window update (a 24-byte KCP
// WINS segment), then again after twice that gap, up to rx_probes times. A receiver sends
// nothing else while it waits, so without this a server whose datagrams go to a NAT mapping
// that changed would never hear from the client's new address (docs/protocol.md 7.4, 7.5).
struct LivenessConfig {
  bool enabled = true;
  std::uint32_t min_ms = 1500;
  std::uint32_t rto_multiple = 8;
  std::uint32_t max_ms = 15000;
  std::uint32_t rx_probes = 4;
  friend bool operator==(const LivenessConfig&, const LivenessConfig&) = default;
};

struct LinkConfig {
  kcp::Config kcp;  // conv is replaced by the session's conv when a Link is built
  mux::Config mux;
  envelope::PaddingPolicy padding;
  envelope::Sizes sizes;         // envelope::derive_sizes of the profile (kcp.mtu = kcp_mtu)
  bool transport_replay = false; // u64 BE counter in front of every transport payload
  // With transport_replay, received counters pass an RFC 6479 sliding window of this many
  // counters (obfuscation.transport_replay_limit; 0 = 2048; rounded up to a multiple of 64,
  // at most kMaxReplayWindow): a counter seen before, or older than the window behind the
  // highest one, is dropped (docs/auth.md).
  std::uint64_t transport_replay_window = 0;
  LivenessConfig liveness;       // the server turns it off (idle timeout instead)
  // Datagrams waiting in transmit() beyond which new ones are dropped (KCP retransmits them):
  // bounds memory when the shell cannot send.
  std::size_t max_transmit_bytes = 8u << 20;
  // Segment packing (our extension, docs/protocol.md 3.1): when true, a datagram from the peer
  // that holds more than one KCP segment proves the peer packs (only paniq-cpp does, and only
  // for a client whose Initiation carried the capability tag), and this Link starts packing too.
  // The client sets it when it sends the tag; the server turns packing on with enable_packing().
  bool follow_packing = false;
  // Encrypted mode (docs/protocol.md 7): when the key schedule changes.
  envelope::RekeyPolicy rekey;
  // Encrypted mode: offer (client) and accept (server) stream offsets in the handshake
  // (docs/protocol.md 7.8; the profile's kcp.stream_offsets). A Link uses them only when the
  // handshake agreed on them (SecureKeys::stream_offsets).
  bool stream_offsets = true;
  // Encrypted mode with stream offsets and padding: segment fill (docs/protocol.md 7.9). A
  // full data datagram carries as payload the bytes its padding draw would have added, and
  // pad_min of padding: the same lengths on the wire for less overhead. Sender-only.
  bool segment_fill = true;

  static constexpr std::uint64_t kMaxReplayWindow = 65536;

  // The first broken rule (kcp, mux, sizes, replay window), naming the field;
  // Errc::invalid_config. The caller must not build a Link from a config that fails.
  Result<void> validate() const;
};

// Link configuration from a validated profile (PROTOCOL.md 2.1, 5.4, 6.3, 6.4): kcp.mtu =
// derive_sizes().kcp_mtu, windows by kcp::resolve_windows, interval = flush_interval_ms, the
// rest as kcp::Config::reference (nodelay, resend 2, no cwnd, one segment per datagram);
// transport_replay and its window = obfuscation.transport_replay / transport_replay_limit;
// mux role `role`, max_streams =
// kcp.max_streams, keepalive = kcp.keepalive (0 -> 20 s) on the client and off on the server;
// liveness on for the client, off for the server. Errors (Errc::invalid_config, message names
// the field): a profile whose derived values fail kcp/mux validation (e.g. an MTU under 50).
Result<LinkConfig> link_config_from_profile(const profile::Profile& p, mux::Role role);

// What a link or a session reports. Stream events are the mux's (Readable/Writable are edge
// events, see mux/session.hpp); SessionClosed comes exactly once, carrying the reason
// (tunnel::Errc, or the mux code that failed the session).
enum class EventKind : std::uint8_t {
  Established,   // client: handshake complete (ClientSession only)
  StreamOpened,  // the peer opened `stream`
  Readable,
  Writable,
  StreamClosed,  // `stream` carries nothing more; error empty = orderly
  Idle,          // mux idle timer (only when mux.idle_timeout_ms is set)
  SessionClosed, // the session is over: drop it (its streams are gone)
};
const char* to_string(EventKind k);

struct Event {
  EventKind kind = EventKind::Readable;
  mux::StreamId stream = 0;
  std::error_code error{};
};

// What handle_transport did with a payload (the counters say the same).
enum class InputResult : std::uint8_t {
  accepted,        // fed to KCP
  invalid_length,  // counter/length/inner did not decode (5.5 step 2)
  kcp_rejected,    // KCP ignored it (wrong conv, truncated or unknown segment)
  dead,            // the link is dead: ignored
  replayed,        // transport counter already seen or behind the replay window: dropped
  auth_failed,     // encrypted mode: did not open (wrong receiver, key or tag, stale key)
};

struct LinkStats {
  std::uint64_t datagrams_in = 0, bytes_in = 0;    // transport payloads offered / their bytes
                                                   // (after the obfuscation prefix)
  std::uint64_t datagrams_out = 0, bytes_out = 0;  // whole datagrams built
  std::uint64_t segment_bytes_in = 0, segment_bytes_out = 0;  // KCP bytes (inner)
  std::uint64_t padding_bytes_in = 0, padding_bytes_out = 0;
  std::uint64_t drop_invalid_length = 0;  // received payload undecodable
  std::uint64_t drop_kcp_rejected = 0;    // KCP refused the received segments
  std::uint64_t drop_after_dead = 0;      // received after the link died
  std::uint64_t drop_replay = 0;          // counter replayed or too old (transport_replay)
  std::uint64_t drop_too_large = 0;       // outgoing segment + padding over the budget (5.3)
  std::uint64_t drop_backlog = 0;         // outgoing datagram over max_transmit_bytes
  std::uint64_t input_pauses = 0;         // mux refused bytes: KCP receive held back
  std::uint64_t packed_datagrams_in = 0;  // received datagrams holding several segments
  std::uint64_t rekeys_sent = 0, rekeys_received = 0;  // encrypted mode: key epochs moved
};

// Adds every counter of `b` to `a` (totals over sessions).
LinkStats& operator+=(LinkStats& a, const LinkStats& b);

// Datagrams stored back to back in one reused buffer (no allocation in steady state).
class DatagramQueue {
 public:
  static constexpr std::size_t kKeepBytes = 256u << 10;

  // Room for a datagram of at most `max_len` bytes; write it, then commit(actual length).
  // The pointer is valid until the next call.
  std::uint8_t* reserve(std::size_t max_len);
  void commit(std::size_t len);
  std::span<const ByteView> views();  // valid until the next non-const call
  std::size_t count() const { return spans_.size() - head_; }
  std::size_t bytes() const { return len_ - first_offset(); }
  void consume(std::size_t n);  // n >= count() drops all
  void clear() { consume(count()); }
  // Releases a buffer grown past kKeepBytes by a burst, if the queue is empty.
  void shrink();

 private:
  std::size_t first_offset() const { return head_ < spans_.size() ? spans_[head_].first : len_; }
  Bytes buf_;
  std::size_t len_ = 0;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;
  std::size_t head_ = 0;
  std::vector<ByteView> views_;
};

class Link {
 public:
  // `cfg` must pass validate() (throws std::invalid_argument otherwise: a start-up error).
  // `framer` and `rng` must outlive the Link. `conv` is the session's KCP conversation id.
  // `secure` set: encrypted mode (docs/protocol.md 7) with these keys; every datagram is
  // sealed and opened by the SecureChannel, the KCP MTU is smaller by its overhead, and
  // segments are packed from the start (both ends are paniq-cpp). The keys are copied.
  Link(const LinkConfig& cfg, std::uint32_t conv, const obf::Framer& framer, Rng& rng,
       TimeMs now, const envelope::SecureKeys* secure = nullptr);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // --- network side ---

  // One received Transport datagram's payload (obf::Classified::payload: counter?, length,
  // segments, padding). Decodes it and feeds the segments to KCP; several segments per
  // datagram are accepted. Undecodable input is counted and dropped silently; nothing is sent
  // in reply before flush(). No allocation.
  // Encrypted mode: the payload is opened first (auth_failed / replayed when it does not), and
  // last_input_newest() says whether it carried the highest counter so far (roaming).
  // `known`: the header already unmasked by the caller (the server's routing step).
  InputResult handle_transport(ByteView payload, TimeMs now,
                               const envelope::SecureHeader* known = nullptr);
  bool last_input_newest() const { return last_newest_; }
  // Plain mode: true when every segment in `inner` is one this link's peer could send now:
  // the link's conv, a known command, an una within [snd_una, snd_nxt] and, for data, a
  // sequence number within one receive window of rcv_nxt (the server's rule for following a
  // plain-mode client to a new address).
  bool plausible_segments(ByteView inner) const;
  // As handle_transport for an already decoded inner part (the server decodes to route).
  // `counter` is the decoded transport counter (transport_replay): checked against the replay
  // window before KCP sees the segments, recorded once KCP accepted them (so garbage cannot
  // advance the window). nullopt skips the window.
  InputResult handle_segments(ByteView inner, std::size_t padding_len, TimeMs now,
                              std::optional<std::uint64_t> counter = std::nullopt);

  // Packs several KCP segments per datagram from the next flush on (docs/protocol.md 3.1).
  // `announce`: the next flush also carries a WINS segment, so the peer sees a packed datagram
  // at once and follows (the server does this for a client that sent the capability tag).
  void enable_packing(bool announce);
  bool packing() const { return packing_; }

  // Moves received bytes KCP -> mux and queued frames mux -> KCP (each side stops when the
  // other is full), runs KCP's flush when something changed and appends the resulting
  // datagrams to transmit(). Call after a batch of handle_transport() calls and after
  // application commands on mux(). Cheap when nothing changed.
  void flush(TimeMs now);

  // Datagrams ready to send (whole UDP payloads), oldest first; valid until the next
  // non-const call. Send a prefix, then consume_transmit(that many).
  std::span<const ByteView> transmit() { return tx_.views(); }
  std::size_t transmit_count() const { return tx_.count(); }
  void consume_transmit(std::size_t n) { tx_.consume(n); }

  // Earliest time handle_timeout() (or flush(), when work is pending) must run; nullopt when
  // nothing is scheduled (idle, or dead).
  std::optional<TimeMs> next_timeout() const;
  // KCP timers (retransmission, probes), mux timers (keepalive, stalls), liveness; builds
  // datagrams like flush().
  void handle_timeout(TimeMs now);

  // --- application side ---

  // Stream commands. After using it call flush(now).
  mux::Session& mux() { return mux_; }
  const mux::Session& mux() const { return mux_; }
  std::optional<Event> poll_event();

  // Ends the link now (e.g. the server's idle timeout): SessionClosed(reason) follows, nothing
  // more is sent. Idempotent (the first reason stays).
  void close(std::error_code reason);

  // --- inspection ---

  bool dead() const { return static_cast<bool>(dead_reason_); }
  std::error_code dead_reason() const { return dead_reason_; }
  std::uint32_t conv() const { return kcp_.conv(); }
  // KCP's segment block caches grow to the window during a burst; they are given back once
  // the link has been quiet (nothing queued either way) for this long.
  static constexpr TimeMs kQuietTrimMs = 2000;
  TimeMs last_receive() const { return last_rx_; }  // last datagram KCP accepted (or creation)
  // When liveness would declare the link dead (nullopt: not waiting for an answer / disabled).
  std::optional<TimeMs> liveness_deadline() const;
  // Since when it has been waiting for an answer (nullopt: not waiting / liveness off).
  std::optional<TimeMs> awaiting_since() const {
    if (!cfg_.liveness.enabled || !awaiting_ || dead()) return std::nullopt;
    return await_since_;
  }
  const LinkStats& stats() const { return stats_; }
  const kcp::Engine& kcp() const { return kcp_; }
  const LinkConfig& config() const { return cfg_; }
  bool encrypted() const { return secure_ != nullptr; }
  const envelope::SecureChannel* secure() const { return secure_.get(); }

 private:
  void pump_rx(TimeMs now);
  void pump_tx(TimeMs now);
  void collect_output();
  void build_datagram(ByteView segment);
  void build_secure_datagram(ByteView segment);
  void update_liveness(TimeMs now, bool received);
  void check_failures(TimeMs now);
  void shrink_if_idle();

  LinkConfig cfg_;
  const obf::Framer& framer_;
  Rng& rng_;
  kcp::Engine kcp_;
  mux::Session mux_;
  envelope::TransportOptions topts_;
  envelope::PaddingPolicy fill_padding_;  // segment fill on: a full segment's padding (pad_min)
  std::size_t prefix_len_;
  DatagramQueue tx_;
  Bytes rx_buf_;  // bytes from kcp.recv() not yet taken by the mux: [rx_pos_, rx_end_);
                  // allocated when the first data arrives
  std::size_t rx_pos_ = 0, rx_end_ = 0;
  std::uint64_t counter_ = 0;
  std::optional<envelope::ReplayWindow> replay_;  // with transport_replay
  std::unique_ptr<envelope::SecureChannel> secure_;  // encrypted mode
  Bytes scratch_;  // encrypted mode: the opened datagram
  std::vector<ByteView> early_;  // stream offsets: segments the last input stored ahead of a gap
  bool last_newest_ = false;
  // Receive-stall probes (LivenessConfig::rx_probes).
  bool rx_probe_armed_ = false;
  std::uint32_t rx_probes_sent_ = 0;
  TimeMs rx_probe_at_ = 0;
  TimeMs rx_probe_gap(std::uint32_t n) const;
  TimeMs now_;
  TimeMs last_rx_;
  TimeMs await_since_ = 0;
  bool awaiting_ = false;
  TimeMs last_busy_ = 0;
  bool trim_due_ = false;   // KCP blocks were used since the last trim
  bool kcp_dirty_ = false;  // KCP state changed since its last flush
  bool packing_ = false;    // KCP output batched (enable_packing)
  bool closed_reported_ = false;
  std::error_code dead_reason_{};
  LinkStats stats_;
};

}  // namespace paniq::tunnel
