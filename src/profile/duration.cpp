#include "profile/duration.hpp"

#include <cstdio>
#include <limits>

#include "profile/errors.hpp"
#include "profile/text.hpp"

namespace paniq::profile {
namespace {

constexpr std::uint64_t kMaxMillis = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

std::optional<Millis> scaled(std::optional<std::uint64_t> n, std::uint64_t ms_per_unit) {
  if (!n || *n > kMaxMillis / ms_per_unit) return std::nullopt;
  return Millis(static_cast<std::int64_t>(*n * ms_per_unit));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Error duration_error(std::string reason) { return make_error(Errc::invalid_value, std::move(reason)); }

// "<int>.<frac>" seconds of the daemon syntax; frac keeps its first three digits.
Result<Millis> daemon_fractional_seconds(std::string_view num, std::string_view whole) {
  const std::size_t dot = num.find('.');
  const std::string_view secs_text = num.substr(0, dot);
  std::string_view frac = num.substr(dot + 1);
  const auto secs = parse_unsigned(secs_text);
  if (!secs) return duration_error(detail::cat("invalid seconds: ", secs_text));
  std::string millis_text(frac.substr(0, 3));
  millis_text.resize(3, '0');
  for (char c : millis_text) {
    if (c < '0' || c > '9') return duration_error(detail::cat("invalid milliseconds: ", millis_text));
  }
  const auto base = scaled(secs, 1000);
  const std::int64_t millis = std::stoi(millis_text);
  if (!base || base->count() > std::numeric_limits<std::int64_t>::max() - millis) {
    return duration_error(detail::cat("duration out of range: ", whole));
  }
  return Millis(base->count() + millis);
}

}  // namespace

std::string_view trim_whitespace(std::string_view s) {
  // Unicode White_Space (what Rust's str::trim removes), as UTF-8 byte sequences.
  auto ws_len = [](std::string_view t, std::size_t at) -> std::size_t {
    const auto b = [&](std::size_t i) {
      return at + i < t.size() ? static_cast<unsigned char>(t[at + i]) : 0u;
    };
    const unsigned c0 = b(0), c1 = b(1), c2 = b(2);
    if ((c0 >= 0x09 && c0 <= 0x0d) || c0 == 0x20) return 1;
    if (c0 == 0xc2 && (c1 == 0x85 || c1 == 0xa0)) return 2;
    if (c0 == 0xe1 && c1 == 0x9a && c2 == 0x80) return 3;
    if (c0 == 0xe2 && c1 == 0x80 && (c2 <= 0x8a || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf) && c2 >= 0x80)
      return 3;
    if (c0 == 0xe2 && c1 == 0x81 && c2 == 0x9f) return 3;
    if (c0 == 0xe3 && c1 == 0x80 && c2 == 0x80) return 3;
    return 0;
  };
  while (const std::size_t n = ws_len(s, 0)) s.remove_prefix(n);
  for (bool trimmed = true; trimmed && !s.empty();) {
    trimmed = false;
    for (std::size_t n = 1; n <= 3 && n <= s.size(); ++n) {
      if (ws_len(s, s.size() - n) == n) {
        s.remove_suffix(n);
        trimmed = true;
        break;
      }
    }
  }
  return s;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<Millis> profile_duration_from_seconds(std::uint64_t seconds) { return scaled(seconds, 1000); }

std::optional<Millis> parse_profile_duration(std::string_view text) {
  const std::string_view s = trim_whitespace(text);
  if (ends_with(s, "ms")) return scaled(parse_unsigned(s.substr(0, s.size() - 2)), 1);
  if (ends_with(s, "s")) return scaled(parse_unsigned(s.substr(0, s.size() - 1)), 1000);
  if (ends_with(s, "m")) return scaled(parse_unsigned(s.substr(0, s.size() - 1)), 60'000);
  if (ends_with(s, "h")) return scaled(parse_unsigned(s.substr(0, s.size() - 1)), 3'600'000);
  return scaled(parse_unsigned(s), 1000);
}

std::string format_profile_duration(Millis d) {
  const std::int64_t ms = d.count() < 0 ? 0 : d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  const std::int64_t secs = ms / 1000;
  if (secs >= 60 && secs % 60 == 0) return std::to_string(secs / 60) + "m";
  return std::to_string(secs) + "s";
}

Result<Millis> parse_daemon_duration(std::string_view text) {
  std::string s(trim_whitespace(text));
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const std::string_view sv(s);
  if (ends_with(sv, "ms")) {
    const std::string_view num = trim_whitespace(sv.substr(0, sv.size() - 2));
    const auto v = scaled(parse_unsigned(num), 1);
    if (!v) return duration_error(detail::cat("invalid milliseconds: ", num));
    return *v;
  }
  if (ends_with(sv, "s")) {
    const std::string_view num = trim_whitespace(sv.substr(0, sv.size() - 1));
    const std::size_t dot = num.find('.');
    if (dot != std::string_view::npos && num.find('.', dot + 1) == std::string_view::npos) {
      return daemon_fractional_seconds(num, sv);
    }
    const auto v = scaled(parse_unsigned(num), 1000);
    if (!v) return duration_error(detail::cat("invalid duration: ", s));
    return *v;
  }
  if (ends_with(sv, "m")) {
    const std::string_view num = trim_whitespace(sv.substr(0, sv.size() - 1));
    const auto v = scaled(parse_unsigned(num), 60'000);
    if (!v) return duration_error(detail::cat("invalid minutes: ", num));
    return *v;
  }
  return duration_error(detail::cat("unknown duration format: ", s));
}

std::string format_daemon_duration(Millis d) {
  const std::int64_t ms = d.count() < 0 ? 0 : d.count();
  const std::int64_t secs = ms / 1000, millis = ms % 1000;
  if (secs >= 60 && millis == 0) return std::to_string(secs) + "s";
  if (secs >= 1) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%03d", static_cast<int>(millis));
    return std::to_string(secs) + "." + buf + "s";
  }
  if (millis >= 1) return std::to_string(millis) + "ms";
  return "0s";
}

}  // namespace paniq::profile
