#include "envelope/errors.hpp"

#include <string>

namespace paniq::envelope {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "envelope"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::payload_too_large:
        return "transport payload too large";
      case Errc::buffer_too_small:
        return "buffer too small for the transport payload";
      case Errc::too_short_for_counter:
        return "transport payload too short for the counter";
      case Errc::too_short_for_length:
        return "transport payload too short for the length";
      case Errc::inner_truncated:
        return "transport payload shorter than its inner length";
      case Errc::response_too_short:
        return "Response payload too short for conv_id";
      case Errc::low_order_key:
        return "X25519 with a low-order public key";
      case Errc::timestamp_malformed:
        return "malformed encrypted timestamp";
      case Errc::timestamp_auth_failed:
        return "encrypted timestamp failed authentication";
      case Errc::timestamp_out_of_range:
        return "timestamp out of range";
      case Errc::noise_failed:
        return "encrypted handshake message rejected";
    }
    return "unknown envelope error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::envelope
