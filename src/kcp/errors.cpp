#include "kcp/errors.hpp"

#include <string>

namespace paniq::kcp {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "paniq.kcp"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::ok: return "ok";
      case Errc::invalid_config: return "invalid KCP configuration";
      case Errc::short_datagram: return "datagram shorter than a KCP header";
      case Errc::conv_mismatch: return "KCP conversation id mismatch";
      case Errc::truncated_segment: return "KCP segment length runs past the datagram";
      case Errc::unknown_command: return "unknown KCP command";
      case Errc::message_too_large: return "message needs too many KCP fragments";
      case Errc::buffer_too_small: return "receive buffer smaller than the next message";
    }
    return "unknown KCP error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::kcp
