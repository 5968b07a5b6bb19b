// Profile JSON: parsing (2.1 rules), file loading and serialisation.
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "profile/json_reader.hpp"
#include "profile/profile.hpp"
#include "profile/text.hpp"
#include "profile/validate.hpp"

namespace paniq::profile {
namespace {

using detail::json;
using detail::ObjectReader;

// Reads a nested object member: returns nullptr (and records an error) when it is not an object.
const json* object_member(ObjectReader& r, const char* key, bool nullable) {
  const json* v = r.find(key);
  if (!v || (nullable && v->is_null())) return nullptr;
  if (!v->is_object()) {
    r.fail(key, *v, nullable ? "must be an object or null" : "must be an object", Errc::invalid_type);
    return nullptr;
  }
  return v;
}

// A string member that must be one of `allowed`; the error lists them.
void read_choice(ObjectReader& r, const char* key, std::initializer_list<const char*> allowed,
                 std::string& out) {
  const json* v = r.find(key);
  if (!v) return;
  std::string list;
  for (const char* a : allowed) {
    if (v->is_string() && v->get_ref<const std::string&>() == a) {
      out = a;
      return;
    }
    list += list.empty() ? "" : ", ";
    list += std::string("\"") + a + "\"";
  }
  r.fail(key, *v, "must be one of " + list, v->is_string() ? Errc::invalid_value : Errc::invalid_type);
}

void read_kcp(const json& obj, KcpSection& k, ObjectReader& parent, std::vector<std::string>& warnings) {
  ObjectReader r(obj, "kcp.");
  r.read_int("max_packet_size", k.max_packet_size);
  r.read_int("max_payload", k.max_payload);
  r.read_profile_duration("keepalive", k.keepalive);
  r.read_profile_duration("idle_timeout", k.idle_timeout);
  r.read_int("max_streams", k.max_streams);
  r.read_int("send_window", k.send_window);
  r.read_int("recv_window", k.recv_window);
  r.read_int("target_bps", k.target_bps);
  r.read_int("rtt_ms", k.rtt_ms);
  r.read_int("max_snd_queue", k.max_snd_queue);
  r.read_int("flush_interval_ms", k.flush_interval_ms);
  r.read_bool("pack_segments", k.pack_segments);
  r.read_bool("stream_offsets", k.stream_offsets);
  read_choice(r, "congestion", {"bbr", "ikcp", "none"}, k.congestion);
  read_choice(r, "loss_recovery", {"rack", "ikcp"}, k.loss_recovery);
  if (const json* v = r.find("bandwidth_mbps"); v && !v->is_null()) {
    if (!v->is_number() || !(v->get<double>() > 0) || v->get<double>() > 1e6) {
      r.fail("bandwidth_mbps", *v, "must be a number of Mbit/s above 0 and at most 1000000",
             Errc::invalid_value);
    } else {
      k.bandwidth_mbps = v->get<double>();
    }
  }
  if (!r.ok()) return parent.fail_message(r.error());
  r.unknown_keys(warnings);
}

void read_padding(const json& obj, PaddingSection& p, ObjectReader& parent,
                  std::vector<std::string>& warnings) {
  ObjectReader r(obj, "transport_padding.");
  r.read_int("pad_min", p.pad_min);
  r.read_int("pad_max", p.pad_max);
  r.read_int("pad_burst_min", p.pad_burst_min);
  r.read_int("pad_burst_max", p.pad_burst_max);
  r.read_number("pad_burst_prob", p.pad_burst_prob);
  if (!r.ok()) return parent.fail_message(r.error());
  r.unknown_keys(warnings);
}

void read_classify_mode(ObjectReader& r, obf::ClassifyMode& out) {
  const json* v = r.find("classify_mode");
  if (!v) return;
  if (v->is_string() && v->get_ref<const std::string&>() == "first_match")
    out = obf::ClassifyMode::FirstMatch;
  else if (v->is_string() && v->get_ref<const std::string&>() == "strict")
    out = obf::ClassifyMode::Strict;
  else
    r.fail("classify_mode", *v, "must be \"first_match\" or \"strict\"", Errc::invalid_value);
}

void read_obfuscation(const json& obj, ObfuscationSection& o, ObjectReader& parent,
                      std::vector<std::string>& warnings) {
  ObjectReader r(obj, "obfuscation.");
  r.read_int("jc", o.jc);
  r.read_int("jmin", o.jmin);
  r.read_int("jmax", o.jmax);
  r.read_int("s1", o.s1);
  r.read_int("s2", o.s2);
  r.read_int("s3", o.s3);
  r.read_int("s4", o.s4);
  for (auto [key, field] : {std::pair{"h1", &o.h1},
                            {"h2", &o.h2},
                            {"h3", &o.h3},
                            {"h4", &o.h4},
                            {"i1", &o.i1},
                            {"i2", &o.i2},
                            {"i3", &o.i3},
                            {"i4", &o.i4},
                            {"i5", &o.i5},
                            {"server_public_key", &o.server_public_key},
                            {"server_private_key", &o.server_private_key},
                            {"client_private_key", &o.client_private_key}}) {
    r.read_string(key, *field);
  }
  r.read_bool("signature_validate", o.signature_validate);
  r.read_bool("require_timestamp", o.require_timestamp);
  r.read_bool("encrypted_timestamp", o.encrypted_timestamp);
  r.read_bool("require_encrypted_timestamp", o.require_encrypted_timestamp);
  r.read_bool("legacy_mode_enabled", o.legacy_mode_enabled);
  r.read_int("skew_soft_seconds", o.skew_soft_seconds);
  r.read_int("skew_hard_seconds", o.skew_hard_seconds);
  r.read_int("replay_window_seconds", o.replay_window_seconds);
  r.read_int("replay_cache_size", o.replay_cache_size);
  r.read_bool("transport_replay", o.transport_replay);
  r.read_int("transport_replay_limit", o.transport_replay_limit);
  r.read_int("rate_limit_pps", o.rate_limit_pps);
  r.read_int("rate_limit_burst", o.rate_limit_burst);
  read_classify_mode(r, o.classify_mode);
  read_choice(r, "encryption", {"off", "preferred", "required"}, o.encryption);
  r.read_profile_duration("rekey_interval", o.rekey_interval);
  if (!r.ok()) return parent.fail_message(r.error());
  r.unknown_keys(warnings);
}

Result<Profile> read_profile(const json& doc, std::vector<std::string>& warnings) {
  if (!doc.is_object()) {
    return make_error(Errc::invalid_type,
                      detail::cat("profile: ", detail::show(doc), ": must be a JSON object"));
  }
  Profile p;
  ObjectReader r(doc, "");
  r.require("name");
  r.require("proxy_addr");
  r.read_string("name", p.name);
  r.read_string("proxy_addr", p.proxy_addr);
  r.read_profile_duration("handshake_timeout", p.handshake_timeout);
  r.read_int("handshake_attempts", p.handshake_attempts);
  r.read_int("preamble_delay_ms", p.preamble_delay_ms);
  r.read_int("preamble_jitter_ms", p.preamble_jitter_ms);
  detail::read_string_list(r, "servers", p.servers);
  read_choice(r, "server_select", {"failover", "spread"}, p.server_select);
  if (const json* h = r.find("hop_interval"); h && !h->is_null()) {
    if (!h->is_string()) {
      r.fail("hop_interval", *h, "must be a string like \"30s-60s\"", Errc::invalid_type);
    } else {
      p.hop_interval = h->get<std::string>();
    }
  }
  std::vector<std::string> nested;  // nested warnings after the top-level ones
  if (const json* k = object_member(r, "kcp", true)) read_kcp(*k, p.kcp.emplace(), r, nested);
  if (const json* t = object_member(r, "transport_padding", true)) {
    read_padding(*t, p.transport_padding.emplace(), r, nested);
  }
  if (const json* o = object_member(r, "obfuscation", false)) read_obfuscation(*o, p.obfuscation, r, nested);
  if (!r.ok()) return r.error();
  r.unknown_keys(warnings);
  warnings.insert(warnings.end(), nested.begin(), nested.end());
  return p;
}

bool checked_object(const std::string& path) {
  return path.empty() || path == "kcp" || path == "transport_padding" || path == "obfuscation";
}

}  // namespace

Result<Profile> parse_profile_json_unvalidated(std::string_view text, std::vector<std::string>& warnings) {
  auto doc = detail::parse_json(text, checked_object);
  if (!doc) return doc.error();
  return read_profile(*doc, warnings);
}

Result<Profile> parse_profile_json(std::string_view text, std::vector<std::string>& warnings) {
  auto p = parse_profile_json_unvalidated(text, warnings);
  if (!p) return p;
  if (auto v = validate_profile(*p, warnings); !v) return v.error();
  return p;
}

Result<Profile> load_profile_file(const std::string& path, std::vector<std::string>& warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::io, detail::cat("profile ", path, ": cannot open file"));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return make_error(Errc::io, detail::cat("profile ", path, ": read error"));
  auto p = parse_profile_json(buf.str(), warnings);
  if (!p) return Error{p.error().code, detail::cat("profile ", path, ": ", p.error().message)};
  return p;
}

