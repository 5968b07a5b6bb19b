// <b HEX>: fixed bytes (PROTOCOL.md 3.2).
#include <cstdio>
#include <cstring>
#include <string>

#include "obf/errors.hpp"
#include "obf/tags.hpp"
#include "obf/text.hpp"

namespace paniq::obf::tags {
namespace {

class BytesTag final : public Tag {
 public:
  explicit BytesTag(Bytes data) : data_(std::move(data)) {}
  std::string_view name() const override { return "b"; }
  std::size_t obfuscated_len(std::size_t) const override { return data_.size(); }
  bool fixed() const override { return true; }
  void obfuscate(std::uint8_t* out, ByteView, std::uint32_t, Rng&) const override {
    std::memcpy(out, data_.data(), data_.size());
  }
  std::optional<std::size_t> deobfuscated_input_len(std::size_t) const override {
    return data_.size();
  }
  bool deobfuscate(ByteView in, Bytes&) const override {
    return in.size() == data_.size() && std::memcmp(in.data(), data_.data(), in.size()) == 0;
  }

 private:
  Bytes data_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Rust's `{:?}` of the byte taken as a char (the hex crate's "Invalid character" message).
std::string debug_char(unsigned char c) {
  switch (c) {
    case '\t': return "'\\t'";
    case '\n': return "'\\n'";
    case '\r': return "'\\r'";
    case '\'': return "'\\''";
    case '\\': return "'\\\\'";
    default: break;
  }
  char buf[16];
  if (c >= 0x20 && c < 0x7F) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else if (c < 0xA0 || c == 0xAD) {  // control characters and the soft hyphen are escaped
    std::snprintf(buf, sizeof buf, "'\\u{%x}'", c);
  } else {  // Latin-1 printable: the char itself, UTF-8 encoded
    std::snprintf(buf, sizeof buf, "'%c%c'", static_cast<char>(0xC0 | (c >> 6)),
                  static_cast<char>(0x80 | (c & 0x3F)));
  }
  return buf;
}

}  // namespace

Result<TagPtr> make_bytes(std::string_view arg) {
  while (arg.substr(0, 2) == "0x") arg.remove_prefix(2);  // any number of lower-case prefixes
  if (arg.empty()) return make_error(Errc::bad_chain, "empty argument");
  if (arg.size() % 2 != 0) return make_error(Errc::bad_chain, "odd amount of symbols");
  if (arg.size() / 2 > kMaxTagLen) {
    return make_error(Errc::bad_chain, "length above the 65535-byte datagram limit");
  }
  Bytes data(arg.size() / 2);
  for (std::size_t k = 0; k < arg.size(); ++k) {
    const int v = hex_value(arg[k]);
    if (v < 0) {
      return make_error(Errc::bad_chain,
                        text::concat({"Invalid character ", debug_char(static_cast<unsigned char>(arg[k])),
                                      " at position ", std::to_string(k)}));
    }
    data[k / 2] = static_cast<std::uint8_t>((data[k / 2] << 4) | v);
  }
  return TagPtr(std::make_shared<BytesTag>(std::move(data)));
}

}  // namespace paniq::obf::tags
