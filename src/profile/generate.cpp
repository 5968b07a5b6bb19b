#include "profile/generate.hpp"

#include <algorithm>
#include <vector>

#include "crypto/crypto.hpp"

namespace paniq::profile {
namespace {

constexpr std::uint64_t kBucket = std::uint64_t{1} << 24;

Error gen_error(const std::string& msg) { return make_error(Errc::invalid_value, msg); }

std::int32_t draw(Rng& rng, std::uint64_t lo, std::uint64_t hi) {
  return static_cast<std::int32_t>(rng.uniform(lo, hi));
}

PaddingSection padding_for_headroom(std::uint64_t headroom) {
  PaddingSection t{0, 0, 0, 0, 0.0};
  if (headroom == 0) return t;
  if (headroom < 16) {
    t.pad_max = headroom;
    return t;
  }
  t.pad_min = 16;
  t.pad_max = std::min<std::uint64_t>(96, headroom);
  if (headroom >= 96) {
    t.pad_burst_min = std::min<std::uint64_t>(96, headroom);
    t.pad_burst_max = std::min<std::uint64_t>(128, headroom);
    t.pad_burst_prob = 0.02;
  }
  return t;
}

}  // namespace

KeyPair generate_keypair(Rng& rng) {
  crypto::Key32 secret{};
  rng.fill(secret);
  const crypto::Key32 pub = crypto::x25519_public(secret);
  return {crypto::base64_encode(secret), crypto::base64_encode(pub)};
}

Result<std::array<obf::HeaderRange, 4>> generate_headers(Rng& rng, const HeaderGenOptions& opt) {
  if (opt.width >= kBucket) return gen_error("width must be < 2^24");
  if (std::uint64_t{opt.max} < std::uint64_t{opt.min} + opt.width)
    return gen_error("max must be >= min + width");
  // Buckets (by most significant byte) that can hold a whole range inside [min, max].
  std::vector<std::uint32_t> usable;
  for (std::uint64_t msb = opt.min >> 24; msb <= (opt.max >> 24); ++msb) {
    const std::uint64_t lo = std::max<std::uint64_t>(msb * kBucket, opt.min);
    const std::uint64_t hi = std::min<std::uint64_t>(msb * kBucket + kBucket - 1, opt.max);
    if (hi >= lo + opt.width) usable.push_back(static_cast<std::uint32_t>(msb));
  }
  if (usable.size() < 4) return gen_error("fewer than 4 header buckets fit between min and max");
  std::array<obf::HeaderRange, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    // Pick an unused bucket (swap-remove keeps the draw bounded).
    const std::size_t pick = rng.uniform(0, usable.size() - 1);
    const std::uint64_t msb = usable[pick];
    usable[pick] = usable.back();
    usable.pop_back();
    const std::uint64_t lo = std::max<std::uint64_t>(msb * kBucket, opt.min);
    const std::uint64_t hi = std::min<std::uint64_t>(msb * kBucket + kBucket - 1, opt.max);
    const std::uint64_t start = rng.uniform(lo, hi - opt.width);
    out[i] = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(start + opt.width)};
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  return out;
}

Result<Profile> generate_profile(Rng& rng, unsigned mtu, std::string name, std::string proxy_addr) {
  if (mtu < 1280) return gen_error("mtu must be >= 1280");
  if (mtu > 65507) return gen_error("mtu must be <= 65507");
  Profile p;
  p.name = std::move(name);
  p.proxy_addr = std::move(proxy_addr);
  ObfuscationSection& o = p.obfuscation;
  const KeyPair keys = generate_keypair(rng);
  o.server_private_key = keys.private_key;
  o.server_public_key = keys.public_key;
  // New profiles use the encrypted transport (docs/protocol.md 7), required on both sides;
  // examples/profile-rust-compatible.json stays plain for Rust peers.
  o.encryption = "required";
  HeaderGenOptions hopt;
  hopt.width = static_cast<std::uint32_t>(rng.uniform(512, 2048));
  auto headers = generate_headers(rng, hopt);
  if (!headers) return headers.error();
  std::string* specs[] = {&o.h1, &o.h2, &o.h3, &o.h4};
  for (std::size_t i = 0; i < 4; ++i) *specs[i] = (*headers)[i].to_string();

  o.jc = draw(rng, 3, 5);
  o.jmin = draw(rng, 200, 600);
  const std::uint64_t jmax_upper = std::min<std::uint64_t>(1400, std::max<std::uint64_t>(mtu - 100, 900));
  o.jmax = draw(rng, 900, jmax_upper);
  if (o.jmax <= o.jmin) {
    o.jmax = static_cast<std::int32_t>(std::min<std::uint64_t>(o.jmin + rng.uniform(200, 600), jmax_upper));
  }
  o.s1 = draw(rng, 200, 520);
  o.s2 = draw(rng, 260, 640);
  o.s3 = draw(rng, 120, 360);
  o.s4 = std::min<std::int32_t>(draw(rng, 20, 80), static_cast<std::int32_t>(mtu > 1206 ? mtu - 1206 : 0));
  const std::uint64_t budget = mtu - static_cast<std::uint64_t>(o.s4 + 6);
  if (budget < 1200) return gen_error("mtu too small for minimum payload budget");
  p.transport_padding = padding_for_headroom(budget - 1200);

  p.handshake_timeout = Millis(5000);
  p.handshake_attempts = 3;
  p.preamble_delay_ms = 5;
  p.preamble_jitter_ms = 5;
  KcpSection& k = p.kcp.emplace();
  k.max_packet_size = mtu;
  k.max_payload = 1200;
  k.keepalive = Millis(20'000);
  k.idle_timeout = Millis(120'000);
  // Streams per session: a browser alone opens over 100 connections, and an idle stream costs
  // about 12 KB per daemon, so a generated profile allows thousands (the reference's 256 is
  // the field's default, kept for profiles that do not say).
  k.max_streams = 4096;
  o.i1 = "<t>";
  o.require_timestamp = true;
  o.rate_limit_pps = 50;
  o.rate_limit_burst = 20;
  return p;
}

}  // namespace paniq::profile
