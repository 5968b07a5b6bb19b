// <dz N>: the payload length, big-endian in exactly N bytes (PROTOCOL.md 3.2).
#include "obf/tags.hpp"

namespace paniq::obf::tags {
namespace {

class SizeTag final : public Tag {
 public:
  explicit SizeTag(std::size_t n) : n_(n) {}
  std::string_view name() const override { return "dz"; }
  std::size_t obfuscated_len(std::size_t) const override { return n_; }
  bool fixed() const override { return true; }
  // High bytes are dropped when N is small, zero-filled when N is larger than 8.
  void obfuscate(std::uint8_t* out, ByteView payload, std::uint32_t, Rng&) const override {
    const std::uint64_t len = payload.size();
    for (std::size_t k = 0; k < n_; ++k) {
      const std::size_t shift_bytes = n_ - 1 - k;
      out[k] = shift_bytes < 8 ? static_cast<std::uint8_t>(len >> (8 * shift_bytes)) : 0;
    }
  }
  std::optional<std::size_t> deobfuscated_input_len(std::size_t) const override { return n_; }
  // The reference accepts any value here (3.2), and so do we.
  bool deobfuscate(ByteView in, Bytes&) const override { return in.size() == n_; }

 private:
  std::size_t n_;
};

}  // namespace

Result<TagPtr> make_size(std::string_view arg) {
  auto n = parse_length(arg);
  if (!n) return n.error();
  return TagPtr(std::make_shared<SizeTag>(*n));
}

}  // namespace paniq::obf::tags
