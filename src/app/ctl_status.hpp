// `paniq-ctl status`: a live view of a daemon, like `wg show`, from its control socket's
// "GetStatus" answer (app/status.hpp; docs/operations.md). A daemon that does not know
// GetStatus (paniq-rs, an older paniq-cpp) gets a note and its GetStats totals instead.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace paniq::app {

class StatusCommand {
 public:
  // Registers the `status` subcommand on `cli`.
  explicit StatusCommand(CLI::App& cli);
  // After parsing: -1 when the subcommand was not given, else its exit code (0 ok; 1 the
  // socket cannot be reached or answered garbage; 2 bad arguments).
  int run() const;

  struct Args {
    std::string socket;
    std::string watch;  // "" = once; else seconds between frames
    unsigned count = 0;  // --watch: frames before exiting; 0 = until a signal
    bool json = false;
  };

 private:
  CLI::App* cmd_ = nullptr;
  CLI::Option* watch_opt_ = nullptr;
  Args args_;
};

// Adds "rx_bytes_per_second" / "tx_bytes_per_second" to every session of `status` (a Status
// object): from `previous` (the same daemon `interval_ms` earlier) for a session present in
// both, else the average since the session started. Pure.
void add_rates(nlohmann::ordered_json& status, const nlohmann::ordered_json* previous,
               double interval_ms);

// The human view of a Status object (with rates): a daemon block, then one block per session.
std::string render_status(const nlohmann::ordered_json& status);

// "1.50 MiB", "512 B"; "3.2 ms"; "2h 3m 4s". Pure.
std::string human_bytes(double bytes);
std::string human_duration_ms(std::uint64_t ms);

}  // namespace paniq::app
