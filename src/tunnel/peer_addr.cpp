#include "tunnel/peer_addr.hpp"

#include <cstdio>

#include "core/ip_text.hpp"

namespace paniq::tunnel {
namespace {

// FNV-1a over the bytes that identify a host, then the port mixed in (splitmix finaliser).
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t host_bits(const PeerAddr& p) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ static_cast<std::uint8_t>(p.family);
  for (std::uint8_t b : p.addr) h = (h ^ b) * 0x100000001b3ULL;
  return h;
}

}  // namespace

PeerAddr PeerAddr::v4(std::array<std::uint8_t, 4> a, std::uint16_t port) {
  PeerAddr p;
  p.family = Family::v4;
  for (std::size_t i = 0; i < 4; ++i) p.addr[i] = a[i];
  p.port = port;
  return p;
}

PeerAddr PeerAddr::v6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
  PeerAddr p;
  p.family = Family::v6;
  p.addr = a;
  p.port = port;
  return p;
}

std::string PeerAddr::to_string() const {
  if (family == Family::v4) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", addr[0], addr[1], addr[2], addr[3],
                  static_cast<unsigned>(port));
    return buf;
  }
  std::string s = "[";
  s += ipv6_text(addr.data());
  s += "]:";
  s += std::to_string(port);
  return s;
}

std::size_t PeerAddr::host_hash() const { return static_cast<std::size_t>(mix(host_bits(*this))); }

std::size_t PeerAddr::hash() const {
  return static_cast<std::size_t>(
      mix(host_bits(*this) ^ (std::uint64_t{port} << 48) ^ (std::uint64_t{local} << 32)));
}

}  // namespace paniq::tunnel
