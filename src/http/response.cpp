#include "http/response.hpp"

namespace paniq::http {

bool ResponseHead::keep_alive() const {
  if (has_token(headers, "Connection", "close")) return false;
  if (version_minor >= 1) return true;
  return has_token(headers, "Connection", "keep-alive");
}

Errc parse_response(std::string_view line, std::vector<Header> headers, ResponseHead& out) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !digit(line[5]) || line[6] != '.' ||
      !digit(line[7]) || line[8] != ' ' || !digit(line[9]) || !digit(line[10]) || !digit(line[11]) ||
      (line.size() > 12 && line[12] != ' ')) {
    return Errc::bad_status_line;
  }
  if (line[5] != '1') return Errc::bad_version;
  ResponseHead r;
  r.version_minor = line[7] == '0' ? 0 : 1;
  r.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (r.status < 100) return Errc::bad_status_line;
  r.reason = line.size() > 13 ? std::string(line.substr(13)) : std::string();
  r.headers = std::move(headers);
  out = std::move(r);
  return Errc::ok;
}

ResponseParser::Step ResponseParser::put(ByteView in) {
  return put_and_parse(reader_, in, head_, failed_, parse_response);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string simple_response(int status, std::string_view detail, const std::vector<std::string>& extra,
                            bool keep_alive) {
  std::string body(detail);
  body += "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  for (const std::string& h : extra) out += h + "\r\n";
  out += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n" + body;
  return out;
}

std::string_view connect_established() { return "HTTP/1.1 200 Connection established\r\n\r\n"; }

}  // namespace paniq::http
