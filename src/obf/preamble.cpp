// The client preamble: junk datagrams (PROTOCOL.md 3.4) and signature datagrams (3.2).
#include "obf/framer.hpp"

namespace paniq::obf {

std::vector<Bytes> Framer::junk(Rng& rng) const {
  std::vector<Bytes> out;
  if (cfg_.jc == 0 || cfg_.jmin <= 0 || cfg_.jmax <= 0) return out;
  const auto jmin = static_cast<std::uint64_t>(cfg_.jmin);
  const auto jmax = static_cast<std::uint64_t>(cfg_.jmax);
  out.reserve(static_cast<std::size_t>(cfg_.jc));
  for (std::int32_t k = 0; k < cfg_.jc; ++k) {
    std::uint64_t len = jmin;
    if (jmax > jmin) len = jmin + rng.next_u32() % (jmax - jmin + 1);
    Bytes d(static_cast<std::size_t>(len));
    rng.fill(d);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Bytes> Framer::signatures(std::uint32_t unix_seconds, Rng& rng) const {
  std::vector<Bytes> out;
  // Skipped only when the spec is empty: a spec without tags still sends an empty datagram,
  // as the reference does (PROTOCOL.md 17 item 10).
  for (std::size_t k = 0; k < chains_.size(); ++k) {
    if (cfg_.i[k].empty()) continue;
    out.push_back(chains_[k].signature(unix_seconds, rng));
  }
  return out;
}

}  // namespace paniq::obf
