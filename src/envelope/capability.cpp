#include "envelope/capability.hpp"

#include <array>
#include <string_view>

namespace paniq::envelope {
namespace {

constexpr std::string_view kKeyLabel = "paniq-cpp capability v1";
constexpr std::string_view kTagLabel = "pack";

std::array<std::uint8_t, kCapabilityTagLen> tag_of(ByteView covered, const crypto::Key32& key) {
  std::array<std::uint8_t, kCapabilityTagLen> tag{};
  crypto::Blake2s h(tag.size(), key);
  h.update(ByteView(reinterpret_cast<const std::uint8_t*>(kTagLabel.data()), kTagLabel.size()));
  h.update(covered);
  h.final(tag);
  return tag;
}

}  // namespace

crypto::Key32 capability_key(const obf::Config& cfg) {
  crypto::Blake2s h(32);
  h.update(ByteView(reinterpret_cast<const std::uint8_t*>(kKeyLabel.data()), kKeyLabel.size()));
  for (std::size_t t = 0; t < 4; ++t) {
    std::array<std::uint8_t, 12> fields{};
    put_u32_le(fields.data(), cfg.s[t]);
    put_u32_le(fields.data() + 4, cfg.h[t].start);
    put_u32_le(fields.data() + 8, cfg.h[t].end);
    h.update(fields);
  }
  crypto::Key32 key{};
  h.final(key);
  return key;
}

bool write_capability_tag(MutByteView datagram, std::size_t s1, const crypto::Key32& key) {
  if (s1 < kCapabilityMinPrefix || datagram.size() < s1) return false;
  const std::size_t at = s1 - kCapabilityTagLen;
  const auto tag = tag_of(ByteView(datagram.data(), at), key);
  std::copy(tag.begin(), tag.end(), datagram.begin() + static_cast<std::ptrdiff_t>(at));
  return true;
}

bool has_capability_tag(ByteView datagram, std::size_t s1, const crypto::Key32& key) {
  if (s1 < kCapabilityMinPrefix || datagram.size() < s1) return false;
  const std::size_t at = s1 - kCapabilityTagLen;
  const auto tag = tag_of(datagram.first(at), key);
  return crypto::ct_equal(tag, datagram.subspan(at, kCapabilityTagLen));
}

}  // namespace paniq::envelope
