#include "http/errors.hpp"

#include <string>

namespace paniq::http {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "http"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "success";
      case Errc::bad_request_line: return "malformed request line";
      case Errc::bad_version: return "unsupported HTTP version";
      case Errc::bad_method: return "malformed method";
      case Errc::origin_form: return "request target is not an absolute URI (origin-form sent to a proxy)";
      case Errc::bad_target: return "malformed request target";
      case Errc::unsupported_scheme: return "unsupported URI scheme (only http:// and CONNECT)";
      case Errc::bad_header: return "malformed header line";
      case Errc::uri_too_long: return "request line too long";
      case Errc::line_too_long: return "header line too long";
      case Errc::head_too_large: return "request head too large";
      case Errc::too_many_headers: return "too many header lines";
      case Errc::bad_content_length: return "invalid Content-Length";
      case Errc::bad_transfer_encoding: return "invalid Transfer-Encoding";
      case Errc::bad_chunk: return "malformed chunked body";
      case Errc::bad_status_line: return "malformed status line";
    }
    return "unknown http error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

int status_for(Errc e) {
  switch (e) {
    case Errc::bad_version: return 505;
    case Errc::unsupported_scheme: return 501;
    case Errc::uri_too_long: return 414;
    case Errc::head_too_large:
    case Errc::too_many_headers: return 431;
    case Errc::line_too_long: return 431;
    default: return 400;
  }
}

}  // namespace paniq::http
