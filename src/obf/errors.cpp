#include "obf/errors.hpp"

#include <string>

namespace paniq::obf {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "obf"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::bad_header: return "invalid header range";
      case Errc::bad_chain: return "invalid signature chain";
      case Errc::bad_config: return "invalid obfuscation config";
      case Errc::signature_mismatch: return "input does not match the signature chain";
    }
    return "unknown obf error";
  }
};

}  // namespace

const std::error_category& error_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), error_category()}; }

}  // namespace paniq::obf
