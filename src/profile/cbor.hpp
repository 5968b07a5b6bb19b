// A small CBOR (RFC 8949) value, encoder and bounded decoder: just what the compact profile
// needs (integer map keys, which nlohmann's CBOR support cannot express). Encoding is
// deterministic: shortest integer heads, shortest exact float, definite lengths, map entries in
// the order given.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "core/result.hpp"

namespace paniq::profile::cbor {

struct Value {
  enum class Kind : std::uint8_t {
    Unsigned,
    Negative,
    Bytes,
    Text,
    Array,
    Map,
    Tag,
    Bool,
    Null,
    Undefined,
    Simple,
    Float
  };

  Kind kind = Kind::Null;
  std::uint64_t u = 0;  // Unsigned: value; Negative: n for -1-n; Tag: tag number; Simple: value
  bool b = false;
  double f = 0.0;
  std::string text;          // Text (valid UTF-8)
  Bytes bytes;               // Bytes
  std::vector<Value> items;  // Array: elements; Map: key, value, key, value...; Tag: the content

  static Value uint(std::uint64_t v) {
    Value x;
    x.kind = Kind::Unsigned;
    x.u = v;
    return x;
  }
  // Any signed value (negative ones use major type 1).
  static Value sint(std::int64_t v);
  static Value boolean(bool v) {
    Value x;
    x.kind = Kind::Bool;
    x.b = v;
    return x;
  }
  static Value float64(double v) {
    Value x;
    x.kind = Kind::Float;
    x.f = v;
    return x;
  }
  static Value string(std::string v) {
    Value x;
    x.kind = Kind::Text;
    x.text = std::move(v);
    return x;
  }
  static Value byte_string(Bytes v) {
    Value x;
    x.kind = Kind::Bytes;
    x.bytes = std::move(v);
    return x;
  }
  static Value array() {
    Value x;
    x.kind = Kind::Array;
    return x;
  }
  static Value map() {
    Value x;
    x.kind = Kind::Map;
    return x;
  }

  // Map helpers: append an entry with an unsigned key; find the first entry whose key is the
  // unsigned integer `key` (nullptr if none or not a map).
  void put(std::uint64_t key, Value v);
  const Value* get(std::uint64_t key) const;
  std::size_t map_size() const { return items.size() / 2; }

  bool is_int() const { return kind == Kind::Unsigned || kind == Kind::Negative; }
};

inline constexpr std::size_t kMaxInput = 64 * 1024;
inline constexpr std::size_t kMaxDepth = 16;

// Appends the encoding of `v` to `out`.
void encode(const Value& v, Bytes& out);

// Decodes the first data item of `data` (trailing bytes are ignored, as the reference's reader
// does). Accepts definite and indefinite lengths. Errors (never a crash): truncated input,
// reserved or malformed heads, invalid UTF-8 in text, nesting deeper than kMaxDepth, input larger
// than kMaxInput.
Result<Value> decode(ByteView data);
// Same, and sets `used` to the number of bytes the first item took (callers that must refuse
// trailing bytes compare it with data.size()).
Result<Value> decode(ByteView data, std::size_t& used);

// Shortest IEEE half-precision bits that represent `v` exactly, if any.
bool half_exact(double v, std::uint16_t& bits);
double half_to_double(std::uint16_t bits);

}  // namespace paniq::profile::cbor
