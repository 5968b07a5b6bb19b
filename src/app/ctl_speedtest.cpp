#include "app/ctl_speedtest.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/common.hpp"
#include "app/speedtest_target.hpp"
#include "net/client_driver.hpp"
#include "net/endpoint.hpp"
#include "net/watchdog.hpp"
#include "profile/addr.hpp"
#include "profile/validate.hpp"
#include "socks5/reply.hpp"
#include "socks5/speedtest.hpp"
#include "socks5/stream_open.hpp"
#include "tunnel/client.hpp"
#include "tunnel/link.hpp"
#include "kcp/engine.hpp"

namespace paniq::app {
namespace {

namespace st = socks5::speedtest;
using net::awaitable;
using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr const char* kProgram = "paniq-ctl";
constexpr int kEchoRounds = 10;
constexpr std::size_t kEchoSize = 32;
constexpr std::size_t kChunk = 64u << 10;
constexpr std::chrono::milliseconds kAnswerTimeout{15'000};  // reply byte + grant / result

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double mbit_s(std::uint64_t bytes, double seconds) { return seconds > 0 ? bytes * 8.0 / seconds / 1e6 : 0; }
std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// What the server's reply byte means for a speedtest stream.
std::string refusal_text(std::uint8_t byte) {
  if (byte == socks5::open_reply_byte(socks5::ReplyCode::NotAllowed)) {
    return "the server refuses speedtest streams (its proxy-server config has \"speedtest\": false)";
  }
  if (byte == socks5::open_reply_byte(socks5::ReplyCode::GeneralFailure)) {
    return "the server answered 0x01 (general failure): it has no speedtest target (a server "
           "without this extension, e.g. paniq-rs) or already runs its maximum of speedtest streams";
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", byte);
  return std::string("the server answered ") + hex + " (" +
         socks5::to_string(socks5::reply_code_from_open_reply(byte)) + ")";
}

struct Progress {
  const char* phase = nullptr;  // nullptr: nothing to show
  std::uint64_t done = 0, total = 0;
  Clock::time_point start;
  double duration = 0;  // duration mode: seconds per phase
};

struct StreamResult {
  std::uint64_t granted = 0, bytes = 0;
  std::uint64_t server_us = 0;  // upload: the server's elapsed time
  bool intact = true;
  std::string key_hex, digest_hex, error;
};

struct PhaseResult {
  std::vector<StreamResult> streams;
  double seconds = 0;
  std::uint64_t bytes() const {
    std::uint64_t n = 0;
    for (const auto& s : streams) n += s.bytes;
    return n;
  }
  bool intact() const {
    return std::all_of(streams.begin(), streams.end(), [](const auto& s) { return s.intact; });
  }
  std::string error() const {
    for (const auto& s : streams) {
      if (!s.error.empty()) return s.error;
    }
    return {};
  }
};

class Runner {
 public:
  Runner(asio::any_io_executor ex, net::ClientDriver& driver, const SpeedtestCommand::Args& a,
         std::uint64_t bytes)
      : ex_(std::move(ex)), driver_(driver), args_(a), bytes_(bytes), tty_(isatty(STDERR_FILENO) != 0) {}

  awaitable<void> run();
  json report() const;
  const std::string& error() const { return error_; }
  bool intact() const { return download_.intact() && upload_.intact(); }

 private:
  bool by_duration() const { return args_.duration > 0; }
  awaitable<Result<net::MuxStream>> open_target(net::MuxStream stream, st::Mode mode,
                                                const st::Request& req, std::uint64_t& granted);
  awaitable<Result<net::MuxStream>> open_target(st::Mode mode, const st::Request& req,
                                                std::uint64_t& granted);
  awaitable<bool> measure_rtt();
  awaitable<void> download_one(std::uint64_t want, StreamResult& out);
  awaitable<void> upload_one(std::uint64_t want, StreamResult& out);
  awaitable<void> phase(const char* name, PhaseResult& result,
                        awaitable<void> (Runner::*one)(std::uint64_t, StreamResult&));
  awaitable<void> progress_loop();
  void show_progress(bool final);
  st::Key new_key();
  bool time_up() const { return by_duration() && seconds_since(progress_.start) >= args_.duration; }
  std::optional<kcp::Stats> kcp_stats() const;

  asio::any_io_executor ex_;
  net::ClientDriver& driver_;
  const SpeedtestCommand::Args& args_;
  std::uint64_t bytes_;
  bool tty_;
  crypto::OsRng rng_;
  Progress progress_;
  bool finished_ = false;
  std::string error_;
  double handshake_ms_ = 0;
  std::vector<double> rtt_ms_;
  std::int64_t kcp_srtt_ms_ = 0;
  PhaseResult download_, upload_;
  std::optional<kcp::Stats> kcp_before_, kcp_after_;
};

st::Key Runner::new_key() {
  st::Key k;
  rng_.fill(k);
  return k;
}

std::optional<kcp::Stats> Runner::kcp_stats() const {
  const tunnel::ClientSession* s = driver_.client().current();
  if (s == nullptr || s->link() == nullptr) return std::nullopt;
  return s->link()->kcp().stats();
}

awaitable<Result<net::MuxStream>> Runner::open_target(net::MuxStream stream, st::Mode mode,
                                                      const st::Request& req, std::uint64_t& granted) {
  // The open request and our request in one write: the server reads the second after its reply.
  Bytes first = socks5::encode_open_request({socks5::Command::Connect, st::target(mode)});
  const auto head = st::encode_request(req);
  first.insert(first.end(), head.begin(), head.end());
  if (const auto ec = co_await stream.write_all(first)) co_return Error{ec, "stream: " + ec.message()};
  net::Watchdog wd(ex_, kAnswerTimeout, [&stream] { stream.close(); });
  std::array<std::uint8_t, 1 + st::kGrantSize> buf{};
  std::size_t have = 0;
  while (have < buf.size() && !(have > 0 && buf[0] != 0)) {
    const net::IoResult r = co_await stream.read_some(MutByteView(buf.data() + have, buf.size() - have));
    if (r.error || r.count == 0) {
      if (have > 0) break;
      if (wd.expired()) co_return Error{r.error, "no answer from the server within 15 s"};
      co_return Error{r.error, "the stream ended before the server answered" +
                                   (r.error ? " (" + r.error.message() + ")" : std::string())};
    }
    have += r.count;
  }
  if (have > 0 && buf[0] != 0) co_return Error{std::make_error_code(std::errc::permission_denied), refusal_text(buf[0])};
  if (have < buf.size()) co_return Error{std::make_error_code(std::errc::bad_message), "the stream ended inside the server's grant"};
  granted = st::decode_grant(ByteView(buf.data() + 1, st::kGrantSize));
  co_return std::move(stream);
}

awaitable<Result<net::MuxStream>> Runner::open_target(st::Mode mode, const st::Request& req,
                                                      std::uint64_t& granted) {
  auto s = co_await driver_.open_stream();
  if (!s) co_return Error{s.error().code, "tunnel: " + s.error().message};
  co_return co_await open_target(std::move(s.value()), mode, req, granted);
}

// Handshake (the first stream open waits for it), then kEchoRounds ping-pongs of kEchoSize
// bytes on an echo stream. False (error_ set) when the server cannot be used.
awaitable<bool> Runner::measure_rtt() {
  const auto t0 = Clock::now();
  auto s = co_await driver_.open_stream();
  if (!s) {
    error_ = "handshake: " + s.error().message;
    co_return false;
  }
  handshake_ms_ = seconds_since(t0) * 1000;
  std::uint64_t granted = 0;
  auto opened = co_await open_target(std::move(s.value()), st::Mode::echo,
                                     {kEchoRounds * kEchoSize, new_key()}, granted);
  if (!opened) {
    error_ = opened.error().message;
    co_return false;
  }
  net::MuxStream& stream = *opened;
  net::Watchdog wd(ex_, kAnswerTimeout, [&stream] { stream.close(); });
  std::array<std::uint8_t, kEchoSize> ping{}, pong{};
  for (int i = 0; i < kEchoRounds && granted >= (i + 1) * kEchoSize; ++i) {
    rng_.fill(ping);
    const auto t = Clock::now();
    if (co_await stream.write_all(ping)) break;
    std::size_t have = 0;
    while (have < pong.size()) {
      const net::IoResult r = co_await stream.read_some(MutByteView(pong.data() + have, pong.size() - have));
      if (r.error || r.count == 0) break;
      have += r.count;
    }
    if (have < pong.size() || pong != ping) {
      error_ = "rtt: the echo stream returned other bytes than it was sent";
      co_return false;
    }
    rtt_ms_.push_back(seconds_since(t) * 1000);
  }
  if (const tunnel::ClientSession* cs = driver_.client().current(); cs && cs->link()) {
    kcp_srtt_ms_ = cs->link()->kcp().rx_srtt();
  }
  co_return true;
}

awaitable<void> Runner::download_one(std::uint64_t want, StreamResult& out) {
  const st::Key key = new_key();
  out.key_hex = to_hex(key);
  auto opened = co_await open_target(st::Mode::download, {want, key}, out.granted);
  if (!opened) {
    out.error = opened.error().message;
    co_return;
  }
  net::MuxStream& stream = *opened;
  SpeedtestPattern pattern(key);
  crypto::Blake2s digest(32);
  Bytes buf(kChunk);
  while (out.bytes < out.granted && !time_up()) {
    const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), out.granted - out.bytes));
    const net::IoResult r = co_await stream.read_some(MutByteView(buf.data(), room));
    if (r.error || r.count == 0) {
      if (!time_up()) {
        out.error = "download: the stream ended after " + std::to_string(out.bytes) + " of " +
                    std::to_string(out.granted) + " bytes" + (r.error ? " (" + r.error.message() + ")" : "");
      }
      break;
    }
    const ByteView got(buf.data(), r.count);
    if (!pattern.check(got)) out.intact = false;
    digest.update(got);
    out.bytes += r.count;
    progress_.done += r.count;
  }
  if (out.bytes < out.granted) {
    const std::uint8_t stop = 0;  // tells a half-close server to stop sending (docs/speedtest.md)
    (void)co_await stream.write_all(ByteView(&stop, 1));
  }
  std::array<std::uint8_t, 32> d{};
  digest.final(d);
  out.digest_hex = to_hex(d);
}

awaitable<void> Runner::upload_one(std::uint64_t want, StreamResult& out) {
  const st::Key key = new_key();
  out.key_hex = to_hex(key);
  auto opened = co_await open_target(st::Mode::upload, {want, key}, out.granted);
  if (!opened) {
    out.error = opened.error().message;
    co_return;
  }
  net::MuxStream& stream = *opened;
  SpeedtestPattern pattern(key);
  Bytes buf(2 + st::kMaxUploadRecord);
  std::uint64_t sent = 0;
  for (bool last = false; !last;) {
    // Records of pattern bytes, then the end record (n 0) at the grant or when time is up.
    const std::size_t n = time_up() ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(
                                               st::kMaxUploadRecord, out.granted - sent));
    last = n == 0;
    const auto head = st::upload_record_header(n);
    std::copy(head.begin(), head.end(), buf.begin());
    pattern.fill(MutByteView(buf.data() + 2, n));
    if (const auto ec = co_await stream.write_all(ByteView(buf.data(), 2 + n))) {
      out.error = "upload: " + ec.message();
      co_return;
    }
    sent += n;
    progress_.done += n;
  }
  net::Watchdog wd(ex_, kAnswerTimeout, [&stream] { stream.close(); });
  st::FixedReader<st::kUploadResultSize> reader;
  std::array<std::uint8_t, st::kUploadResultSize> tmp{};
  while (!reader.done()) {
    const net::IoResult r = co_await stream.read_some(tmp);
    if (r.error || r.count == 0) {
      out.error = "upload: no result from the server" + std::string(wd.expired() ? " within 15 s" : "");
      co_return;
    }
    reader.put(ByteView(tmp.data(), r.count));
  }
  auto res = st::decode_upload_result(reader.bytes());
  if (!res) {
    out.error = res.error().message;
    co_return;
  }
  out.bytes = res->received;
  out.server_us = res->elapsed_us;
  out.intact = res->intact;
  if (res->received != sent) {
    out.error = "upload: the server received " + std::to_string(res->received) + " of the " +
                std::to_string(sent) + " bytes sent";
  }
}

