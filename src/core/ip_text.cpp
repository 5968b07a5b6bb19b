#include "core/ip_text.hpp"

#include <algorithm>

#include "core/bytes.hpp"

namespace paniq {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_ipv4(std::string& s, const std::uint8_t* p) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) s += '.';
    s += std::to_string(p[i]);
  }
}

void append_group(std::string& s, std::uint16_t g) {
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned nibble = (g >> shift) & 0xF;
    if (nibble != 0 || started || shift == 0) {
      s += kHexDigits[nibble];
      started = true;
    }
  }
}

}  // namespace

std::string ipv4_text(const std::uint8_t* p) {
  std::string s;
  append_ipv4(s, p);
  return s;
}

std::string ipv6_text(const std::uint8_t* p) {
  std::uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = get_u16_be(p + 2 * i);
  std::string s;
  const bool mapped = std::all_of(g, g + 5, [](std::uint16_t x) { return x == 0; }) && g[5] == 0xFFFF;
  if (mapped) {
    s = "::ffff:";
    append_ipv4(s, p + 12);
    return s;
  }
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    append_group(s, g[i]);
  }
  return s;
}

}  // namespace paniq
