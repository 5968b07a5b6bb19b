// AuthConfig: validation and the conversion from a profile (docs/auth.md).
#include "tunnel/auth_config.hpp"

#include <algorithm>
#include <string>

#include "obf/chain.hpp"
#include "profile/profile.hpp"
#include "profile/validate.hpp"
#include "tunnel/errors.hpp"

namespace paniq::tunnel {
namespace {

Error bad(const std::string& what) { return make_error(Errc::invalid_config, what); }

bool chain_has_time(const obf::Config& obf) {
  for (const std::string& spec : obf.i) {
    if (spec.empty()) continue;
    auto chain = obf::Chain::parse(spec);
    if (!chain) continue;  // the framer reports it
    for (std::size_t t = 0; t < chain->size(); ++t) {
      if (chain->tag(t).name() == "t") return true;
    }
  }
  return false;
}

}  // namespace

std::optional<crypto::Key32> decode_key(const std::string& text) {
  auto bytes = crypto::base64_decode(text);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  crypto::Key32 k{};
  std::copy(bytes->begin(), bytes->end(), k.begin());
  return k;
}

const char* to_string(AuthReason r) {
  switch (r) {
    case AuthReason::policy: return "policy";
    case AuthReason::mac1_missing: return "mac1_missing";
    case AuthReason::mac1_invalid: return "mac1_invalid";
    case AuthReason::rate_limited: return "rate_limited";
    case AuthReason::replay: return "replay";
    case AuthReason::timestamp_invalid: return "timestamp_invalid";
    case AuthReason::encrypted_timestamp_missing: return "encrypted_timestamp_missing";
    case AuthReason::signature_missing: return "signature_missing";
    case AuthReason::timestamp_missing: return "timestamp_missing";
    case AuthReason::skew_hard: return "skew_hard";
    case AuthReason::skew_soft: return "skew_soft";
    case AuthReason::legacy_accepted: return "legacy_accepted";
    case AuthReason::wall_unknown: return "wall_unknown";
    case AuthReason::unauthenticated_accepted: return "unauthenticated_accepted";
  }
  return "?";
}

bool AuthConfig::authenticates() const {
  return server_private_key.has_value() || signature_validate || require_timestamp ||
         require_encrypted_timestamp;
}

std::uint64_t AuthConfig::replay_lifetime_ms() const {
  if (replay_window_seconds == 0 || replay_cache_size == 0) return 0;
  constexpr std::uint64_t kMaxSeconds = 10ull * 365 * 24 * 3600;
  std::uint64_t s = std::min(replay_window_seconds, kMaxSeconds);
  if (skew_hard_seconds > 0) {
    // Both ends of [T - hard, T + hard] are accepted: one second more than the span.
    const auto hard = std::min(static_cast<std::uint64_t>(skew_hard_seconds), kMaxSeconds);
    s = std::max(s, 2 * hard + 1);
  }
  return s * 1000;
}

Result<void> AuthConfig::validate(const obf::Config& obf) const {
  if (require_encrypted_timestamp && !server_private_key) {
    return bad("obfuscation.require_encrypted_timestamp: true: needs obfuscation.server_private_key");
  }
  if (require_timestamp && !server_private_key && !(signature_validate && chain_has_time(obf))) {
    return bad("obfuscation.require_timestamp: true: no timestamp can be checked (needs "
               "obfuscation.server_private_key, or signature_validate with a <t> tag in i1..i5)");
  }
  if (replay_cache_size > kMaxReplayCacheSize) {
    return bad("obfuscation.replay_cache_size: " + std::to_string(replay_cache_size) +
               ": above " + std::to_string(kMaxReplayCacheSize));
  }
  if (preamble_table_size == 0) return bad("server.preamble_table_size: 0: must be at least 1");
  if (preamble_ttl_ms == 0) return bad("server.preamble_ttl: 0: must be at least 1 ms");
  if (rate_table_size == 0) return bad("server.rate_table_size: 0: must be at least 1");
  return {};
}

Result<AuthConfig> auth_config_from_profile(const profile::Profile& p) {
  const profile::ObfuscationSection& o = p.obfuscation;
  AuthConfig c;
  if (!o.server_private_key.empty()) {
    c.server_private_key = decode_key(o.server_private_key);
    if (!c.server_private_key) {
      return bad("obfuscation.server_private_key: not a base64 X25519 key (32 bytes)");
    }
    if (!o.server_public_key.empty()) {
      const auto pub = decode_key(o.server_public_key);
      if (!pub || *pub != crypto::x25519_public(*c.server_private_key)) {
        return bad("obfuscation.server_public_key: \"" + o.server_public_key +
                   "\": not the public key of obfuscation.server_private_key");
      }
    }
  }
  c.signature_validate = o.signature_validate;
  c.require_timestamp = o.require_timestamp.value_or(false);
  c.require_encrypted_timestamp = o.require_encrypted_timestamp;
  c.legacy_mode_enabled = o.legacy_mode_enabled;
  c.skew_soft_seconds = o.skew_soft_seconds;
  c.skew_hard_seconds = o.skew_hard_seconds;
  c.replay_window_seconds = o.replay_window_seconds;
  c.replay_cache_size = o.replay_cache_size;
  c.rate_limit_pps = o.rate_limit_pps;
  c.rate_limit_burst = o.rate_limit_burst;
  if (auto ok = c.validate(profile::obf_config(p)); !ok) return ok.error();
  return c;
}

Result<std::optional<crypto::Key32>> server_public_key_from_profile(const profile::Profile& p) {
  const std::string& text = p.obfuscation.server_public_key;
  if (text.empty()) return std::optional<crypto::Key32>{};
  const auto key = decode_key(text);
  if (!key) {
    return bad("obfuscation.server_public_key: \"" + text +
               "\": not a base64 X25519 public key (32 bytes)");
  }
  crypto::Key32 probe{};
  probe.fill(0x5a);
  if (!crypto::x25519(probe, *key)) {
    return bad("obfuscation.server_public_key: \"" + text + "\": a low-order X25519 point");
  }
  return std::optional<crypto::Key32>{*key};
}

}  // namespace paniq::tunnel
