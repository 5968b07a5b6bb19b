#include "profile/cbor.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "profile/errors.hpp"
#include "profile/text.hpp"

namespace paniq::profile::cbor {
namespace {

void put_head(Bytes& out, std::uint8_t major, std::uint64_t v) {
  const auto m = static_cast<std::uint8_t>(major << 5);
  if (v < 24) {
    out.push_back(static_cast<std::uint8_t>(m | v));
    return;
  }
  int n = 8;
  std::uint8_t ai = 27;
  if (v <= 0xff)
    n = 1, ai = 24;
  else if (v <= 0xffff)
    n = 2, ai = 25;
  else if (v <= 0xffffffffu)
    n = 4, ai = 26;
  out.push_back(static_cast<std::uint8_t>(m | ai));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void put_float(Bytes& out, double v) {
  std::uint16_t half = 0;
  if (half_exact(v, half)) {
    out.push_back(0xf9);
    for (int i = 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(half >> (8 * i)));
    return;
  }
  if (std::fabs(v) <= std::numeric_limits<float>::max() && static_cast<double>(static_cast<float>(v)) == v) {
    const float f = static_cast<float>(v);
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    out.push_back(0xfa);
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
    return;
  }
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, 8);
  out.push_back(0xfb);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
}

bool valid_utf8(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t c = p[i];
    std::size_t len = 0;
    std::uint32_t cp = 0, min = 0;
    if (c < 0x80)
      len = 1, cp = c;
    else if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (len > 1 && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) return false;
    i += len;
  }
  return true;
}

Error fail(const std::string& what) { return make_error(Errc::cbor, detail::cat("CBOR: ", what)); }

class Decoder {
 public:
  explicit Decoder(ByteView d) : d_(d) {}

  Result<Value> item(std::size_t depth) {
    if (depth > kMaxDepth) return fail(detail::cat("nested deeper than ", std::to_string(kMaxDepth)));
    if (pos_ >= d_.size()) return fail("unexpected end of input");
    const std::uint8_t ib = d_[pos_++];
    const std::uint8_t major = ib >> 5, ai = ib & 0x1f;
    if (major == 7) return simple(ai);
    if (ai == 31) {
      if (major == 2 || major == 3) return indefinite_string(major);
      if (major == 4 || major == 5) return container(major, 0, true, depth);
      return fail(detail::cat("indefinite length not allowed for major type ", std::to_string(major)));
    }
    std::uint64_t arg = 0;
    if (!argument(ai, arg)) return fail("truncated or reserved head");
    switch (major) {
      case 0: {
        Value v = Value::uint(arg);
        return v;
      }
      case 1: {
        Value v;
        v.kind = Value::Kind::Negative;
        v.u = arg;
        return v;
      }
      case 2:
      case 3: return definite_string(major, arg);
      case 4:
      case 5: return container(major, arg, false, depth);
      default: {  // 6: tag
        auto inner = item(depth + 1);
        if (!inner) return inner;
        Value v;
        v.kind = Value::Kind::Tag;
        v.u = arg;
        v.items.push_back(std::move(*inner));
        return v;
      }
    }
  }

 private:
  bool argument(std::uint8_t ai, std::uint64_t& out) {
    if (ai < 24) {
      out = ai;
      return true;
    }
    if (ai > 27) return false;
    const std::size_t n = std::size_t{1} << (ai - 24);
    if (d_.size() - pos_ < n) return false;
    out = 0;
    for (std::size_t i = 0; i < n; ++i) out = (out << 8) | d_[pos_++];
    return true;
  }

  Result<Value> simple(std::uint8_t ai) {
    Value v;
    std::uint64_t arg = 0;
    if (ai == 31) return fail("unexpected break");
    if (ai >= 28 || !argument(ai, arg)) return fail("truncated or reserved simple value");
    switch (ai) {
      case 20:
      case 21:
        v.kind = Value::Kind::Bool;
        v.b = ai == 21;
        return v;
      case 22: v.kind = Value::Kind::Null; return v;
      case 23: v.kind = Value::Kind::Undefined; return v;
      case 24:
        if (arg < 32) return fail("malformed simple value");
        v.kind = Value::Kind::Simple;
        v.u = arg;
        return v;
      case 25:
        v.kind = Value::Kind::Float;
        v.f = half_to_double(static_cast<std::uint16_t>(arg));
        return v;
      case 26: {
        const auto bits = static_cast<std::uint32_t>(arg);
        float f = 0;
        std::memcpy(&f, &bits, 4);
        v.kind = Value::Kind::Float;
        v.f = f;
        return v;
      }
      case 27:
        v.kind = Value::Kind::Float;
        std::memcpy(&v.f, &arg, 8);
        return v;
      default:
        v.kind = Value::Kind::Simple;
        v.u = ai;
        return v;
    }
  }

