// Internal: string assembly for messages. One allocation, and no `"literal" + std::string&&`
// chains, which trigger GCC 12's -Wrestrict false positive at -O3.
#pragma once

#include <string>
#include <string_view>

namespace paniq::profile::detail {

template <class... Parts>
std::string cat(const Parts&... parts) {
  const std::string_view views[] = {std::string_view(parts)...};
  std::size_t n = 0;
  for (std::string_view v : views) n += v.size();
  std::string out;
  out.reserve(n);
  for (std::string_view v : views) out.append(v);
  return out;
}

}  // namespace paniq::profile::detail
