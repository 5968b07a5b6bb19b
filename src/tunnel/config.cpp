// Tunnel configuration: validation and the conversion from a profile (PROTOCOL.md 2.1, 5.4,
// 6.3, 6.4; docs/tunnel.md "Configuration").
#include <algorithm>
#include <limits>
#include <string>

#include "envelope/capability.hpp"
#include "envelope/config.hpp"
#include "kcp/config.hpp"
#include "profile/addr.hpp"
#include "profile/profile.hpp"
#include "profile/validate.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/client.hpp"
#include "tunnel/link.hpp"
#include "tunnel/server.hpp"

namespace paniq::tunnel {
namespace {

Error bad(const std::string& field, std::uint64_t value, const char* why) {
  return make_error(Errc::invalid_config, field + ": " + std::to_string(value) + ": " + why);
}

std::uint32_t ms32(profile::Millis d) {
  const auto n = d.count();
  if (n <= 0) return 0;
  return static_cast<std::uint32_t>(
      std::min<std::int64_t>(n, std::numeric_limits<std::uint32_t>::max()));
}

Error bad_field(const std::string& field, const std::string& value, const char* why) {
  return make_error(Errc::invalid_config, field + ": \"" + value + "\": " + why);
}

Result<Encryption> encryption_from_profile(const profile::Profile& p) {
  const std::string& e = p.obfuscation.encryption;
  if (e == "off") return Encryption::off;
  if (e == "preferred") return Encryption::preferred;
  if (e == "required") return Encryption::required;
  return bad_field("obfuscation.encryption", e, "must be \"off\", \"preferred\" or \"required\"");
}

}  // namespace

const char* to_string(Encryption e) {
  switch (e) {
    case Encryption::off: return "off";
    case Encryption::preferred: return "preferred";
    case Encryption::required: return "required";
  }
  return "?";
}

Result<void> LinkConfig::validate() const {
  if (auto ok = kcp.validate(); !ok) return ok;
  if (auto ok = mux.validate(); !ok) return ok;
  if (sizes.kcp_mtu != kcp.mtu) {
    return bad("tunnel.kcp.mtu", kcp.mtu, "differs from the derived sizes.kcp_mtu");
  }
  if (sizes.effective_max_payload == 0) {
    return bad("tunnel.sizes.effective_max_payload", 0, "must be at least 1");
  }
  if (liveness.enabled && liveness.min_ms == 0) {
    return bad("tunnel.liveness.min_ms", 0, "must be at least 1 ms");
  }
  if (transport_replay_window > kMaxReplayWindow) {
    return bad("obfuscation.transport_replay_limit", transport_replay_window,
               "above 65536 (the anti-replay window, in counters)");
  }
  if (max_transmit_bytes < 65536) {
    return bad("tunnel.max_transmit_bytes", max_transmit_bytes, "below 65536");
  }
  return {};
}

Result<LinkConfig> link_config_from_profile(const profile::Profile& p, mux::Role role) {
  LinkConfig c;
  c.padding = profile::padding_policy(p);
  c.sizes = envelope::derive_sizes(profile::size_inputs(p));
  c.transport_replay = p.obfuscation.transport_replay;
  c.transport_replay_window = p.obfuscation.transport_replay_limit;
  if (p.obfuscation.rekey_interval) {
    c.rekey.after_ms = ms32(*p.obfuscation.rekey_interval);
    // WireGuard's proportions (a key refused 1.5 intervals after it was adopted), with at least
    // 10 s of slack: datagrams of an old epoch may sit in a bottleneck queue for a while.
    c.rekey.reject_after_ms = c.rekey.after_ms + std::max<std::uint32_t>(c.rekey.after_ms / 2, 10'000);
    c.rekey.previous_grace_ms = std::min(c.rekey.previous_grace_ms, c.rekey.after_ms);
  }

  const profile::KcpSection k = p.kcp.value_or(profile::KcpSection{});
  kcp::WindowInputs win;
  win.mtu = c.sizes.kcp_mtu;
  win.send_window = k.send_window;
  win.recv_window = k.recv_window;
  win.target_bps = k.target_bps;
  win.rtt_ms = k.rtt_ms;
  win.max_snd_queue = k.max_snd_queue;
  const bool paced = k.congestion == "bbr" || k.loss_recovery == "rack";
  if (paced) win.default_window = kcp::kPacedDefaultWindow;
  const kcp::Windows w = kcp::resolve_windows(win);
  c.kcp = kcp::Config::reference(0, c.sizes.kcp_mtu, std::max<std::uint32_t>(1, k.flush_interval_ms),
                                 w.snd_wnd, w.rcv_wnd, w.max_snd_queue);
  c.kcp.congestion = k.congestion == "bbr"    ? kcp::Congestion::bbr
                     : k.congestion == "ikcp" ? kcp::Congestion::ikcp
                                              : kcp::Congestion::none;
  c.kcp.loss_recovery = k.loss_recovery == "rack" ? kcp::LossRecovery::rack : kcp::LossRecovery::ikcp;
  if (k.bandwidth_mbps) {
    // Mbit/s on the wire -> KCP segment bytes/s: a full datagram carries kcp_mtu segment bytes
    // in max_datagram UDP payload bytes plus 28 bytes of IPv4 and UDP headers.
    const double wire = *k.bandwidth_mbps * 1e6 / 8;
    const double share = static_cast<double>(c.sizes.kcp_mtu) /
                         static_cast<double>(c.sizes.max_datagram + 28);
    c.kcp.bandwidth_hint = static_cast<std::uint64_t>(wire * share);
  }

  const profile::SessionTiming t = profile::session_timing(p);
  c.mux = role == mux::Role::Client ? mux::Config::defaults() : mux::Config::server_defaults();
  c.mux.keepalive_interval_ms = role == mux::Role::Client ? ms32(t.keepalive) : 0;
  c.mux.max_streams = static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(t.max_streams, 1, std::numeric_limits<std::uint32_t>::max()));
  c.liveness.enabled = role == mux::Role::Client;
  c.stream_offsets = k.stream_offsets;
  if (auto ok = c.validate(); !ok) return ok.error();
  return c;
}

Result<void> ClientConfig::validate() const {
  if (auto ok = link.validate(); !ok) return ok;
  if (link.mux.role != mux::Role::Client) {
    return make_error(Errc::invalid_config, "tunnel.client.mux.role: must be client");
  }
  if (handshake_attempts == 0) return bad("handshake_attempts", 0, "must be at least 1");
  if (handshake_timeout_ms == 0) return bad("handshake_timeout", 0, "must be at least 1 ms");
  return {};
}

Result<ClientConfig> client_config_from_profile(const profile::Profile& p) {
  auto link = link_config_from_profile(p, mux::Role::Client);
  if (!link) return link.error();
  const profile::SessionTiming t = profile::session_timing(p);
  ClientConfig c;
  c.link = std::move(*link);
  c.handshake_timeout_ms = std::max<std::uint32_t>(1, ms32(t.handshake_timeout));
  c.handshake_attempts = static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(t.handshake_attempts, 1, std::numeric_limits<std::uint32_t>::max()));
  c.preamble_delay_ms = ms32(t.preamble_delay);
  c.preamble_jitter_ms = ms32(t.preamble_jitter);
  // Go client semantics (PROTOCOL.md 15): a server key means MAC1 on every Initiation, with
  // the encrypted timestamp in front unless encrypted_timestamp is false.
  auto key = server_public_key_from_profile(p);
  if (!key) return key.error();
  c.auth.server_public = *key;
  c.auth.encrypted_timestamp = p.obfuscation.encrypted_timestamp;
  // Segment packing (docs/protocol.md 3.1): offer it with the capability tag, follow the server.
  if (!p.kcp || p.kcp->pack_segments) {
    c.auth.capability_key = envelope::capability_key(profile::obf_config(p));
    c.link.follow_packing = true;
  }
  for (const std::string& text : p.servers) {
    const auto r = profile::parse_host_port_range(text);  // validated with the profile
    if (!r) return bad_field("servers", text, "expected HOST:PORT or HOST:PORT-PORT");
    c.servers.push_back({r->first_port, r->last_port});
  }
  c.spread = p.server_select == "spread";
  if (p.hop_interval) {
    const auto h = profile::parse_hop_interval(*p.hop_interval);
    if (!h) return bad_field("hop_interval", *p.hop_interval, "expected DURATION-DURATION");
    c.hop_min_ms = ms32(h->first);
    c.hop_max_ms = ms32(h->second);
  }
  auto enc = encryption_from_profile(p);
  if (!enc) return enc.error();
  c.encryption = *enc;
  if (c.encryption != Encryption::off) {
    if (!c.auth.server_public) {
      return bad_field("obfuscation.encryption", p.obfuscation.encryption,
                       "needs obfuscation.server_public_key on the client");
    }
    c.auth.capability_key = envelope::capability_key(profile::obf_config(p));
    c.auth.encrypted_timestamp = true;  // the Noise message sits behind it
    if (!p.obfuscation.client_private_key.empty()) {
      const auto key = decode_key(p.obfuscation.client_private_key);
      if (!key) {
        return bad_field("obfuscation.client_private_key", p.obfuscation.client_private_key,
                         "not a base64 X25519 private key (32 bytes)");
      }
      c.client_private = *key;
    }
  }
  if (auto ok = c.validate(); !ok) return ok.error();
  return c;
}

