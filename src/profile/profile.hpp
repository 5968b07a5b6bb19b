// The profile (PROTOCOL.md 2.1): one JSON file shared by client and server, parsed once at
// startup into this struct and never mutated after. Field names, types and defaults are the
// reference's; optionals are std::optional; durations are milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "obf/types.hpp"
#include "profile/duration.hpp"
#include "profile/errors.hpp"

namespace paniq::profile {

// `kcp` object (2.1.2). Absent object = Profile::kcp is nullopt and every default applies.
struct KcpSection {
  std::uint64_t max_packet_size = 1350;  // whole UDP payload bound; validated to [64, 65507]
  std::uint64_t max_payload = 1200;      // 1200 is the reference's "use max_packet_size" sentinel
  Millis keepalive{0};                   // absent = 0 (reference), see SessionTiming
  Millis idle_timeout{0};
  std::uint64_t max_streams = 256;
  std::optional<std::uint32_t> send_window;
  std::optional<std::uint32_t> recv_window;
  std::optional<std::uint64_t> target_bps;
  std::optional<std::uint64_t> rtt_ms;
  std::optional<std::uint32_t> max_snd_queue;
  std::uint32_t flush_interval_ms = 10;
  // Extension (docs/protocol.md 3.1): offer and follow segment packing between paniq-cpp ends
  // (negotiated per session; Rust peers are never sent packed datagrams). false = never pack,
  // exactly the reference's one segment per datagram. JSON only (not in the CBOR form).
  bool pack_segments = true;
  // Extension (docs/protocol.md 7.8): in encrypted sessions between paniq-cpp ends, offer
  // (client) and accept (server) stream offsets, so that one stream's lost segment does not
  // hold up the others. false = one ordered byte stream for all streams, as in plain mode.
  bool stream_offsets = true;
  // Extensions (docs/kcp.md "Paced sender"), sender side only, so they work towards any peer:
  // "bbr" | "ikcp" | "none" (none = the reference's nc), "rack" | "ikcp", and the link rate a
  // user knows (Mbit/s on the wire; null = measure). JSON only.
  std::string congestion = "bbr";
  std::string loss_recovery = "rack";
  std::optional<double> bandwidth_mbps;
  friend bool operator==(const KcpSection&, const KcpSection&) = default;
};

// `transport_padding` object (2.1.3). Absent object = padding disabled.
struct PaddingSection {
  std::uint64_t pad_min = 16;
  std::uint64_t pad_max = 96;
  std::uint64_t pad_burst_min = 96;
  std::uint64_t pad_burst_max = 104;
  double pad_burst_prob = 0.02;  // clamped to [0, 1] when used
  friend bool operator==(const PaddingSection&, const PaddingSection&) = default;
};

// `obfuscation` object (2.1.4) plus our extension `classify_mode`.
struct ObfuscationSection {
  std::int32_t jc = 0, jmin = 0, jmax = 0;
  std::int32_t s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  std::string h1, h2, h3, h4;  // "" = default "1".."4"
  std::string i1, i2, i3, i4, i5;
  std::string server_public_key;   // standard base64 (not used on the wire)
  std::string server_private_key;  // server only: never give it to clients (client_view)
  bool signature_validate = true;
  std::optional<bool> require_timestamp;
  bool encrypted_timestamp = true;
  bool require_encrypted_timestamp = true;
  bool legacy_mode_enabled = false;
  std::int64_t skew_soft_seconds = 15;
  std::int64_t skew_hard_seconds = 30;
  std::uint64_t replay_window_seconds = 30;
  std::uint64_t replay_cache_size = 4096;
  bool transport_replay = false;
  std::uint64_t transport_replay_limit = 0;
  std::uint64_t rate_limit_pps = 200;
  std::uint64_t rate_limit_burst = 500;
  // Extension: "first_match" (reference, default) or "strict" (reject ambiguous datagrams).
  obf::ClassifyMode classify_mode = obf::ClassifyMode::FirstMatch;
  // Extensions, encrypted transport between paniq-cpp peers (docs/protocol.md 7):
  // "off" (the reference's plain mode, default), "preferred" (client offers and falls back to
  // plain against a server that does not take the offer; server accepts both) or "required"
  // (client never falls back; server is silent to plain Initiations).
  std::string encryption = "off";
  std::string client_private_key;        // client: Noise IK with this key; "" = NK
  std::optional<Millis> rekey_interval;  // null -> 120 s (lower only for tests)
  friend bool operator==(const ObfuscationSection&, const ObfuscationSection&) = default;
};

struct Profile {
  std::string name;                         // required
  std::string proxy_addr;                   // required (may be empty on a server); IP:port for a client
  std::optional<Millis> handshake_timeout;  // null -> 5 s
  std::uint64_t handshake_attempts = 3;
  std::optional<std::uint64_t> preamble_delay_ms;   // null -> 5 ms
  std::optional<std::uint64_t> preamble_jitter_ms;  // null -> 0
  std::optional<KcpSection> kcp;
  std::optional<PaddingSection> transport_padding;
  ObfuscationSection obfuscation;
  // Extensions (our own; the reference ignores them): several servers, port hopping.
  // "HOST:PORT" or "HOST:PORT-PORT" each; when set, socks5d uses them instead of proxy_addr.
  std::vector<std::string> servers;
  std::string server_select = "failover";  // "failover" | "spread" (docs/tunnel.md)
  std::optional<std::string> hop_interval; // "30s-60s": null -> 30-60 s
  friend bool operator==(const Profile&, const Profile&) = default;
};

// Parses profile JSON with the rules of 2.1 AND validates it (validate_profile). Unknown keys add
// a warning such as `unknown field "quic" ignored` and parsing goes on. On failure returns the
// first problem, its message naming the field path and the bad value
// (`kcp.max_packet_size: -5: must be a non-negative integer`); malformed JSON gives line and
// column. The caller must not start with a profile that failed.
Result<Profile> parse_profile_json(std::string_view text, std::vector<std::string>& warnings);

// Same type and shape rules, without the cross-field validation (for tools that convert or
// display profiles that might not be usable, e.g. `paniq-ctl profile-cbor`).
Result<Profile> parse_profile_json_unvalidated(std::string_view text, std::vector<std::string>& warnings);

// Reads and parses (with validation) a profile file. A missing or unreadable file is an
// Errc::io error naming the path; other errors as parse_profile_json.
Result<Profile> load_profile_file(const std::string& path, std::vector<std::string>& warnings);

// Pretty JSON (2-space indent) in the reference's key order: every field present, nulls for
// unset optionals, durations per format_profile_duration; `classify_mode` only when "strict".
// parse_profile_json_unvalidated(to_json(p)) == p for every profile whose strings are valid
// UTF-8 and whose pad_burst_prob is finite.
std::string to_json(const Profile& p);

// The profile a client may hold: server_private_key removed (weakness 17.5).
Profile client_view(const Profile& p);

// Runtime timing with the reference's fallbacks applied. Absent/zero keepalive means "use 20 s"
// and absent/zero idle timeout "use 120 s" (the reference server's hard-coded value).
struct SessionTiming {
  Millis handshake_timeout{5000};
  std::uint64_t handshake_attempts = 3;  // at least 1
  Millis preamble_delay{5};
  Millis preamble_jitter{0};
  Millis keepalive{20'000};
  Millis idle_timeout{120'000};
  std::uint64_t max_streams = 256;
};
SessionTiming session_timing(const Profile& p);

}  // namespace paniq::profile
