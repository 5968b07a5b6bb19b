// The server side (proxy-server role, PROTOCOL.md 4.2, 4.3, 5.5, 6.6): one endpoint on one
// UDP socket (IPv4 and IPv6 peers alike), sessions keyed by (source address, conv), silence
// towards everything that does not classify or route. A plain Initiation creates no state: its
// Response carries a conv MAC'd over the source address (plain_conv.hpp), the first transport
// datagram whose conv verifies creates the session, and what Responses can reflect is bounded
// (response_budget.hpp). Pure (STYLE.md 1): the shell passes datagrams with their source
// PeerAddr, `now` and an Rng&, and sends what transmit() holds. Lifecycle, caps, timers and
// drop reasons: docs/tunnel.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "core/time.hpp"
#include "obf/framer.hpp"
#include "envelope/secure_handshake.hpp"
#include "envelope/transport.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/bounded_table.hpp"
#include "tunnel/errors.hpp"
#include "tunnel/event_queue.hpp"
#include "tunnel/link.hpp"
#include "tunnel/peer_addr.hpp"
#include "tunnel/plain_conv.hpp"
#include "tunnel/response_budget.hpp"
#include "tunnel/session_info.hpp"

namespace paniq::tunnel {

struct ServerConfig {
  LinkConfig link;  // mux role Server, liveness off
  // A session with no inbound transport datagram for this long is removed silently
  // (kcp.idle_timeout; 0 in the profile -> 120 s, the reference's fixed value). Strictly
  // greater than, as the reference.
  std::uint32_t idle_timeout_ms = 120'000;
  // How long a client may wait between the Response and its first transport datagram.
  // Encrypted sessions (created by their Initiation) are removed when no transport came within
  // this long. Plain sessions are created by that first datagram: the conv of a plain Response
  // verifies for one to two of these periods (the conv's time bucket, plain_conv.hpp). Rust
  // clients send transport at once; ours too (the stream open that triggered the handshake),
  // and keepalive NOPs every 20 s otherwise, so it must stay above the client keepalive.
  std::uint32_t half_open_timeout_ms = 30'000;
  // Caps, enforced silently (the Initiation, or the transport datagram that would create a
  // plain session, is dropped and counted): sessions in total, and sessions whose peers share
  // one IP address (any port: a NAT, or one prober cycling ports).
  std::uint32_t max_sessions = 4096;
  std::uint32_t max_sessions_per_host = 64;
  // A byte-identical Initiation re-sent before its session has transport is answered with the
  // same Response at most this many times (a legitimate client re-sends handshake_attempts - 1
  // times); further copies are dropped (counted as drop_repeat_limit), bounding what a
  // spoofed replay can reflect towards the session's address.
  std::uint32_t max_response_repeats = 8;
  // What plain Responses may reflect: per source IP, per /24 or /64, in total (docs/tunnel.md
  // "Reflection budget"). Encrypted Responses (a valid MAC1 and Noise message) are not counted.
  ResponseBudgetConfig response_budget;
  // Handshake authentication, replay and rate limiting (issue #6, docs/auth.md). The default
  // accepts every Initiation, as the reference does; server_config_from_profile fills it from
  // the profile. Used when the endpoint is built without an explicit InitiationPolicy.
  AuthConfig auth;
  // Segment packing (docs/protocol.md 3.1): set = a session whose Initiation carries the
  // capability tag under this key packs its KCP output (and announces it). nullopt = never.
  std::optional<crypto::Key32> capability_key;
  // Encrypted mode (docs/protocol.md 7): off, preferred (both kinds of Initiation) or
  // required (plain Initiations get silence). Needs auth.server_private_key and
  // secure_capability_key (the handshake prologue) when not off.
  Encryption encryption = Encryption::off;
  std::optional<crypto::Key32> secure_capability_key;
  // Roaming of plain-mode sessions (docs/protocol.md 7.5): this many consecutive plausible
  // datagrams from one new address, with nothing from the old address in between, move the
  // session. 0 = plain sessions never move.
  std::uint32_t plain_roam_datagrams = 3;

