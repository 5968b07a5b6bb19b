// Rate limits of the server (issue #6), pure with `now` (STYLE.md 1):
//  * TokenBucket: `rate` tokens per second up to `burst`, in integer milli-tokens;
//  * HandshakeRateLimiter: one bucket per source IP address (any port) for Initiations
//    (obfuscation.rate_limit_pps / rate_limit_burst), in a bounded LRU table;
//  * LogLimiter: at most N log records per second per reason, counting what it suppressed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/time.hpp"
#include "tunnel/bounded_table.hpp"
#include "tunnel/peer_addr.hpp"

namespace paniq::tunnel {

class TokenBucket {
 public:
  struct State {
    std::uint64_t milli = 0;  // tokens * 1000
    TimeMs last = 0;
  };

  // `rate` tokens per second (0 = nothing refills), at most `burst` tokens (0 is taken as 1).
  // Both are clamped to 10^9.
  TokenBucket(std::uint64_t rate, std::uint64_t burst);

  // A bucket that is full at `now`.
  State full(TimeMs now) const { return State{cap_, now}; }
  // Refills `s` up to `now` (a `now` earlier than s.last refills nothing) and takes one token.
  // False = empty: the caller drops what it was about to do.
  bool take(State& s, TimeMs now) const { return take(s, now, 1); }
  // The same for `n` tokens at once (all or none).
  bool take(State& s, TimeMs now, std::uint64_t n) const;
  // True when `s` would be full again at `now` (its state can be forgotten).
  bool refilled(const State& s, TimeMs now) const;

  std::uint64_t rate() const { return rate_; }
  std::uint64_t burst() const { return cap_ / 1000; }

 private:
  void refill(State& s, TimeMs now) const;
  std::uint64_t rate_;  // milli-tokens per millisecond = tokens per second
  std::uint64_t cap_;   // milli-tokens
};

struct HandshakeRateConfig {
  std::uint64_t pps = 0;      // tokens per second per source IP; 0 = no limit
  std::uint64_t burst = 0;    // bucket size (0 -> 1)
  std::size_t table_size = 4096;  // source IPs tracked at once (LRU beyond)
};

class HandshakeRateLimiter {
 public:
  // `cfg.table_size` >= 1 (std::invalid_argument otherwise). `seed` keys the table's hash.
  HandshakeRateLimiter(const HandshakeRateConfig& cfg, std::uint64_t seed);

  bool enabled() const { return enabled_; }
  // Charges one handshake to the bucket of `peer`'s IP address (the port is ignored): false =
  // over the limit, drop it. A source not in the table starts with a full bucket; when the table
  // is full the least recently seen source is forgotten. Always true when disabled. No
  // allocation.
  bool allow(const PeerAddr& peer, TimeMs now);

  std::size_t size() const { return table_.size(); }
  std::size_t capacity() const { return table_.capacity(); }
  std::uint64_t evictions() const { return evictions_; }

 private:
  struct HostHash {
    std::uint64_t operator()(const PeerAddr& p, std::uint64_t seed) const;
  };
  bool enabled_;
  TokenBucket bucket_;
  BoundedLru<PeerAddr, TokenBucket::State, HostHash> table_;
  std::uint64_t evictions_ = 0;
};

// Per-key budget of log records: at most `per_second` in each 1000 ms window that starts at
// the first record after the previous window ended.
class LogLimiter {
 public:
  // `keys` distinct reasons (indices 0..keys-1); `per_second` 0 suppresses everything.
  LogLimiter(std::size_t keys, std::uint32_t per_second);

  // True: emit a record for `key` now. False: suppressed (counted). `key` < keys (caller bug
  // otherwise: std::out_of_range).
  bool allow(std::size_t key, TimeMs now);
  // Records suppressed for `key` since the last allowed one; resets the count.
  std::uint64_t take_suppressed(std::size_t key);
  std::uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  struct Slot {
    TimeMs window_start = 0;
    std::uint32_t used = 0;
    bool started = false;
    std::uint64_t suppressed = 0;
  };
  std::vector<Slot> slots_;
  std::uint32_t per_second_;
  std::uint64_t suppressed_total_ = 0;
};

}  // namespace paniq::tunnel
