// LINK: paniq_obf
// Framer classification (PROTOCOL.md 3.6). The first 41 bytes derive a Config: flags (mode,
// small/large padding, range permutation), S1..S4 (u16 LE each) and eight u32 LE cut points
// that, sorted, give four ranges. The rest is a received datagram. Invariants (abort on
// violation): classify agrees with a direct statement of 3.6 in both modes; an accepted
// datagram's payload re-encodes into a datagram that classifies per the same rules, and back to
// the same type and payload when that datagram is unambiguous.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "core/rng.hpp"
#include "obf/framer.hpp"

namespace {

using paniq::ByteView;
using paniq::obf::Config;
using paniq::obf::MessageType;

constexpr MessageType kOrder[4] = {MessageType::Transport, MessageType::Initiation,
                                   MessageType::Response, MessageType::CookieReply};

// 3.6 written out plainly: returns the verdict and the number of matching types.
std::optional<MessageType> model(const Config& cfg, ByteView d, int& matches) {
  matches = 0;
  std::optional<MessageType> first;
  if (d.size() < 4) return std::nullopt;
  for (MessageType t : kOrder) {
    const std::size_t s = cfg.s[paniq::obf::index(t)];
    if (d.size() < s + 4) continue;
    if (!cfg.h[paniq::obf::index(t)].contains(paniq::get_u32_le(d.data() + s))) continue;
    ++matches;
    if (!first) first = t;
  }
  if (cfg.classify == paniq::obf::ClassifyMode::Strict && matches > 1) return std::nullopt;
  return first;
}

void check(const paniq::obf::Framer& f, ByteView d) {
  int matches = 0;
  const auto want = model(f.config(), d, matches);
  const auto got = f.classify(d);
  if (want.has_value() != got.has_value()) std::abort();
  if (!got) return;
  if (got->type != *want) std::abort();
  if (got->payload.data() != d.data() + f.prefix_len(got->type)) std::abort();
  if (got->payload.size() != d.size() - f.prefix_len(got->type)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace paniq;
  constexpr std::size_t kHead = 1 + 4 * 2 + 8 * 4;
  if (size < kHead) return 0;
  const std::uint8_t flags = data[0];
  Config cfg;
  cfg.classify = (flags & 1) ? obf::ClassifyMode::Strict : obf::ClassifyMode::FirstMatch;
  const unsigned pad_mod = (flags & 2) ? 601 : 9;  // small paddings make overlaps likely
  for (std::size_t k = 0; k < 4; ++k) cfg.s[k] = get_u16_le(data + 1 + 2 * k) % pad_mod;
  std::uint32_t cuts[8];
  for (std::size_t k = 0; k < 8; ++k) cuts[k] = get_u32_le(data + 9 + 4 * k);
  if (flags & 4) {  // squeeze toward small values so hand-written headers hit them
    for (auto& c : cuts) c %= 64;
  }
  std::sort(cuts, cuts + 8);
  std::size_t perm[4] = {0, 1, 2, 3};
  for (int r = 0; r < ((flags >> 3) & 31); ++r) std::next_permutation(perm, perm + 4);
  for (std::size_t k = 0; k < 4; ++k) cfg.h[perm[k]] = {cuts[2 * k], cuts[2 * k + 1]};
  auto framer = obf::Framer::create(cfg);
  if (!framer) return 0;  // touching cut points overlap: validation's job

  const ByteView datagram(data + kHead, size - kHead);
  check(*framer, datagram);
  const auto c = framer->classify(datagram);
  if (!c) return 0;
  SeededRng rng(size);
  const Bytes wire = framer->encode(c->type, c->payload, rng);
  check(*framer, wire);
  int matches = 0;
  (void)model(framer->config(), wire, matches);
  if (matches == 1) {
    const auto again = framer->classify(wire);
    if (!again || again->type != c->type) std::abort();
    if (!std::equal(again->payload.begin(), again->payload.end(), c->payload.begin(),
                    c->payload.end())) {
      std::abort();
    }
  }
  return 0;
}
