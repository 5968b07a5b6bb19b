#include "tunnel/plain_conv.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::tunnel {
namespace {

constexpr std::uint32_t kFlagBits = 0xF;

// family || addr[16] || u16_LE port: the source as the MAC sees it.
constexpr std::size_t kPeerLen = 1 + 16 + 2;

void put_peer(std::uint8_t* out, const PeerAddr& peer) {
  out[0] = static_cast<std::uint8_t>(peer.family);
  std::copy(peer.addr.begin(), peer.addr.end(), out + 1);
  out[17] = static_cast<std::uint8_t>(peer.port);
  out[18] = static_cast<std::uint8_t>(peer.port >> 8);
}

}  // namespace

PlainConv::PlainConv(TimeMs bucket_ms, Rng& rng) : bucket_ms_(bucket_ms) {
  if (bucket_ms_ == 0) throw std::invalid_argument("PlainConv: bucket_ms must be at least 1");
  rng.fill(conv_key_);
  rng.fill(response_key_);
}

PlainConv::~PlainConv() {
  crypto::secure_zero(conv_key_);
  crypto::secure_zero(response_key_);
}

PlainConv::Mac PlainConv::mac(const PeerAddr& peer, std::uint64_t bucket) const {
  std::array<std::uint8_t, kPeerLen + 8> in{};
  put_peer(in.data(), peer);
  put_u64_le(in.data() + kPeerLen, bucket);
  std::array<std::uint8_t, 8> d{};
  crypto::blake2s(d, in, conv_key_);
  return Mac{get_u32_le(d.data()) & ~kFlagBits, static_cast<std::uint8_t>(d[4] & kFlagBits)};
}

std::uint32_t PlainConv::issue(const PeerAddr& peer, TimeMs now, bool packing,
                               std::uint32_t gen) const {
  const Mac m = mac(peer, now / bucket_ms_);
  const std::uint32_t flags = (packing ? 1u : 0u) | ((gen % kGenerations) << 1);
  return m.check | ((flags ^ m.mask) & kFlagBits);
}

std::optional<PlainConv::Grant> PlainConv::verify(const PeerAddr& peer, std::uint32_t conv,
                                                  TimeMs now) const {
  const std::uint64_t current = now / bucket_ms_;
  for (std::uint64_t back = 0; back < 2 && back <= current; ++back) {
    const std::uint64_t bucket = current - back;
    const Mac m = mac(peer, bucket);
    if ((conv & ~kFlagBits) != m.check) continue;
    const std::uint32_t flags = (conv ^ m.mask) & kFlagBits;
    return Grant{(flags & 1u) != 0, flags >> 1, (bucket + 2) * bucket_ms_};
  }
  return std::nullopt;
}

PlainConv::ResponseRng PlainConv::response_rng(const PeerAddr& peer,
                                               const std::array<std::uint8_t, 16>& digest,
                                               std::uint32_t conv) const {
  std::array<std::uint8_t, kPeerLen + 16 + 4> in{};
  put_peer(in.data(), peer);
  std::copy(digest.begin(), digest.end(), in.begin() + kPeerLen);
  put_u32_le(in.data() + kPeerLen + 16, conv);
  std::array<std::uint8_t, 12> nonce{};
  crypto::blake2s(nonce, in, response_key_);
  return ResponseRng(response_key_, nonce);
}

PlainConv::ResponseRng::~ResponseRng() {
  crypto::secure_zero(key_);
  crypto::secure_zero(block_);
}

void PlainConv::ResponseRng::fill(MutByteView out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (avail_ == 0) {
      block_.fill(0);
      crypto::chacha20_xor(block_, key_, nonce_, counter_++);
      avail_ = block_.size();
    }
    const std::size_t n = std::min(avail_, out.size() - done);
    const auto from = block_.end() - static_cast<std::ptrdiff_t>(avail_);
    std::copy(from, from + static_cast<std::ptrdiff_t>(n), out.begin() + static_cast<std::ptrdiff_t>(done));
    avail_ -= n;
    done += n;
  }
}

}  // namespace paniq::tunnel
