// <d> and <ds>: the payload, raw or as unpadded standard base64 (PROTOCOL.md 3.2).
#include <cstring>

#include "obf/base64.hpp"
#include "obf/tags.hpp"

namespace paniq::obf::tags {
namespace {

class DataTag final : public Tag {
 public:
  std::string_view name() const override { return "d"; }
  std::size_t obfuscated_len(std::size_t n) const override { return n; }
  bool fixed() const override { return false; }
  void obfuscate(std::uint8_t* out, ByteView payload, std::uint32_t, Rng&) const override {
    if (!payload.empty()) std::memcpy(out, payload.data(), payload.size());
  }
  std::optional<std::size_t> deobfuscated_input_len(std::size_t dynamic) const override {
    return dynamic;
  }
  bool deobfuscate(ByteView in, Bytes& payload_out) const override {
    payload_out.insert(payload_out.end(), in.begin(), in.end());
    return true;
  }
};

class DataStringTag final : public Tag {
 public:
  std::string_view name() const override { return "ds"; }
  std::size_t obfuscated_len(std::size_t n) const override { return base64::encoded_len(n); }
  bool fixed() const override { return false; }
  void obfuscate(std::uint8_t* out, ByteView payload, std::uint32_t, Rng&) const override {
    base64::encode(payload, out);
  }
  // The base64 text is the whole dynamic part; lengths of the form 4k+1 encode nothing.
  std::optional<std::size_t> deobfuscated_input_len(std::size_t dynamic) const override {
    if (!base64::decoded_len(dynamic)) return std::nullopt;
    return dynamic;
  }
  bool deobfuscate(ByteView in, Bytes& payload_out) const override {
    return base64::decode(in, payload_out);
  }
};

}  // namespace

TagPtr make_data() { return std::make_shared<DataTag>(); }
TagPtr make_data_string() { return std::make_shared<DataStringTag>(); }

}  // namespace paniq::obf::tags
