#include "profile/addr.hpp"

#include <cstdio>

namespace paniq::profile {
namespace {

// A cursor over the text with the backtracking the reference grammar needs.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool eof() const { return pos_ == s_.size(); }
  std::size_t pos() const { return pos_; }
  void reset(std::size_t p) { pos_ = p; }
  bool take(char c) {
    if (eof() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  // Reads a number of at most `max_digits` digits (0 = unlimited) in `radix`, value <= `max`.
  // Without `allow_zero_prefix`, "0" is fine but "01" is not. Restores the position on failure.
  std::optional<std::uint32_t> number(unsigned radix, std::size_t max_digits, bool allow_zero_prefix,
                                      std::uint32_t max) {
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    std::size_t digits = 0;
    while (!eof()) {
      const int d = digit(s_[pos_], radix);
      if (d < 0) break;
      value = value * radix + static_cast<unsigned>(d);
      ++digits;
      ++pos_;
      if (value > max || (max_digits != 0 && digits > max_digits)) {
        pos_ = start;
        return std::nullopt;
      }
    }
    if (digits == 0 || (!allow_zero_prefix && digits > 1 && s_[start] == '0')) {
      pos_ = start;
      return std::nullopt;
    }
    return static_cast<std::uint32_t>(value);
  }

 private:
  static int digit(char c, unsigned radix) {
    int d = -1;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    return d >= 0 && static_cast<unsigned>(d) < radix ? d : -1;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<std::array<std::uint8_t, 4>> read_ipv4(Cursor& c) {
  const std::size_t start = c.pos();
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0 && !c.take('.')) {
      c.reset(start);
      return std::nullopt;
    }
    const auto octet = c.number(10, 3, false, 255);
    if (!octet) {
      c.reset(start);
      return std::nullopt;
    }
    out[i] = static_cast<std::uint8_t>(*octet);
  }
  return out;
}

// Reads up to groups.size() ':'-separated groups; an IPv4 tail counts as two groups.
// Returns (groups read, whether the last two came from an IPv4 tail).
std::pair<std::size_t, bool> read_groups(Cursor& c, std::uint16_t* groups, std::size_t limit) {
  for (std::size_t i = 0; i < limit; ++i) {
    const std::size_t before = c.pos();
    if (i + 1 < limit) {
      if (i == 0 || c.take(':')) {
        if (const auto v4 = read_ipv4(c)) {
          groups[i] = static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]);
          groups[i + 1] = static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]);
          return {i + 2, true};
        }
      }
      c.reset(before);
    }
    std::optional<std::uint32_t> g;
    if (i == 0 || c.take(':')) g = c.number(16, 4, true, 0xffff);
    if (!g) {
      c.reset(before);
      return {i, false};
    }
    groups[i] = static_cast<std::uint16_t>(*g);
  }
  return {limit, false};
}

std::optional<std::array<std::uint16_t, 8>> read_ipv6(Cursor& c) {
  std::array<std::uint16_t, 8> head{};
  const auto [head_size, head_v4] = read_groups(c, head.data(), 8);
  if (head_size == 8) return head;
  if (head_v4 || !c.take(':') || !c.take(':')) return std::nullopt;
  std::array<std::uint16_t, 7> tail{};
  const auto [tail_size, tail_v4] = read_groups(c, tail.data(), 8 - (head_size + 1));
  (void)tail_v4;
  std::array<std::uint16_t, 8> out{};
  for (std::size_t i = 0; i < head_size; ++i) out[i] = head[i];
  for (std::size_t i = 0; i < tail_size; ++i) out[8 - tail_size + i] = tail[i];
  return out;
}

std::string format_ipv6(const std::array<std::uint8_t, 16>& ip) {
  std::array<std::uint16_t, 8> seg{};
  for (std::size_t i = 0; i < 8; ++i) seg[i] = static_cast<std::uint16_t>((ip[2 * i] << 8) | ip[2 * i + 1]);
  char buf[64];
  if (seg[0] == 0 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 && seg[4] == 0 && seg[5] == 0xffff) {
    std::snprintf(buf, sizeof buf, "::ffff:%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
    return buf;
  }
  // Longest run of zero groups (first one on ties); only runs of 2+ are compressed.
  std::size_t best_at = 0, best_len = 0;
  for (std::size_t i = 0; i < 8;) {
    std::size_t j = i;
    while (j < 8 && seg[j] == 0) ++j;
    if (j - i > best_len) {
      best_at = i;
      best_len = j - i;
    }
    i = j == i ? i + 1 : j;
  }
  auto join = [&](std::size_t from, std::size_t to) {
    std::string s;
    for (std::size_t i = from; i < to; ++i) {
      std::snprintf(buf, sizeof buf, i == from ? "%x" : ":%x", seg[i]);
      s += buf;
    }
    return s;
  };
  if (best_len < 2) return join(0, 8);
  std::string out = join(0, best_at);
  out.append("::");
  out.append(join(best_at + best_len, 8));
  return out;
}

}  // namespace