awaitable<void> Runner::phase(const char* name, PhaseResult& result,
                              awaitable<void> (Runner::*one)(std::uint64_t, StreamResult&)) {
  const unsigned n = std::max(1u, args_.streams);
  result.streams.assign(n, {});
  progress_ = Progress{name, 0, by_duration() ? 0 : bytes_, Clock::now(), args_.duration};
  // Duration mode asks for everything: the server grants its per-stream maximum.
  const std::uint64_t each = by_duration() ? UINT64_MAX : bytes_ / n;
  std::size_t left = n;
  std::exception_ptr failure;
  asio::steady_timer all_done(ex_, Clock::time_point::max());
  for (unsigned i = 0; i < n; ++i) {
    const std::uint64_t want = by_duration() || i + 1 < n ? each : bytes_ - each * (n - 1);
    asio::co_spawn(ex_, (this->*one)(want, result.streams[i]), [&](std::exception_ptr e) {
      if (e && !failure) failure = e;
      if (--left == 0) all_done.cancel();
    });
  }
  co_await all_done.async_wait(net::use_nothrow);
  if (failure) std::rethrow_exception(failure);
  result.seconds = seconds_since(progress_.start);
  show_progress(true);
  progress_.phase = nullptr;
}

void Runner::show_progress(bool final) {
  if (progress_.phase == nullptr) return;
  const double t = seconds_since(progress_.start);
  const double frac = progress_.total ? static_cast<double>(progress_.done) / progress_.total
                                      : std::min(1.0, t / std::max(progress_.duration, 1e-9));
  const double rate = mbit_s(progress_.done, t);
  char line[160];
  if (final) {
    std::snprintf(line, sizeof line, "%-8s %s in %.2f s (%.1f Mbit/s)", progress_.phase,
                  mib(progress_.done).c_str(), t, rate);
    std::cerr << (tty_ ? "\r\033[K" : "") << line << "\n";
    return;
  }
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(std::clamp(frac, 0.0, 1.0) * kWidth);
    std::snprintf(line, sizeof line, "%-8s [%s%s] %3.0f%% %s %.1f Mbit/s", progress_.phase,
                  std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                  frac * 100, mib(progress_.done).c_str(), rate);
    std::cerr << "\r\033[K" << line << std::flush;
  } else {
    std::snprintf(line, sizeof line, "%-8s %3.0f%% %s %.1f Mbit/s", progress_.phase, frac * 100,
                  mib(progress_.done).c_str(), rate);
    std::cerr << line << "\n";
  }
}

