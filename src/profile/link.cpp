#include "profile/link.hpp"

#include <algorithm>

#include "profile/cbor.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/text.hpp"
#include "profile/validate.hpp"

namespace paniq::profile {
namespace {

using detail::cat;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Error link_error(std::string_view what) { return make_error(Errc::link, cat("pnq:// link: ", what)); }

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// A character as a reader would want to see it in a message: 'c', or \xNN when unprintable.
std::string shown(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u > 0x20 && u < 0x7f) return cat("'", std::string(1, c), "'");
  static constexpr char hex[] = "0123456789abcdef";
  return cat("\\x", std::string{hex[u >> 4], hex[u & 15]});
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim_ascii(std::string_view s) {
  while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_utf8(std::string_view s) {
  // The CBOR decoder already checks UTF-8 strictly: reuse it on a one-item text string.
  Bytes item;
  const std::uint64_t n = s.size();
  if (n < 24) {
    item.push_back(static_cast<std::uint8_t>(0x60 | n));
  } else {
    item.push_back(0x7b);
    for (int i = 7; i >= 0; --i) item.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  }
  item.insert(item.end(), s.begin(), s.end());
  return cbor::decode(item).ok();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The text after '#' (starting at link position `offset`, 0-based) -> the name.
Result<std::string> percent_decode_name(std::string_view text, std::size_t offset) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const std::size_t pos = offset + i + 1;
    if (c == '%') {
      const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return link_error(cat("name after '#': bad percent-escape \"", text.substr(i, 3), "\" at position ",
                              std::to_string(pos), " (expected % and two hex digits)"));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#') {
      return link_error(cat("name after '#': character ", shown(c), " at position ", std::to_string(pos),
                            " must be percent-encoded"));
    }
    out.push_back(c);
  }
  if (out.size() > kMaxLinkNameBytes) {
    return link_error(cat("name after '#': ", std::to_string(out.size()), " bytes, more than ",
                          std::to_string(kMaxLinkNameBytes)));
  }
  if (!valid_utf8(out)) return link_error("name after '#': not valid UTF-8 once percent-decoded");
  for (char c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return link_error("name after '#': contains a control character once percent-decoded");
    }
  }
  return out;
}

// Payload bytes -> profile, with the link's error wording.
Result<Profile> decode_payload(const Bytes& data) {
  std::size_t used = 0;
  auto item = cbor::decode(data, used);
  if (!item) return link_error(cat("truncated or invalid profile data: ", item.error().message));
  if (used != data.size()) {
    return link_error(cat(std::to_string(data.size() - used), " unexpected bytes after the ",
                          std::to_string(used),
                          "-byte profile data: the link was altered or two links were joined"));
  }
  auto p = decode_compact_profile(data);
  if (!p) {
    const std::string& m = p.error().message;
    if (m.rfind("unsupported version", 0) == 0) {
      return link_error(cat(m, ": this program reads version 1 links (a newer paniq made it?)"));
    }
    return link_error(m);
  }
  return p;
}

}  // namespace

std::string base64url_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    if (rest == 2) v |= std::uint32_t{data[i + 1]} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

Result<Bytes> base64url_decode(std::string_view text, std::size_t offset) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (base64url_value(text[i]) >= 0) continue;
    const char c = text[i];
    std::string hint = "links use A-Z a-z 0-9 - _ without '=' padding";
    if (c == '+' || c == '/') hint = "standard base64 is not a link: links use - and _ for + and /";
    if (is_ascii_space(c)) hint = "the link was broken across lines or has a space inside";
    return link_error(cat("invalid base64url character ", shown(c), " at position ",
                          std::to_string(offset + i + 1), " (", hint, ")"));
  }
  if (text.size() % 4 == 1) {
    return link_error(cat("base64url payload of ", std::to_string(text.size()),
                          " characters cannot be complete (one character too many or missing): "
                          "truncated link?"));
  }
  Bytes out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    acc = (acc << 6) | static_cast<std::uint32_t>(base64url_value(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) {
    return link_error(cat("the last base64url character ", shown(text.back()), " (position ",
                          std::to_string(offset + text.size()),
                          ") has bits set past the end of the data: truncated or altered link"));
  }
  return out;
}

std::string percent_encode_name(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

Result<std::string> encode_link(const Profile& p, bool with_name, std::vector<std::string>* notes) {
  if (!p.obfuscation.server_private_key.empty()) {
    return make_error(Errc::link,
                      "obfuscation.server_private_key: present: a link must never carry the server's private "
                      "key (link a client profile, or its client view without the key)");
  }
  auto bytes = encode_compact_profile(p, notes);
  if (!bytes) return bytes.error();
  std::string link = cat(kLinkScheme, base64url_encode(*bytes));
  if (with_name && !p.name.empty()) link += cat("#", percent_encode_name(p.name));
  return link;
}

bool looks_like_link(std::string_view text) {
  text = trim_ascii(text);
  if (text.size() < kLinkScheme.size()) return false;
  for (std::size_t i = 0; i < kLinkScheme.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kLinkScheme[i]) return false;
  }
  return true;
}

bool has_url_scheme(std::string_view text) {
  text = trim_ascii(text);
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  for (std::size_t i = 0; i < sep; ++i) {
    const char c = text[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) return false;
  }
  return true;
}

Result<Profile> decode_link(std::string_view link, std::vector<std::string>& warnings) {
  if (link.size() > kMaxLinkLength + 64) {  // before trimming: bound the work on huge input
    return link_error(cat(std::to_string(link.size()), " characters, more than the ",
                          std::to_string(kMaxLinkLength), " a link may have"));
  }
  link = trim_ascii(link);
  if (link.size() > kMaxLinkLength) {
    return link_error(cat(std::to_string(link.size()), " characters, more than the ",
                          std::to_string(kMaxLinkLength), " a link may have"));
  }
  if (!looks_like_link(link)) {
    const std::size_t colon = link.find("://");
    const std::string start(link.substr(0, std::min<std::size_t>(link.size(), 12)));
    if (colon != std::string_view::npos && colon < 32) {
      return link_error(cat("wrong scheme \"", link.substr(0, colon), "://\": expected pnq://"));
    }
    return link_error(cat("does not start with pnq:// (starts with \"", start, "\")"));
  }
  const std::size_t hash = link.find('#');
  const std::string_view payload = link.substr(kLinkScheme.size(), hash == std::string_view::npos
                                                                       ? std::string_view::npos
                                                                       : hash - kLinkScheme.size());
  if (payload.empty()) return link_error("no profile data after pnq://");
  auto bytes = base64url_decode(payload, kLinkScheme.size());
  if (!bytes) return bytes.error();
  auto p = decode_payload(*bytes);
  if (!p) return p.error();
  if (hash != std::string_view::npos && hash + 1 < link.size()) {
    auto name = percent_decode_name(link.substr(hash + 1), hash + 1);
    if (!name) return name.error();
    p->name = std::move(*name);
  }
  if (!p->obfuscation.server_private_key.empty()) {
    return link_error(
        "carries obfuscation.server_private_key: a link must never hold the server's private key; "
        "refused (ask the server's operator for a client link, and have them change the server's keys)");
  }
  if (p->proxy_addr.empty() && p->servers.empty()) {
    return link_error("no proxy_addr and no servers: the profile names no server to connect to");
  }
  if (auto ok = validate_profile(*p, warnings); !ok) return link_error(cat("profile: ", ok.error().message));
  return p;
}

}  // namespace paniq::profile
