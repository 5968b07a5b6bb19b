#include "profile/users.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "crypto/crypto.hpp"
#include "profile/json_reader.hpp"
#include "profile/text.hpp"

namespace paniq::profile {
namespace {

using detail::json;

Error bad(const std::string& path, const json& v, const std::string& why) {
  return make_error(Errc::invalid_value, detail::cat(path, ": ", detail::show(v), ": ", why));
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (const char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<UserEntry>> parse_users_json(std::string_view text) {
  auto doc = detail::parse_json(text, [](const std::string&) { return true; });
  if (!doc) return doc.error();
  if (!doc->is_object() || !doc->contains("users")) {
    return make_error(Errc::missing_field, "users: missing (expected {\"users\": [...]})");
  }
  const json& list = (*doc)["users"];
  if (!list.is_array()) return bad("users", list, "must be an array");
  std::vector<UserEntry> out;
  std::set<std::string> names, keys;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = "users[" + std::to_string(i) + "]";
    const json& e = list[i];
    if (!e.is_object()) return bad(at, e, "must be an object with name and public_key");
    for (const char* k : {"name", "public_key"}) {
      if (!e.contains(k)) return make_error(Errc::missing_field, at + "." + k + ": missing");
      if (!e[k].is_string()) return bad(at + "." + k, e[k], "must be a string");
    }
    for (const auto& [k, v] : e.items()) {
      if (k != "name" && k != "public_key" && k != "max_streams") {
        return bad(at + "." + k, v, "unknown field");
      }
    }
    UserEntry u{e["name"].get<std::string>(), e["public_key"].get<std::string>(), std::nullopt};
    if (e.contains("max_streams")) {
      const json& m = e["max_streams"];
      if (!m.is_number_unsigned() || m.get<std::uint64_t>() == 0 ||
          m.get<std::uint64_t>() > 0xFFFFFFFFull) {
        return bad(at + ".max_streams", m, "must be an integer 1..4294967295");
      }
      u.max_streams = m.get<std::uint64_t>();
    }
    if (!valid_name(u.name)) {
      return bad(at + ".name", e["name"], "must be 1-64 characters of A-Z a-z 0-9 . _ @ -");
    }
    const auto key = crypto::base64_decode(u.public_key);
    if (!key || key->size() != 32) {
      return bad(at + ".public_key", e["public_key"], "not a base64 X25519 public key (32 bytes)");
    }
    if (!names.insert(u.name).second) return bad(at + ".name", e["name"], "used twice");
    if (!keys.insert(u.public_key).second) {
      return bad(at + ".public_key", e["public_key"], "used twice");
    }
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<UserEntry>> load_users_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, detail::cat("users file ", path, ": cannot open file"));
  std::ostringstream buf;
  buf << in.rdbuf();
  auto u = parse_users_json(buf.str());
  if (!u) return Error{u.error().code, detail::cat("users file ", path, ": ", u.error().message)};
  return u;
}

std::string users_to_json(const std::vector<UserEntry>& users) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const UserEntry& u : users) {
    nlohmann::ordered_json e{{"name", u.name}, {"public_key", u.public_key}};
    if (u.max_streams) e["max_streams"] = *u.max_streams;
    list.push_back(std::move(e));
  }
  nlohmann::ordered_json doc;
  doc["users"] = std::move(list);
  return doc.dump(2) + "\n";
}

}  // namespace paniq::profile
