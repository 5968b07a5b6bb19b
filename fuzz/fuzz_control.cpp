// LINK: paniq_app
// Fuzzes the control plane's request handler (PROTOCOL.md 10.2), which reads whatever a local
// client wrote to the control socket. Checks: it never throws or crashes, and the response is
// always valid JSON of exactly one of the three shapes: "Pong" (only for the request "Ping"),
// {"Stats": {the 12 reference counters first, with the values given, then any extension
// counters}} (only for "GetStats") or
// {"Error": "Invalid request: ..."} (for everything else).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/control.hpp"

namespace {

using paniq::app::ControlStats;
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The first 12 x 8 input bytes (when there are that many) become the counters, so the Stats
// shape is checked with arbitrary values, the largest included.
ControlStats stats_from(const std::uint8_t* data, std::size_t size, std::array<std::uint64_t, 12>& v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = 0;
    if (size >= (i + 1) * 8) std::memcpy(&v[i], data + i * 8, 8);
  }
  ControlStats s;
  s.udp_in_bytes = v[0];
  s.udp_out_bytes = v[1];
  s.transport_payload_in_bytes = v[2];
  s.transport_payload_out_bytes = v[3];
  s.transport_padding_in_bytes = v[4];
  s.transport_padding_out_bytes = v[5];
  s.transport_frame_in_bytes = v[6];
  s.transport_frame_out_bytes = v[7];
  s.transport_invalid_length = v[8];
  s.transport_counter_reject = v[9];
  s.transport_payload_too_large = v[10];
  s.active_connections = v[11];
  return s;
}

constexpr std::array<const char*, 12> kStatNames = {
    "udp_in_bytes",          "udp_out_bytes",
    "transport_payload_in_bytes", "transport_payload_out_bytes",
    "transport_padding_in_bytes", "transport_padding_out_bytes",
    "transport_frame_in_bytes",   "transport_frame_out_bytes",
    "transport_invalid_length",   "transport_counter_reject",
    "transport_payload_too_large", "active_connections"};

// The 12 reference counters come first, in the reference's order, with the values given; what
// follows (our extension counters, the "auth" breakdown) is unsigned numbers and objects.
void check_stats(const ordered_json& stats, const std::array<std::uint64_t, 12>& want) {
  check(stats.is_object() && stats.size() >= kStatNames.size());
  std::size_t i = 0;
  for (const auto& [key, value] : stats.items()) {
    if (i < kStatNames.size()) {
      check(key == kStatNames[i] && value.is_number_unsigned() && value.get<std::uint64_t>() == want[i]);
    } else {
      check(value.is_number_unsigned() || value.is_object());
    }
    ++i;
  }
}

// What the request means to a correct server: "Ping", "GetStats" or neither.
enum class Kind { ping, get_stats, other };
Kind request_kind(std::string_view request) {
  const json j = json::parse(request, nullptr, false);
  if (j.is_string() && j.get_ref<const std::string&>() == "Ping") return Kind::ping;
  if (j.is_string() && j.get_ref<const std::string&>() == "GetStats") return Kind::get_stats;
  return Kind::other;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::array<std::uint64_t, 12> values{};
  const ControlStats stats = stats_from(data, size, values);
  const std::string_view request(reinterpret_cast<const char*>(data), size);
  std::string response;
  try {
    response = paniq::app::control_response(request, stats);
  } catch (...) {
    __builtin_trap();  // the server must answer every request, never throw
  }
  const ordered_json r = ordered_json::parse(response, nullptr, false);
  check(!r.is_discarded());
  switch (request_kind(request)) {
    case Kind::ping:
      check(response == "\"Pong\"");
      break;
    case Kind::get_stats:
      check(r.is_object() && r.size() == 1 && r.contains("Stats"));
      check_stats(r.at("Stats"), values);
      break;
    case Kind::other: {
      check(r.is_object() && r.size() == 1 && r.contains("Error") && r.at("Error").is_string());
      const std::string& msg = r.at("Error").get_ref<const std::string&>();
      check(msg.rfind("Invalid request: ", 0) == 0);
      break;
    }
  }
  return 0;
}
