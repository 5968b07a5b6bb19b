// What the three programs share: exit codes, command-line error reporting, logging set-up,
// start-up loading of profile and configs with one clear line per failure, signal handling.
#pragma once

#include <chrono>

#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "profile/profile.hpp"

namespace paniq::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // missing file, bad profile, port in use ...
inline constexpr int kExitUsage = 2;    // bad flag or argument

inline constexpr const char* kVersionText = "paniq-cpp " PANIQ_VERSION;

// Runs app.parse(argc, argv). Returns -1 when the program should go on; otherwise the exit
// code: 0 after --help / --version (printed), kExitUsage after a parse error (one line on
// stderr: "<program>: <message> (see --help)").
int parse_command_line(CLI::App& app, int argc, char** argv);

// Prints "<program>: <message>" on stderr and returns `code`.
int fail(std::string_view program, const std::string& message, int code = kExitRuntime);

// Sets up spdlog: stdout, flushed per line, level from `level` (debug | info | warn | error;
// the daemon config's log_level). The environment variable PANIQ_LOG (or RUST_LOG, as the
// reference) overrides it when it holds one of those names or "trace" / "off".
void setup_logging(const std::string& level);

// Loads the profile, logging its warnings. Error message: the loader's (names the path / the
// field). The caller exits with kExitRuntime.
Result<profile::Profile> load_profile(const std::string& path);

// A client's -p/--profile value: a pnq:// link (docs/protocol.md 8), a file holding such a link
// (one line; surrounding whitespace ignored), or a profile JSON file. Warnings are logged.
// Error message: decode_link's ("pnq:// link: ..."), after "PATH: " for a file, or the JSON
// loader's. The caller exits with kExitRuntime.
Result<profile::Profile> load_client_profile(const std::string& arg);

// True when the JSON file at `path` has top-level key `key` (configs: "was it set explicitly?").
bool config_has_key(const std::string& path, const std::string& key);

// Calls `on_signal` once at the first SIGINT or SIGTERM; a second one terminates at once.
void on_termination(asio::io_context& io, std::function<void(int)> on_signal);

// Raises RLIMIT_NOFILE's soft limit to its hard limit (a daemon serving thousands of
// connections needs a descriptor each) and returns the soft limit now in force.
std::uint64_t raise_nofile_limit();

// The default connection cap derived from that limit: every connection or stream needs one
// descriptor; 100 are kept for sockets, logs and the control socket. At least 128.
inline std::uint64_t connections_for_nofile(std::uint64_t nofile) {
  return nofile > 228 ? nofile - 100 : 128;
}

// At most one line per `interval` for a repeated event; the next line says how many were left
// out. Not thread-safe (one per io_context thread).
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
      : interval_(interval) {}
  // True when a line may be written now; `suppressed` is set to the count left out since the
  // previous line.
  bool allow(std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_{};
  std::uint64_t suppressed_ = 0;
};

// Gives freed heap memory back to the system after many connections closed: every 2 s, when
// `active()` has fallen by at least 32 since its peak, malloc_trim(0) runs and the peak resets
// (glibc keeps freed small blocks otherwise, so a burst of streams would leave the daemon at
// its peak size). On the same tick, pooled relay buffers that no relay borrowed in the last
// 2 s are freed (net::relay_pool_release_if_idle), and malloc_trim runs then too. On the first
// tick (start-up done) and whenever the relay buffers go, clean file pages leave the resident
// set (release_clean_file_pages, app/resident.hpp). Every tick also destroys the reactor's
// records of sockets that closed before the previous tick and were not reused
// (net::release_retired_socket_records), and the pages of UDP receive buffers that received
// nothing since the previous tick (net::release_quiet_recv_slots). Runs until the io_context stops; `io` must be run by
// one thread.
void trim_memory_after_bursts(asio::io_context& io, std::function<std::uint64_t()> active);

// Parses "IP:port" or resolves "host:port" (first address) for a TCP listener / UDP socket.
// Error message names the text.
Result<net::tcp::endpoint> resolve_tcp_endpoint(asio::io_context& io, std::string_view text);

// A daemon's main(): runs `body` and turns an escaped exception into the one-line failure of
// fail() (exit 1).
int guarded_main(std::string_view program, const std::function<int()>& body);

// The whole of a file, or of stdin when `path` is empty or "-" (paniq-ctl's inputs).
Result<std::string> read_file_or_stdin(const std::string& path);

}  // namespace paniq::app
