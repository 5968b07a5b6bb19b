// Errors of the http layer (STYLE.md 5): one enum, one std::error_category, and the HTTP
// status a proxy answers a client with for each request error. Value 0 (`ok`) is success.
#pragma once

#include <system_error>

namespace paniq::http {

enum class Errc {
  ok = 0,
  bad_request_line,       // not `METHOD SP target SP HTTP/x.y`                      -> 400
  bad_version,            // HTTP version other than 1.0 / 1.1 (HTTP/2 preface too)   -> 505
  bad_method,             // method is not a token                                   -> 400
  origin_form,            // `GET /path` sent to a proxy (no scheme and host)        -> 400
  bad_target,             // unparsable authority / absolute URI / port              -> 400
  unsupported_scheme,     // absolute-form with a scheme other than http (https://)  -> 501
  bad_header,             // header line without ':', name not a token, obs-fold     -> 400
  uri_too_long,           // request line over the line limit                        -> 414
  line_too_long,          // a header line over the line limit                       -> 431
  head_too_large,         // the whole head over the limit                           -> 431
  too_many_headers,       // more header lines than the limit                        -> 431
  bad_content_length,     // Content-Length not digits, or conflicting values        -> 400
  bad_transfer_encoding,  // last coding not chunked, or beside Content-Length       -> 400
  bad_chunk,              // chunked body framing broken (size line, CRLF, trailer)
  bad_status_line,        // response: not `HTTP/x.y SP 3DIGIT ...`
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

// Status a proxy answers a request error with (400, 414, 431, 501, 505; 400 for errors
// that are not about requests).
int status_for(Errc e);

}  // namespace paniq::http

template <>
struct std::is_error_code_enum<paniq::http::Errc> : std::true_type {};