awaitable<void> Runner::progress_loop() {
  asio::steady_timer timer(ex_);
  while (!finished_) {
    timer.expires_after(tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1000));
    co_await timer.async_wait(net::use_nothrow);
    if (!finished_) show_progress(false);
  }
}

awaitable<void> Runner::run() {
  asio::co_spawn(ex_, progress_loop(), asio::detached);
  if (co_await measure_rtt()) {
    kcp_before_ = kcp_stats();
    co_await phase("download", download_, &Runner::download_one);
    if (auto e = download_.error(); !e.empty()) error_ = e;
    co_await phase("upload", upload_, &Runner::upload_one);
    if (auto e = upload_.error(); !e.empty() && error_.empty()) error_ = e;
    kcp_after_ = kcp_stats();
  }
  finished_ = true;
}

json Runner::report() const {
  json j;
  j["server"] = net::to_string(driver_.current_endpoint());
  j["streams"] = std::max(1u, args_.streams);
  if (by_duration()) {
    j["duration_s"] = args_.duration;
  } else {
    j["requested_bytes"] = bytes_;
  }
  j["handshake_ms"] = handshake_ms_;
  json rtt;
  if (!rtt_ms_.empty()) {
    double sum = 0;
    for (double v : rtt_ms_) sum += v;
    rtt["min_ms"] = *std::min_element(rtt_ms_.begin(), rtt_ms_.end());
    rtt["avg_ms"] = sum / static_cast<double>(rtt_ms_.size());
    rtt["max_ms"] = *std::max_element(rtt_ms_.begin(), rtt_ms_.end());
  }
  rtt["samples"] = rtt_ms_.size();
  rtt["kcp_srtt_ms"] = kcp_srtt_ms_;
  j["rtt"] = rtt;
  const auto phase_json = [](const PhaseResult& p, bool upload) {
    json o;
    std::uint64_t server_us = 0;
    json streams = json::array();
    for (const auto& s : p.streams) {
      server_us = std::max(server_us, s.server_us);
      json e{{"bytes", s.bytes}, {"granted", s.granted}, {"intact", s.intact}, {"key", s.key_hex}};
      if (upload) e["server_us"] = s.server_us;
      if (!upload) e["blake2s"] = s.digest_hex;
      if (!s.error.empty()) e["error"] = s.error;
      streams.push_back(e);
    }
    // Upload goodput is the receiver's: bytes over the server's elapsed time (longest stream).
    const double secs = upload ? static_cast<double>(server_us) / 1e6 : p.seconds;
    o["bytes"] = p.bytes();
    o["seconds"] = secs;
    o["mbit_s"] = mbit_s(p.bytes(), secs);
    o["intact"] = p.intact();
    o["streams"] = streams;
    return o;
  };
  j["download"] = phase_json(download_, false);
  j["upload"] = phase_json(upload_, true);
  json rx;
  // Both snapshots of one session (a replaced session starts its counters again).
  if (kcp_before_ && kcp_after_ && kcp_after_->out_data_segments >= kcp_before_->out_data_segments &&
      kcp_after_->retransmits >= kcp_before_->retransmits &&
      kcp_after_->fast_retransmits >= kcp_before_->fast_retransmits) {
    const auto resent = [](const kcp::Stats& s) { return s.retransmits + s.fast_retransmits; };
    const std::uint64_t re = resent(*kcp_after_) - resent(*kcp_before_);
    const std::uint64_t sent = kcp_after_->out_data_segments - kcp_before_->out_data_segments + re;
    rx = json{{"retransmitted_segments", re}, {"sent_segments", sent},
              {"rate", sent ? static_cast<double>(re) / static_cast<double>(sent) : 0.0}};
  }
  j["retransmissions"] = rx;
  j["ok"] = error_.empty() && intact();
  if (!error_.empty()) j["error"] = error_;
  return j;
}

