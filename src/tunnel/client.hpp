// The client side (socks5d role, PROTOCOL.md 4.1, 4.3, 6.6): ClientSession = one handshake and
// the Link it leads to, on one UDP socket; Client = the current session plus the stream opens
// waiting for it, replacing a dead or failed session with a fresh one on a fresh socket.
// Pure (STYLE.md 1): no socket, clock or OS randomness; `now`, wall time and Rng& come in.
// Lifecycle, timers and their numbers: docs/tunnel.md.
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
#include "envelope/handshake.hpp"
#include "envelope/secure_handshake.hpp"
#include "obf/framer.hpp"
#include "tunnel/errors.hpp"
#include "tunnel/event_queue.hpp"
#include "tunnel/link.hpp"
#include "tunnel/session_info.hpp"

namespace paniq::tunnel {

struct ClientConfig {
  LinkConfig link;  // mux role Client
  // Preamble pacing (PROTOCOL.md 4.1: junk, signatures, Initiation): each datagram leaves
  // preamble_delay_ms + uniform[0, preamble_jitter_ms] after the previous one.
  std::uint32_t preamble_delay_ms = 5;  // the profile's null -> 5 ms
  std::uint32_t preamble_jitter_ms = 0;
  // The Initiation (built once per handshake) is sent up to handshake_attempts times, the next
  // one handshake_timeout_ms + uniform[0, handshake_timeout_ms / 8] after the previous; the
  // handshake fails that long after the last one (Go client semantics, with jitter). Each
  // retransmission is preceded by a fresh preamble (junk, signatures with the current <t>), as
  // the Go client does, so a server checking signatures (signature_validate) still sees them
  // when the first ones were lost; the Initiation bytes stay identical.
  std::uint32_t handshake_timeout_ms = 5000;
  std::uint32_t handshake_attempts = 3;
  // Initiation payload: empty (what Rust clients send, the default) or the Go original's
  // authenticated payload when a server public key is set (issue #6, docs/auth.md):
  // MAC1, with the encrypted timestamp in front unless auth.encrypted_timestamp is false.
  envelope::InitiationAuth auth;
  // Encrypted mode (docs/protocol.md 7): offered when not off (needs auth.server_public and
  // auth.capability_key); IK with client_private, else NK.
  Encryption encryption = Encryption::off;
  std::optional<crypto::Key32> client_private;

  // Several servers (profile `servers`, our extension): the shell resolves entry i and opens
  // each session's socket to (server i, port). Empty = one server on the shell's own port.
  struct Server {
    std::uint16_t first_port = 0, last_port = 0;  // a range > 1 port: hopping (encrypted)
  };
  std::vector<Server> servers;
  // Port hopping: a session on a port range moves to a random other port of it after
  // uniform[hop_min_ms, hop_max_ms] (profile `hop_interval`), and at once when the current port
  // looks blocked (no answer for half the liveness bound). Encrypted sessions keep their
  // streams (the server follows); plain ones are replaced between requests only.
  std::uint32_t hop_min_ms = 30'000, hop_max_ms = 60'000;
  // With several servers: each handshake gets at most this long per attempt and two attempts
  // before the next server is tried (so a dead server costs the waiting requests ~2 s, not
  // handshake_attempts x handshake_timeout).
  std::uint32_t failover_handshake_ms = 1000;
  // Profile `server_select` "spread" (with several servers): one session per server, opened
  // when a stream is assigned to it; each new stream goes to the healthy server with the
  // fewest open streams (ties round robin) and stays on that session for life. false =
  // "failover": one session at a time, on the first server not backing off.
  bool spread = false;

