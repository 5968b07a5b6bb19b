#include "app/ctl_status.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "app/common.hpp"
#include "app/control.hpp"

namespace paniq::app {
namespace {

constexpr const char* kProgram = "paniq-ctl";

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::uint64_t u64(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string str(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

double num(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string rate(double bytes_per_s) { return human_bytes(bytes_per_s) + "/s"; }

std::string ms_text(double ms) { return ms < 10 ? fmt("%.1f ms", ms) : fmt("%.0f ms", ms); }

void line(std::ostringstream& o, const char* key, const std::string& value) {
  o << "  " << key << ": " << value << "\n";
}

// The GetStats fallback: the totals a reference daemon has.
std::string render_stats(const nlohmann::ordered_json& stats) {
  std::ostringstream o;
  o << "daemon: (no GetStatus: totals from GetStats)\n";
  line(o, "transfer", human_bytes(static_cast<double>(u64(stats, "udp_in_bytes"))) + " received, " +
                          human_bytes(static_cast<double>(u64(stats, "udp_out_bytes"))) + " sent");
  line(o, "payload", human_bytes(static_cast<double>(u64(stats, "transport_payload_in_bytes"))) + " received, " +
                         human_bytes(static_cast<double>(u64(stats, "transport_payload_out_bytes"))) + " sent");
  line(o, "connections", std::to_string(u64(stats, "active_connections")));
  if (stats.contains("sessions_active")) line(o, "sessions", std::to_string(u64(stats, "sessions_active")));
  return o.str();
}

struct Sample {
  nlohmann::ordered_json status;  // the Status object (or null in fallback)
  nlohmann::ordered_json stats;   // fallback: the Stats object
  std::chrono::steady_clock::time_point at;
};

// One GetStatus round trip (GetStats when the daemon does not know GetStatus). Error: the
// socket cannot be reached or the answer is not what a daemon sends.
Result<Sample> sample(const std::string& socket) {
  Sample s;
  s.at = std::chrono::steady_clock::now();
  auto r = control_request(socket, "\"GetStatus\"");
  if (!r) return r.error();
  auto j = nlohmann::ordered_json::parse(*r, nullptr, false);
  if (j.is_object() && j.contains("Status") && j["Status"].is_object()) {
    s.status = std::move(j["Status"]);
    return s;
  }
  if (!(j.is_object() && j.contains("Error"))) {
    return Error{std::make_error_code(std::errc::bad_message),
                 "control socket " + socket + ": unexpected answer to GetStatus: " + r->substr(0, 200)};
  }
  auto st = control_request(socket, "\"GetStats\"");
  if (!st) return st.error();
  auto sj = nlohmann::ordered_json::parse(*st, nullptr, false);
  if (!(sj.is_object() && sj.contains("Stats") && sj["Stats"].is_object())) {
    return Error{std::make_error_code(std::errc::bad_message),
                 "control socket " + socket + ": unexpected answer to GetStats: " + st->substr(0, 200)};
  }
  s.stats = std::move(sj["Stats"]);
  return s;
}

}  // namespace

std::string human_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return u == 0 ? fmt("%.0f", bytes) + " B" : fmt("%.2f ", bytes) + kUnits[u];
}

std::string human_duration_ms(std::uint64_t ms) {
  std::uint64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d ";
  if (s >= 3600) out += std::to_string(s / 3600 % 24) + "h ";
  out += std::to_string(s / 60 % 60) + "m " + std::to_string(s % 60) + "s";
  return out;
}

void add_rates(nlohmann::ordered_json& status, const nlohmann::ordered_json* previous, double interval_ms) {
  std::map<std::uint64_t, const nlohmann::ordered_json*> before;
  if (previous != nullptr && previous->contains("sessions")) {
    for (const auto& s : (*previous)["sessions"]) before[u64(s, "id")] = &s;
  }
  for (auto& s : status["sessions"]) {
    const auto it = before.find(u64(s, "id"));
    double rx = 0, tx = 0;
    if (it != before.end() && interval_ms > 0) {
      const double drx = static_cast<double>(u64(s, "rx_bytes")) - static_cast<double>(u64(*it->second, "rx_bytes"));
      const double dtx = static_cast<double>(u64(s, "tx_bytes")) - static_cast<double>(u64(*it->second, "tx_bytes"));
      rx = std::max(0.0, drx) * 1000 / interval_ms;
      tx = std::max(0.0, dtx) * 1000 / interval_ms;
    } else if (const std::uint64_t up = u64(s, "uptime_ms"); up > 0) {
      rx = static_cast<double>(u64(s, "rx_bytes")) * 1000 / static_cast<double>(up);
      tx = static_cast<double>(u64(s, "tx_bytes")) * 1000 / static_cast<double>(up);
    }
    s["rx_bytes_per_second"] = static_cast<std::uint64_t>(rx);
    s["tx_bytes_per_second"] = static_cast<std::uint64_t>(tx);
  }
}

std::string render_status(const nlohmann::ordered_json& st) {
  std::ostringstream o;
  const nlohmann::ordered_json empty = nlohmann::ordered_json::object();
  const nlohmann::ordered_json& t = st.contains("totals") ? st["totals"] : empty;
  o << "daemon: " << str(st, "daemon") << " (paniq-cpp " << str(st, "version") << ")\n";
  line(o, "listening", str(st, "listen"));
  line(o, "uptime", human_duration_ms(u64(st, "uptime_ms")));
  line(o, "sessions", std::to_string(u64(t, "sessions")) + " (" + std::to_string(u64(t, "sessions_created")) +
                          " since start)");
  line(o, "streams", std::to_string(u64(t, "streams")) + " (connections " +
                         std::to_string(u64(t, "active_connections")) + ")");
  line(o, "handshakes", std::to_string(u64(t, "handshakes_ok")) + " ok, " +
                            std::to_string(u64(t, "handshakes_failed")) + " failed");
  line(o, "transfer", human_bytes(static_cast<double>(u64(t, "udp_in_bytes"))) + " received, " +
                          human_bytes(static_cast<double>(u64(t, "udp_out_bytes"))) + " sent (" +
                          std::to_string(u64(t, "datagrams_in")) + " / " +
                          std::to_string(u64(t, "datagrams_out")) + " datagrams)");
  if (st.contains("sessions")) {
    for (const auto& s : st["sessions"]) {
      o << "\nsession " << u64(s, "id") << ": " << (str(s, "peer").empty() ? "-" : str(s, "peer")) << "\n";
      if (!str(s, "user").empty()) line(o, "user", str(s, "user"));
      line(o, "mode", str(s, "mode") + ", conv " + std::to_string(u64(s, "conv")));
      line(o, "uptime", human_duration_ms(u64(s, "uptime_ms")));
      line(o, "latest handshake", human_duration_ms(u64(s, "last_handshake_ms_ago")) + " ago");
      line(o, "latest receive", human_duration_ms(u64(s, "last_receive_ms_ago")) + " ago");
      line(o, "transfer", human_bytes(static_cast<double>(u64(s, "rx_bytes"))) + " received, " +
                              human_bytes(static_cast<double>(u64(s, "tx_bytes"))) + " sent");
      line(o, "rate", rate(num(s, "rx_bytes_per_second")) + " received, " +
                          rate(num(s, "tx_bytes_per_second")) + " sent");
      line(o, "rtt", ms_text(num(s, "srtt_ms")) + " (var " + ms_text(num(s, "rttvar_ms")) + ", rto " +
                         ms_text(num(s, "rto_ms")) + ")");
      const double sent = num(s, "segments_sent");
      const double retx = num(s, "retransmits");
      line(o, "retransmits", std::to_string(u64(s, "retransmits")) + " of " + std::to_string(u64(s, "segments_sent")) +
                                 " segments (" + fmt("%.2f", sent > 0 ? 100.0 * retx / sent : 0.0) + " %)");
      line(o, "streams", std::to_string(u64(s, "streams")));
    }
  }
  return o.str();
}

StatusCommand::StatusCommand(CLI::App& cli) {
  cmd_ = cli.add_subcommand("status", "show a daemon's sessions like `wg show` (control socket GetStatus)");
  cmd_->add_option("-s,--socket", args_.socket, "control socket path")->required();
  watch_opt_ = cmd_->add_option("--watch", args_.watch, "redraw every SECS seconds (default 1) until Ctrl-C")
                   ->expected(0, 1)
                   ->type_name("[SECS]");
  cmd_->add_option("--count", args_.count, "with --watch: stop after N frames (0 = never)");
  cmd_->add_flag("--json", args_.json,
                 "print the Status object (one JSON line per frame) instead of the human view");
  cmd_->footer(
      "Per session: peer, user, mode, uptime, latest handshake and receive, bytes and rate each way, "
      "smoothed RTT, KCP retransmission rate, open streams. Rates come from two samples (--watch), "
      "else the average since the session started. A daemon without GetStatus (paniq-rs) gets a "
      "note on stderr and its GetStats totals. See docs/operations.md.");
}

int StatusCommand::run() const {
  if (cmd_ == nullptr || !cmd_->parsed()) return -1;
  const bool watch = watch_opt_->count() > 0;
  double period = 1.0;
  if (watch && !args_.watch.empty()) {
    try {
      std::size_t used = 0;
      period = std::stod(args_.watch, &used);
      if (used != args_.watch.size() || !(period > 0 && period <= 3600)) throw std::invalid_argument("range");
    } catch (const std::exception&) {
      return fail(kProgram, "status: --watch \"" + args_.watch + "\": expected seconds in (0, 3600]", kExitUsage);
    }
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  std::optional<Sample> prev;
  for (unsigned frame = 1;; ++frame) {
    auto s = sample(args_.socket);
    if (!s) return fail(kProgram, s.error().message);
    if (s->status.is_null()) {
      if (frame == 1) {
        std::cerr << "note: " << args_.socket
                  << " does not answer GetStatus (a paniq-rs daemon or an older paniq-cpp): "
                     "no per-session detail, showing the GetStats totals\n";
      }
      if (args_.json) {
        std::cout << nlohmann::ordered_json{{"schema", 0}, {"fallback", "GetStats"}, {"stats", s->stats}}.dump()
                  << std::endl;
      } else {
        if (watch && tty) std::cout << "\033[H\033[2J";
        std::cout << render_stats(s->stats) << std::flush;
      }
    } else {
      const double interval =
          prev ? std::chrono::duration<double, std::milli>(s->at - prev->at).count() : 0.0;
      add_rates(s->status, prev && !prev->status.is_null() ? &prev->status : nullptr, interval);
      if (args_.json) {
        std::cout << s->status.dump() << std::endl;
      } else {
        if (watch && tty) std::cout << "\033[H\033[2J";
        if (watch && !tty && frame > 1) std::cout << "\n";
        std::cout << render_status(s->status) << std::flush;
      }
    }
    if (!watch || (args_.count != 0 && frame >= args_.count)) return kExitOk;
    prev = std::move(*s);
    std::this_thread::sleep_for(std::chrono::duration<double>(period));
  }
}

}  // namespace paniq::app
