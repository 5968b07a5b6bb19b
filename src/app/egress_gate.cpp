#include "app/egress_gate.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <spdlog/spdlog.h>

#include "net/clock.hpp"
#include "net/endpoint.hpp"

namespace paniq::app {
namespace {

constexpr std::size_t kUses = 2;

std::size_t log_key(EgressGate::Use use, tunnel::EgressVerdict v) {
  return static_cast<std::size_t>(v) * kUses + static_cast<std::size_t>(use);
}

}  // namespace

EgressGate::EgressGate(tunnel::EgressPolicy policy, std::uint32_t log_per_second)
    : policy_(std::move(policy)), log_(tunnel::kEgressVerdictCount * kUses, log_per_second) {}

tunnel::EgressDecision EgressGate::decide(const asio::ip::address& a, std::uint16_t port) const {
  return policy_.decide(net::to_peer(net::udp::endpoint(a, port)));
}

void EgressGate::refused(Use use, const socks5::Address& target, const asio::ip::address& a,
                         const tunnel::EgressDecision& d) {
  auto& counters = use == Use::connect ? stats_.connect_refused : stats_.udp_dropped;
  ++counters[static_cast<std::size_t>(d.verdict)];
  const std::size_t key = log_key(use, d.verdict);
  if (!log_.allow(key, net::now_ms())) return;
  const std::uint64_t skipped = log_.take_suppressed(key);
  std::string what = target.to_string();
  if (target.type() == socks5::AddressType::Domain) {
    what += " (" + net::unmap(a).to_string() + ")";
  }
  const std::string more = skipped ? fmt::format(" ({} more not logged)", skipped) : std::string();
  if (use == Use::connect) {
    spdlog::info("egress to {} refused: {}{}", what, d.describe(), more);
  } else {
    spdlog::info("UDP egress to {} dropped: {}{}", what, d.describe(), more);
  }
}

Result<std::vector<tunnel::PeerAddr>> own_interface_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    const int e = errno;
    return Error{std::error_code(e, std::generic_category()),
                 std::string("cannot read the interface addresses (getifaddrs): ") + std::strerror(e)};
  }
  std::vector<tunnel::PeerAddr> out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      std::array<std::uint8_t, 4> b{};
      std::memcpy(b.data(), &sin->sin_addr, 4);
      out.push_back(tunnel::PeerAddr::v4(b, 0));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      std::array<std::uint8_t, 16> b{};
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      out.push_back(tunnel::PeerAddr::v6(b, 0));
    }
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace paniq::app
