#include "socks5/errors.hpp"

#include <string>

namespace paniq::socks5 {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "socks5"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "success";
      case Errc::truncated: return "message truncated";
      case Errc::bad_version: return "unsupported protocol version";
      case Errc::bad_address_type: return "unsupported address type";
      case Errc::empty_domain: return "empty domain name";
      case Errc::domain_too_long: return "domain name longer than 255 bytes";
      case Errc::invalid_domain: return "domain name is not valid UTF-8";
      case Errc::bad_reserved: return "SOCKS5 UDP header reserved field not zero";
      case Errc::fragmented: return "SOCKS5 UDP fragmentation not supported";
      case Errc::record_too_large: return "UDP ASSOCIATE record over the length limit";
      case Errc::buffer_too_small: return "output buffer too small";
      case Errc::invalid_config: return "invalid socks5 configuration";
    }
    return "unknown socks5 error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::socks5
