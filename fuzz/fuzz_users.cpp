// LINK: paniq_profile
// The proxy-server users file parser: arbitrary text. Whatever parses is written back with
// users_to_json and must parse to the same entries.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "profile/users.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto users = paniq::profile::parse_users_json(text);
  if (!users) return 0;
  auto again = paniq::profile::parse_users_json(paniq::profile::users_to_json(*users));
  if (!again || *again != *users) std::abort();
  return 0;
}
