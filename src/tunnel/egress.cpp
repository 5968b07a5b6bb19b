#include "tunnel/egress.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include "core/ip_text.hpp"
#include "profile/addr.hpp"
#include "tunnel/errors.hpp"

namespace paniq::tunnel {
namespace {

using Family = PeerAddr::Family;

constexpr Cidr v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t prefix) {
  Cidr n;
  n.family = Family::v4;
  n.addr[0] = a;
  n.addr[1] = b;
  n.addr[2] = c;
  n.addr[3] = d;
  n.prefix = prefix;
  return n;
}

// IPv6 network from its first two bytes (every default IPv6 range fits) or, for the
// single-address entries, its last byte.
constexpr Cidr v6(std::uint8_t b0, std::uint8_t b1, std::uint8_t last, std::uint8_t prefix) {
  Cidr n;
  n.family = Family::v6;
  n.addr[0] = b0;
  n.addr[1] = b1;
  n.addr[15] = last;
  n.prefix = prefix;
  return n;
}

constexpr DefaultRange kDefaultRanges[] = {
    // IPv4
    {v4(0, 0, 0, 0, 8), "unspecified (0.0.0.0/8)"},
    {v4(127, 0, 0, 0, 8), "loopback"},
    {v4(169, 254, 0, 0, 16), "link-local"},
    {v4(10, 0, 0, 0, 8), "private (RFC 1918)"},
    {v4(172, 16, 0, 0, 12), "private (RFC 1918)"},
    {v4(192, 168, 0, 0, 16), "private (RFC 1918)"},
    {v4(100, 64, 0, 0, 10), "CGNAT (RFC 6598)"},
    {v4(224, 0, 0, 0, 4), "multicast"},
    {v4(255, 255, 255, 255, 32), "broadcast"},
    // IPv6 (IPv4-mapped addresses are judged as IPv4 before these)
    {v6(0, 0, 0, 128), "unspecified"},
    {v6(0, 0, 1, 128), "loopback"},
    {v6(0xfe, 0x80, 0, 10), "link-local"},
    {v6(0xfe, 0xc0, 0, 10), "site-local (deprecated)"},
    {v6(0xfc, 0x00, 0, 7), "unique local (ULA)"},
    {v6(0xff, 0x00, 0, 8), "multicast"},
};

constexpr bool is_v4_mapped(const std::array<std::uint8_t, 16>& a) {
  for (std::size_t i = 0; i < 10; ++i) {
    if (a[i] != 0) return false;
  }
  return a[10] == 0xff && a[11] == 0xff;
}

// `field: "text": reason`, the text JSON-quoted (quotes, backslashes, control bytes escaped).
Error rule_error(std::string_view field, std::string_view text, std::string_view reason) {
  std::string msg(field);
  msg += ": \"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      msg += '\\';
      msg += c;
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      msg += "\\u00";
      msg += kHex[u >> 4];
      msg += kHex[u & 0xF];
    } else {
      msg += c;
    }
  }
  msg += "\": ";
  msg += reason;
  return make_error(Errc::invalid_config, std::move(msg));
}

// Decimal digits only (no sign, no spaces), value <= max; nullopt otherwise.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  std::uint32_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

// Zeroes the bits of `n.addr` past `n.prefix`; true when any was set.
bool clear_host_bits(Cidr& n) {
  bool had = false;
  const std::size_t bytes = n.family == Family::v4 ? 4 : 16;
  for (std::size_t i = 0; i < bytes; ++i) {
    const std::size_t first_bit = i * 8;
    std::uint8_t mask = 0xFF;  // bits of this byte inside the prefix
    if (first_bit >= n.prefix) {
      mask = 0;
    } else if (n.prefix - first_bit < 8) {
      mask = static_cast<std::uint8_t>(0xFF << (8 - (n.prefix - first_bit)));
    }
    if ((n.addr[i] & ~mask) != 0) had = true;
    n.addr[i] &= mask;
  }
  return had;
}

// The pieces of a rule's text before their values are checked.
struct RuleParts {
  std::string_view address, prefix, ports;
  bool bracketed = false, has_prefix = false, has_ports = false;
};