  // First broken rule (link config, non-zero timeouts and caps, per-host <= total);
  // Errc::invalid_config. `auth` depends on the framer's chains: AuthConfig::validate (the
  // endpoint checks it when it builds its AuthPolicy; server_config_from_profile already did).
  Result<void> validate() const;
};

// From a validated profile: link_config_from_profile(p, Server), idle_timeout = kcp.idle_timeout
// (0 -> 120 s), auth = auth_config_from_profile(p); half-open timeout and caps at their
// defaults (daemon settings, not profile ones). Errors as link_config_from_profile and
// auth_config_from_profile (e.g. require_encrypted_timestamp without a private key): the
// server must refuse to start.
Result<ServerConfig> server_config_from_profile(const profile::Profile& p);

// The allowlist of client public keys (proxy-server `users_file`): when set, only Noise IK
// Initiations from these keys are served (NK and plain ones get silence).
struct UserTable {
  std::map<crypto::Key32, std::string> names;
};

// Per-user counters (control socket stats): live sessions, sessions since start, bytes of
// whole datagrams received and sent.
struct UserStats {
  std::uint64_t sessions_live = 0, sessions_total = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

// ---- Initiation policy (authentication, replay, rate limit: issue #6) ----------------------

// A classified Initiation about to be answered (an encrypted one: about to create its session;
// a plain one: about to get a Response whose conv lets its first transport create the
// session). Retransmissions of an answered Initiation are answered before the policy is asked.
struct InitiationInfo {
  const PeerAddr& peer;
  ByteView datagram;  // the whole datagram
  ByteView payload;   // after random[S1] || header (empty from Rust clients)
  TimeMs now;
  std::optional<WallTime> wall;  // the server's wall clock, when the shell passed it
};

enum class PolicyVerdict : std::uint8_t { accept, drop };

// What the policy decided: `reason` says why for a drop; `notes` has bit
// (index(r) - kAuthDropReasonCount) set for each note r (skew_soft, legacy_accepted,
// wall_unknown) on an accepted Initiation.
struct PolicyDecision {
  PolicyVerdict verdict = PolicyVerdict::accept;
  AuthReason reason = AuthReason::policy;
  std::uint8_t notes = 0;
  bool has_note(AuthReason r) const {
    return !is_drop(r) && (notes >> (index(r) - kAuthDropReasonCount)) & 1u;
  }
};

// One rate-limited log record for the shell (drops and notes; never sent to the peer).
struct PolicyLog {
  AuthReason reason = AuthReason::policy;
  PeerAddr peer;
  std::int64_t skew_seconds = 0;  // skew_hard / skew_soft: server wall time - timestamp
  std::uint64_t suppressed = 0;   // records of this reason suppressed since the previous one
};
// "handshake from 1.2.3.4:5 dropped: mac1_invalid (3 similar suppressed)".
std::string to_string(const PolicyLog& log);

// Decides whether an Initiation may create a session. drop = silence (counted as
// drop_policy and under the reason in ServerStats::auth). Called on the endpoint's thread;
// must not keep the views.
class InitiationPolicy {
 public:
  virtual ~InitiationPolicy() = default;
  virtual PolicyVerdict check(const InitiationInfo& info) = 0;
  // The decision with its reason; the endpoint calls this one (default: check(), reason
  // `policy` for a drop).
  virtual PolicyDecision decide(const InitiationInfo& info) {
    return PolicyDecision{check(info), AuthReason::policy, 0};
  }
  // The Initiation that decide() just accepted is answered: an encrypted one created its
  // session, a plain one gets its Response (the caps, the reflection budget or a failed Noise
  // message may still drop an accepted one: then this is not called). Commit per-handshake
  // state here (the replay cache, consumed signatures): the Initiation is not seen again.
  virtual void accepted(const InitiationInfo& /*info*/) {}
  // A datagram from `peer` that classified as nothing (junk, signatures, probes).
  virtual void observe_unclassified(const PeerAddr& /*peer*/, ByteView /*datagram*/,
                                    TimeMs /*now*/) {}
  // Rate-limited log records, oldest first.
  virtual std::optional<PolicyLog> poll_log() { return std::nullopt; }
};

// The reference's behaviour: every Initiation is accepted.
class AcceptAllPolicy final : public InitiationPolicy {
 public:
  PolicyVerdict check(const InitiationInfo&) override { return PolicyVerdict::accept; }
};

// ---- Endpoint ------------------------------------------------------------------------------

using ServerSessionId = std::uint64_t;  // 1, 2, 3, ... never reused

enum class ServerEventKind : std::uint8_t {
  SessionOpened,  // a new session (peer, conv); nothing to do but log
  StreamOpened,   // the client opened `stream` on `session`: serve it (PROTOCOL.md 8.3)
  Readable,       // mux edge events of (session, stream)
  Writable,
  StreamClosed,   // (session, stream) carries nothing more; `error` empty = orderly
  SessionClosed,  // `session` is gone (`error`: idle_timeout, half_open_timeout,
                  // kcp_dead_link, mux codes, closed); drop its streams' targets
};
const char* to_string(ServerEventKind k);

struct ServerEvent {
  ServerEventKind kind = ServerEventKind::Readable;
  ServerSessionId session = 0;
  mux::StreamId stream = 0;
  std::error_code error{};
};

struct ServerTransmit {
  PeerAddr peer;
  ByteView data;
};

// Every datagram received is counted once under datagrams_in and then under exactly one of:
// routed (reached a session, also the datagram that created a plain session), a drop_* counter
// other than drop_backlog, initiation_repeats, initiations_answered (plain) or
// sessions_encrypted (an encrypted Initiation that created its session). drop_backlog counts
// Responses not queued (their Initiation is counted as answered or repeated).
struct ServerStats {
  std::uint64_t datagrams_in = 0, bytes_in = 0;
  std::uint64_t datagrams_out = 0, bytes_out = 0;  // Responses + transport, when built
  std::uint64_t response_bytes = 0;                 // of which Responses (plain and encrypted
                                                    // ones differ in size)
  std::uint64_t responses_out = 0;                  // Responses queued (datagrams)
  std::uint64_t routed = 0;                 // transport fed to a session
  std::uint64_t sessions_created = 0;       // plain (lazy) and encrypted
  std::uint64_t initiations_answered = 0;   // plain Initiations answered, no state kept
  std::uint64_t sessions_lazy_created = 0;  // plain sessions created by their first transport
  std::uint64_t sessions_packing = 0;       // created with segment packing (capability tag)
  std::uint64_t sessions_closed = 0;
  std::uint64_t initiation_repeats = 0;     // identical Initiation re-answered, no new state
  std::uint64_t drop_unclassified = 0;      // matched no type (junk, signatures, probes)
  std::uint64_t drop_unexpected_type = 0;   // Response / CookieReply sent to a server
  std::uint64_t drop_policy = 0;            // InitiationPolicy said drop
  std::uint64_t drop_cap_total = 0;         // max_sessions reached
  std::uint64_t drop_cap_host = 0;          // max_sessions_per_host reached
  std::uint64_t drop_invalid_length = 0;    // transport payload undecodable
  std::uint64_t drop_short_segment = 0;     // inner under 4 bytes (no conv)
  std::uint64_t drop_unknown_session = 0;   // no session for (peer, conv)
  std::uint64_t drop_kcp_rejected = 0;      // the session's KCP refused the segments
  std::uint64_t drop_backlog = 0;           // a Response not queued: 1 MiB of Responses unsent
  std::uint64_t drop_repeat_limit = 0;      // identical Initiation past max_response_repeats
  std::uint64_t drop_response_budget = 0;   // plain Response over a reflection budget
  std::uint64_t drop_conv_busy = 0;         // every conv of the source's bucket names a live
                                            // or recently closed session (PlainConv)
  std::uint64_t drop_transport_replay = 0;  // transport counter replayed or too old (Link)
  // Encrypted mode and roaming.
  std::uint64_t sessions_encrypted = 0;     // created in encrypted mode
  std::uint64_t drop_plain_refused = 0;     // plain Initiation while encryption is required
  std::uint64_t drop_secure_handshake = 0;  // Noise message 1 did not open
  std::uint64_t drop_unknown_user = 0;      // IK key not in the users table, or NK with one
  std::uint64_t drop_transport_auth = 0;    // encrypted datagram that did not open
  std::uint64_t sessions_roamed = 0;        // a session moved to a new peer address
  std::uint64_t sessions_revoked = 0;       // closed because their user was removed
  // Streams: peer SYNs the mux refused because kcp.max_streams streams of their session were
  // live (answered FIN, their data dropped), and the session of the latest such refusal.
  std::uint64_t streams_refused_session_cap = 0;
  ServerSessionId last_refused_session = 0;
  // drop_policy by reason, and the notes on accepted Initiations (indexed by AuthReason).
  std::array<std::uint64_t, kAuthReasonCount> auth{};
  std::uint64_t auth_count(AuthReason r) const { return auth[index(r)]; }
};

class ServerEndpoint {
 public:
  // `cfg` must pass validate() (throws std::invalid_argument otherwise); `rng` must outlive
  // the endpoint. `policy` null = an AuthPolicy (policy.hpp) built from cfg.auth (which
  // accepts everything by default); it throws std::invalid_argument when cfg.auth fails
  // AuthConfig::validate(framer config).
  ServerEndpoint(const ServerConfig& cfg, obf::Framer framer, Rng& rng,
                 std::unique_ptr<InitiationPolicy> policy = nullptr);
  ~ServerEndpoint();
  ServerEndpoint(const ServerEndpoint&) = delete;
  ServerEndpoint& operator=(const ServerEndpoint&) = delete;

