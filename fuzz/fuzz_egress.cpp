// LINK: paniq_tunnel
// The egress rule parser (tunnel/egress.hpp): arbitrary text as an allow/deny rule. Whatever
// parses must be self-consistent (prefix within the family, port range ordered), print as a
// network that parses back to the same rule's network, and contain its own network address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tunnel/egress.hpp"

using namespace paniq::tunnel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parse_egress_rule(text, "allow_targets[0]");
  if (!r) return 0;
  const bool v4 = r->net.family == PeerAddr::Family::v4;
  if (r->net.prefix > (v4 ? 32 : 128) || r->port_min > r->port_max) std::abort();
  const std::string printed = r->net.to_string();
  auto again = parse_egress_rule(printed, "allow_targets[0]");
  if (!again || !(again->net == r->net)) std::abort();
  PeerAddr probe;
  probe.family = r->net.family;
  probe.addr = r->net.addr;
  probe.port = r->port_min;
  if (!r->matches(probe)) std::abort();
  return 0;
}