  // First broken rule (link config, attempts >= 1, timeout >= 1 ms); Errc::invalid_config.
  Result<void> validate() const;
};

// From a validated profile: link_config_from_profile(p, Client), handshake_timeout (null ->
// 5 s), handshake_attempts (0 -> 1), preamble_delay_ms (null -> 5), preamble_jitter_ms
// (null -> 0); auth.server_public = obfuscation.server_public_key (empty -> none: the
// Rust-compatible empty payload), auth.encrypted_timestamp = obfuscation.encrypted_timestamp.
// Errors as link_config_from_profile, and a server_public_key that is not base64 of 32 bytes
// or is a low-order point (the message names the field); the client must not start.
Result<ClientConfig> client_config_from_profile(const profile::Profile& p);

enum class ClientState : std::uint8_t {
  Idle,         // not started
  Handshaking,  // preamble / Initiation sent, waiting for the Response
  Established,  // Link running
  Closed,       // failed handshake or dead link: see failure()
};
const char* to_string(ClientState s);

struct ClientSessionStats {
  std::uint64_t preamble_datagrams = 0;   // junk + signatures sent
  std::uint64_t initiations_sent = 0;     // first send + retransmissions
  std::uint64_t datagrams_in = 0, bytes_in = 0;
  std::uint64_t ignored_unclassified = 0; // did not classify (garbage, probes)
  std::uint64_t ignored_unexpected = 0;   // classified, wrong type for the state (e.g. a
                                          // Transport before the Response, a late Response)
  std::uint64_t ignored_short_response = 0;  // Response payload under 4 bytes
  std::uint64_t ignored_plain_response = 0;  // encryption required, the server answered plain
  std::uint64_t ignored_bad_secure_response = 0;  // encrypted Response that did not open
};

// One handshake and, once it succeeded, one Link; bound to one UDP socket by the shell.
class ClientSession {
 public:
  // `cfg` must pass validate() (throws std::invalid_argument otherwise). `framer` and `rng`
  // must outlive the session. `stamper` (may be null: then the wall time given to start() is
  // used as is) dates the encrypted timestamp; pass the process-wide one so that timestamps
  // rise strictly across sessions; it must outlive the session.
  ClientSession(const ClientConfig& cfg, const obf::Framer& framer, Rng& rng,
                envelope::Tai64nStamper* stamper = nullptr);
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Builds the preamble (junk, signatures with `wall` for <t>) and the Initiation and schedules
  // them from `now`. Failure: Errc::initiation_failed (the Initiation cannot be built, e.g. a
  // low-order server key): the session is Closed with that reason; do not retry with the same
  // config. Calling it twice is a programmer error (throws std::logic_error).
  Result<void> start(TimeMs now, WallTime wall);

  // A datagram received on this session's socket. Handshaking: the first Response (conv =
  // u32 LE of its payload) establishes the session; everything else is counted and ignored.
  // Established: Transport goes to the Link; everything else is ignored. Never replies by
  // itself: call flush(now) after a batch.
  void handle_datagram(ByteView datagram, TimeMs now);

  // After a batch of handle_datagram() calls and after stream commands on mux().
  void flush(TimeMs now);
  // Datagrams due now (preamble and Initiation at their scheduled times, then transport).
  std::span<const ByteView> transmit();
  void consume_transmit(std::size_t n);

  std::optional<TimeMs> next_timeout() const;  // nullopt once Closed
  void handle_timeout(TimeMs now);

  // Established, stream events (from the Link), SessionClosed(reason) once.
  std::optional<Event> poll_event();

  ClientState state() const { return state_; }
  // Why the session is Closed (empty otherwise): Errc::handshake_timeout,
  // initiation_failed, kcp_dead_link, liveness_timeout, mux codes, closed.
  std::error_code failure() const { return failure_; }
  std::uint32_t conv() const { return conv_; }
  // Established in encrypted mode (docs/protocol.md 7).
  bool encrypted() const { return link_ && link_->encrypted(); }
  // The Initiation datagram of this handshake (identical on every retransmission).
  ByteView initiation() const { return initiation_; }
  // nullptr until Established.
  Link* link() { return link_.get(); }
  const Link* link() const { return link_.get(); }
  mux::Session* mux() { return link_ ? &link_->mux() : nullptr; }
  const ClientSessionStats& stats() const { return stats_; }
  // When the handshake completed (0 before).
  TimeMs established_at() const { return established_at_; }