  // One datagram from `peer`. Classify (first match / strict per the framer); Transport ->
  // the session (peer, conv of the first segment), a new plain session when that conv
  // verifies for `peer`, or silence; Initiation -> repeat answer, policy, caps, then (plain) a
  // Response within the reflection budget and no state, or (encrypted) a new session and its
  // Response; everything else silence. Responses are queued at once; session datagrams after
  // flush(). No allocation on the transport path of an existing session.
  void handle_datagram(const PeerAddr& peer, ByteView datagram, TimeMs now);
  // The same with the server's wall clock (Unix time), which the policy needs for the skew
  // checks (skew_soft/hard_seconds). The shell should always use this one; without a wall
  // time the skew checks are skipped and counted as wall_unknown.
  void handle_datagram(const PeerAddr& peer, ByteView datagram, TimeMs now, WallTime wall);

  // Flushes every session touched since the last flush (received data, stream commands).
  void flush(TimeMs now);
  // Datagrams to send, oldest Responses first, then sessions'; valid until the next
  // non-const call. Send a prefix, then consume_transmit(that many).
  std::span<const ServerTransmit> transmit();
  void consume_transmit(std::size_t n);

  std::optional<TimeMs> next_timeout() const;
  // Session timers, idle / half-open expiry (SessionClosed events), then flush.
  void handle_timeout(TimeMs now);
  std::optional<ServerEvent> poll_event();
  // The policy's rate-limited log records (why Initiations were dropped), for the shell to
  // log; at most AuthConfig::log_per_second per reason per second are produced.
  std::optional<PolicyLog> poll_policy_log() { return policy_->poll_log(); }

