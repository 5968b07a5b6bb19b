#include "obf/text.hpp"

namespace paniq::obf::text {

const char* parse_unsigned(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty()) return "cannot parse integer from empty string";
  if (s.front() == '+') {
    s.remove_prefix(1);
    if (s.empty()) return "invalid digit found in string";  // a lone "+"
  }
  // Left to right, as Rust does: whichever of "bad digit" / "overflow" comes first wins.
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return "invalid digit found in string";
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return "number too large to fit in target type";
    v = v * 10 + d;
  }
  out = v;
  return nullptr;
}

std::string concat(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (auto p : parts) out.append(p);
  return out;
}

std::size_t whitespace_len(std::string_view s, std::size_t pos) {
  const auto at = [&](std::size_t i) -> unsigned {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0x100u;
  };
  const unsigned b0 = at(0);
  if (b0 == ' ' || (b0 >= 0x09 && b0 <= 0x0D)) return 1;
  if (b0 == 0xC2) return (at(1) == 0x85 || at(1) == 0xA0) ? 2 : 0;  // U+0085, U+00A0
  if (b0 == 0xE1) return (at(1) == 0x9A && at(2) == 0x80) ? 3 : 0;  // U+1680
  if (b0 == 0xE3) return (at(1) == 0x80 && at(2) == 0x80) ? 3 : 0;  // U+3000
  if (b0 == 0xE2) {
    const unsigned b1 = at(1), b2 = at(2);
    if (b1 == 0x80 && ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF)) {
      return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
    }
    if (b1 == 0x81 && b2 == 0x9F) return 3;  // U+205F
  }
  return 0;
}

std::string_view trim(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size()) {
    const std::size_t w = whitespace_len(s, n);
    if (w == 0) break;
    n += w;
  }
  s.remove_prefix(n);
  // Trailing: every whitespace character is 1 to 3 bytes; try the longest match ending at the end.
  for (;;) {
    std::size_t cut = 0;
    for (std::size_t len = 1; len <= 3 && len <= s.size(); ++len) {
      if (whitespace_len(s, s.size() - len) == len) cut = len;
    }
    if (cut == 0) return s;
    s.remove_suffix(cut);
  }
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t i = 0, start = 0;
  while (i < s.size()) {
    const std::size_t w = whitespace_len(s, i);
    if (w == 0) {
      ++i;
      continue;
    }
    if (i > start) parts.push_back(s.substr(start, i - start));
    i += w;
    start = i;
  }
  if (i > start) parts.push_back(s.substr(start, i - start));
  return parts;
}

}  // namespace paniq::obf::text
