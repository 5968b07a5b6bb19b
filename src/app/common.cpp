#include "app/common.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/resident.hpp"
#include "net/endpoint.hpp"
#include "net/recv_slots.hpp"
#include "net/relay.hpp"
#include "net/socket_records.hpp"
#include "profile/addr.hpp"
#include "profile/link.hpp"

namespace paniq::app {

int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: printed on stdout, exit 0
  } catch (const CLI::ParseError& e) {
    std::cerr << app.get_name() << ": " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  return -1;
}

int fail(std::string_view program, const std::string& message, int code) {
  std::cerr << program << ": " << message << "\n";
  return code;
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stdout_logger_mt("paniq");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::flush_on(spdlog::level::trace);
  std::string chosen = level;
  for (const char* var : {"PANIQ_LOG", "RUST_LOG"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      const auto l = spdlog::level::from_str(v);
      if (l != spdlog::level::off || std::string_view(v) == "off") {
        chosen = v;
        break;
      }
    }
  }
  spdlog::set_level(spdlog::level::from_str(chosen == "warning" ? "warn" : chosen));
}

Result<profile::Profile> load_profile(const std::string& path) {
  std::vector<std::string> warnings;
  auto p = profile::load_profile_file(path, warnings);
  for (const auto& w : warnings) spdlog::warn("profile {}: {}", path, w);
  return p;
}

Result<profile::Profile> load_client_profile(const std::string& arg) {
  std::vector<std::string> warnings;
  auto from_link = [&](std::string_view link, const std::string& source) -> Result<profile::Profile> {
    auto p = profile::decode_link(link, warnings);
    for (const auto& w : warnings) spdlog::warn("profile {}: {}", source.empty() ? "link" : source, w);
    if (!p && !source.empty()) return Error{p.error().code, source + ": " + p.error().message};
    return p;
  };
  if (profile::looks_like_link(arg)) return from_link(arg, "");
  std::ifstream in(arg, std::ios::binary);
  if (!in && profile::has_url_scheme(arg)) return from_link(arg, "");  // e.g. https://: wrong scheme
  char head[64] = {};
  in.read(head, sizeof head);
  const std::string_view start(head, static_cast<std::size_t>(in.gcount()));
  if (!start.empty() && profile::looks_like_link(start)) {
    in.clear();
    in.seekg(0);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return from_link(text, arg);
  }
  return load_profile(arg);
}

bool config_has_key(const std::string& path, const std::string& key) {
  if (path.empty()) return false;
  std::ifstream in(path);
  if (!in) return false;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains(key);
}

void on_termination(asio::io_context& io, std::function<void(int)> on_signal) {
  auto signals = std::make_shared<asio::signal_set>(io, SIGINT, SIGTERM);
  signals->async_wait([signals, on_signal = std::move(on_signal)](std::error_code ec, int sig) {
    if (ec) return;
    // A second signal ends the process at once.
    signals->async_wait([](std::error_code ec2, int) {
      if (!ec2) std::_Exit(kExitRuntime);
    });
    on_signal(sig);
  });
}

namespace {

net::awaitable<void> trim_loop(asio::io_context& io, std::function<std::uint64_t()> active) {
  asio::steady_timer timer(io);
  std::uint64_t peak = 0;
  bool started = false;
  for (;;) {
    timer.expires_after(std::chrono::seconds(2));
    auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec) co_return;
    // On a timer's completion, as the release needs; one thread runs the daemons' io_context.
    if (const std::size_t records = net::release_retired_socket_records(io); records > 0) {
      spdlog::debug("released the records of {} closed sockets", records);
    }
    net::release_quiet_recv_slots();
    const std::uint64_t now = active();
    peak = std::max(peak, now);
    const bool quiet_relays = net::relay_pool_release_if_idle() > 0;
    if (peak >= now + 32 || quiet_relays) {
      ::malloc_trim(0);
      peak = now;
    }
    // Start-up is over on the first tick; traffic has stopped when the relay buffers go: the
    // code and read-only data touched since leave the resident set (app/resident.hpp).
    if (!started || quiet_relays) {
      const std::size_t released = release_clean_file_pages();
      spdlog::debug("released {} kB of clean file pages from the resident set", released / 1024);
      started = true;
    }
  }
}

}  // namespace

std::uint64_t raise_nofile_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  return lim.rlim_cur == RLIM_INFINITY ? 1u << 20 : static_cast<std::uint64_t>(lim.rlim_cur);
}

void trim_memory_after_bursts(asio::io_context& io, std::function<std::uint64_t()> active) {
  asio::co_spawn(io, trim_loop(io, std::move(active)), asio::detached);
}

Result<net::tcp::endpoint> resolve_tcp_endpoint(asio::io_context& io, std::string_view text) {
  if (auto literal = profile::parse_socket_addr(text)) {
    return net::to_endpoint<net::tcp::endpoint>(*literal);
  }
  auto hp = net::split_host_port(text, true);
  if (!hp) return hp.error();
  net::tcp::resolver resolver(io);
  std::error_code ec;
  const auto results = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || results.empty()) {
    return Error{ec ? ec : std::make_error_code(std::errc::host_unreachable),
                 "cannot resolve \"" + std::string(text) + "\"" + (ec ? ": " + ec.message() : "")};
  }
  return results.begin()->endpoint();
}

int guarded_main(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(program, e.what());
  }
}

Result<std::string> read_file_or_stdin(const std::string& path) {
  std::ostringstream ss;
  if (path.empty() || path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{std::make_error_code(std::errc::no_such_file_or_directory), "cannot read " + path};
    ss << in.rdbuf();
  }
  return ss.str();
}

}  // namespace paniq::app
