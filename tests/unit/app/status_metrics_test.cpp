// The pure parts of the status view and the metrics: the GetStatus JSON (app/status.hpp), the
// rates and the human view of paniq-ctl status (app/ctl_status.hpp), and the drop-reason
// mapping of paniq_drops_total (app/metrics.hpp).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "app/control.hpp"
#include "app/ctl_status.hpp"
#include "app/metrics.hpp"
#include "app/status.hpp"
#include "tunnel/auth_config.hpp"

namespace paniq::app {
namespace {

std::map<std::string, std::uint64_t> reasons(const ControlStats& s) {
  std::map<std::string, std::uint64_t> out;
  for (const DropReason& d : drop_reasons(s)) {
    EXPECT_EQ(out.count(d.reason), 0u) << "reason listed twice: " << d.reason;
    out[d.reason] = d.count;
  }
  return out;
}

// Exactly one reason counts the 7 set in `s`.
void expect_one_reason(const ControlStats& s, const std::string& what) {
  std::uint64_t total = 0;
  int hit = 0;
  for (const auto& [name, count] : reasons(s)) {
    total += count;
    if (count != 0) ++hit;
  }
  EXPECT_EQ(total, 7u) << what;
  EXPECT_EQ(hit, 1) << what;
}

TEST(DropReasons, EveryDropCounterLandsUnderExactlyOneReason) {
  int fields = 0;
  for (const ControlField& f : extension_fields()) {
    const std::string name = f.name;
    if (name.rfind("drop_", 0) != 0 && name.rfind("egress_udp_dropped_", 0) != 0) continue;
    if (name == "drop_policy") continue;  // split by its reasons below
    ControlStats s;
    s.*f.member = 7;
    expect_one_reason(s, name);
    ++fields;
  }
  EXPECT_GE(fields, 18);
  for (const ControlField& f : reference_fields()) {
    const std::string name = f.name;
    if (name != "transport_invalid_length" && name != "transport_payload_too_large") continue;
    ControlStats s;
    s.*f.member = 7;
    expect_one_reason(s, name);
  }
  for (std::size_t r = 0; r < tunnel::kAuthReasonCount; ++r) {
    const auto reason = static_cast<tunnel::AuthReason>(r);
    ControlStats s;
    s.drop_policy = 7;
    s.auth.emplace_back(tunnel::to_string(reason), 7);
    if (tunnel::is_drop(reason)) {
      expect_one_reason(s, tunnel::to_string(reason));
    } else {
      std::uint64_t total = 0;
      for (const auto& [name, count] : reasons(s)) total += count;
      EXPECT_EQ(total, 0u) << "a note on an accepted Initiation is no drop: " << tunnel::to_string(reason);
    }
  }
}

TEST(DropReasons, TheDocumentedLabels) {
  ControlStats s;
  s.auth = {{"mac1_invalid", 1}, {"rate_limited", 2}, {"replay", 4}};
  s.drop_unknown_user = 8;
  s.drop_response_budget = 16;
  s.drop_transport_replay = 32;
  s.drop_cap_host = 64;
  s.drop_conv_busy = 128;
  const auto r = reasons(s);
  EXPECT_EQ(r.at("auth"), 1u + 8u);
  EXPECT_EQ(r.at("rate_limit"), 2u + 16u);
  EXPECT_EQ(r.at("replay"), 4u + 32u);
  EXPECT_EQ(r.at("cap"), 64u + 128u);
  EXPECT_EQ(r.at("unclassified"), 0u);
}

DaemonSnapshot snapshot() {
  DaemonSnapshot d;
  d.daemon = "proxy-server";
  d.listen = "127.0.0.1:9000";
  d.now = 100'000;
  d.uptime_ms = 90'000;
  d.stats.sessions_active = 1;
  d.stats.sessions_created = 3;
  d.stats.udp_in_bytes = 5000;
  d.handshakes_ok = 3;
  tunnel::SessionInfo i;
  i.id = 3;
  i.peer = "198.51.100.7:53122";
  i.user = "alice";
  i.encrypted = true;
  i.conv = 77;
  i.created = 40'000;
  i.last_handshake = 40'000;
  i.last_receive = 99'990;
  i.uptime_ms = 60'000;
  i.bytes_in = 3 * 1024 * 1024 / 2;
  i.bytes_out = 6'000'000;
  i.srtt_ms = 38;
  i.rttvar_ms = 4;
  i.rto_ms = 72;
  i.segments_sent = 100;
  i.retransmits = 5;
  i.streams = 2;
  d.sessions.push_back(i);
  return d;
}

TEST(Status, JsonSchema) {
  const auto j = nlohmann::ordered_json::parse(status_response(snapshot()));
  ASSERT_TRUE(j.contains("Status"));
  const auto& s = j["Status"];
  EXPECT_EQ(s["schema"], kStatusSchema);
  EXPECT_EQ(s["daemon"], "proxy-server");
  EXPECT_EQ(s["uptime_ms"], 90'000);
  EXPECT_EQ(s["totals"]["sessions"], 1);
  EXPECT_EQ(s["totals"]["sessions_created"], 3);
  EXPECT_EQ(s["totals"]["streams"], 2) << "summed over the sessions";
  EXPECT_EQ(s["totals"]["handshakes_ok"], 3);
  ASSERT_EQ(s["sessions"].size(), 1u);
  const auto& x = s["sessions"][0];
  EXPECT_EQ(x["user"], "alice");
  EXPECT_EQ(x["mode"], "encrypted");
  EXPECT_EQ(x["last_handshake_ms_ago"], 60'000);
  EXPECT_EQ(x["last_receive_ms_ago"], 10);
  EXPECT_EQ(x["srtt_ms"], 38);
  EXPECT_EQ(x["retransmits"], 5);
}

TEST(Status, RatesFromTwoSamplesElseTheAverage) {
  auto now = nlohmann::ordered_json::parse(status_json(snapshot()));
  add_rates(now, nullptr, 0);
  EXPECT_EQ(now["sessions"][0]["tx_bytes_per_second"], 100'000) << "6 MB over 60 s";
  DaemonSnapshot later = snapshot();
  later.sessions[0].bytes_out += 500'000;
  auto next = nlohmann::ordered_json::parse(status_json(later));
  add_rates(next, &now, 2000);
  EXPECT_EQ(next["sessions"][0]["tx_bytes_per_second"], 250'000) << "500 kB in 2 s";
  EXPECT_EQ(next["sessions"][0]["rx_bytes_per_second"], 0);
}

TEST(Status, HumanView) {
  auto j = nlohmann::ordered_json::parse(status_json(snapshot()));
  add_rates(j, nullptr, 0);
  const std::string text = render_status(j);
  for (const char* want : {"daemon: proxy-server (paniq-cpp ", "listening: 127.0.0.1:9000", "uptime: 1m 30s",
                           "sessions: 1 (3 since start)", "session 3: 198.51.100.7:53122", "user: alice",
                           "mode: encrypted, conv 77", "latest handshake: 1m 0s ago",
                           "transfer: 1.50 MiB received, 5.72 MiB sent", "rate: 25.60 KiB/s received, 97.66 KiB/s sent",
                           "rtt: 38 ms (var 4.0 ms, rto 72 ms)", "retransmits: 5 of 100 segments (5.00 %)",
                           "streams: 2"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

TEST(Status, HumanUnits) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.50 KiB");
  EXPECT_EQ(human_bytes(3.0 * 1024 * 1024 * 1024), "3.00 GiB");
  EXPECT_EQ(human_duration_ms(59'999), "59s");
  EXPECT_EQ(human_duration_ms(3'723'000), "1h 2m 3s");
  EXPECT_EQ(human_duration_ms(90'061'000), "1d 1h 1m 1s");
}

}  // namespace
}  // namespace paniq::app
