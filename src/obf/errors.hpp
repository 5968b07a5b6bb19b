// Errors of the obfuscation layer (STYLE.md 5): one enum, one std::error_category.
#pragma once

#include <system_error>

namespace paniq::obf {

enum class Errc {
  bad_header = 1,      // header range spec does not parse (PROTOCOL.md 3.3)
  bad_chain,           // signature chain spec does not parse (3.2)
  bad_config,          // Config::validate rule broken (2.1.4)
  signature_mismatch,  // de-obfuscation: input does not fit the chain
};

const std::error_category& error_category();
std::error_code make_error_code(Errc e);

}  // namespace paniq::obf

template <>
struct std::is_error_code_enum<paniq::obf::Errc> : std::true_type {};