// Splits at the first `c`: (before, after, found).
std::tuple<std::string_view, std::string_view, bool> split_at(std::string_view s, char c) {
  const auto at = s.find(c);
  if (at == std::string_view::npos) return {s, {}, false};
  return {s.substr(0, at), s.substr(at + 1), true};
}

// The reason text on a syntax error, empty when `parts` was filled.
std::string split_rule(std::string_view text, RuleParts& parts) {
  if (text.empty()) return "empty rule";
  std::string_view rest;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "missing ']'";
    parts.bracketed = true;
    auto [addr, prefix, has_prefix] = split_at(text.substr(1, close - 1), '/');
    parts.address = addr;
    parts.prefix = prefix;
    parts.has_prefix = has_prefix;
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() == '/') {  // "[addr]/len[:ports]"
      if (parts.has_prefix) return "two prefix lengths";
      auto [len, ports, has_ports] = split_at(rest.substr(1), ':');
      parts.prefix = len;
      parts.has_prefix = true;
      parts.ports = ports;
      parts.has_ports = has_ports;
      return {};
    }
    if (rest.empty()) return {};
    if (rest.front() != ':') return "unexpected text after ']' (expected :PORT or /PREFIX)";
    parts.ports = rest.substr(1);
    parts.has_ports = true;
    return {};
  }
  if (std::count(text.begin(), text.end(), ':') > 1) {  // IPv6 without brackets: no port
    auto [addr, prefix, has_prefix] = split_at(text, '/');
    if (prefix.find(':') != std::string_view::npos) {
      return "an IPv6 rule with a port needs brackets, e.g. \"[fc00::/7]:443\"";
    }
    parts.address = addr;
    parts.prefix = prefix;
    parts.has_prefix = has_prefix;
    return {};
  }
  auto [cidr, ports, has_ports] = split_at(text, ':');
  auto [addr, prefix, has_prefix] = split_at(cidr, '/');
  parts.address = addr;
  parts.prefix = prefix;
  parts.has_prefix = has_prefix;
  parts.ports = ports;
  parts.has_ports = has_ports;
  return {};
}

std::string parse_ports(std::string_view s, EgressRule& rule) {
  auto [lo_text, hi_text, is_range] = split_at(s, '-');
  const auto lo = parse_decimal(lo_text, 65535);
  const auto hi = is_range ? parse_decimal(hi_text, 65535) : lo;
  if (!lo || !hi) return "bad port (expected PORT or PORT-PORT, 0-65535)";
  if (*lo > *hi) return "port range start above end";
  rule.port_min = static_cast<std::uint16_t>(*lo);
  rule.port_max = static_cast<std::uint16_t>(*hi);
  return {};
}

}  // namespace

const char* to_string(EgressVerdict v) {
  switch (v) {
    case EgressVerdict::allowed: return "allowed";
    case EgressVerdict::denied_default_range: return "default_range";
    case EgressVerdict::denied_rule: return "deny_rule";
    case EgressVerdict::denied_own_address: return "own_address";
  }
  return "unknown";
}

