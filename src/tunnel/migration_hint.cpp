#include "tunnel/migration_hint.hpp"

namespace paniq::tunnel {

MigrationHints::MigrationHints(const ServerConfig& cfg, std::uint32_t interval_ms)
    : encryption_required_(cfg.encryption == Encryption::required),
      accept_unauthenticated_(cfg.auth.accept_unauthenticated),
      interval_ms_(interval_ms) {}

std::optional<std::string> MigrationHints::check(const ServerStats& stats, TimeMs now) {
  auto a = step(mac1_, stats.auth[index(AuthReason::mac1_missing)], now, true);
  auto b = step(plain_, stats.drop_plain_refused, now, false);
  if (a && b) return *a + "\n" + *b;
  return a ? a : b;
}

std::optional<std::string> MigrationHints::step(Watch& w, std::uint64_t value, TimeMs now, bool mac1) {
  const bool grew = value > w.seen;
  w.seen = value;
  if (!grew) return std::nullopt;
  if (w.last && now < *w.last + interval_ms_) return std::nullopt;
  const std::uint64_t count = value - w.warned_at;
  w.warned_at = value;
  w.last = now;
  const std::string n = std::to_string(count) + (count > 1 ? " handshakes" : " handshake");
  std::string s;
  if (mac1) {
    s = n + " without MAC1 dropped (mac1_missing): the profile requires authenticated "
            "handshakes (obfuscation.require_encrypted_timestamp), and a client that cannot "
            "authenticate, such as paniq-rs (its handshake carries no MAC1), is refused "
            "silently. To serve such clients, set \"accept_unauthenticated_clients\": true in "
            "the proxy-server config";
    if (encryption_required_) s += " and obfuscation.encryption to \"preferred\" in the profile";
    s += "; or give the users an authenticated profile (paniq-ctl add-user / paniq-ctl link). "
         "See \"Migrating from paniq-rs\" in the README.";
  } else {
    s = n + " without encryption refused (drop_plain_refused): obfuscation.encryption is "
            "\"required\", and a client without encrypted mode, such as paniq-rs, is refused "
            "silently. To serve such clients, set obfuscation.encryption to \"preferred\" in the "
            "server's profile";
    if (!accept_unauthenticated_) s += " and \"accept_unauthenticated_clients\": true in the proxy-server config";
    s += "; or give the users a profile for paniq-cpp's socks5d (paniq-ctl add-user / paniq-ctl "
         "link). See \"Migrating from paniq-rs\" in the README.";
  }
  return s;
}

}  // namespace paniq::tunnel
