// proxy-server's use of the egress policy (tunnel/egress.hpp, docs/egress.md): the decision for
// each resolved address, the refusal counters the control socket reports, and rate-limited log
// lines ("egress to 127.0.0.1:22 refused: loopback (default policy)"). Also reads the server's
// own interface addresses at start (getifaddrs).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "socks5/address.hpp"
#include "tunnel/egress.hpp"
#include "tunnel/rate_limit.hpp"

namespace paniq::app {

// Refusals by verdict (index = tunnel::EgressVerdict; the `allowed` slot stays 0).
struct EgressStats {
  std::array<std::uint64_t, tunnel::kEgressVerdictCount> connect_refused{};  // CONNECTs answered 0x02
  std::array<std::uint64_t, tunnel::kEgressVerdictCount> udp_dropped{};      // datagrams dropped
};

class EgressGate {
 public:
  enum class Use : std::uint8_t { connect = 0, udp = 1 };

  // `log_per_second` lines per verdict and use at most; the rest are counted and summed into
  // the next line that is logged.
  explicit EgressGate(tunnel::EgressPolicy policy, std::uint32_t log_per_second = 5);

  // The policy's decision for one resolved address (IPv4-mapped judged as IPv4). Counts and
  // logs nothing.
  tunnel::EgressDecision decide(const asio::ip::address& a, std::uint16_t port) const;

  // The addresses of `eps` the policy allows, in their order (maybe none); `refused_ep` and
  // `refusal` get the first refused address and its decision (left alone when none was).
  template <class Endpoint>
  std::vector<Endpoint> filter(const std::vector<Endpoint>& eps, Endpoint& refused_ep,
                               tunnel::EgressDecision& refusal) const {
    std::vector<Endpoint> out;
    bool seen = false;
    for (const Endpoint& ep : eps) {
      const auto d = decide(ep.address(), ep.port());
      if (d.allowed()) {
        out.push_back(ep);
      } else if (!seen) {
        seen = true;
        refused_ep = ep;
        refusal = d;
      }
    }
    return out;
  }

  // Counts one refusal under `d`'s verdict (a CONNECT answered 0x02, or a datagram dropped) and
  // logs it, rate-limited: "egress to TARGET refused: REASON" (TARGET = the requested target,
  // plus the resolved address when it was a name); UDP: "UDP egress to ... dropped: ...".
  void refused(Use use, const socks5::Address& target, const asio::ip::address& a,
               const tunnel::EgressDecision& d);

  const EgressStats& stats() const { return stats_; }
  const tunnel::EgressPolicy& policy() const { return policy_; }

 private:
  tunnel::EgressPolicy policy_;
  tunnel::LogLimiter log_;
  EgressStats stats_;
};

// The addresses of this host's interfaces (getifaddrs; IPv4 and IPv6, any state), for
// tunnel::EgressConfig::own_addresses. Error: getifaddrs failed (the message says why); the
// server must not start without them.
Result<std::vector<tunnel::PeerAddr>> own_interface_addresses();

}  // namespace paniq::app