void print_text(const json& j) {
  const auto f = [](const char* fmt, auto... v) {
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, v...);
    std::cout << buf << "\n";
  };
  f("server      %s (%u stream%s)", j["server"].get<std::string>().c_str(), j["streams"].get<unsigned>(),
    j["streams"].get<unsigned>() == 1 ? "" : "s");
  f("handshake   %.1f ms", j["handshake_ms"].get<double>());
  const json& r = j["rtt"];
  if (r.contains("min_ms")) {
    f("rtt         min %.2f / avg %.2f / max %.2f ms (%zu echoes), KCP srtt %lld ms", r["min_ms"].get<double>(),
      r["avg_ms"].get<double>(), r["max_ms"].get<double>(), r["samples"].get<std::size_t>(),
      static_cast<long long>(r["kcp_srtt_ms"].get<std::int64_t>()));
  }
  for (const char* name : {"download", "upload"}) {
    const json& p = j[name];
    f("%-11s %.1f Mbit/s (%s in %.2f s%s, content %s)", name, p["mbit_s"].get<double>(),
      mib(p["bytes"].get<std::uint64_t>()).c_str(), p["seconds"].get<double>(),
      std::string(name) == "upload" ? " at the server" : "", p["intact"].get<bool>() ? "verified" : "CORRUPT");
  }
  const json& x = j["retransmissions"];
  if (x.contains("rate")) {
    f("retransmit  %.2f %% (%llu of %llu KCP data segments this client sent)", x["rate"].get<double>() * 100,
      static_cast<unsigned long long>(x["retransmitted_segments"].get<std::uint64_t>()),
      static_cast<unsigned long long>(x["sent_segments"].get<std::uint64_t>()));
  }
}

