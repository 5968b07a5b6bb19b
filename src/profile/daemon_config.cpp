#include "profile/daemon_config.hpp"

#include <type_traits>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "profile/addr.hpp"
#include "profile/json_reader.hpp"
#include "profile/text.hpp"

namespace paniq::profile {
namespace {

using detail::json;
using detail::ObjectReader;

// The keys both daemons share, read and validated in one place.
template <class Config>
void read_common(ObjectReader& r, Config& c) {
  r.read_string("listen_addr", c.listen_addr);
  r.read_int("workers", c.workers);
  r.read_int("max_connections", c.max_connections);
  r.read_daemon_duration("dial_timeout", c.dial_timeout);
  r.read_daemon_duration("accept_timeout", c.accept_timeout);
  r.read_daemon_duration("idle_timeout", c.idle_timeout);
  r.read_daemon_duration("metrics_interval", c.metrics_interval);
  r.read_string("log_level", c.log_level);
  r.read_string("control_socket", c.control_socket);
  r.read_string("metrics_listen", c.metrics_listen);
}

// An optional array of strings; every element's type is checked (its text is the caller's).
Error invalid(const std::string& key, const std::string& shown, const std::string& reason) {
  return make_error(Errc::invalid_value, detail::cat(key, ": ", shown, ": ", reason));
}

template <class Config>
Result<void> validate_common(Config& c) {
  if constexpr (std::is_same_v<Config, ProxyServerConfig>) {
    // proxy-server may listen on a port range (our extension: port hopping).
    const auto range = parse_socket_addr_range(c.listen_addr);
    if (!range) {
      return invalid("listen_addr", detail::show(json(c.listen_addr)),
                     "invalid socket address (expected IP:port, [IPv6]:port or IP:PORT-PORT)");
    }
    if (range->size() > kMaxListenPorts) {
      return invalid("listen_addr", detail::show(json(c.listen_addr)),
                     detail::cat("port range of ", std::to_string(range->size()), " ports (at most ",
                                 std::to_string(kMaxListenPorts), ")"));
    }
  } else if (!parse_socket_addr(c.listen_addr)) {
    return invalid("listen_addr", detail::show(json(c.listen_addr)),
                   "invalid socket address (expected IP:port or [IPv6]:port)");
  }
  if (c.workers == 0) return invalid("workers", "0", "must be > 0");
  if (c.max_connections == 0) return invalid("max_connections", "0", "must be > 0");
  std::string level = c.log_level;
  for (char& ch : level) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    return invalid("log_level", detail::show(json(c.log_level)), "must be one of debug, info, warn, error");
  }
  c.log_level = level;
  // The reference compares whole seconds: 300.999 s is still accepted.
  if (c.dial_timeout.count() / 1000 > 300) {
    return invalid("dial_timeout", detail::cat("\"", format_daemon_duration(c.dial_timeout), "\""),
                   "too long (max 300s)");
  }
  if (c.accept_timeout.count() / 1000 > 60) {
    return invalid("accept_timeout", detail::cat("\"", format_daemon_duration(c.accept_timeout), "\""),
                   "too long (max 60s)");
  }
  return {};
}

Result<json> parse_root(std::string_view text) {
  auto doc = detail::parse_json(text, [](const std::string& path) { return path.empty(); });
  if (!doc) return doc;
  if (!doc->is_object()) {
    return make_error(Errc::invalid_type,
                      detail::cat("config: ", detail::show(*doc), ": must be a JSON object"));
  }
  return doc;
}

template <class Config, class Parse>
Result<Config> load(const std::string& path, std::vector<std::string>& notes, Parse parse) {
  if (path.empty()) return Config{};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    notes.push_back(detail::cat("config file ", path, " not found; using defaults"));
    return Config{};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, detail::cat("config ", path, ": cannot open file"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return make_error(Errc::io, detail::cat("config ", path, ": read error"));
  Result<Config> c = parse(buf.str(), notes);
  if (!c) return Error{c.error().code, detail::cat("config ", path, ": ", c.error().message)};
  return c;
}

}  // namespace

Result<Socks5dConfig> parse_socks5d_config_json(std::string_view text, std::vector<std::string>& notes) {
  auto doc = parse_root(text);
  if (!doc) return doc.error();
  Socks5dConfig c;
  ObjectReader r(*doc, "");
  read_common(r, c);
  r.read_string("username", c.username);
  r.read_string("password", c.password);
  r.read_bool("fast_connect", c.fast_connect);
  if (!r.ok()) return r.error();
  if (auto v = validate_common(c); !v) return v.error();
  r.unknown_keys(notes);
  return c;
}

Result<ProxyServerConfig> parse_proxy_server_config_json(std::string_view text,
                                                         std::vector<std::string>& notes) {
  auto doc = parse_root(text);
  if (!doc) return doc.error();
  ProxyServerConfig c;
  ObjectReader r(*doc, "");
  read_common(r, c);
  read_string_list(r, "allow_targets", c.allow_targets);
  read_string_list(r, "deny_targets", c.deny_targets);
  r.read_string("users_file", c.users_file);
  r.read_int("max_streams_per_user", c.max_streams_per_user);
  r.read_bool("accept_unauthenticated_clients", c.accept_unauthenticated_clients);
  r.read_bool("speedtest", c.speedtest);
  if (!r.ok()) return r.error();
  if (auto v = validate_common(c); !v) return v.error();
  if (c.max_streams_per_user && *c.max_streams_per_user == 0) {
    return invalid("max_streams_per_user", "0", "must be > 0");
  }
  r.unknown_keys(notes);
  return c;
}

Result<Socks5dConfig> load_socks5d_config(const std::string& path, std::vector<std::string>& notes) {
  return load<Socks5dConfig>(path, notes, parse_socks5d_config_json);
}

Result<ProxyServerConfig> load_proxy_server_config(const std::string& path, std::vector<std::string>& notes) {
  return load<ProxyServerConfig>(path, notes, parse_proxy_server_config_json);
}

}  // namespace paniq::profile
