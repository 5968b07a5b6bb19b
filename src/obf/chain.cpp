// Chain grammar, obfuscation and de-obfuscation (PROTOCOL.md 3.2). The tags live in tag_*.cpp.
#include "obf/chain.hpp"

#include "obf/errors.hpp"
#include "obf/tags.hpp"
#include "obf/text.hpp"

namespace paniq::obf {
namespace {

Result<tags::TagPtr> make_tag(std::string_view name, std::string_view arg) {
  if (name == "b") return tags::make_bytes(arg);
  if (name == "t") return tags::make_time();
  if (name == "r") return tags::make_random(tags::RandomKind::bytes, arg);
  if (name == "rc") return tags::make_random(tags::RandomKind::letters, arg);
  if (name == "rd") return tags::make_random(tags::RandomKind::digits, arg);
  if (name == "d") return tags::make_data();
  if (name == "ds") return tags::make_data_string();
  if (name == "dz") return tags::make_size(arg);
  return make_error(Errc::bad_chain, text::concat({"unknown tag <", name, ">"}));
}

Error mismatch(std::string message) {
  return make_error(Errc::signature_mismatch, std::move(message));
}

}  // namespace

Result<Chain> Chain::parse(std::string_view spec) {
  Chain chain;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t open = spec.find('<', pos);
    if (open == std::string_view::npos) break;
    const std::size_t close = spec.find('>', open + 1);
    if (close == std::string_view::npos) return make_error(Errc::bad_chain, "missing enclosing >");
    const std::string_view body = text::trim(spec.substr(open + 1, close - open - 1));
    pos = close + 1;
    if (body.empty()) continue;  // "<>" and "< >" are skipped
    const auto parts = text::split_whitespace(body);
    auto tag = make_tag(parts[0], parts.size() > 1 ? parts[1] : std::string_view{});
    if (!tag) return tag.error();
    chain.tags_.push_back(std::move(*tag));
  }
  return chain;
}

std::size_t Chain::obfuscated_len(std::size_t payload_len) const {
  std::size_t n = 0;
  for (const auto& t : tags_) n += t->obfuscated_len(payload_len);
  return n;
}

void Chain::obfuscate(Bytes& out, ByteView payload, std::uint32_t unix_seconds, Rng& rng) const {
  std::size_t at = out.size();
  out.resize(at + obfuscated_len(payload.size()));
  for (const auto& t : tags_) {
    t->obfuscate(out.data() + at, payload, unix_seconds, rng);
    at += t->obfuscated_len(payload.size());
  }
}

Bytes Chain::signature(std::uint32_t unix_seconds, Rng& rng) const {
  Bytes out;
  obfuscate(out, ByteView{}, unix_seconds, rng);
  return out;
}

Result<Bytes> Chain::deobfuscate(ByteView input) const {
  std::size_t fixed_len = 0;
  bool has_data = false;
  for (const auto& t : tags_) {
    if (t->fixed()) {
      fixed_len += t->obfuscated_len(0);
    } else {
      has_data = true;
    }
  }
  if (input.size() < fixed_len) return mismatch("input shorter than the chain's fixed tags");
  const std::size_t dynamic = input.size() - fixed_len;
  // Payload length n: the data tags together take exactly `dynamic` bytes. Their length grows
  // strictly with n, so a binary search finds the only candidate.
  std::size_t n = 0;
  if (has_data) {
    std::size_t lo = 0, hi = dynamic;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (obfuscated_len(mid) - fixed_len < dynamic) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    n = lo;
  }
  if (obfuscated_len(n) != input.size()) return mismatch("input length fits no payload length");

  Bytes payload, again;
  bool first_data = true;
  std::size_t at = 0;
  for (std::size_t k = 0; k < tags_.size(); ++k) {
    const Tag& t = *tags_[k];
    const std::size_t len = t.obfuscated_len(n);
    Bytes& sink = first_data ? payload : again;
    sink.clear();
    if (!t.deobfuscate(input.subspan(at, len), sink)) {
      return mismatch(text::concat({"tag ", std::to_string(k + 1), " <", t.name(), ">: check failed"}));
    }
    if (!t.fixed()) {
      if (!first_data && again != payload) {
        return mismatch(text::concat(
            {"tag ", std::to_string(k + 1), " <", t.name(), ">: differs from the first data tag"}));
      }
      first_data = false;
    }
    at += len;
  }
  return payload;
}

}  // namespace paniq::obf
