#include "profile/profile_cbor.hpp"

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <string_view>

#include "crypto/crypto.hpp"
#include "profile/addr.hpp"
#include "profile/cbor.hpp"
#include "profile/text.hpp"

namespace paniq::profile {
namespace {

using cbor::Value;
using Kind = Value::Kind;

constexpr std::uint64_t kVersion = 1;

// ---- encoding --------------------------------------------------------------------------------

Value address_value(const std::string& text) {
  const auto addr = parse_socket_addr(text);
  if (!addr) return Value::string(text);
  Bytes b;
  b.push_back(addr->v6 ? 1 : 0);
  b.insert(b.end(), addr->ip.begin(), addr->ip.begin() + (addr->v6 ? 16 : 4));
  b.push_back(static_cast<std::uint8_t>(addr->port >> 8));
  b.push_back(static_cast<std::uint8_t>(addr->port));
  return Value::byte_string(std::move(b));
}

// "A" -> A, "A-B" -> [A, B] (first two '-' parts as u32), anything else -> the text.
Value header_value(const std::string& spec) {
  const std::size_t dash = spec.find('-');
  const std::string_view first = std::string_view(spec).substr(0, dash);
  std::string_view second = first;
  if (dash != std::string::npos) {
    second = std::string_view(spec).substr(dash + 1);
    second = second.substr(0, second.find('-'));
  }
  const auto a = parse_unsigned(first, UINT32_MAX), b = parse_unsigned(second, UINT32_MAX);
  if (!a || !b) return Value::string(spec);
  if (*a == *b) return Value::uint(*a);
  Value arr = Value::array();
  arr.items.push_back(Value::uint(*a));
  arr.items.push_back(Value::uint(*b));
  return arr;
}

Value kcp_map(const KcpSection& k) {
  Value m = Value::map();
  if (k.max_packet_size != 1350) m.put(1, Value::uint(k.max_packet_size));
  if (k.max_payload > 0) m.put(2, Value::uint(k.max_payload));
  if (k.keepalive.count() != 20'000) m.put(3, Value::uint(static_cast<std::uint64_t>(k.keepalive.count())));
  if (k.idle_timeout.count() != 120'000)
    m.put(4, Value::uint(static_cast<std::uint64_t>(k.idle_timeout.count())));
  if (k.max_streams != 256) m.put(5, Value::uint(k.max_streams));
  return m;
}

Result<Value> obfuscation_map(const ObfuscationSection& o) {
  Value m = Value::map();
  const std::int32_t ints[] = {o.jc, o.jmin, o.jmax, o.s1, o.s2, o.s3, o.s4};
  for (std::uint64_t i = 0; i < 7; ++i) {
    if (ints[i] != 0) m.put(1 + i, Value::sint(ints[i]));
  }
  const std::string* headers[] = {&o.h1, &o.h2, &o.h3, &o.h4};
  for (std::uint64_t i = 0; i < 4; ++i) {
    if (!headers[i]->empty()) m.put(8 + i, header_value(*headers[i]));
  }
  const std::string* chains[] = {&o.i1, &o.i2, &o.i3, &o.i4, &o.i5};
  for (std::uint64_t i = 0; i < 5; ++i) {
    if (!chains[i]->empty()) m.put(12 + i, Value::string(*chains[i]));
  }
  const std::pair<const char*, const std::string*> keys[] = {{"server_private_key", &o.server_private_key},
                                                             {"server_public_key", &o.server_public_key}};
  for (std::uint64_t i = 0; i < 2; ++i) {
    if (keys[i].second->empty()) continue;
    auto raw = crypto::base64_decode(*keys[i].second);
    if (!raw) return make_error(Errc::cbor, detail::cat("obfuscation.", keys[i].first, ": invalid base64"));
    m.put(17 + i, Value::byte_string(std::move(*raw)));
  }
  m.put(19, Value::boolean(o.signature_validate));
  if (o.require_timestamp) m.put(20, Value::boolean(*o.require_timestamp));
  m.put(21, Value::boolean(o.encrypted_timestamp));
  m.put(22, Value::boolean(o.require_encrypted_timestamp));
  if (o.legacy_mode_enabled) m.put(23, Value::boolean(true));
  if (o.skew_soft_seconds != 15) m.put(26, Value::sint(o.skew_soft_seconds));
  if (o.skew_hard_seconds != 30) m.put(27, Value::sint(o.skew_hard_seconds));
  if (o.replay_window_seconds != 30) m.put(28, Value::uint(o.replay_window_seconds));
  if (o.replay_cache_size != 4096) m.put(29, Value::uint(o.replay_cache_size));
  if (o.transport_replay) m.put(30, Value::boolean(true));
  if (o.transport_replay_limit != 0) m.put(31, Value::uint(o.transport_replay_limit));
  if (o.rate_limit_pps != 200) m.put(32, Value::uint(o.rate_limit_pps));
  if (o.rate_limit_burst != 500) m.put(33, Value::uint(o.rate_limit_burst));
  return m;
}

Value padding_map(const PaddingSection& t) {
  Value m = Value::map();
  if (t.pad_min != 16) m.put(1, Value::uint(t.pad_min));
  if (t.pad_max != 96) m.put(2, Value::uint(t.pad_max));
  if (t.pad_burst_min != 96) m.put(3, Value::uint(t.pad_burst_min));
  if (t.pad_burst_max != 104) m.put(4, Value::uint(t.pad_burst_max));
  if (t.pad_burst_prob != 0.02) m.put(5, Value::float64(t.pad_burst_prob));
  return m;
}

void lossy_notes(const Profile& p, std::vector<std::string>& notes) {
  if (p.kcp) {
    const KcpSection& k = *p.kcp;
    if (k.send_window || k.recv_window || k.target_bps || k.rtt_ms || k.max_snd_queue ||
        k.flush_interval_ms != 10) {
      notes.push_back("kcp window/queue/flush settings are not carried by the compact profile");
    }
  }
  if (p.transport_padding && padding_map(*p.transport_padding).items.empty()) {
    notes.push_back("transport_padding with all-default values is not carried: the decoder gets no padding");
  }
  if (p.preamble_delay_ms && *p.preamble_delay_ms == 0) {
    notes.push_back("preamble_delay_ms 0 is not carried: the decoder reads null (5 ms)");
  }
  if (p.obfuscation.classify_mode != obf::ClassifyMode::FirstMatch) {
    notes.push_back(
        "obfuscation.classify_mode is carried only in the extension map: a reference decoder "
        "ignores it");
  }
  if (!p.obfuscation.server_private_key.empty()) {
    notes.push_back(
        "obfuscation.server_private_key is included: never give this to clients (use a client view)");
  }
}

// ---- decoding --------------------------------------------------------------------------------

std::uint64_t as_u64(const Value& v) { return v.kind == Kind::Unsigned ? v.u : 0; }

template <class T>
T as_signed(const Value& v) {
  using L = std::numeric_limits<T>;
  if (v.kind == Kind::Unsigned) return v.u <= static_cast<std::uint64_t>(L::max()) ? static_cast<T>(v.u) : 0;
  // Negative: value = -1 - u.
  if (v.u <= static_cast<std::uint64_t>(-(static_cast<std::int64_t>(L::min()) + 1))) {
    return static_cast<T>(-1 - static_cast<std::int64_t>(v.u));
  }
  return 0;
}

Millis as_millis(const Value& v) {
  const std::uint64_t ms = as_u64(v);
  return Millis(ms <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                    ? static_cast<std::int64_t>(ms)
                    : 0);
}

std::string int_text(const Value& v) {
  if (v.kind == Kind::Unsigned) return std::to_string(v.u);
  if (v.u == UINT64_MAX) return "-18446744073709551616";
  return detail::cat("-", std::to_string(v.u + 1));
}

std::string address_text(const Value& v) {
  if (v.kind == Kind::Text) return v.text;
  if (v.kind != Kind::Bytes) return "";
  const Bytes& b = v.bytes;
  SocketAddr a;
  if (b.size() == 7 && b[0] == 0) {
    std::copy(b.begin() + 1, b.begin() + 5, a.ip.begin());
  } else if (b.size() == 19 && b[0] == 1) {
    a.v6 = true;
    std::copy(b.begin() + 1, b.begin() + 17, a.ip.begin());
  } else {
    return "";
  }
  a.port = static_cast<std::uint16_t>((b[b.size() - 2] << 8) | b[b.size() - 1]);
  return a.to_string();
}

std::string header_text(const Value& v) {
  if (v.kind == Kind::Text) return v.text;
  if (v.is_int()) return int_text(v);
  if (v.kind == Kind::Array && v.items.size() == 2) {
    auto part = [](const Value& x) { return x.is_int() ? int_text(x) : std::string("0"); };
    return detail::cat(part(v.items[0]), "-", part(v.items[1]));
  }
  return "";
}

template <class F>
void with_int(const Value& m, std::uint64_t key, F&& f) {
  if (const Value* v = m.get(key); v && v->is_int()) f(*v);
}
void read_bool(const Value& m, std::uint64_t key, bool& out) {
  if (const Value* v = m.get(key); v && v->kind == Kind::Bool) out = v->b;
}

KcpSection decode_kcp(const Value& m) {
  KcpSection k;
  k.keepalive = Millis(20'000);
  k.idle_timeout = Millis(120'000);
  with_int(m, 1, [&](const Value& v) { k.max_packet_size = as_u64(v); });
  with_int(m, 2, [&](const Value& v) { k.max_payload = as_u64(v); });
  with_int(m, 3, [&](const Value& v) { k.keepalive = as_millis(v); });
  with_int(m, 4, [&](const Value& v) { k.idle_timeout = as_millis(v); });
  with_int(m, 5, [&](const Value& v) { k.max_streams = as_u64(v); });
  return k;
}

void decode_obfuscation(const Value& m, ObfuscationSection& o) {
  std::int32_t* ints[] = {&o.jc, &o.jmin, &o.jmax, &o.s1, &o.s2, &o.s3, &o.s4};
  for (std::uint64_t i = 0; i < 7; ++i)
    with_int(m, 1 + i, [&](const Value& v) { *ints[i] = as_signed<std::int32_t>(v); });
  std::string* headers[] = {&o.h1, &o.h2, &o.h3, &o.h4};
  for (std::uint64_t i = 0; i < 4; ++i) {
    if (const Value* v = m.get(8 + i)) *headers[i] = header_text(*v);
  }
  std::string* chains[] = {&o.i1, &o.i2, &o.i3, &o.i4, &o.i5};
  for (std::uint64_t i = 0; i < 5; ++i) {
    if (const Value* v = m.get(12 + i); v && v->kind == Kind::Text) *chains[i] = v->text;
  }
  std::string* keys[] = {&o.server_private_key, &o.server_public_key};
  for (std::uint64_t i = 0; i < 2; ++i) {
    if (const Value* v = m.get(17 + i); v && v->kind == Kind::Bytes)
      *keys[i] = crypto::base64_encode(v->bytes);
  }
  read_bool(m, 19, o.signature_validate);
  if (const Value* v = m.get(20); v && v->kind == Kind::Bool) o.require_timestamp = v->b;
  read_bool(m, 21, o.encrypted_timestamp);
  read_bool(m, 22, o.require_encrypted_timestamp);
  read_bool(m, 23, o.legacy_mode_enabled);
  with_int(m, 26, [&](const Value& v) { o.skew_soft_seconds = as_signed<std::int64_t>(v); });
  with_int(m, 27, [&](const Value& v) { o.skew_hard_seconds = as_signed<std::int64_t>(v); });
  with_int(m, 28, [&](const Value& v) { o.replay_window_seconds = as_u64(v); });
  with_int(m, 29, [&](const Value& v) { o.replay_cache_size = as_u64(v); });
  read_bool(m, 30, o.transport_replay);
  with_int(m, 31, [&](const Value& v) { o.transport_replay_limit = as_u64(v); });
  with_int(m, 32, [&](const Value& v) { o.rate_limit_pps = as_u64(v); });
  with_int(m, 33, [&](const Value& v) { o.rate_limit_burst = as_u64(v); });
}

PaddingSection decode_padding(const Value& m) {
  PaddingSection t;
  std::uint64_t* ints[] = {&t.pad_min, &t.pad_max, &t.pad_burst_min, &t.pad_burst_max};
  for (std::uint64_t i = 0; i < 4; ++i) with_int(m, 1 + i, [&](const Value& v) { *ints[i] = as_u64(v); });
  if (const Value* v = m.get(5); v && v->kind == Kind::Float) t.pad_burst_prob = v->f;
  return t;
}

// ---- extension map (docs/protocol.md 8.2) ----------------------------------------------------
// Our own fields travel in one map under the TEXT key "x" at the end of the top-level map. The
// reference decoder matches integer keys only and skips everything else (PROTOCOL.md 11.2), and
// no future reference key can be a text string, so the map can never collide with the
// reference's mapping. It is written only when one of its fields differs from its default, so a
// profile without extensions encodes to exactly the reference's bytes.

constexpr std::string_view kExtKey = "x";

Value kcp_extension_map(const KcpSection& k) {
  const KcpSection d;
  Value m = Value::map();
  if (!k.pack_segments) m.put(1, Value::boolean(false));
  if (k.congestion != d.congestion) m.put(2, Value::string(k.congestion));
  if (k.loss_recovery != d.loss_recovery) m.put(3, Value::string(k.loss_recovery));
  if (k.bandwidth_mbps) m.put(4, Value::float64(*k.bandwidth_mbps));
  if (!k.stream_offsets) m.put(5, Value::boolean(false));
  return m;
}

Result<Value> extension_map(const Profile& p) {
  const ObfuscationSection& o = p.obfuscation;
  Value m = Value::map();
  if (o.encryption != "off") m.put(1, Value::string(o.encryption));
  if (!o.client_private_key.empty()) {
    auto raw = crypto::base64_decode(o.client_private_key);
    if (!raw) return make_error(Errc::cbor, "obfuscation.client_private_key: invalid base64");
    m.put(2, Value::byte_string(std::move(*raw)));
  }
  if (o.rekey_interval) {
    m.put(3, Value::uint(static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.rekey_interval->count()))));
  }
  if (o.classify_mode == obf::ClassifyMode::Strict) m.put(4, Value::string("strict"));
  if (!p.servers.empty()) {
    Value arr = Value::array();
    for (const std::string& s : p.servers) arr.items.push_back(Value::string(s));
    m.put(5, std::move(arr));
  }
  if (p.server_select != "failover") m.put(6, Value::string(p.server_select));
  if (p.hop_interval) m.put(7, Value::string(*p.hop_interval));
  if (p.kcp) {
    if (Value k = kcp_extension_map(*p.kcp); !k.items.empty()) m.put(8, std::move(k));
  }
  return m;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Unsigned: return "an unsigned integer";
    case Kind::Negative: return "a negative integer";
    case Kind::Bytes: return "a byte string";
    case Kind::Text: return "a text string";
    case Kind::Array: return "an array";
    case Kind::Map: return "a map";
    case Kind::Tag: return "a tagged value";
    case Kind::Bool: return "a boolean";
    case Kind::Null: return "null";
    case Kind::Undefined: return "undefined";
    case Kind::Simple: return "a simple value";
    case Kind::Float: return "a float";
  }
  return "an unknown item";
}

// Unlike the reference's keys, extension values are checked strictly: a link whose
// `encryption` vanished silently would run plain mode against a server that requires it.
Error ext_error(std::string_view where, std::string_view field, std::string_view what) {
  return make_error(Errc::cbor, detail::cat("compact profile extension ", where, " (", field, "): ", what));
}

Result<const Value*> ext_value(const Value& m, std::uint64_t key, Kind want, std::string_view where,
                               std::string_view field) {
  const Value* v = m.get(key);
  if (!v || v->kind == want) return v;
  return ext_error(where, field, detail::cat("expected ", kind_name(want), ", got ", kind_name(v->kind)));
}

Result<void> ext_choice(const Value& m, std::uint64_t key, std::string_view where, std::string_view field,
                        std::initializer_list<std::string_view> allowed, std::string& out) {
  auto v = ext_value(m, key, Kind::Text, where, field);
  if (!v) return v.error();
  if (!*v) return {};
  std::string list;
  for (std::string_view a : allowed) {
    if ((*v)->text == a) {
      out = (*v)->text;
      return {};
    }
    list += detail::cat(list.empty() ? "" : ", ", "\"", a, "\"");
  }
  return ext_error(where, field, detail::cat("\"", (*v)->text, "\": must be one of ", list));
}

Result<void> decode_kcp_extensions(const Value& m, KcpSection& k) {
  auto pack = ext_value(m, 1, Kind::Bool, "x.8.1", "kcp.pack_segments");
  if (!pack) return pack.error();
  if (*pack) k.pack_segments = (*pack)->b;
  auto offsets = ext_value(m, 5, Kind::Bool, "x.8.5", "kcp.stream_offsets");
  if (!offsets) return offsets.error();
  if (*offsets) k.stream_offsets = (*offsets)->b;
  if (auto r = ext_choice(m, 2, "x.8.2", "kcp.congestion", {"bbr", "ikcp", "none"}, k.congestion); !r) {
    return r;
  }
  if (auto r = ext_choice(m, 3, "x.8.3", "kcp.loss_recovery", {"rack", "ikcp"}, k.loss_recovery); !r) {
    return r;
  }
  auto bw = ext_value(m, 4, Kind::Float, "x.8.4", "kcp.bandwidth_mbps");
  if (!bw) return bw.error();
  if (*bw) {
    const double mbps = (*bw)->f;
    if (!(mbps > 0 && mbps <= 1e6)) {
      return ext_error("x.8.4", "kcp.bandwidth_mbps", "must be above 0 and at most 1000000");
    }
    k.bandwidth_mbps = mbps;
  }
  return {};
}

Result<void> decode_obf_extensions(const Value& m, ObfuscationSection& o) {
  const std::initializer_list<std::string_view> modes = {"off", "preferred", "required"};
  if (auto r = ext_choice(m, 1, "x.1", "obfuscation.encryption", modes, o.encryption); !r) return r;
  auto key = ext_value(m, 2, Kind::Bytes, "x.2", "obfuscation.client_private_key");
  if (!key) return key.error();
  if (*key) {
    if ((*key)->bytes.size() != 32) {
      return ext_error("x.2", "obfuscation.client_private_key",
                       detail::cat(std::to_string((*key)->bytes.size()), " bytes, expected 32"));
    }
    o.client_private_key = crypto::base64_encode((*key)->bytes);
  }
  auto rekey = ext_value(m, 3, Kind::Unsigned, "x.3", "obfuscation.rekey_interval");
  if (!rekey) return rekey.error();
  if (*rekey) o.rekey_interval = as_millis(**rekey);
  std::string mode = "first_match";
  if (auto r = ext_choice(m, 4, "x.4", "obfuscation.classify_mode", {"first_match", "strict"}, mode); !r) {
    return r;
  }
  o.classify_mode = mode == "strict" ? obf::ClassifyMode::Strict : obf::ClassifyMode::FirstMatch;
  return {};
}

Result<void> decode_extensions(const Value& x, Profile& p) {
  if (x.kind != Kind::Map) {
    return ext_error("x", "extension map", detail::cat("expected a map, got ", kind_name(x.kind)));
  }
  if (auto r = decode_obf_extensions(x, p.obfuscation); !r) return r;
  auto servers = ext_value(x, 5, Kind::Array, "x.5", "servers");
  if (!servers) return servers.error();
  if (*servers) {
    for (std::size_t i = 0; i < (*servers)->items.size(); ++i) {
      const Value& s = (*servers)->items[i];
      if (s.kind != Kind::Text) {
        return ext_error("x.5", detail::cat("servers[", std::to_string(i), "]"),
                         detail::cat("expected a text string, got ", kind_name(s.kind)));
      }
      p.servers.push_back(s.text);
    }
  }
  if (auto r = ext_choice(x, 6, "x.6", "server_select", {"failover", "spread"}, p.server_select); !r) return r;
  auto hop = ext_value(x, 7, Kind::Text, "x.7", "hop_interval");
  if (!hop) return hop.error();
  if (*hop) p.hop_interval = (*hop)->text;
  auto kcp = ext_value(x, 8, Kind::Map, "x.8", "kcp extensions");
  if (!kcp) return kcp.error();
  if (*kcp) {
    // The reference omits key 7 when every KCP value is its default; the section exists.
    if (!p.kcp) p.kcp = decode_kcp(Value::map());
    if (auto r = decode_kcp_extensions(**kcp, *p.kcp); !r) return r;
  }
  return {};
}

const Value* text_key(const Value& m, std::string_view key) {
  for (std::size_t i = 0; i + 1 < m.items.size(); i += 2) {
    if (m.items[i].kind == Kind::Text && m.items[i].text == key) return &m.items[i + 1];
  }
  return nullptr;
}

}  // namespace

Result<Bytes> encode_compact_profile(const Profile& p, std::vector<std::string>* notes) {
  Value root = Value::map();
  root.put(0, Value::uint(kVersion));
  if (!p.name.empty()) root.put(1, Value::string(p.name));
  if (!p.proxy_addr.empty()) root.put(2, address_value(p.proxy_addr));
  if (p.handshake_timeout && p.handshake_timeout->count() != 5000) {
    root.put(3, Value::uint(static_cast<std::uint64_t>(p.handshake_timeout->count())));
  }
  if (p.handshake_attempts != 3) root.put(4, Value::uint(p.handshake_attempts));
  if (p.preamble_delay_ms && *p.preamble_delay_ms > 0) root.put(5, Value::uint(*p.preamble_delay_ms));
  if (p.preamble_jitter_ms && *p.preamble_jitter_ms > 0) root.put(6, Value::uint(*p.preamble_jitter_ms));
  if (p.kcp) {
    if (Value k = kcp_map(*p.kcp); !k.items.empty()) root.put(7, std::move(k));
  }
  auto obf = obfuscation_map(p.obfuscation);
  if (!obf) return obf.error();
  root.put(8, std::move(*obf));
  if (p.transport_padding) {
    if (Value t = padding_map(*p.transport_padding); !t.items.empty()) root.put(9, std::move(t));
  }
  auto ext = extension_map(p);
  if (!ext) return ext.error();
  if (!ext->items.empty()) {
    root.items.push_back(Value::string(std::string(kExtKey)));
    root.items.push_back(std::move(*ext));
  }
  if (notes) lossy_notes(p, *notes);
  Bytes out;
  cbor::encode(root, out);
  return out;
}

Result<Profile> decode_compact_profile(ByteView data) {
  auto doc = cbor::decode(data);
  if (!doc) return doc.error();
  const Value& root = *doc;
  if (root.kind != Kind::Map) return make_error(Errc::cbor, "expected CBOR map");
  const Value* version = root.get(0);
  if (!version || !version->is_int()) return make_error(Errc::cbor, "missing version");
  if (as_u64(*version) != kVersion) {
    return make_error(Errc::cbor, detail::cat("unsupported version ", std::to_string(as_u64(*version))));
  }
  Profile p;
  p.handshake_timeout = Millis(5000);
  if (const Value* v = root.get(1); v && v->kind == Kind::Text) p.name = v->text;
  if (const Value* v = root.get(2)) p.proxy_addr = address_text(*v);
  with_int(root, 3, [&](const Value& v) { p.handshake_timeout = as_millis(v); });
  with_int(root, 4, [&](const Value& v) { p.handshake_attempts = as_u64(v); });
  with_int(root, 5, [&](const Value& v) { p.preamble_delay_ms = as_u64(v); });
  with_int(root, 6, [&](const Value& v) { p.preamble_jitter_ms = as_u64(v); });
  if (const Value* v = root.get(7); v && v->kind == Kind::Map) p.kcp = decode_kcp(*v);
  if (const Value* v = root.get(8); v && v->kind == Kind::Map) decode_obfuscation(*v, p.obfuscation);
  if (const Value* v = root.get(9); v && v->kind == Kind::Map) p.transport_padding = decode_padding(*v);
  if (const Value* x = text_key(root, kExtKey)) {
    if (auto r = decode_extensions(*x, p); !r) return r.error();
  }
  return p;
}

Result<std::string> encode_profile_base64(const Profile& p, std::vector<std::string>* notes) {
  auto bytes = encode_compact_profile(p, notes);
  if (!bytes) return bytes.error();
  return crypto::base64_encode(*bytes);
}

Result<Profile> decode_profile_base64(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') compact.push_back(c);
  }
  auto bytes = crypto::base64_decode(compact);
  if (!bytes) return make_error(Errc::cbor, "compact profile: invalid base64");
  return decode_compact_profile(*bytes);
}

}  // namespace paniq::profile
