// Obfuscation-layer vocabulary: message types, header ranges, configuration.
// Pure: no sockets, clocks or OS randomness (STYLE.md 1).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace paniq::obf {

// Wire message types (PROTOCOL.md 3.1). Index into per-type arrays with `index(t)`.
enum class MessageType : std::uint8_t { Initiation = 1, Response = 2, CookieReply = 3, Transport = 4 };
constexpr std::size_t index(MessageType t) { return static_cast<std::size_t>(t) - 1; }
const char* to_string(MessageType t);

// Inclusive u32 range for the 4-byte magic header of one message type (PROTOCOL.md 3.3).
struct HeaderRange {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  bool contains(std::uint32_t v) const { return v >= start && v <= end; }
  bool overlaps(const HeaderRange& o) const { return start <= o.end && o.start <= end; }
  std::uint64_t width() const { return std::uint64_t{end} - start + 1; }
  std::string to_string() const;  // "A" or "A-B"
  friend bool operator==(const HeaderRange&, const HeaderRange&) = default;
};

// Parses "A" or "A-B" (u32 decimal, optional '+', no spaces). Error messages carry no field path
// (the profile layer adds it): "bad format", "failed to parse <text>: <reason>",
// "start above end".
// On failure the caller rejects the configuration (Errc::bad_header).
Result<HeaderRange> parse_header_range(std::string_view spec);

// Parses the profile field h1..h4 (`index` 0..3): an empty spec becomes the default "1".."4"
// (PROTOCOL.md 3.3), then parse_header_range. Errors name the field and the value:
// `obfuscation.h2: "9-3": start above end`; the caller rejects the profile.
Result<HeaderRange> parse_header_field(std::size_t index, std::string_view spec);

// How a received datagram that matches several types is treated (docs/protocol.md).
enum class ClassifyMode : std::uint8_t {
  FirstMatch,  // reference order Transport, Initiation, Response, CookieReply; first match wins
  Strict,      // a datagram matching more than one type is rejected (Go original's rule)
};

// Everything the Framer needs (obfuscation part of the profile after defaulting).
struct Config {
  std::int32_t jc = 0, jmin = 0, jmax = 0;
  std::array<std::uint32_t, 4> s{};                   // S1..S4 prefix padding, by index(type)
  std::array<HeaderRange, 4> h{{{1, 1}, {2, 2}, {3, 3}, {4, 4}}};  // H1..H4
  std::array<std::string, 5> i{};                     // I1..I5 chain specs ("" = none)
  ClassifyMode classify = ClassifyMode::FirstMatch;

  static Config defaults() { return Config{}; }
  // Reference rules of PROTOCOL.md 2.1.4 (non-negative J/S, jmin <= jmax, disjoint headers,
  // parseable chains). Returns the first broken rule; message names the field, e.g.
  // "obfuscation.h1/obfuscation.h2: headers must not overlap (1-10 and 2)".
  // Also rejects a HeaderRange built with start > end. Errc::bad_config; the caller must not
  // use the config (server: refuse to start; client: fail the connection attempt).
  Result<void> validate() const;
};

}  // namespace paniq::obf
