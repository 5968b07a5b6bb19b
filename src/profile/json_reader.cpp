#include "profile/json_reader.hpp"

#include <cmath>

#include "profile/text.hpp"

namespace paniq::profile::detail {
namespace {

constexpr std::size_t kMaxDepth = 64;

struct TooDeep {};

// Line and column (1-based) of byte offset `pos` in `text`.
std::pair<std::size_t, std::size_t> line_col(std::string_view text, std::size_t pos) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// Reason part of an nlohmann error: after "parse error at line L, column C: " for parse errors,
// after the "[json.exception.x.n] " tag otherwise.
std::string parse_reason(const std::string& what) {
  const std::size_t colon = what.find(": ");
  if (what.find("parse error") != std::string::npos && colon != std::string::npos)
    return what.substr(colon + 2);
  const std::size_t tag = what.find("] ");
  return tag == std::string::npos ? what : what.substr(tag + 2);
}

struct Frame {
  bool is_object = false;
  bool checked = false;
  std::string path;
  std::string key;  // last key seen (objects)
  std::set<std::string, std::less<>> keys;
};

}  // namespace

Result<json> parse_json(std::string_view text, const std::function<bool(const std::string&)>& checked) {
  std::vector<Frame> stack;
  std::optional<std::string> duplicate;
  auto child_path = [&stack]() -> std::string {
    if (stack.empty()) return "";
    const Frame& top = stack.back();
    if (!top.is_object) return cat(top.path, "[]");
    return top.path.empty() ? top.key : cat(top.path, ".", top.key);
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        if (stack.size() >= kMaxDepth) throw TooDeep{};
        Frame f;
        f.is_object = event == json::parse_event_t::object_start;
        f.path = child_path();
        f.checked = f.is_object && checked(f.path);
        stack.push_back(std::move(f));
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& top = stack.back();
        top.key = parsed.get<std::string>();
        if (top.checked && !top.keys.insert(top.key).second && !duplicate) {
          duplicate = top.path.empty() ? top.key : cat(top.path, ".", top.key);
        }
        break;
      }
      case json::parse_event_t::value: break;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), cb);
  } catch (const json::parse_error& e) {
    const auto [line, col] = line_col(text, e.byte == 0 ? 0 : e.byte - 1);
    return make_error(Errc::invalid_json,
                      detail::cat("invalid JSON at line ", std::to_string(line), " column ",
                                  std::to_string(col), ": ", parse_reason(e.what())));
  } catch (const json::exception& e) {  // e.g. out_of_range.406: number overflow
    return make_error(Errc::invalid_json, cat("invalid JSON: ", parse_reason(e.what())));
  } catch (const TooDeep&) {
    return make_error(Errc::invalid_json,
                      cat("invalid JSON: nested deeper than ", std::to_string(kMaxDepth)));
  }
  if (duplicate) return make_error(Errc::invalid_json, cat(*duplicate, ": duplicate field"));
  return doc;
}

std::string show(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

const json* ObjectReader::find(const char* key) {
  known_.insert(key);
  if (error_) return nullptr;
  const auto it = obj_.find(key);
  return it == obj_.end() ? nullptr : &*it;
}

void ObjectReader::require(const char* key) {
  known_.insert(key);
  if (!error_ && !obj_.contains(key)) {
    error_ = make_error(Errc::missing_field, cat(path(key), ": missing required field"));
  }
}

void ObjectReader::fail(const char* key, const json& value, std::string_view reason, Errc code) {
  if (!error_) error_ = make_error(code, cat(path(key), ": ", show(value), ": ", reason));
}

void ObjectReader::fail_message(Error err) {
  if (!error_) error_ = std::move(err);
}

void ObjectReader::read_bool(const char* key, bool& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_boolean())
    out = v->get<bool>();
  else
    fail(key, *v, "must be true or false", Errc::invalid_type);
}

void ObjectReader::read_bool(const char* key, std::optional<bool>& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_null())
    out.reset();
  else if (v->is_boolean())
    out = v->get<bool>();
  else
    fail(key, *v, "must be true, false or null", Errc::invalid_type);
}

void ObjectReader::read_string(const char* key, std::string& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_string())
    out = v->get<std::string>();
  else
    fail(key, *v, "must be a string", Errc::invalid_type);
}

void ObjectReader::read_string(const char* key, std::optional<std::string>& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_null())
    out.reset();
  else if (v->is_string())
    out = v->get<std::string>();
  else
    fail(key, *v, "must be a string or null", Errc::invalid_type);
}

void ObjectReader::read_number(const char* key, double& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_number())
    out = v->get<double>();
  else
    fail(key, *v, "must be a number", Errc::invalid_type);
}

bool ObjectReader::convert_profile_duration(const char* key, const json& v, Millis& out) {
  std::optional<Millis> d;
  if (v.is_number_unsigned())
    d = profile_duration_from_seconds(v.get<std::uint64_t>());
  else if (v.is_number_integer() && v.get<std::int64_t>() == 0)
    d = Millis(0);
  else if (v.is_string())
    d = parse_profile_duration(v.get_ref<const std::string&>());
  if (!d) {
    fail(key, v, "invalid duration",
         v.is_string() || v.is_number() ? Errc::invalid_value : Errc::invalid_type);
    return false;
  }
  out = *d;
  return true;
}

void ObjectReader::read_profile_duration(const char* key, Millis& out) {
  if (const json* v = find(key)) convert_profile_duration(key, *v, out);
}

void ObjectReader::read_profile_duration(const char* key, std::optional<Millis>& out) {
  const json* v = find(key);
  if (!v) return;
  if (v->is_null()) {
    out.reset();
    return;
  }
  Millis d{0};
  if (convert_profile_duration(key, *v, d)) out = d;
}

void ObjectReader::read_daemon_duration(const char* key, Millis& out) {
  const json* v = find(key);
  if (!v) return;
  if (!v->is_string()) {
    fail(key, *v, "must be a duration string such as \"5s\" or \"500ms\"", Errc::invalid_type);
    return;
  }
  auto d = parse_daemon_duration(v->get_ref<const std::string&>());
  if (d)
    out = *d;
  else
    fail(key, *v, d.error().message, Errc::invalid_value);
}

void ObjectReader::unknown_keys(std::vector<std::string>& warnings) const {
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (!known_.contains(it.key())) warnings.push_back(cat("unknown field \"", path(it.key()), "\" ignored"));
  }
}

void read_string_list(ObjectReader& r, const char* key, std::vector<std::string>& out) {
  const json* v = r.find(key);
  if (!v) return;
  if (!v->is_array()) {
    r.fail(key, *v, "must be an array of strings", Errc::invalid_type);
    return;
  }
  std::vector<std::string> items;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_string()) {
      r.fail_message(make_error(Errc::invalid_type, detail::cat(r.path(key), "[", std::to_string(i),
                                                                "]: ", detail::show(item),
                                                                ": must be a string")));
      return;
    }
    items.push_back(item.get<std::string>());
  }
  out = std::move(items);
}

}  // namespace paniq::profile::detail
