// The one object that owns padding, headers, junk and signatures (STYLE.md 9).
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"
#include "obf/chain.hpp"
#include "obf/types.hpp"

namespace paniq::obf {

struct Classified {
  MessageType type;
  ByteView payload;  // view into the datagram, after S_t padding and the 4-byte header
};

// A header value in `h` (3.3): h.start when the range holds one value (no draw); otherwise
// 4 random bytes as u32 LE, modulo the width, plus start. Safe for the full range
// 0-4294967295 (width 2^32), where the reference overflows.
std::uint32_t draw_header_value(const HeaderRange& h, Rng& rng);

class Framer {
 public:
  // Validates `cfg` (Config::validate) and parses its chains. On error (Errc::bad_config, the
  // message names the field) the caller must not run: server refuses to start, client fails
  // the connection attempt with "failed to create framer: <message>".
  static Result<Framer> create(const Config& cfg);

  const Config& config() const { return cfg_; }
  // S_t + 4: bytes before the payload in a frame of type t.
  std::size_t prefix_len(MessageType t) const { return cfg_.s[index(t)] + 4; }

  // Writes random[S_t] || u32_LE(h in H_t) into out[0 .. prefix_len(t)). Header value draw:
  // 4 random bytes as u32 LE, modulo the range width, plus start (3.3); full-range safe.
  // Hot path of every transport datagram: no allocation. Precondition: out.size() >=
  // prefix_len(t) (asserted). Draws: S_t padding bytes first, then 4 bytes for the header value
  // unless H_t is a single value (the reference's order).
  void write_prefix(MessageType t, Rng& rng, MutByteView out) const;
  // prefix || payload, appended to `out`.
  void encode(MessageType t, ByteView payload, Rng& rng, Bytes& out) const;
  Bytes encode(MessageType t, ByteView payload, Rng& rng) const;

  // Classifies a received datagram (PROTOCOL.md 3.6) in the configured mode: FirstMatch tries
  // Transport, Initiation, Response, CookieReply and takes the first; Strict also rejects a
  // datagram that matches more than one type. nullopt = too short, no match or ambiguous
  // (Strict): not ours, the caller drops it silently. No allocation, no virtual calls.
  std::optional<Classified> classify(ByteView datagram) const;

  // Jc junk datagrams (3.4); empty when junk is off.
  std::vector<Bytes> junk(Rng& rng) const;
  // Signature datagrams for the non-empty I1..I5, in order (3.2).
  std::vector<Bytes> signatures(std::uint32_t unix_seconds, Rng& rng) const;
  // Parsed chains, index 0..4 = I1..I5 (empty chain when the spec is empty).
  const std::array<Chain, 5>& chains() const { return chains_; }

 private:
  // True if H_k's range holds the u32 LE at offset S_k of `datagram`.
  bool matches(ByteView datagram, std::size_t k) const;

  Config cfg_;
  std::array<Chain, 5> chains_;
};

}  // namespace paniq::obf