Result<void> ServerConfig::validate() const {
  if (auto ok = link.validate(); !ok) return ok;
  if (link.mux.role != mux::Role::Server) {
    return make_error(Errc::invalid_config, "tunnel.server.mux.role: must be server");
  }
  if (idle_timeout_ms == 0) return bad("kcp.idle_timeout", 0, "must be at least 1 ms");
  if (half_open_timeout_ms == 0) return bad("server.half_open_timeout", 0, "must be at least 1 ms");
  if (max_sessions == 0) return bad("server.max_sessions", 0, "must be at least 1");
  if (max_sessions_per_host == 0) return bad("server.max_sessions_per_host", 0, "must be at least 1");
  if (max_sessions_per_host > max_sessions) {
    return bad("server.max_sessions_per_host", max_sessions_per_host, "above max_sessions");
  }
  if (auto ok = response_budget.validate(); !ok) return ok;
  return {};  // `auth` depends on the chains: checked with the framer (AuthPolicy)
}

Result<ServerConfig> server_config_from_profile(const profile::Profile& p) {
  auto link = link_config_from_profile(p, mux::Role::Server);
  if (!link) return link.error();
  ServerConfig c;
  c.link = std::move(*link);
  c.idle_timeout_ms = std::max<std::uint32_t>(1, ms32(profile::session_timing(p).idle_timeout));
  auto auth = auth_config_from_profile(p);
  if (!auth) return auth.error();
  c.auth = std::move(*auth);
  if (!p.kcp || p.kcp->pack_segments) c.capability_key = envelope::capability_key(profile::obf_config(p));
  auto enc = encryption_from_profile(p);
  if (!enc) return enc.error();
  c.encryption = *enc;
  if (c.encryption != Encryption::off) {
    if (!c.auth.server_private_key) {
      return bad_field("obfuscation.encryption", p.obfuscation.encryption,
                       "needs obfuscation.server_private_key on the server");
    }
    c.secure_capability_key = envelope::capability_key(profile::obf_config(p));
  }
  if (auto ok = c.validate(); !ok) return ok.error();
  return c;
}

}  // namespace paniq::tunnel