// The tunnel client, built as socks5d builds it (profile, --proxy-addr, `servers`).
Result<std::unique_ptr<net::ClientDriver>> make_driver(asio::io_context& io, const SpeedtestCommand::Args& a) {
  auto prof = load_client_profile(a.profile);
  if (!prof) return prof.error();
  const bool several = a.proxy_addr.empty() && !prof->servers.empty();
  const std::string proxy_text = a.proxy_addr.empty() ? prof->proxy_addr : a.proxy_addr;
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  if (proxy_text.empty() && !several) {
    return Error{invalid, "no proxy address: set proxy_addr (or servers) in the profile or pass --proxy-addr"};
  }
  auto ccfg = tunnel::client_config_from_profile(*prof);
  if (!ccfg) return ccfg.error();
  if (!several) ccfg->servers.clear();
  if (auto v = ccfg->validate(); !v) return v.error();
  auto framer = obf::Framer::create(profile::obf_config(*prof));
  if (!framer) return Error{invalid, "failed to create framer: " + framer.error().message};
  std::vector<net::udp::endpoint> servers;
  for (std::size_t i = 0; several && i < prof->servers.size(); ++i) {
    const auto r = profile::parse_host_port_range(prof->servers[i]);
    auto ep = net::resolve_udp_endpoint(io, r->host + ":" + std::to_string(r->first_port));
    if (!ep) return Error{invalid, "servers[" + std::to_string(i) + "]: " + ep.error().message};
    servers.push_back(*ep);
  }
  if (!several) {
    auto ep = net::resolve_udp_endpoint(io, proxy_text);
    if (!ep) return Error{invalid, "proxy address: " + ep.error().message};
    servers.push_back(*ep);
  }
  return std::make_unique<net::ClientDriver>(io.get_executor(), *ccfg, std::move(framer.value()), servers);
}

}  // namespace

