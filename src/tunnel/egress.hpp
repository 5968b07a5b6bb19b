// proxy-server's egress policy (docs/egress.md): which resolved target addresses a tunnelled
// CONNECT or UDP datagram may reach. Pure matcher: no sockets, no resolver, no clock. The shell
// resolves names, asks decide() for every resolved address (so a name that resolves to a denied
// address, DNS rebinding included, is judged by the address it would really dial), dials only
// allowed addresses, answers 0x02 when none is allowed, logs and counts.
//
// Order of decide(target):
//   1. IPv4-mapped IPv6 targets (::ffff:a.b.c.d) are judged as their IPv4 address.
//   2. a matching `deny_targets` rule          -> denied_rule        (deny always wins)
//   3. a matching `allow_targets` rule         -> allowed            (opens default ranges too)
//   4. a default-denied range                  -> denied_default_range
//   5. one of the server's own addresses       -> denied_own_address (any port)
//   6. anything else                           -> allowed
//
// Rule syntax (one string each): CIDR, CIDR:PORT or CIDR:PORT-PORT, where CIDR is an address
// with an optional /prefix (a bare address = /32 or /128). IPv6 takes brackets when a port
// follows: "[fc00::/7]:443" (also "[fc00::]/7:443"); "[::1]/128" and "fc00::/7" without a port.
// Rules inside ::ffff:0:0/96 are IPv4 rules ("::ffff:10.0.0.0/104" = "10.0.0.0/8"); other IPv6
// rules never match IPv4 targets, IPv4 rules never match IPv6 targets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "tunnel/peer_addr.hpp"

namespace paniq::tunnel {

enum class EgressVerdict : std::uint8_t {
  allowed = 0,
  denied_default_range,  // in a default-denied range and no allow rule names it
  denied_rule,           // a deny_targets rule names it
  denied_own_address,    // one of the server's interface addresses and no allow rule names it
};
inline constexpr std::size_t kEgressVerdictCount = 4;
// "allowed", "default_range", "deny_rule", "own_address" (counter and log names).
const char* to_string(EgressVerdict v);

// An address block. `addr` holds the network (bits past `prefix` are zero); IPv4 in addr[0..4).
struct Cidr {
  PeerAddr::Family family = PeerAddr::Family::v4;
  std::array<std::uint8_t, 16> addr{};
  std::uint8_t prefix = 0;  // <= 32 (IPv4) or 128 (IPv6)

  // Same family and the first `prefix` bits equal (the port is ignored). No unmapping here.
  bool contains(const PeerAddr& a) const;
  // "10.0.0.0/8", "fc00::/7".
  std::string to_string() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

struct EgressRule {
  Cidr net;
  std::uint16_t port_min = 0, port_max = 65535;  // inclusive; 0-65535 = any port
  std::string label;  // field and text for log lines: `deny_targets[0] "10.0.0.0/8:22"`

  bool matches(const PeerAddr& target) const {
    return target.port >= port_min && target.port <= port_max && net.contains(target);
  }
};

// Parses one rule of `field` ("allow_targets[2]"). Errors (Errc::invalid_config) name the field
// and the value: `allow_targets[2]: "10.0.0.0/33": prefix length above 32`. Other reasons: empty
// rule, not an IP address, missing or bad prefix length, host bits set (the message names the
// network), bad port, port range start above end, IPv4 address in brackets, IPv6 port without
// brackets, text after the rule.
Result<EgressRule> parse_egress_rule(std::string_view text, std::string_view field);

// `a` with an IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into IPv4; the port is kept.
PeerAddr unmap(const PeerAddr& a);

struct DefaultRange {
  Cidr net;
  const char* name;  // "loopback", "link-local", "private (RFC 1918)", ...
};
// The ranges refused unless an allow rule names them (docs/egress.md lists them).
std::span<const DefaultRange> default_denied_ranges();

struct EgressDecision {
  EgressVerdict verdict = EgressVerdict::allowed;
  // Which entry decided: the default range's name, the rule's label, "own interface address";
  // for allowed: the allow rule's label, or empty (no rule, outside every default range).
  // Points into static storage or into the policy (valid while the policy lives).
  std::string_view reason;

  bool allowed() const { return verdict == EgressVerdict::allowed; }
  // For log lines: "loopback (default policy)", "own interface address (default policy)",
  // `deny_targets[0] "10.0.0.0/8:22"`, "allowed".
  std::string describe() const;
};

struct EgressConfig {
  std::vector<std::string> allow_targets;
  std::vector<std::string> deny_targets;
  // The server's own interface addresses (ports ignored; IPv4-mapped ones are unmapped), read
  // by the shell at start.
  std::vector<PeerAddr> own_addresses;
};

class EgressPolicy {
 public:
  // The default policy: no rules, no own addresses (only the default ranges are refused).
  EgressPolicy() = default;

  // Parses every rule. Error: the first bad rule (allow_targets before deny_targets), as
  // parse_egress_rule; the caller must not start.
  static Result<EgressPolicy> create(const EgressConfig& cfg);

  EgressDecision decide(const PeerAddr& target) const;

  const std::vector<EgressRule>& allow_rules() const { return allow_; }
  const std::vector<EgressRule>& deny_rules() const { return deny_; }
  const std::vector<PeerAddr>& own_addresses() const { return own_; }

 private:
  std::vector<EgressRule> allow_, deny_;
  std::vector<PeerAddr> own_;  // unmapped, port 0
};

}  // namespace paniq::tunnel