  // Ends the session (nothing is sent; the server forgets it by its idle timeout).
  void close(std::error_code reason);

 private:
  void release_due(TimeMs now);
  void build_preamble(WallTime wall);
  WallTime wall_at(TimeMs now) const;
  void establish(std::uint32_t conv, TimeMs now, const envelope::SecureKeys* keys = nullptr);
  void on_response(ByteView payload, TimeMs now);
  void fail(std::error_code reason);
  TimeMs retransmit_delay();

  ClientConfig cfg_;
  const obf::Framer& framer_;
  Rng& rng_;
  envelope::Tai64nStamper* stamper_;
  ClientState state_ = ClientState::Idle;
  std::error_code failure_{};
  bool closed_reported_ = false;
  bool established_reported_ = false;
  std::uint32_t conv_ = 0;
  // Handshake schedule: preamble_[next_] leaves at next_send_; after the last one (the
  // Initiation) the Initiation is re-sent at next_send_ while attempts_ < handshake_attempts.
  std::vector<Bytes> preamble_;
  std::size_t next_ = 0;
  bool preamble_due_ = false;  // rebuild the preamble before the next Initiation attempt
  TimeMs start_now_ = 0;       // start(): wall_at(now) = start_wall_ + (now - start_now_)
  WallTime start_wall_{};
  Bytes initiation_;
  std::unique_ptr<envelope::SecureClientHandshake> secure_;  // encrypted offer in flight
  TimeMs next_send_ = 0;
  std::uint32_t attempts_ = 0;
  DatagramQueue hs_tx_;  // handshake datagrams due
  std::unique_ptr<Link> link_;
  TimeMs established_at_ = 0;
  ClientSessionStats stats_;
};

// Sessions are numbered 1, 2, 3, ... and never reused; tickets likewise.
using SessionId = std::uint64_t;
using OpenTicket = std::uint64_t;

enum class ClientEventKind : std::uint8_t {
  NeedSocket,     // open a fresh UDP socket for `session` connected to (`server`, `port`;
                  // port 0 = the server's own) BEFORE sending its transmit(); feed what it
                  // receives to handle_datagram(session)
  Rebind,         // port hop: replace the socket of `session` by a fresh one connected to
                  // (`server`, `port`); the session goes on (its datagrams are sent from the
                  // new socket from now on)
  SessionReady,   // `session` completed its handshake
  SessionClosed,  // `session` is over (`error` = reason): close its socket; its streams are
                  // gone (reads/writes on them fail), no more events for them
  StreamReady,    // `ticket` opened: stream `stream` of `session`
  OpenFailed,     // `ticket` failed (`error`: the handshake's reason, or the mux's)
  Readable,       // mux edge events of (session, stream)
  Writable,
  StreamClosed,   // (session, stream) carries nothing more; `error` empty = orderly
};
const char* to_string(ClientEventKind k);

struct ClientEvent {
  ClientEventKind kind = ClientEventKind::Readable;
  SessionId session = 0;
  OpenTicket ticket = 0;
  mux::StreamId stream = 0;
  std::error_code error{};
  std::uint32_t server = 0;  // NeedSocket / Rebind: index into ClientConfig::servers
  std::uint16_t port = 0;    // NeedSocket / Rebind: 0 = the server's configured port
};

// What the client knows of one server (ClientConfig::servers), from its own sessions only:
// no probe traffic.
struct ServerHealth {
  std::uint32_t failures = 0;      // consecutive failed handshakes / dead sessions
  TimeMs down_until = 0;           // not chosen before this (backoff after failures)
  std::uint64_t sessions = 0;      // sessions started on it
  std::error_code last_failure{};  // why it was last marked down
};

struct ClientTransmit {
  SessionId session = 0;  // the socket to send it from
  ByteView data;
};

struct ClientStats {
  std::uint64_t sessions_started = 0;
  std::uint64_t sessions_established = 0;
  std::uint64_t sessions_failed = 0;      // handshake failed
  std::uint64_t sessions_died = 0;        // established, then dead
  std::uint64_t opens_ok = 0, opens_failed = 0;
  std::uint64_t datagrams_stale = 0;      // received for a session that is not current
  std::uint64_t server_changes = 0;       // failover: a session started on another server than
                                          // the last; spread: a server was marked down
  std::uint64_t hops = 0;                 // port hops (Rebind, or a plain session replaced)
};

// One session of the Client as the shell and the control socket see it.
struct ClientSessionView {
  SessionId id = 0;
  std::uint32_t server = 0;  // index into ClientConfig::servers
  std::uint16_t port = 0;    // 0 = the server's configured port
  const ClientSession* session = nullptr;
  std::size_t streams = 0;   // open streams plus the opens waiting for its handshake
};

// The daemon's view. Failover (the default): one current session at a time. A stream open starts a session when none
// is usable; opens that arrive while it handshakes wait and all proceed when it completes (or
// all fail with its reason). A session that dies is reported (SessionClosed) and the next open
// starts a new one; opens never wait behind more than one handshake.
// Spread (ClientConfig::spread): one session slot per server. Each open goes to the healthy
// server (not backing off) with the fewest streams, ties round robin, starting that server's
// session when it has none; the open then behaves as above on that session. A handshake that
// times out marks its server down and moves the opens waiting for it to the other healthy
// servers; a dead session's server is skipped until its backoff ends. "Current" below means
// the session that got the latest open.
class Client {
 public:
  // `cfg` must pass validate() (throws std::invalid_argument otherwise); `rng` must outlive it.
  // `stamper` dates the encrypted timestamps of every session (strictly rising); null = one
  // owned by this Client (enough when the process has one Client). It must outlive the Client.
  Client(const ClientConfig& cfg, obf::Framer framer, Rng& rng,
         envelope::Tai64nStamper* stamper = nullptr);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Requests a stream. The answer comes as StreamReady(ticket, session, stream) or
  // OpenFailed(ticket, reason) from poll_event(), at once when the session is established,
  // else when its handshake ends. Starts a session (NeedSocket) when there is none or the
  // current one is Closed.
  OpenTicket open_stream(TimeMs now, WallTime wall);
  // Forgets a ticket still waiting (its SOCKS client went away); no event follows for it.
  void cancel_open(OpenTicket ticket);