SpeedtestCommand::SpeedtestCommand(CLI::App& cli) {
  cmd_ = cli.add_subcommand("speedtest",
                            "measure RTT, download and upload through the tunnel against proxy-server's "
                            "built-in speedtest target (no socks5d needed)");
  cmd_->add_option("-p,--profile", args_.profile,
                   "client profile: a JSON file, a pnq:// link, or a file holding one")->required();
  cmd_->add_option("--proxy-addr", args_.proxy_addr, "proxy-server UDP address (overrides the profile's)");
  // The server ends a speedtest stream after 60 s (app/speedtest_target.hpp).
  auto* dur = cmd_->add_option("--duration", args_.duration, "seconds per direction, up to 50 (default 10)")
                  ->check(CLI::Range(0.1, 50.0));
  cmd_->add_option("--bytes", args_.bytes, "bytes per direction instead of a duration: 20MiB, 100MB, 5000")
      ->excludes(dur);
  cmd_->add_option("--streams", args_.streams, "parallel streams per direction (1..8)")
      ->check(CLI::Range(1u, 8u))->capture_default_str();
  cmd_->add_flag("--json", args_.json, "print the report as one JSON object");
  cmd_->footer(
      "Progress goes to stderr (a bar on a terminal, a line a second otherwise), the report to "
      "stdout. Upload goodput is measured by the server (bytes it received over its own clock); "
      "the retransmission rate counts the KCP data segments this client sent (mostly the upload). "
      "Exit 1 when a phase fails or received bytes differ from the pattern. See docs/speedtest.md.");
}

int SpeedtestCommand::run() const {
  if (cmd_ == nullptr || !cmd_->parsed()) return -1;
  Args a = args_;
  std::uint64_t bytes = 0;
  if (!a.bytes.empty()) {
    auto b = st::parse_size(a.bytes);
    if (!b) return fail(kProgram, "speedtest: --bytes " + b.error().message, kExitUsage);
    bytes = *b;
  } else if (a.duration <= 0) {
    a.duration = 10;
  }
  // The driver logs through spdlog: warnings only, and never onto stdout (the report).
  spdlog::set_default_logger(spdlog::stderr_logger_st("speedtest"));
  spdlog::set_level(spdlog::level::warn);
  crypto::init();

  asio::io_context io(1);
  auto driver = make_driver(io, a);
  if (!driver) return fail(kProgram, "speedtest: " + driver.error().message);
  Runner runner(io.get_executor(), **driver, a, bytes);
  std::exception_ptr failure;
  (*driver)->start();
  asio::co_spawn(io, runner.run(), [&](std::exception_ptr e) {
    failure = e;
    (*driver)->stop();
    io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  const json j = runner.report();
  if (!runner.error().empty()) {
    if (a.json) std::cout << j.dump() << "\n";
    return fail(kProgram, "speedtest: " + runner.error());
  }
  if (a.json) {
    std::cout << j.dump() << "\n";
  } else {
    print_text(j);
  }
  if (!runner.intact()) return fail(kProgram, "speedtest: received bytes differ from the pattern");
  return kExitOk;
}

}  // namespace paniq::app