  // The mux of `session` for stream commands (nullptr when gone). Marks the session for the
  // next flush(now), which the caller must do after its commands.
  mux::Session* mux(ServerSessionId session);
  // Closes a session now (SessionClosed(closed)); nothing is sent to the peer.
  void close_session(ServerSessionId session);
  // Replaces the users table (null: no allowlist). Sessions whose user is no longer in it are
  // closed at once (SessionClosed(revoked)); other sessions are untouched.
  void set_users(std::shared_ptr<const UserTable> users);
  // Per user name (encrypted IK sessions under a users table; "" = sessions without a user).
  std::map<std::string, UserStats> user_stats() const;
  // The user name of `session` ("" when none).
  std::string user(ServerSessionId session) const;

  // --- inspection ---
  std::size_t session_count() const { return sessions_.size(); }
  std::optional<PeerAddr> peer(ServerSessionId session) const;
  std::optional<std::uint32_t> conv(ServerSessionId session) const;
  const Link* link(ServerSessionId session) const;
  std::vector<ServerSessionId> session_ids() const;
  // A snapshot of every live session, by id (session_info.hpp; status view and metrics).
  std::vector<SessionInfo> session_infos(TimeMs now) const;
  const ServerStats& stats() const { return stats_; }
  // The Link counters of every session since start: closed sessions' final values plus the
  // live ones' current values.
  LinkStats link_totals() const;
  const ServerConfig& config() const { return cfg_; }
  InitiationPolicy& policy() { return *policy_; }
  const InitiationPolicy& policy() const { return *policy_; }
  const ResponseBudget& response_budget() const { return budget_; }
  // Plain Initiations remembered for their retransmissions (bounded), and convs of closed
  // plain sessions that would still verify (bounded).
  std::size_t answered_size() const { return answered_.size(); }
  std::size_t retired_size() const { return retired_.size(); }

 private:
  struct Session;
  struct SessionKey {
    PeerAddr peer;
    std::uint32_t conv;
    friend bool operator==(const SessionKey&, const SessionKey&) = default;
  };
  struct SessionKeyHash {
    std::size_t operator()(const SessionKey& k) const;
  };
  using Digest = std::array<std::uint8_t, 16>;
  struct InitKey {
    PeerAddr peer;
    Digest digest;
    friend bool operator==(const InitKey&, const InitKey&) = default;
  };
  struct InitKeyHash {
    std::size_t operator()(const InitKey& k) const;
  };
  struct HostHash {
    std::size_t operator()(const PeerAddr& p) const { return p.host_hash(); }
  };
  // A plain Initiation answered recently: its retransmissions get the same Response.
  struct Answered {
    std::uint32_t conv = 0;
    std::uint32_t repeats = 0;
    TimeMs valid_until = 0;  // the conv's end (PlainConv::valid_until)
    bool packing = false;    // the Initiation carried the capability tag
  };
  struct SeededInitHash {
    std::uint64_t operator()(const InitKey& k, std::uint64_t seed) const;
  };
  struct SeededSessionHash {
    std::uint64_t operator()(const SessionKey& k, std::uint64_t seed) const;
  };
  struct HostEq {
    bool operator()(const PeerAddr& a, const PeerAddr& b) const { return a.same_host(b); }
  };
  using TimerSet = std::set<std::pair<TimeMs, ServerSessionId>>;

