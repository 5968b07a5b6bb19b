#include "obf/base64.hpp"

#include <array>

namespace paniq::obf::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> r{};
  for (auto& v : r) v = -1;
  for (int i = 0; i < 64; ++i) r[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return r;
}
constexpr std::array<std::int8_t, 256> kReverse = make_reverse();

}  // namespace

std::optional<std::size_t> decoded_len(std::size_t len) {
  constexpr std::size_t kTail[4] = {0, 0, 1, 2};
  if (len % 4 == 1) return std::nullopt;
  return 3 * (len / 4) + kTail[len % 4];
}

void encode(ByteView in, std::uint8_t* out) {
  const auto sym = [](std::uint32_t v) { return static_cast<std::uint8_t>(kAlphabet[v & 63]); };
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    *out++ = sym(v >> 18);
    *out++ = sym(v >> 12);
    *out++ = sym(v >> 6);
    *out++ = sym(v);
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16;
    *out++ = sym(v >> 18);
    *out++ = sym(v >> 12);
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8);
    *out++ = sym(v >> 18);
    *out++ = sym(v >> 12);
    *out++ = sym(v >> 6);
  }
}

bool decode(ByteView in, Bytes& out) {
  const auto n = decoded_len(in.size());
  if (!n) return false;
  const std::size_t base = out.size();
  out.resize(base + *n);
  std::uint8_t* dst = out.data() + base;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t c : in) {
    const int v = kReverse[c];
    if (v < 0) {
      out.resize(base);
      return false;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      *dst++ = static_cast<std::uint8_t>(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) {  // leftover bits of the last symbol must be zero (canonical form)
    out.resize(base);
    return false;
  }
  return true;
}

}  // namespace paniq::obf::base64