  Result<Value> definite_string(std::uint8_t major, std::uint64_t len) {
    if (len > d_.size() - pos_) return fail("string longer than the input");
    const std::uint8_t* p = d_.data() + pos_;
    pos_ += static_cast<std::size_t>(len);
    if (major == 2) return Value::byte_string(Bytes(p, p + len));
    if (!valid_utf8(p, static_cast<std::size_t>(len))) return fail("invalid UTF-8 in text string");
    return Value::string(std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len)));
  }

  Result<Value> indefinite_string(std::uint8_t major) {
    Value out = major == 2 ? Value::byte_string({}) : Value::string({});
    while (true) {
      if (pos_ >= d_.size()) return fail("unexpected end of input");
      if (d_[pos_] == 0xff) {
        ++pos_;
        return out;
      }
      const std::uint8_t ib = d_[pos_++];
      std::uint64_t len = 0;
      if ((ib >> 5) != major || (ib & 0x1f) == 31 || !argument(ib & 0x1f, len)) {
        return fail("bad chunk in indefinite-length string");
      }
      auto chunk = definite_string(major, len);
      if (!chunk) return chunk;
      if (major == 2)
        out.bytes.insert(out.bytes.end(), chunk->bytes.begin(), chunk->bytes.end());
      else
        out.text += chunk->text;
    }
  }

  Result<Value> container(std::uint8_t major, std::uint64_t count, bool indefinite, std::size_t depth) {
    Value out = major == 4 ? Value::array() : Value::map();
    const std::uint64_t per = major == 4 ? 1 : 2;
    if (!indefinite && count > (d_.size() - pos_) / per) return fail("container longer than the input");
    for (std::uint64_t i = 0; indefinite || i < count * per; ++i) {
      if (indefinite && pos_ < d_.size() && d_[pos_] == 0xff && i % per == 0) {
        ++pos_;
        break;
      }
      auto v = item(depth + 1);
      if (!v) return v;
      out.items.push_back(std::move(*v));
    }
    return out;
  }

  ByteView d_;
  std::size_t pos_ = 0;

 public:
  std::size_t position() const { return pos_; }
};

}  // namespace

Value Value::sint(std::int64_t v) {
  if (v >= 0) return uint(static_cast<std::uint64_t>(v));
  Value x;
  x.kind = Kind::Negative;
  x.u = static_cast<std::uint64_t>(-(v + 1));
  return x;
}

void Value::put(std::uint64_t key, Value v) {
  items.push_back(uint(key));
  items.push_back(std::move(v));
}

const Value* Value::get(std::uint64_t key) const {
  if (kind != Kind::Map) return nullptr;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i].kind == Kind::Unsigned && items[i].u == key) return &items[i + 1];
  }
  return nullptr;
}

bool half_exact(double v, std::uint16_t& bits) {
  const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  if (std::isnan(v)) {
    bits = 0x7e00;
    return true;
  }
  if (std::isinf(v)) {
    bits = sign | 0x7c00;
    return true;
  }
  const double a = std::fabs(v);
  if (a == 0.0) {
    bits = sign;
    return true;
  }
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  const int exp = e - 1;               // a = (2m) * 2^exp
  if (exp > 15) return false;
  if (exp >= -14) {
    const double mant = (2.0 * m - 1.0) * 1024.0;
    if (mant != std::floor(mant)) return false;
    bits = static_cast<std::uint16_t>(sign | ((exp + 15) << 10) | static_cast<std::uint16_t>(mant));
    return true;
  }
  const double k = std::ldexp(a, 24);  // subnormal: a = k * 2^-24, k in [1, 1023]
  if (k != std::floor(k) || k >= 1024.0) return false;
  bits = static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(k));
  return true;
}

double half_to_double(std::uint16_t bits) {
  const int exp = (bits >> 10) & 0x1f;
  const int mant = bits & 0x3ff;
  double v = 0;
  if (exp == 0)
    v = std::ldexp(mant, -24);
  else if (exp == 31)
    v = mant == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  else
    v = std::ldexp(mant + 1024, exp - 25);
  return (bits & 0x8000) ? -v : v;
}

void encode(const Value& v, Bytes& out) {
  switch (v.kind) {
    case Value::Kind::Unsigned: put_head(out, 0, v.u); break;
    case Value::Kind::Negative: put_head(out, 1, v.u); break;
    case Value::Kind::Bytes:
      put_head(out, 2, v.bytes.size());
      out.insert(out.end(), v.bytes.begin(), v.bytes.end());
      break;
    case Value::Kind::Text:
      put_head(out, 3, v.text.size());
      out.insert(out.end(), v.text.begin(), v.text.end());
      break;
    case Value::Kind::Array:
      put_head(out, 4, v.items.size());
      for (const Value& x : v.items) encode(x, out);
      break;
    case Value::Kind::Map:
      put_head(out, 5, v.items.size() / 2);
      for (std::size_t i = 0; i + 1 < v.items.size(); i += 2) {
        encode(v.items[i], out);
        encode(v.items[i + 1], out);
      }
      break;
    case Value::Kind::Tag:
      put_head(out, 6, v.u);
      if (!v.items.empty())
        encode(v.items.front(), out);
      else
        out.push_back(0xf6);
      break;
    case Value::Kind::Bool: out.push_back(v.b ? 0xf5 : 0xf4); break;
    case Value::Kind::Null: out.push_back(0xf6); break;
    case Value::Kind::Undefined: out.push_back(0xf7); break;
    case Value::Kind::Simple:
      if (v.u < 20)
        out.push_back(static_cast<std::uint8_t>(0xe0 | v.u));
      else
        out.insert(out.end(), {0xf8, static_cast<std::uint8_t>(v.u < 32 ? 32 : v.u)});
      break;
    case Value::Kind::Float: put_float(out, v.f); break;
  }
}

Result<Value> decode(ByteView data) {
  if (data.size() > kMaxInput)
    return fail(detail::cat("input larger than ", std::to_string(kMaxInput), " bytes"));
  Decoder d(data);
  return d.item(0);
}

Result<Value> decode(ByteView data, std::size_t& used) {
  used = 0;
  if (data.size() > kMaxInput)
    return fail(detail::cat("input larger than ", std::to_string(kMaxInput), " bytes"));
  Decoder d(data);
  auto v = d.item(0);
  if (v) used = d.position();
  return v;
}

}  // namespace paniq::profile::cbor