  void on_transport(const PeerAddr& peer, ByteView payload, TimeMs now);
  bool on_secure_transport(const PeerAddr& peer, ByteView payload, TimeMs now);
  bool try_plain_roam(const PeerAddr& peer, std::uint32_t conv, ByteView inner);
  void move_session(Session& s, const PeerAddr& to);
  void accepted_transport(Session& s, TimeMs now);
  void on_initiation(const PeerAddr& peer, ByteView datagram, ByteView payload, TimeMs now,
                     std::optional<WallTime> wall);
  // server_plain.cpp: the stateless plain handshake.
  void on_plain_initiation(const InitKey& key, ByteView datagram, ByteView payload, TimeMs now,
                           std::optional<WallTime> wall);
  bool policy_admits(const InitiationInfo& info);
  bool answer_repeat(const InitKey& key, TimeMs now);
  bool retired(const PeerAddr& peer, std::uint32_t conv, TimeMs now) const;
  bool within_caps(const PeerAddr& peer);
  bool within_budget(const PeerAddr& peer, TimeMs now);
  std::optional<std::uint32_t> pick_plain_conv(const PeerAddr& peer, bool packing, TimeMs now);
  void queue_plain_response(const InitKey& key, std::uint32_t conv);
  void create_plain_session(const PeerAddr& peer, std::uint32_t conv,
                            const envelope::TransportView& v, TimeMs now);
  void retire_conv(const Session& s);
  void dispatch(const PeerAddr& peer, ByteView datagram, std::optional<WallTime> wall);
  std::uint32_t fresh_conv(const PeerAddr& peer);
  void queue_response(const PeerAddr& peer, ByteView response);
  void touch(Session& s);
  void flush_session(Session& s, TimeMs now);
  void reschedule(Session& s);
  TimeMs deadline(const Session& s) const;
  void drain_events(Session& s);
  void settle(Session& s, std::uint64_t datagrams_before, std::uint64_t bytes_before);
  void remove(Session& s, std::error_code reason);

  ServerConfig cfg_;
  obf::Framer framer_;
  Rng& rng_;
  std::unique_ptr<InitiationPolicy> policy_;
  std::unordered_map<ServerSessionId, std::unique_ptr<Session>> sessions_;
  std::unordered_map<SessionKey, Session*, SessionKeyHash> by_key_;  // plain sessions
  std::unordered_map<std::uint32_t, Session*> by_conv_;              // plain sessions (roaming)
  std::unordered_map<std::uint32_t, Session*> by_rid_;               // encrypted sessions
  // Client->server header protection (encrypted mode): one per AEAD family, since the mask
  // follows the session's AEAD and is needed before the session is known.
  std::optional<crypto::HeaderProtection> hp_aes_, hp_chacha_;
  std::optional<envelope::SecureServerParams> secure_;
  std::shared_ptr<const UserTable> users_;
  std::map<std::string, UserStats> retired_users_;
  std::unordered_map<InitKey, Session*, InitKeyHash> half_open_;  // encrypted sessions
  PlainConv plain_conv_;
  ResponseBudget budget_;
  BoundedLru<InitKey, Answered, SeededInitHash> answered_;
  BoundedLru<SessionKey, TimeMs, SeededSessionHash> retired_;  // value: when it stops verifying
  std::unordered_map<PeerAddr, std::uint32_t, HostHash, HostEq> per_host_;
  TimerSet timers_;
  std::vector<Session*> dirty_;     // touched since the last flush
  std::vector<Session*> flushing_;  // dirty_ being flushed (swapped, reused)
  std::vector<ServerSessionId> due_;  // sessions whose timer fired (reused)
  std::vector<Session*> tx_order_;  // sessions with datagrams in transmit(), in order
  std::vector<PeerAddr> response_peers_;  // peer of each queued Response, from resp_head_
  Bytes response_buf_;                    // a plain Response being built (reused)
  std::size_t resp_head_ = 0;
  DatagramQueue responses_;
  std::vector<ServerTransmit> tx_;
  bool tx_valid_ = false;
  EventQueue<ServerEvent> events_;
  ServerSessionId next_id_ = 1;
  TimeMs now_ = 0;
  ServerStats stats_;
  LinkStats retired_links_;  // summed when a session is removed
};

}  // namespace paniq::tunnel