  // A datagram from the socket of `session`; datagrams for a replaced session (failover:
  // any but the current one) are counted and ignored.
  void handle_datagram(SessionId session, ByteView datagram, TimeMs now);
  void flush(TimeMs now);
  std::span<const ClientTransmit> transmit();  // valid until the next non-const call
  void consume_transmit(std::size_t n);
  std::optional<TimeMs> next_timeout() const;
  // Timers of the current session (spread: of every session): handshake pacing and
  // retransmission, KCP, keepalive, liveness, port hops. A session that dies here is
  // reported; the next open_stream() (spread: assigned to its server) starts a new one.
  void handle_timeout(TimeMs now);
  std::optional<ClientEvent> poll_event();

  // The mux of `session` for stream commands (nullptr unless it is the current, established
  // session; spread: any established session); call flush(now) afterwards.
  mux::Session* mux(SessionId session);
  SessionId current_id() const { return slots_[cur_].id; }
  // The server of the current (or last) session, and every server's health.
  std::uint32_t current_server() const { return slots_[cur_].server; }
  std::uint16_t current_port() const { return slots_[cur_].port; }
  const std::vector<ServerHealth>& server_health() const { return health_; }
  ClientSession* current() { return slots_[cur_].s.get(); }
  const ClientSession* current() const { return slots_[cur_].s.get(); }
  const ClientStats& stats() const { return stats_; }
  // Totals over every session since start (replaced sessions' final values plus the current
  // one's): Link counters, and the sessions' own counters.
  LinkStats link_totals() const;
  ClientSessionStats session_totals() const;
  // The current session when it is established (session_info.hpp; no peer: the shell knows
  // the server address), else nullopt.
  std::optional<SessionInfo> session_info(TimeMs now) const;

