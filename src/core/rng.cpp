#include "core/rng.hpp"

#include <limits>

namespace paniq {

std::uint32_t Rng::next_u32() {
  std::uint8_t b[4];
  fill(b);
  return get_u32_le(b);
}

std::uint64_t Rng::next_u64() {
  std::uint8_t b[8];
  fill(b);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

std::uint64_t Rng::uniform(std::uint64_t lo, std::uint64_t hi) {
  if (hi <= lo) return lo;
  const std::uint64_t span = hi - lo;
  if (span == std::numeric_limits<std::uint64_t>::max()) return next_u64();
  const std::uint64_t n = span + 1;
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() -
                              (std::numeric_limits<std::uint64_t>::max() % n);
  for (;;) {
    std::uint64_t v = next_u64();
    if (v < limit) return lo + v % n;
  }
}

double Rng::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

SeededRng::SeededRng(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t SeededRng::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void SeededRng::fill(MutByteView out) {
  std::size_t i = 0;
  while (i + 8 <= out.size()) {
    std::uint64_t v = next();
    std::memcpy(out.data() + i, &v, 8);
    i += 8;
  }
  if (i < out.size()) {
    std::uint64_t v = next();
    std::memcpy(out.data() + i, &v, out.size() - i);
  }
}

void ScriptedRng::fill(MutByteView out) {
  std::size_t i = 0;
  for (; i < out.size() && !script_.empty(); ++i) {
    out[i] = script_.front();
    script_.pop_front();
  }
  if (i < out.size()) fallback_.fill(out.subspan(i));
}

}  // namespace paniq
