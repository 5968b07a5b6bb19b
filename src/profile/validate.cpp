// Profile validation and conversion into per-layer configs.
#include "profile/validate.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "obf/chain.hpp"
#include "profile/addr.hpp"
#include "profile/json_reader.hpp"
#include "profile/text.hpp"

namespace paniq::profile {
namespace {

using detail::cat;
using detail::json;

Error invalid(const std::string& path, const std::string& shown, const std::string& reason) {
  return make_error(Errc::validation, cat(path, ": ", shown, ": ", reason));
}
std::string quoted(const std::string& s) { return detail::show(json(s)); }
std::string num(std::uint64_t v) { return std::to_string(v); }
std::string real(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  return json(v).dump();
}

std::uint64_t packet_size(const Profile& p) { return p.kcp ? p.kcp->max_packet_size : 1350; }

constexpr std::array<const char*, 4> kHeaderNames = {"h1", "h2", "h3", "h4"};
constexpr std::array<const char*, 4> kHeaderDefaults = {"1", "2", "3", "4"};

std::array<const std::string*, 4> header_specs(const ObfuscationSection& o) {
  return {&o.h1, &o.h2, &o.h3, &o.h4};
}
std::array<const std::string*, 5> chain_specs(const ObfuscationSection& o) {
  return {&o.i1, &o.i2, &o.i3, &o.i4, &o.i5};
}
std::string effective_header_spec(const ObfuscationSection& o, std::size_t i) {
  const std::string& spec = *header_specs(o)[i];
  return spec.empty() ? kHeaderDefaults[i] : spec;
}

Result<void> check_kcp(const KcpSection& k, std::vector<std::string>& warnings) {
  if (k.max_packet_size < kMinPacketSize || k.max_packet_size > kMaxPacketSize) {
    return invalid("kcp.max_packet_size", num(k.max_packet_size),
                   cat("must be between ", num(kMinPacketSize), " and ", num(kMaxPacketSize)));
  }
  if (k.flush_interval_ms == 0) return invalid("kcp.flush_interval_ms", "0", "must be at least 1");
  for (auto [name, w] : {std::pair{"kcp.send_window", k.send_window}, {"kcp.recv_window", k.recv_window}}) {
    if (!w) continue;
    if (*w == 0) return invalid(name, "0", "must be > 0");
    if (*w > kWindowLimit) {
      warnings.push_back(cat(name, ": ", num(*w), ": larger than 65535, clamped by the KCP engine"));
    }
  }
  if (k.max_snd_queue && *k.max_snd_queue == 0) return invalid("kcp.max_snd_queue", "0", "must be > 0");
  return {};
}

Result<void> check_padding(const PaddingSection& t, std::uint64_t mps, std::vector<std::string>& warnings) {
  if (!std::isfinite(t.pad_burst_prob)) {
    return invalid("transport_padding.pad_burst_prob", real(t.pad_burst_prob), "must be a finite number");
  }
  if (t.pad_burst_prob < 0.0 || t.pad_burst_prob > 1.0) {
    warnings.push_back(cat("transport_padding.pad_burst_prob: ", real(t.pad_burst_prob),
                           ": outside [0, 1], clamped when used"));
  }
  for (auto [name, v] : {std::pair{"pad_min", t.pad_min},
                         {"pad_max", t.pad_max},
                         {"pad_burst_min", t.pad_burst_min},
                         {"pad_burst_max", t.pad_burst_max}}) {
    if (v > mps) {
      return invalid(cat("transport_padding.", name), num(v), cat("exceeds kcp.max_packet_size ", num(mps)));
    }
  }
  return {};
}

// Reference rules 1-4 of 2.1.4, with field paths.
Result<void> check_junk_and_prefixes(const ObfuscationSection& o) {
  if (o.jc < 0) return invalid("obfuscation.jc", std::to_string(o.jc), "must be non-negative");
  if (o.jmin < 0) return invalid("obfuscation.jmin", std::to_string(o.jmin), "must be non-negative");
  if (o.jmax < 0) return invalid("obfuscation.jmax", std::to_string(o.jmax), "must be non-negative");
  if (o.jmax > 0 && o.jmin > o.jmax) {
    return invalid("obfuscation.jmin", std::to_string(o.jmin),
                   cat("must be <= jmax (", std::to_string(o.jmax), ")"));
  }
  const std::array<std::pair<const char*, std::int32_t>, 4> s = {{{"obfuscation.s1", o.s1},
                                                                  {"obfuscation.s2", o.s2},
                                                                  {"obfuscation.s3", o.s3},
                                                                  {"obfuscation.s4", o.s4}}};
  for (auto [name, v] : s) {
    if (v < 0) return invalid(name, std::to_string(v), "must be non-negative");
  }
  return {};
}

// Rule 5: header specs parse and do not overlap.
Result<void> check_headers(const ObfuscationSection& o) {
  std::array<obf::HeaderRange, 4> ranges{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string spec = effective_header_spec(o, i);
    auto r = obf::parse_header_range(spec);
    if (!r) return invalid(cat("obfuscation.", kHeaderNames[i]), quoted(spec), r.error().message);
    ranges[i] = *r;
  }
  for (std::size_t i = 0; i < 4; ++i) {
    for (std::size_t j = i + 1; j < 4; ++j) {
      if (ranges[i].overlaps(ranges[j])) {
        return make_error(Errc::validation,
                          cat("obfuscation.", kHeaderNames[i], "/obfuscation.", kHeaderNames[j],
                              ": headers must not overlap (", quoted(effective_header_spec(o, i)), " and ",
                              quoted(effective_header_spec(o, j)), ")"));
      }
    }
  }
  return {};
}

// Rule 6 plus the size of each signature datagram.
Result<void> check_chains(const ObfuscationSection& o, std::uint64_t mps) {
  const auto specs = chain_specs(o);
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (specs[i]->empty()) continue;
    const std::string path = cat("obfuscation.i", std::to_string(i + 1));
    auto chain = obf::Chain::parse(*specs[i]);
    if (!chain) return invalid(path, quoted(*specs[i]), chain.error().message);
    const std::uint64_t len = chain->obfuscated_len(0);
    if (len > mps) {
      return invalid(
          path, quoted(*specs[i]),
          cat("signature datagram of ", num(len), " bytes exceeds kcp.max_packet_size ", num(mps)));
    }
  }
  return {};
}

Result<void> check_datagram_sizes(const Profile& p, std::uint64_t mps) {
  const ObfuscationSection& o = p.obfuscation;
  const std::string limit = cat(" exceeds kcp.max_packet_size ", num(mps));
  if (const std::uint64_t n = std::uint64_t(o.s1) + kHeaderLen + kMaxInitiationPayload; n > mps) {
    return invalid("obfuscation.s1", std::to_string(o.s1),
                   cat("Initiation datagram of ", num(n), " bytes (s1 + 4 + 101)", limit));
  }
  if (const std::uint64_t n = std::uint64_t(o.s2) + kHeaderLen + kResponsePayload; n > mps) {
    return invalid("obfuscation.s2", std::to_string(o.s2),
                   cat("Response datagram of ", num(n), " bytes (s2 + 8)", limit));
  }
  if (const std::uint64_t n = std::uint64_t(o.s3) + kHeaderLen; n > mps) {
    return invalid("obfuscation.s3", std::to_string(o.s3),
                   cat("CookieReply datagram of ", num(n), " bytes (s3 + 4)", limit));
  }
  const std::uint64_t overhead = o.transport_replay ? 10 : 2;
  if (const std::uint64_t n = std::uint64_t(o.s4) + kHeaderLen + overhead + kKcpHeaderLen + 1; n > mps) {
    return invalid("obfuscation.s4", std::to_string(o.s4),
                   cat("transport datagram with one data byte needs ", num(n), " bytes (s4 + 4 + ",
                       num(overhead), " + 24 + 1), more than kcp.max_packet_size ", num(mps)));
  }
  if (std::uint64_t(o.jmax) > mps) {
    return invalid("obfuscation.jmax", std::to_string(o.jmax), cat("junk datagram", limit));
  }
  return {};
}

// The derived KCP MTU must leave room for a segment header and one data byte.
Result<void> check_mtu(const Profile& p) {
  const envelope::SizeInputs in = size_inputs(p);
  const envelope::Sizes sizes = envelope::derive_sizes(in);
  if (sizes.kcp_mtu > kKcpHeaderLen) return {};
  envelope::SizeInputs bare = in;
  bare.padding = envelope::PaddingPolicy::disabled();
  const std::string mtu = cat("leaves a KCP MTU of ", num(sizes.kcp_mtu), " bytes (must be > 24)");
  if (in.padding.enabled && envelope::derive_sizes(bare).kcp_mtu > kKcpHeaderLen) {
    return invalid("transport_padding", cat("padding reserve ", num(sizes.padding_reserve)), mtu);
  }
  return invalid("kcp.max_payload", num(p.kcp ? p.kcp->max_payload : 1200), mtu);
}

// The encrypted transport (docs/protocol.md 7): a key to run Noise with, room for the
// capability tag that carries the offer, room in the MTU for the sealed header and tag.
Result<void> check_encryption(const Profile& p) {
  const ObfuscationSection& o = p.obfuscation;
  if (o.rekey_interval && (o.rekey_interval->count() < 100 || o.rekey_interval->count() > 120'000)) {
    return invalid("obfuscation.rekey_interval", format_profile_duration(*o.rekey_interval),
                   "must be between 100ms and 120s");
  }
  if (o.encryption == "off") return {};
  const std::string mode = quoted(o.encryption);
  if (o.server_public_key.empty() && o.server_private_key.empty()) {
    return invalid("obfuscation.encryption", mode,
                   "needs obfuscation.server_public_key (client) or server_private_key (server)");
  }
  if (o.s1 < 24) {
    return invalid("obfuscation.encryption", mode,
                   cat("needs obfuscation.s1 >= 24 for the capability tag (s1 is ", num(o.s1), ")"));
  }
  const envelope::Sizes sizes = envelope::derive_sizes(size_inputs(p));
  if (sizes.kcp_mtu <= kKcpHeaderLen + 32) {
    return invalid("obfuscation.encryption", mode,
                   cat("leaves a KCP MTU of ", num(sizes.kcp_mtu > 32 ? sizes.kcp_mtu - 32 : 0),
                       " bytes after the 32-byte sealed header and tag (must be > 24)"));
  }
  return {};
}

// Several servers and port hopping (our extension).
Result<void> check_servers(const Profile& p) {
  for (std::size_t i = 0; i < p.servers.size(); ++i) {
    if (!parse_host_port_range(p.servers[i])) {
      return invalid(cat("servers[", std::to_string(i), "]"), quoted(p.servers[i]),
                     "expected HOST:PORT or HOST:PORT-PORT (IPv6 in brackets)");
    }
  }
  if (p.servers.size() > 16) return invalid("servers", num(p.servers.size()) + " entries", "at most 16");
  if (p.hop_interval && !parse_hop_interval(*p.hop_interval)) {
    return invalid("hop_interval", quoted(*p.hop_interval),
                   "expected DURATION-DURATION (e.g. \"30s-60s\"), at least 100ms, start <= end");
  }
  return {};
}

}  // namespace

std::optional<std::pair<Millis, Millis>> parse_hop_interval(std::string_view text) {
  const auto dash = text.find('-');
  const auto a = parse_profile_duration(text.substr(0, dash));
  const auto b = dash == std::string_view::npos ? a : parse_profile_duration(text.substr(dash + 1));
  if (!a || !b || a->count() < 100 || *b < *a) return std::nullopt;
  return std::pair{*a, *b};
}

Result<void> validate_profile(const Profile& p, std::vector<std::string>& warnings) {
  const std::uint64_t mps = packet_size(p);
  if (p.kcp) {
    if (auto r = check_kcp(*p.kcp, warnings); !r) return r;
  }
  if (p.transport_padding) {
    if (auto r = check_padding(*p.transport_padding, mps, warnings); !r) return r;
  }
  if (auto r = check_junk_and_prefixes(p.obfuscation); !r) return r;
  if (auto r = check_headers(p.obfuscation); !r) return r;
  if (auto r = check_chains(p.obfuscation, mps); !r) return r;
  if (auto r = obf_config(p).validate(); !r) return make_error(Errc::validation, r.error().message);
  if (auto r = check_datagram_sizes(p, mps); !r) return r;
  if (auto r = check_mtu(p); !r) return r;
  if (auto r = check_servers(p); !r) return r;
  return check_encryption(p);
}

obf::Config obf_config(const Profile& p) {
  const ObfuscationSection& o = p.obfuscation;
  obf::Config c;
  c.jc = o.jc;
  c.jmin = o.jmin;
  c.jmax = o.jmax;
  const std::array<std::int32_t, 4> s = {o.s1, o.s2, o.s3, o.s4};
  for (std::size_t i = 0; i < 4; ++i) {
    c.s[i] = static_cast<std::uint32_t>(std::max(0, s[i]));
    auto r = obf::parse_header_range(effective_header_spec(o, i));
    c.h[i] = r ? *r : obf::HeaderRange{static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(i + 1)};
  }
  const auto specs = chain_specs(o);
  for (std::size_t i = 0; i < specs.size(); ++i) c.i[i] = *specs[i];
  c.classify = o.classify_mode;
  return c;
}

envelope::PaddingPolicy padding_policy(const Profile& p) {
  if (!p.transport_padding) return envelope::PaddingPolicy::disabled();
  const PaddingSection& t = *p.transport_padding;
  auto u32 = [](std::uint64_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX));
  };
  envelope::PaddingPolicy pol;
  pol.enabled = true;
  pol.pad_min = u32(t.pad_min);
  pol.pad_max = u32(t.pad_max);
  pol.pad_burst_min = u32(t.pad_burst_min);
  pol.pad_burst_max = u32(t.pad_burst_max);
  pol.pad_burst_prob = std::isnan(t.pad_burst_prob) ? 0.0 : std::clamp(t.pad_burst_prob, 0.0, 1.0);
  return pol;
}

envelope::SizeInputs size_inputs(const Profile& p) {
  auto u32 = [](std::uint64_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX));
  };
  envelope::SizeInputs in;
  if (p.kcp) {
    in.max_packet_size = u32(p.kcp->max_packet_size);
    in.max_payload = u32(p.kcp->max_payload);
  }
  in.s4 = static_cast<std::uint32_t>(std::max(0, p.obfuscation.s4));
  in.transport_replay = p.obfuscation.transport_replay;
  in.padding = padding_policy(p);
  return in;
}

Result<SocketAddr> client_proxy_addr(const Profile& p) {
  if (auto a = parse_socket_addr(p.proxy_addr)) return *a;
  return make_error(Errc::invalid_value, cat("proxy_addr: ", quoted(p.proxy_addr),
                                             ": invalid socket address (expected IP:port or [IPv6]:port)"));
}

}  // namespace paniq::profile