std::optional<SocketAddr> parse_socket_addr(std::string_view text) {
  Cursor c(text);
  SocketAddr out;
  if (c.take('[')) {
    const auto groups = read_ipv6(c);
    if (!groups) return std::nullopt;
    out.v6 = true;
    for (std::size_t i = 0; i < 8; ++i) {
      out.ip[2 * i] = static_cast<std::uint8_t>((*groups)[i] >> 8);
      out.ip[2 * i + 1] = static_cast<std::uint8_t>((*groups)[i]);
    }
    const std::size_t before_scope = c.pos();
    if (c.take('%')) {
      const auto scope = c.number(10, 0, true, 0xffffffffu);
      if (scope)
        out.scope_id = *scope;
      else
        c.reset(before_scope);
    }
    if (!c.take(']')) return std::nullopt;
  } else {
    const auto v4 = read_ipv4(c);
    if (!v4) return std::nullopt;
    for (std::size_t i = 0; i < 4; ++i) out.ip[i] = (*v4)[i];
  }
  if (!c.take(':')) return std::nullopt;
  const auto port = c.number(10, 0, true, 0xffff);
  if (!port || !c.eof()) return std::nullopt;
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

std::optional<SocketAddr> parse_ip_addr(std::string_view text) {
  SocketAddr out;
  Cursor c(text);
  if (const auto v4 = read_ipv4(c); v4 && c.eof()) {
    for (std::size_t i = 0; i < 4; ++i) out.ip[i] = (*v4)[i];
    return out;
  }
  c.reset(0);
  const auto groups = read_ipv6(c);
  if (!groups || !c.eof()) return std::nullopt;
  out.v6 = true;
  for (std::size_t i = 0; i < 8; ++i) {
    out.ip[2 * i] = static_cast<std::uint8_t>((*groups)[i] >> 8);
    out.ip[2 * i + 1] = static_cast<std::uint8_t>((*groups)[i]);
  }
  return out;
}

std::string SocketAddr::to_string() const {
  char buf[32];
  if (!v6) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3], port);
    return buf;
  }
  std::string s(1, '[');
  s.append(format_ipv6(ip));
  if (scope_id != 0) s.append(1, '%').append(std::to_string(scope_id));
  s.append("]:").append(std::to_string(port));
  return s;
}

namespace {

std::optional<std::uint16_t> port_number(std::string_view t) {
  if (t.empty() || t.size() > 5) return std::nullopt;
  std::uint32_t v = 0;
  for (const char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// Splits "HOST:A" / "HOST:A-B" at the last ':' into the host text and the two ports.
std::optional<HostPortRange> split_range(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view ports = text.substr(colon + 1);
  const auto dash = ports.find('-');
  const auto a = port_number(ports.substr(0, dash));
  const auto b = dash == std::string_view::npos ? a : port_number(ports.substr(dash + 1));
  if (!a || !b || *b < *a) return std::nullopt;
  return HostPortRange{std::string(text.substr(0, colon)), *a, *b};
}

}  // namespace

std::optional<SocketAddrRange> parse_socket_addr_range(std::string_view text) {
  const auto r = split_range(text);
  if (!r) return std::nullopt;
  auto addr = parse_socket_addr(r->host + ":" + std::to_string(r->first_port));
  if (!addr) return std::nullopt;
  return SocketAddrRange{*addr, r->last_port};
}

std::optional<HostPortRange> parse_host_port_range(std::string_view text) {
  auto r = split_range(text);
  if (!r || r->host.empty()) return std::nullopt;
  if (r->host.front() == '[' && r->host.back() != ']') return std::nullopt;
  if (r->host.find(':') != std::string::npos && r->host.front() != '[') return std::nullopt;
  return r;
}

}  // namespace paniq::profile