  // Every session that is not Closed, in server order (failover: at most one).
  std::vector<ClientSessionView> sessions() const;
  // The session `id` if it is not Closed.
  std::optional<ClientSessionView> find_session(SessionId id) const;
  // Session info of `id` when it is established (as session_info()).
  std::optional<SessionInfo> session_info(SessionId id, TimeMs now) const;
  // Open streams plus waiting opens on the session of `server` (0 when it has none).
  std::size_t server_streams(std::uint32_t server) const;
  bool spread() const { return cfg_.spread; }

  // Closes every session (SessionClosed(closed); waiting opens fail).
  void close(TimeMs now);
  // The server of session `id` cannot be reached (the shell saw ICMP port unreachable on an
  // established session): the server is marked down (the next session goes to the next
  // server) and the session ends with `why`. Ignored when the session is not live.
  void fail_session(SessionId id, std::error_code why, TimeMs now);

 private:
  // One session and what belongs to it. Failover: slots_ has one; spread: one per server.
  struct Slot {
    std::unique_ptr<ClientSession> s;
    SessionId id = 0;
    std::uint32_t server = 0;
    std::uint16_t port = 0;
    std::vector<OpenTicket> waiting;  // opens waiting for its handshake
    std::optional<TimeMs> hop_at;     // next port hop
    TimeMs last_hop = 0;
    std::size_t tx = 0;               // datagrams of it in the last transmit()
  };
  bool live(const Slot& sl) const { return sl.s && sl.s->state() != ClientState::Closed; }
  std::size_t load(const Slot& sl) const;
  Slot* slot_of(SessionId id);
  const Slot* slot_of(SessionId id) const;
  std::optional<std::size_t> pick_spread(TimeMs now, std::optional<std::size_t> exclude);
  void assign(std::size_t slot, OpenTicket ticket, TimeMs now, WallTime wall);
  void start_session(Slot& sl, TimeMs now, WallTime wall);
  std::uint32_t pick_server(TimeMs now) const;
  std::uint16_t pick_port(std::uint32_t server, std::uint16_t avoid);
  void mark_down(std::uint32_t server, std::error_code why, TimeMs now);
  void schedule_hop(Slot& sl, TimeMs now);
  void maybe_hop(Slot& sl, TimeMs now);
  ClientConfig session_config() const;
  void drain_all(TimeMs now);
  bool drain_session_events(Slot& sl, TimeMs now);
  void complete_opens(Slot& sl, TimeMs now);
  void fail_opens(Slot& sl, std::error_code reason);
  void push(const ClientEvent& e) { events_.push(e); }

  ClientConfig cfg_;
  obf::Framer framer_;
  Rng& rng_;
  envelope::Tai64nStamper own_stamper_;
  envelope::Tai64nStamper* stamper_;
  std::vector<Slot> slots_;
  std::size_t cur_ = 0;            // the current slot
  std::size_t rr_ = 0;             // spread: where the next tie-break starts
  SessionId next_session_ = 1;
  OpenTicket next_ticket_ = 1;
  std::vector<ServerHealth> health_;
  std::uint32_t last_server_ = 0;  // of the latest session started
  std::uint32_t tried_ = 0;        // failover: servers tried for the opens waiting now
  WallTime last_wall_{};
  EventQueue<ClientEvent> events_;
  std::vector<ClientTransmit> tx_;
  TimeMs now_ = 0;  // latest `now` seen (for work done inside poll_event)
  ClientStats stats_;
  LinkStats retired_links_;            // of replaced sessions
  ClientSessionStats retired_sessions_;
};

}  // namespace paniq::tunnel