std::string to_json(const Profile& p) {
  using ojson = nlohmann::ordered_json;
  auto dur = [](const std::optional<Millis>& d) {
    return d ? ojson(format_profile_duration(*d)) : ojson(nullptr);
  };
  auto opt = [](const auto& v) { return v ? ojson(*v) : ojson(nullptr); };
  ojson out;
  out["name"] = p.name;
  out["proxy_addr"] = p.proxy_addr;
  out["handshake_timeout"] = dur(p.handshake_timeout);
  out["handshake_attempts"] = p.handshake_attempts;
  out["preamble_delay_ms"] = opt(p.preamble_delay_ms);
  out["preamble_jitter_ms"] = opt(p.preamble_jitter_ms);
  out["kcp"] = nullptr;
  if (const auto& k = p.kcp) {
    out["kcp"] = ojson{{"max_packet_size", k->max_packet_size},
                       {"max_payload", k->max_payload},
                       {"keepalive", format_profile_duration(k->keepalive)},
                       {"idle_timeout", format_profile_duration(k->idle_timeout)},
                       {"max_streams", k->max_streams},
                       {"send_window", opt(k->send_window)},
                       {"recv_window", opt(k->recv_window)},
                       {"target_bps", opt(k->target_bps)},
                       {"rtt_ms", opt(k->rtt_ms)},
                       {"max_snd_queue", opt(k->max_snd_queue)},
                       {"flush_interval_ms", k->flush_interval_ms}};
    if (!k->pack_segments) out["kcp"]["pack_segments"] = false;  // extension, only when off
    if (!k->stream_offsets) out["kcp"]["stream_offsets"] = false;  // the same
    // Extensions, written only when they differ from the defaults.
    const KcpSection d;
    if (k->congestion != d.congestion) out["kcp"]["congestion"] = k->congestion;
    if (k->loss_recovery != d.loss_recovery) out["kcp"]["loss_recovery"] = k->loss_recovery;
    if (k->bandwidth_mbps) out["kcp"]["bandwidth_mbps"] = *k->bandwidth_mbps;
  }
  out["transport_padding"] = nullptr;
  if (const auto& t = p.transport_padding) {
    out["transport_padding"] = ojson{{"pad_min", t->pad_min},
                                     {"pad_max", t->pad_max},
                                     {"pad_burst_min", t->pad_burst_min},
                                     {"pad_burst_max", t->pad_burst_max},
                                     {"pad_burst_prob", t->pad_burst_prob}};
  }
  const ObfuscationSection& o = p.obfuscation;
  ojson obf{{"jc", o.jc},
            {"jmin", o.jmin},
            {"jmax", o.jmax},
            {"s1", o.s1},
            {"s2", o.s2},
            {"s3", o.s3},
            {"s4", o.s4},
            {"h1", o.h1},
            {"h2", o.h2},
            {"h3", o.h3},
            {"h4", o.h4},
            {"i1", o.i1},
            {"i2", o.i2},
            {"i3", o.i3},
            {"i4", o.i4},
            {"i5", o.i5},
            {"server_public_key", o.server_public_key},
            {"server_private_key", o.server_private_key},
            {"signature_validate", o.signature_validate},
            {"require_timestamp", opt(o.require_timestamp)},
            {"encrypted_timestamp", o.encrypted_timestamp},
            {"require_encrypted_timestamp", o.require_encrypted_timestamp},
            {"legacy_mode_enabled", o.legacy_mode_enabled},
            {"skew_soft_seconds", o.skew_soft_seconds},
            {"skew_hard_seconds", o.skew_hard_seconds},
            {"replay_window_seconds", o.replay_window_seconds},
            {"replay_cache_size", o.replay_cache_size},
            {"transport_replay", o.transport_replay},
            {"transport_replay_limit", o.transport_replay_limit},
            {"rate_limit_pps", o.rate_limit_pps},
            {"rate_limit_burst", o.rate_limit_burst}};
  if (o.classify_mode == obf::ClassifyMode::Strict) obf["classify_mode"] = "strict";
  if (o.encryption != "off") obf["encryption"] = o.encryption;
  if (!o.client_private_key.empty()) obf["client_private_key"] = o.client_private_key;
  if (o.rekey_interval) obf["rekey_interval"] = dur(o.rekey_interval);
  out["obfuscation"] = std::move(obf);
  if (!p.servers.empty()) out["servers"] = p.servers;
  if (p.server_select != "failover") out["server_select"] = p.server_select;
  if (p.hop_interval) out["hop_interval"] = *p.hop_interval;
  return out.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

Profile client_view(const Profile& p) {
  Profile out = p;
  out.obfuscation.server_private_key.clear();
  return out;
}

SessionTiming session_timing(const Profile& p) {
  SessionTiming t;
  if (p.handshake_timeout) t.handshake_timeout = *p.handshake_timeout;
  t.handshake_attempts = p.handshake_attempts == 0 ? 1 : p.handshake_attempts;
  if (p.preamble_delay_ms)
    t.preamble_delay =
        Millis(static_cast<std::int64_t>(std::min<std::uint64_t>(*p.preamble_delay_ms, INT64_MAX)));
  if (p.preamble_jitter_ms)
    t.preamble_jitter =
        Millis(static_cast<std::int64_t>(std::min<std::uint64_t>(*p.preamble_jitter_ms, INT64_MAX)));
  if (p.kcp) {
    if (p.kcp->keepalive.count() > 0) t.keepalive = p.kcp->keepalive;
    if (p.kcp->idle_timeout.count() > 0) t.idle_timeout = p.kcp->idle_timeout;
    t.max_streams = p.kcp->max_streams;
  }
  return t;
}

}  // namespace paniq::profile
