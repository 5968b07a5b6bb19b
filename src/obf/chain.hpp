// Signature chains I1..I5 (PROTOCOL.md 3.2): a list of tags, each in its own small file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "core/rng.hpp"

namespace paniq::obf {

// One `<name arg>` element. Implementations: tag_bytes.cpp (<b>), tag_time.cpp (<t>),
// tag_random.cpp (<r>, <rc>, <rd>), tag_data.cpp (<d>, <ds>), tag_size.cpp (<dz>).
class Tag {
 public:
  virtual ~Tag() = default;
  // The tag name as written in a spec ("b", "t", "r", "rc", "rd", "d", "ds", "dz").
  virtual std::string_view name() const = 0;
  // Bytes this tag writes for a payload of length n.
  virtual std::size_t obfuscated_len(std::size_t n) const = 0;
  // True if the tag's length does not depend on the payload (not <d>/<ds>).
  virtual bool fixed() const = 0;
  // Writes obfuscated_len(payload.size()) bytes at out. `unix_seconds` feeds <t>.
  virtual void obfuscate(std::uint8_t* out, ByteView payload, std::uint32_t unix_seconds,
                         Rng& rng) const = 0;
  // Length this tag consumes on de-obfuscation given `dynamic` = input length minus the fixed
  // tags' lengths; nullopt if impossible (e.g. <ds> with an invalid base64 length).
  virtual std::optional<std::size_t> deobfuscated_input_len(std::size_t dynamic) const = 0;
  // Checks `in` (exactly the consumed bytes) and appends recovered payload bytes (data tags)
  // to `payload_out`. Returns false when the check fails.
  virtual bool deobfuscate(ByteView in, Bytes& payload_out) const = 0;
};

class Chain {
 public:
  // Parses a spec (grammar of 3.2). Errors use the reference's words: "missing enclosing >",
  // "unknown tag <x>", "empty argument", "odd amount of symbols",
  // "cannot parse integer from empty string", "invalid digit found in string", ...
  // plus "length above the 65535-byte datagram limit" for a length argument above 65535.
  // Errc::bad_chain, message without field path; the caller rejects the profile.
  static Result<Chain> parse(std::string_view spec);

  bool empty() const { return tags_.empty(); }
  std::size_t size() const { return tags_.size(); }
  const Tag& tag(std::size_t k) const { return *tags_[k]; }
  std::size_t obfuscated_len(std::size_t payload_len) const;
  // Appends the obfuscated bytes to `out`.
  void obfuscate(Bytes& out, ByteView payload, std::uint32_t unix_seconds, Rng& rng) const;
  // The signature datagram of this chain: obfuscation of an EMPTY payload (3.2).
  Bytes signature(std::uint32_t unix_seconds, Rng& rng) const;
  // Validates `input` against the chain and returns the recovered payload; error if any tag's
  // check fails or the lengths do not add up (Errc::signature_mismatch: the caller treats the
  // input as not a signature). With several data tags, each must recover the same payload.
  Result<Bytes> deobfuscate(ByteView input) const;

 private:
  std::vector<std::shared_ptr<const Tag>> tags_;
};

}  // namespace paniq::obf
