// The two duration syntaxes of PROTOCOL.md: profile durations (2.1.5) and daemon-config
// durations (2.2). Values are whole milliseconds; anything that does not fit a signed 64-bit
// millisecond count is rejected.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace paniq::profile {

using Millis = std::chrono::milliseconds;

// Profile duration given as a JSON integer: that many seconds. nullopt if it does not fit.
std::optional<Millis> profile_duration_from_seconds(std::uint64_t seconds);

// Profile duration string (2.1.5), trimmed: "Nms" (our extension), "Ns", "Nm", "Nh", or plain "N"
// seconds, N an unsigned decimal (optional '+'). No fractions, no negative values, no unit
// combinations. Returns nullopt for anything else; the caller reports "invalid duration".
std::optional<Millis> parse_profile_duration(std::string_view text);

// Text that parse_profile_duration reads back to the same value: "<N>ms" when not whole seconds,
// "<N>m" for whole minutes, else "<N>s". (The reference prints whole minutes truncated and drops
// milliseconds; whole-second values that are not whole minutes print as "Ns" here.)
std::string format_profile_duration(Millis d);

// Daemon-config duration string (2.2), trimmed and lower-cased: "<int>ms", "<int>s",
// "<int>.<frac>s" (first 3 fractional digits used, fewer padded), "<int>m". On failure the
// error message is the reason alone, e.g. "unknown duration format: 5h" (no field path; the
// caller adds it).
Result<Millis> parse_daemon_duration(std::string_view text);

// 2.2 serialisation: >= 60 s with zero millis -> "<secs>s"; >= 1 s -> "<secs>.<mmm>s";
// >= 1 ms -> "<ms>ms"; else "0s".
std::string format_daemon_duration(Millis d);

// Rust-style unsigned integer parse: optional '+', then one or more ASCII digits, value <= max.
std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max = UINT64_MAX);

// Removes Unicode White_Space (UTF-8) at both ends, as Rust's str::trim does.
std::string_view trim_whitespace(std::string_view s);

}  // namespace paniq::profile
