#include "tunnel/rate_limit.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace paniq::tunnel {
namespace {

constexpr std::uint64_t kMaxRate = 1'000'000'000;
constexpr std::uint64_t kTokenCost = 1000;  // one token in milli-tokens
constexpr TimeMs kWindowMs = 1000;

}  // namespace

TokenBucket::TokenBucket(std::uint64_t rate, std::uint64_t burst)
    : rate_(std::min(rate, kMaxRate)), cap_(std::clamp<std::uint64_t>(burst, 1, kMaxRate) * kTokenCost) {}

void TokenBucket::refill(State& s, TimeMs now) const {
  if (now <= s.last) return;
  const TimeMs elapsed = now - s.last;
  s.last = now;
  if (s.milli >= cap_) return;
  // Saturating: elapsed * rate milli-tokens, never past the cap.
  const std::uint64_t room = cap_ - s.milli;
  if (rate_ == 0) return;
  s.milli = elapsed >= room / rate_ + 1 ? cap_ : std::min(cap_, s.milli + elapsed * rate_);
}

bool TokenBucket::take(State& s, TimeMs now, std::uint64_t n) const {
  refill(s, now);
  const std::uint64_t cost = std::min(n, kMaxRate) * kTokenCost;
  if (s.milli < cost) return false;
  s.milli -= cost;
  return true;
}

bool TokenBucket::refilled(const State& s, TimeMs now) const {
  State copy = s;
  refill(copy, now);
  return copy.milli >= cap_;
}

std::uint64_t HandshakeRateLimiter::HostHash::operator()(const PeerAddr& p,
                                                         std::uint64_t seed) const {
  std::array<std::uint8_t, 17> k{};
  k[0] = static_cast<std::uint8_t>(p.family);
  std::copy(p.addr.begin(), p.addr.end(), k.begin() + 1);
  return seeded_hash(k, seed);
}

HandshakeRateLimiter::HandshakeRateLimiter(const HandshakeRateConfig& cfg, std::uint64_t seed)
    : enabled_(cfg.pps > 0), bucket_(cfg.pps, cfg.burst), table_(cfg.table_size, seed) {}

bool HandshakeRateLimiter::allow(const PeerAddr& peer, TimeMs now) {
  if (!enabled_) return true;
  PeerAddr host = peer;
  host.port = 0;  // one bucket per address
  if (TokenBucket::State* s = table_.touch(host)) return bucket_.take(*s, now);
  // Forget sources whose buckets are full again before evicting a live one.
  while (const TokenBucket::State* old = table_.oldest()) {
    if (!bucket_.refilled(*old, now)) break;
    table_.pop_oldest();
  }
  TokenBucket::State s = bucket_.full(now);
  const bool ok = bucket_.take(s, now);
  if (table_.insert(host, s)) ++evictions_;
  return ok;
}

LogLimiter::LogLimiter(std::size_t keys, std::uint32_t per_second)
    : slots_(keys), per_second_(per_second) {}

bool LogLimiter::allow(std::size_t key, TimeMs now) {
  Slot& s = slots_.at(key);
  if (!s.started || now >= s.window_start + kWindowMs || now < s.window_start) {
    s.started = true;
    s.window_start = now;
    s.used = 0;
  }
  if (s.used < per_second_) {
    ++s.used;
    return true;
  }
  ++s.suppressed;
  ++suppressed_total_;
  return false;
}

std::uint64_t LogLimiter::take_suppressed(std::size_t key) {
  Slot& s = slots_.at(key);
  const std::uint64_t n = s.suppressed;
  s.suppressed = 0;
  return n;
}

}  // namespace paniq::tunnel