bool Cidr::contains(const PeerAddr& a) const {
  if (a.family != family) return false;
  const std::size_t whole = prefix / 8;
  if (!std::equal(addr.begin(), addr.begin() + static_cast<std::ptrdiff_t>(whole), a.addr.begin())) {
    return false;
  }
  const unsigned bits = prefix % 8;
  if (bits == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
  return (a.addr[whole] & mask) == addr[whole];
}

std::string Cidr::to_string() const {
  std::string s = family == Family::v4 ? ipv4_text(addr.data()) : ipv6_text(addr.data());
  s += '/';
  s += std::to_string(prefix);
  return s;
}

PeerAddr unmap(const PeerAddr& a) {
  if (a.family != Family::v6 || !is_v4_mapped(a.addr)) return a;
  return PeerAddr::v4({a.addr[12], a.addr[13], a.addr[14], a.addr[15]}, a.port);
}

std::span<const DefaultRange> default_denied_ranges() { return kDefaultRanges; }

Result<EgressRule> parse_egress_rule(std::string_view text, std::string_view field) {
  RuleParts parts;
  if (auto why = split_rule(text, parts); !why.empty()) return rule_error(field, text, why);
  const auto ip = profile::parse_ip_addr(parts.address);
  if (!ip) return rule_error(field, text, "not an IP address (expected CIDR, CIDR:PORT or CIDR:PORT-PORT)");
  if (parts.bracketed && !ip->v6) return rule_error(field, text, "an IPv4 address in brackets");
  EgressRule rule;
  rule.net.family = ip->v6 ? Family::v6 : Family::v4;
  rule.net.addr = ip->ip;
  const std::uint32_t max_prefix = ip->v6 ? 128 : 32;
  rule.net.prefix = static_cast<std::uint8_t>(max_prefix);
  if (parts.has_prefix) {
    if (parts.prefix.empty()) return rule_error(field, text, "missing prefix length after '/'");
    const auto len = parse_decimal(parts.prefix, 999);
    if (!len || parts.prefix.size() > 3) return rule_error(field, text, "bad prefix length");
    if (*len > max_prefix) {
      return rule_error(field, text, "prefix length above " + std::to_string(max_prefix));
    }
    rule.net.prefix = static_cast<std::uint8_t>(*len);
  }
  if (parts.has_ports) {
    if (auto why = parse_ports(parts.ports, rule); !why.empty()) return rule_error(field, text, why);
  }
  Cidr network = rule.net;
  if (clear_host_bits(network)) {
    return rule_error(field, text, "host bits set (the network is " + network.to_string() + ")");
  }
  // An IPv4-mapped block is an IPv4 rule (targets are unmapped before matching).
  if (rule.net.family == Family::v6 && rule.net.prefix >= 96 && is_v4_mapped(rule.net.addr)) {
    Cidr n;
    n.family = Family::v4;
    std::copy(rule.net.addr.begin() + 12, rule.net.addr.end(), n.addr.begin());
    n.prefix = static_cast<std::uint8_t>(rule.net.prefix - 96);
    rule.net = n;
  }
  rule.label = std::string(field) + " \"" + std::string(text) + "\"";
  return rule;
}

std::string EgressDecision::describe() const {
  switch (verdict) {
    case EgressVerdict::allowed: return "allowed";
    case EgressVerdict::denied_default_range:
    case EgressVerdict::denied_own_address: return std::string(reason) + " (default policy)";
    case EgressVerdict::denied_rule: return std::string(reason);
  }
  return std::string(reason);
}

Result<EgressPolicy> EgressPolicy::create(const EgressConfig& cfg) {
  EgressPolicy p;
  const auto parse_list = [](const std::vector<std::string>& texts, const char* key,
                             std::vector<EgressRule>& out) -> Result<void> {
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto r = parse_egress_rule(texts[i], std::string(key) + "[" + std::to_string(i) + "]");
      if (!r) return r.error();
      out.push_back(std::move(r.value()));
    }
    return {};
  };
  if (auto r = parse_list(cfg.allow_targets, "allow_targets", p.allow_); !r) return r.error();
  if (auto r = parse_list(cfg.deny_targets, "deny_targets", p.deny_); !r) return r.error();
  for (const PeerAddr& a : cfg.own_addresses) {
    PeerAddr own = unmap(a);
    own.port = 0;
    if (std::find(p.own_.begin(), p.own_.end(), own) == p.own_.end()) p.own_.push_back(own);
  }
  return p;
}

EgressDecision EgressPolicy::decide(const PeerAddr& target) const {
  const PeerAddr t = unmap(target);
  for (const EgressRule& r : deny_) {
    if (r.matches(t)) return {EgressVerdict::denied_rule, r.label};
  }
  for (const EgressRule& r : allow_) {
    if (r.matches(t)) return {EgressVerdict::allowed, r.label};
  }
  for (const DefaultRange& d : kDefaultRanges) {
    if (d.net.contains(t)) return {EgressVerdict::denied_default_range, d.name};
  }
  for (const PeerAddr& own : own_) {
    if (own.same_host(t)) return {EgressVerdict::denied_own_address, "own interface address"};
  }
  return {};
}

}  // namespace paniq::tunnel
