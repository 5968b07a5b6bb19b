// Randomness is injected into every protocol layer through `Rng&` so tests can seed it and
// vectors can pin padding, junk and header draws. Production code passes crypto::OsRng.
#pragma once

#include <cstdint>
#include <deque>
#include <span>

#include "core/bytes.hpp"

namespace paniq {

class Rng {
 public:
  virtual ~Rng() = default;
  // Fills `out` with random bytes. Never fails.
  virtual void fill(MutByteView out) = 0;

  // 4 bytes read as u32 little-endian (the draw the reference uses for header values and
  // junk lengths, so scripted vectors line up byte for byte).
  std::uint32_t next_u32();
  std::uint64_t next_u64();
  // Uniform in [lo, hi] inclusive; lo > hi returns lo. Unbiased (rejection sampling).
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi);
  // Uniform in [0, 1).
  double next_double();
};

// Deterministic, fast, non-cryptographic generator (xoshiro256** seeded with splitmix64).
// For tests, simulators and benchmarks only.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed);
  void fill(MutByteView out) override;
  std::uint64_t next();

 private:
  std::uint64_t s_[4];
};

// Replays scripted bytes in order, then continues with a SeededRng(0) stream. Lets a test feed
// the exact random inputs a vector was generated with.
class ScriptedRng final : public Rng {
 public:
  ScriptedRng() : fallback_(0) {}
  void push(ByteView bytes) { script_.insert(script_.end(), bytes.begin(), bytes.end()); }
  void fill(MutByteView out) override;
  std::size_t remaining() const { return script_.size(); }

 private:
  std::deque<std::uint8_t> script_;
  SeededRng fallback_;
};

}  // namespace paniq
