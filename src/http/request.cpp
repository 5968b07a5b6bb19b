#include "http/request.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace paniq::http {
namespace {

constexpr std::size_t kMaxHost = 255;  // what the stream-open request can carry

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool reg_name_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

bool ipv6_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// host [":" port] (RFC 3986 3.2.2, 3.2.3) into req.host / req.port / req.authority.
Errc parse_authority(std::string_view a, bool port_required, RequestHead& req) {
  std::string_view host, port;
  bool v6 = false;
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return Errc::bad_target;
    host = a.substr(1, close - 1);
    const std::string_view rest = a.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Errc::bad_target;
    if (!rest.empty()) port = rest.substr(1);
    if (host.empty() || !std::all_of(host.begin(), host.end(), ipv6_char)) return Errc::bad_target;
    v6 = true;
  } else {
    const auto colon = a.find(':');
    host = a.substr(0, colon);
    if (colon != std::string_view::npos) port = a.substr(colon + 1);
    // '@' is not a reg-name character: userinfo is refused here.
    if (host.empty() || !std::all_of(host.begin(), host.end(), reg_name_char)) return Errc::bad_target;
  }
  if (host.size() > kMaxHost) return Errc::bad_target;
  std::uint32_t p = 80;
  if (port.empty()) {
    if (port_required) return Errc::bad_target;
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) return Errc::bad_target;
    std::from_chars(port.data(), port.data() + port.size(), p);
    if (p == 0 || p > 65535) return Errc::bad_target;
  }
  req.host = std::string(host);
  req.port = static_cast<std::uint16_t>(p);
  req.authority.clear();
  if (v6) req.authority += '[';
  req.authority += req.host;
  if (v6) req.authority += ']';
  if (p != 80) {
    req.authority += ':';
    req.authority += std::to_string(p);
  }
  return Errc::ok;
}

Errc parse_absolute(std::string_view t, RequestHead& req) {
  const auto sep = t.find("://");
  if (sep == std::string_view::npos) {
    return !t.empty() && t.front() == '/' ? Errc::origin_form : Errc::bad_target;
  }
  const std::string_view scheme = t.substr(0, sep);
  if (scheme.empty() || !std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' ||
               c == '.';
      })) {
    return Errc::bad_target;
  }
  if (!iequals(scheme, "http")) return Errc::unsupported_scheme;
  std::string_view rest = t.substr(sep + 3);
  const auto end = rest.find_first_of("/?#");
  if (const Errc e = parse_authority(rest.substr(0, end), false, req); e != Errc::ok) return e;
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  path = path.substr(0, path.find('#'));
  req.path.clear();
  if (path.empty() || path.front() != '/') req.path += '/';
  req.path += path;
  return Errc::ok;
}

// Standard base64 (RFC 4648 4), padding optional. nullopt on any other character.
std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a single leftover character cannot encode a byte
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
    const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kHop = {
      "Connection", "Proxy-Connection", "Proxy-Authorization", "Keep-Alive", "TE", "Trailer", "Upgrade",
      "Host"};
  return std::any_of(kHop.begin(), kHop.end(), [&](std::string_view h) { return iequals(h, name); });
}

// Framing and routing fields are never dropped because Connection names them.
bool protected_field(std::string_view name) {
  return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Host");
}

}  // namespace

bool RequestHead::keep_alive() const {
  if (has_token(headers, "Connection", "close") || has_token(headers, "Proxy-Connection", "close"))
    return false;
  if (version_minor >= 1) return true;
  return has_token(headers, "Connection", "keep-alive") ||
         has_token(headers, "Proxy-Connection", "keep-alive");
}

Errc parse_request(std::string_view line, std::vector<Header> headers, RequestHead& out) {
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Errc::bad_request_line;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) return Errc::bad_method;
  if (target.empty()) return Errc::bad_request_line;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) || version[6] != '.' ||
      !is_digit(version[7])) {
    return Errc::bad_request_line;
  }
  if (version[5] != '1' || version[7] > '1') return Errc::bad_version;
  RequestHead req;
  req.method = std::string(method);
  req.target = std::string(target);
  req.version_minor = version[7] - '0';
  if (method == "CONNECT") {
    req.form = TargetForm::Authority;
    if (const Errc e = parse_authority(target, true, req); e != Errc::ok) return e;
  } else {
    req.form = TargetForm::Absolute;
    if (const Errc e = parse_absolute(target, req); e != Errc::ok) return e;
  }
  req.headers = std::move(headers);
  if (req.form == TargetForm::Absolute) {
    if (const Errc e = request_body_framing(req.headers, req.body); e != Errc::ok) return e;
  }
  out = std::move(req);
  return Errc::ok;
}

RequestParser::Step RequestParser::put(ByteView in) {
  return put_and_parse(reader_, in, head_, failed_, parse_request);
}

std::optional<Credentials> basic_credentials(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  const auto sp = v.find(' ');
  if (sp == std::string_view::npos || !iequals(v.substr(0, sp), "Basic")) return std::nullopt;
  std::string_view b64 = v.substr(sp + 1);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  const auto text = base64_decode(b64);
  if (!text) return std::nullopt;
  const auto colon = text->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{text->substr(0, colon), text->substr(colon + 1)};
}

bool proxy_authorized(const RequestHead& req, const Credentials& want) {
  const std::string* v = find_header(req.headers, "Proxy-Authorization");
  if (v == nullptr) return false;
  const auto got = basic_credentials(*v);
  if (!got) return false;
  const bool user_ok = equal_constant_time(got->username, want.username);
  const bool pass_ok = equal_constant_time(got->password, want.password);
  return user_ok && pass_ok;
}

std::string upstream_head(const RequestHead& req) {
  std::vector<std::string_view> named;  // fields the client's Connection header names
  for (const Header& h : req.headers) {
    if (!iequals(h.name, "Connection") && !iequals(h.name, "Proxy-Connection")) continue;
    std::string_view v = h.value;
    for (;;) {
      const auto comma = v.find(',');
      std::string_view item = v.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (!item.empty() && !protected_field(item)) named.push_back(item);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  std::string out;
  out.reserve(256);
  out += req.method + " " + req.path + " HTTP/1." + std::to_string(req.version_minor) + "\r\n";
  out += "Host: " + req.authority + "\r\n";
  for (const Header& h : req.headers) {
    if (hop_by_hop(h.name)) continue;
    if (std::any_of(named.begin(), named.end(), [&](std::string_view n) { return iequals(n, h.name); }))
      continue;
    out += h.name + ": " + h.value + "\r\n";
  }
  if (!req.keep_alive()) {
    out += "Connection: close\r\n";
  } else if (req.version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace paniq::http
