// <r N>, <rc N>, <rd N>: N random bytes, letters or digits (PROTOCOL.md 3.2).
#include <limits>

#include "obf/errors.hpp"
#include "obf/tags.hpp"
#include "obf/text.hpp"

namespace paniq::obf::tags {
namespace {

constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

class RandomTag final : public Tag {
 public:
  RandomTag(RandomKind kind, std::size_t n) : kind_(kind), n_(n) {}
  std::string_view name() const override {
    switch (kind_) {
      case RandomKind::letters: return "rc";
      case RandomKind::digits: return "rd";
      case RandomKind::bytes: break;
    }
    return "r";
  }
  std::size_t obfuscated_len(std::size_t) const override { return n_; }
  bool fixed() const override { return true; }
  void obfuscate(std::uint8_t* out, ByteView, std::uint32_t, Rng& rng) const override {
    rng.fill(MutByteView(out, n_));
    if (kind_ == RandomKind::letters) {
      for (std::size_t k = 0; k < n_; ++k) out[k] = static_cast<std::uint8_t>(kLetters[out[k] % 52]);
    } else if (kind_ == RandomKind::digits) {
      for (std::size_t k = 0; k < n_; ++k) out[k] = static_cast<std::uint8_t>('0' + out[k] % 10);
    }
  }
  std::optional<std::size_t> deobfuscated_input_len(std::size_t) const override { return n_; }
  bool deobfuscate(ByteView in, Bytes&) const override {
    if (in.size() != n_) return false;
    for (std::uint8_t c : in) {
      if (kind_ == RandomKind::letters && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
        return false;
      }
      if (kind_ == RandomKind::digits && !(c >= '0' && c <= '9')) return false;
    }
    return true;
  }

 private:
  RandomKind kind_;
  std::size_t n_;
};

}  // namespace

Result<std::size_t> parse_length(std::string_view arg) {
  std::uint64_t v = 0;
  if (const char* why = text::parse_unsigned(arg, std::numeric_limits<std::uint64_t>::max(), v)) {
    return make_error(Errc::bad_chain, why);
  }
  if (v > kMaxTagLen) {
    return make_error(Errc::bad_chain, "length above the 65535-byte datagram limit");
  }
  return static_cast<std::size_t>(v);
}

Result<TagPtr> make_random(RandomKind kind, std::string_view arg) {
  auto n = parse_length(arg);
  if (!n) return n.error();
  return TagPtr(std::make_shared<RandomTag>(kind, *n));
}

}  // namespace paniq::obf::tags
