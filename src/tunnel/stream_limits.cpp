#include "tunnel/stream_limits.hpp"

#include <utility>

namespace paniq::tunnel {

UserStreamLimits::UserStreamLimits(std::uint64_t default_cap)
    : default_cap_(default_cap == 0 ? 1 : default_cap) {}

void UserStreamLimits::set_overrides(std::map<std::string, std::uint64_t> caps) {
  for (auto& [name, c] : caps) {
    if (c == 0) c = 1;
  }
  caps_ = std::move(caps);
}

std::uint64_t UserStreamLimits::cap(const std::string& user) const {
  const auto it = caps_.find(user);
  return it == caps_.end() ? default_cap_ : it->second;
}

bool UserStreamLimits::acquire(const std::string& user) {
  if (user.empty()) return true;
  Counts& c = users_[user];
  if (c.active >= cap(user)) {
    ++c.refused;
    ++refused_total_;
    return false;
  }
  ++c.active;
  return true;
}

void UserStreamLimits::release(const std::string& user) {
  if (user.empty()) return;
  const auto it = users_.find(user);
  if (it != users_.end() && it->second.active > 0) --it->second.active;
}

UserStreamLimits::Counts UserStreamLimits::counts(const std::string& user) const {
  const auto it = users_.find(user);
  return it == users_.end() ? Counts{} : it->second;
}

}  // namespace paniq::tunnel
