// Message type names, header ranges (PROTOCOL.md 3.3) and Config::validate (2.1.4).
#include "obf/types.hpp"

#include <limits>

#include "obf/chain.hpp"
#include "obf/errors.hpp"
#include "obf/text.hpp"

namespace paniq::obf {

const char* to_string(MessageType t) {
  switch (t) {
    case MessageType::Initiation: return "Initiation";
    case MessageType::Response: return "Response";
    case MessageType::CookieReply: return "CookieReply";
    case MessageType::Transport: return "Transport";
  }
  return "Unknown";
}

std::string HeaderRange::to_string() const {
  if (start == end) return std::to_string(start);
  return text::concat({std::to_string(start), "-", std::to_string(end)});
}

Result<HeaderRange> parse_header_range(std::string_view spec) {
  const std::size_t dash = spec.find('-');
  if (dash != std::string_view::npos && spec.find('-', dash + 1) != std::string_view::npos) {
    return make_error(Errc::bad_header, "bad format");
  }
  const auto parse_part = [](std::string_view part, std::uint32_t& out) -> Result<void> {
    std::uint64_t v = 0;
    if (const char* why = text::parse_unsigned(part, std::numeric_limits<std::uint32_t>::max(), v)) {
      return make_error(Errc::bad_header, text::concat({"failed to parse ", part, ": ", why}));
    }
    out = static_cast<std::uint32_t>(v);
    return {};
  };
  HeaderRange r;
  if (auto ok = parse_part(spec.substr(0, dash), r.start); !ok) return ok.error();
  r.end = r.start;
  if (dash != std::string_view::npos) {
    if (auto ok = parse_part(spec.substr(dash + 1), r.end); !ok) return ok.error();
  }
  if (r.end < r.start) return make_error(Errc::bad_header, "start above end");
  return r;
}

Result<HeaderRange> parse_header_field(std::size_t index, std::string_view spec) {
  static constexpr const char* kDefaults[4] = {"1", "2", "3", "4"};
  const std::string_view effective = spec.empty() ? kDefaults[index % 4] : spec;
  auto r = parse_header_range(effective);
  if (!r) {
    return make_error(Errc::bad_header,
                      text::concat({"obfuscation.h", std::to_string(index + 1), ": \"", effective,
                                    "\": ", r.error().message}));
  }
  return r;
}

namespace {

// "obfuscation.<field>: <value>: <rule>"
Error config_error(std::string_view field, std::string_view value, std::string_view rule) {
  return make_error(Errc::bad_config,
                    text::concat({"obfuscation.", field, ": ", value, ": ", rule}));
}

std::string numbered(std::string_view name, std::size_t k) {
  return text::concat({name, std::to_string(k + 1)});
}

std::string quoted(std::string_view s) { return text::concat({"\"", s, "\""}); }

}  // namespace

Result<void> Config::validate() const {
  if (jc < 0) return config_error("jc", std::to_string(jc), "must be non-negative");
  if (jmin < 0) return config_error("jmin", std::to_string(jmin), "must be non-negative");
  if (jmax < 0) return config_error("jmax", std::to_string(jmax), "must be non-negative");
  if (jmax > 0 && jmin > jmax) {
    return config_error("jmin", std::to_string(jmin),
                        text::concat({"must be <= jmax (", std::to_string(jmax), ")"}));
  }
  for (std::size_t k = 0; k < h.size(); ++k) {
    if (h[k].end < h[k].start) {
      const std::string spec =
          text::concat({std::to_string(h[k].start), "-", std::to_string(h[k].end)});
      return config_error(numbered("h", k), quoted(spec), "start above end");
    }
  }
  for (std::size_t a = 0; a < h.size(); ++a) {
    for (std::size_t b = a + 1; b < h.size(); ++b) {
      if (h[a].overlaps(h[b])) {
        return make_error(Errc::bad_config,
                          text::concat({"obfuscation.", numbered("h", a), "/obfuscation.",
                                        numbered("h", b), ": headers must not overlap (",
                                        h[a].to_string(), " and ", h[b].to_string(), ")"}));
      }
    }
  }
  for (std::size_t k = 0; k < i.size(); ++k) {
    if (i[k].empty()) continue;
    auto chain = Chain::parse(i[k]);
    if (!chain) {
      return config_error(numbered("i", k), quoted(i[k]), chain.error().message);
    }
  }
  return {};
}

}  // namespace paniq::obf
