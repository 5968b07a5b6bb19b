#include "profile/errors.hpp"

namespace paniq::profile {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "paniq.profile"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::io: return "cannot read file";
      case Errc::invalid_json: return "invalid JSON";
      case Errc::missing_field: return "missing required field";
      case Errc::invalid_type: return "wrong value type";
      case Errc::invalid_value: return "invalid value";
      case Errc::validation: return "configuration rule broken";
      case Errc::cbor: return "invalid compact profile";
      case Errc::link: return "invalid pnq:// link";
    }
    return "unknown profile error";
  }
};

}  // namespace

const std::error_category& profile_category() {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), profile_category()}; }

}  // namespace paniq::profile
