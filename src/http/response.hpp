// HTTP/1.x responses on the proxy's two sides: the origin's response head (parsed to find where
// its body ends and whether the origin keeps the connection; the bytes themselves are forwarded
// unchanged), and the proxy's own short answers (200 Connection established, errors).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "http/body.hpp"
#include "http/errors.hpp"
#include "http/head.hpp"

namespace paniq::http {

struct ResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string reason;
  std::vector<Header> headers;

  // 1xx other than 101: an interim response; the final one follows on the same connection.
  bool interim() const { return status >= 100 && status < 200 && status != 101; }
  // The origin keeps the connection after this response (RFC 9112 9.3).
  bool keep_alive() const;
};

// `HTTP/1.x SP 3DIGIT [SP reason]`, then the headers. bad_status_line, bad_version.
Errc parse_response(std::string_view status_line, std::vector<Header> headers, ResponseHead& out);

// Incremental response head parser (HeadReader + parse_response).
class ResponseParser {
 public:
  using Status = HeadReader::Status;
  using Step = HeadReader::Step;

  explicit ResponseParser(HeadLimits limits = HeadLimits::defaults())
      : reader_(limits, Errc::bad_status_line) {}
  Step put(ByteView in);
  void reset() {
    reader_.reset();
    failed_ = Errc::ok;
  }
  const ResponseHead& head() const { return head_; }

 private:
  HeadReader reader_;
  ResponseHead head_;
  Errc failed_ = Errc::ok;
};

// "Bad Gateway" etc. for the statuses this proxy sends; "Error" for others.
std::string_view reason_phrase(int status);

// A complete response the proxy answers with: status line, `extra` header lines (each without
// line end), Content-Type text/plain, Content-Length, and `Connection: close` unless
// `keep_alive`; body = `detail` + "\n".
std::string simple_response(int status, std::string_view detail, const std::vector<std::string>& extra = {},
                            bool keep_alive = false);

// `HTTP/1.1 200 Connection established` + empty line: the answer to a CONNECT that succeeded.
std::string_view connect_established();

}  // namespace paniq::http
