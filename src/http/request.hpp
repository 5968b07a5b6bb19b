// HTTP/1.x proxy requests (RFC 9112 3, RFC 9110 9.3.6): the request line and headers a client
// sends to a forward proxy, and the head the proxy sends on to the origin.
//
// Accepted request targets:
//   CONNECT host:port                      authority-form (RFC 9112 3.2.3); port required
//   METHOD http://host[:port][/path][?q]   absolute-form (3.2.2); port 80 by default
// Refused: origin-form `GET /path` (400: a proxy needs the host), `*` (400), other schemes
// such as https:// in absolute-form (501: a client must use CONNECT for TLS), userinfo in the
// authority (400), CONNECT with any other form and other methods in authority-form (400).
// Hosts are reg-names or IP literals ([v6] in brackets); no DNS or IDNA here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "http/body.hpp"
#include "http/errors.hpp"
#include "http/head.hpp"

namespace paniq::http {

enum class TargetForm : std::uint8_t { Authority, Absolute };

struct RequestHead {
  std::string method;     // case-sensitive token ("GET", "CONNECT")
  std::string target;     // as sent
  int version_minor = 1;  // HTTP/1.<minor>: 0 or 1
  TargetForm form = TargetForm::Absolute;
  std::string host;  // without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string authority;  // Host header value for the origin: host (in brackets if IPv6) + ":port" unless 80
  std::string path;       // origin-form: "/" when the URI has no path; query kept; fragment dropped
  std::vector<Header> headers;
  BodyFraming body;  // the request body (None for CONNECT)

  bool is_connect() const { return form == TargetForm::Authority; }
  // The client's wish to keep the connection (RFC 9112 9.3): HTTP/1.1 unless "close" is in
  // Connection or Proxy-Connection; HTTP/1.0 only with "keep-alive" in one of them.
  bool keep_alive() const;
};

// Parses the request line and checks the headers of a complete head. Errors: see Errc (the
// caller answers status_for(error) and closes).
Errc parse_request(std::string_view start_line, std::vector<Header> headers, RequestHead& out);

// Incremental request head parser: HeadReader + parse_request.
class RequestParser {
 public:
  using Status = HeadReader::Status;
  using Step = HeadReader::Step;

  explicit RequestParser(HeadLimits limits = HeadLimits::defaults()) : reader_(limits, Errc::uri_too_long) {}
  // As HeadReader::put; Done means head() is valid, Error that `error` says why (the
  // parse_request errors included).
  Step put(ByteView in);
  void reset() {
    reader_.reset();
    failed_ = Errc::ok;
  }
  const RequestHead& head() const { return head_; }

 private:
  HeadReader reader_;
  RequestHead head_;
  Errc failed_ = Errc::ok;
};

struct Credentials {
  std::string username;
  std::string password;
  friend bool operator==(const Credentials&, const Credentials&) = default;
};
// `Basic <base64(user ":" password)>` (RFC 7617; scheme case-insensitive). nullopt for other
// schemes, bad base64 or no ':' in the decoded text.
std::optional<Credentials> basic_credentials(std::string_view header_value);
// Constant-time check of the Proxy-Authorization header against `want` (absent -> false).
bool proxy_authorized(const RequestHead& req, const Credentials& want);

// The head to send to the origin for an absolute-form request (RFC 9112 3.2.2, RFC 9110 7.6.1):
// `METHOD path HTTP/1.x`, Host set to the URI's authority (a client's Host is replaced), the
// hop-by-hop fields removed (Connection and the fields it names, Proxy-Connection,
// Proxy-Authorization, Keep-Alive, TE, Trailer, Upgrade), then `Connection: close` when the
// client does not keep its connection (HTTP/1.0 with keep-alive: `Connection: keep-alive`).
// No Via (a censorship-resistance proxy does not announce itself).
std::string upstream_head(const RequestHead& req);

}  // namespace paniq::http
