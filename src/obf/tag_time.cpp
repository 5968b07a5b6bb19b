// <t>: the current Unix time in seconds, u32 big-endian (PROTOCOL.md 3.2). The time is a
// parameter: the layer reads no clock.
#include "obf/tags.hpp"

namespace paniq::obf::tags {
namespace {

class TimeTag final : public Tag {
 public:
  std::string_view name() const override { return "t"; }
  std::size_t obfuscated_len(std::size_t) const override { return 4; }
  bool fixed() const override { return true; }
  void obfuscate(std::uint8_t* out, ByteView, std::uint32_t unix_seconds, Rng&) const override {
    put_u32_be(out, unix_seconds);
  }
  std::optional<std::size_t> deobfuscated_input_len(std::size_t) const override { return 4; }
  bool deobfuscate(ByteView in, Bytes&) const override { return in.size() == 4; }
};

}  // namespace

TagPtr make_time() { return std::make_shared<TimeTag>(); }

}  // namespace paniq::obf::tags
