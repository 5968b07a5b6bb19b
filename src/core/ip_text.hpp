// Text of IP addresses, shared by log lines and SOCKS address rendering.
#pragma once

#include <cstdint>
#include <string>

namespace paniq {

// "a.b.c.d" of the 4 bytes at `p`.
std::string ipv4_text(const std::uint8_t* p);

// RFC 5952 text of the 16 bytes at `p`: lower-case hex without leading zeros, the longest run
// (the first on a tie) of two or more zero groups as "::", IPv4-mapped addresses as
// ::ffff:a.b.c.d.
std::string ipv6_text(const std::uint8_t* p);

}  // namespace paniq
