// Internal: strict JSON parsing with duplicate-key detection and field-path-aware typed readers,
// shared by the profile and the daemon-config parsers. Not part of the public API.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/result.hpp"
#include "profile/duration.hpp"
#include "profile/errors.hpp"

namespace paniq::profile::detail {

using json = nlohmann::json;

// Parses `text` as strict JSON (no comments, no trailing data, nesting <= 64). Objects whose
// dotted path satisfies `checked` ("" = root) must not repeat a key. Errors: Errc::invalid_json
// with line and column, or a duplicate-key message naming the path.
Result<json> parse_json(std::string_view text, const std::function<bool(const std::string&)>& checked);

// Short JSON text of a value for error messages (strings quoted, long values cut).
std::string show(const json& v);

// Reads the members of one JSON object. Each read_* leaves the target untouched when the key is
// absent, stores the value when it has the right type and range, and otherwise records the first
// error (later reads are no-ops). Keys never read are reported by unknown_keys().
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }
  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  // The member, or nullptr when absent (or after an error). Marks the key as known.
  const json* find(const char* key);
  void require(const char* key);
  void fail(const char* key, const json& value, std::string_view reason, Errc code);
  void fail_message(Error err);

  template <class T>
  void read_int(const char* key, T& out) {
    if (const json* v = find(key)) convert_int(key, *v, out);
  }
  template <class T>
  void read_int(const char* key, std::optional<T>& out) {
    const json* v = find(key);
    if (!v) return;
    if (v->is_null()) {
      out.reset();
      return;
    }
    T tmp{};
    if (convert_int(key, *v, tmp)) out = tmp;
  }
  void read_bool(const char* key, bool& out);
  void read_bool(const char* key, std::optional<bool>& out);
  void read_string(const char* key, std::string& out);
  void read_string(const char* key, std::optional<std::string>& out);
  void read_number(const char* key, double& out);
  void read_profile_duration(const char* key, Millis& out);
  void read_profile_duration(const char* key, std::optional<Millis>& out);
  void read_daemon_duration(const char* key, Millis& out);

  // `unknown field "<path>" ignored` for every member never looked up.
  void unknown_keys(std::vector<std::string>& warnings) const;

 private:
  template <class T>
  bool convert_int(const char* key, const json& v, T& out) {
    using L = std::numeric_limits<T>;
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(L::max())) {
        out = static_cast<T>(u);
        return true;
      }
    } else if (v.is_number_integer()) {  // negative (or "-0")
      const auto i = v.get<std::int64_t>();
      if (i >= static_cast<std::int64_t>(L::min())) {
        out = static_cast<T>(i);
        return true;
      }
      if constexpr (std::is_unsigned_v<T>) {
        fail(key, v, "must be a non-negative integer", Errc::invalid_value);
        return false;
      }
    } else {
      fail(key, v, std::is_unsigned_v<T> ? "must be a non-negative integer" : "must be an integer",
           Errc::invalid_type);
      return false;
    }
    if constexpr (std::is_unsigned_v<T>) {
      fail(key, v, "must be at most " + std::to_string(L::max()), Errc::invalid_value);
    } else {
      fail(key, v, "must be between " + std::to_string(L::min()) + " and " + std::to_string(L::max()),
           Errc::invalid_value);
    }
    return false;
  }
  bool convert_profile_duration(const char* key, const json& v, Millis& out);

  const json& obj_;
  std::string prefix_;
  std::set<std::string, std::less<>> known_;
  std::optional<Error> error_;
};

// An array of strings at `key` (absent: `out` untouched). Errors: not an array (invalid_type),
// an item not a string (`key[2]: 5: must be a string`).
void read_string_list(ObjectReader& r, const char* key, std::vector<std::string>& out);

}  // namespace paniq::profile::detail
