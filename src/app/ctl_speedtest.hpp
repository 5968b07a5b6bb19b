// `paniq-ctl speedtest` (docs/speedtest.md): runs its own tunnel client in-process (no socks5d)
// against proxy-server's built-in speedtest target (socks5/speedtest.hpp) and reports the
// handshake time, RTT, download and upload goodput and the KCP retransmission rate.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace paniq::app {

class SpeedtestCommand {
 public:
  // Registers the `speedtest` subcommand on `cli`.
  explicit SpeedtestCommand(CLI::App& cli);
  // After parsing: -1 when the subcommand was not given, else its exit code (0 ok; 1 the test
  // failed or content did not verify, with one line on stderr; 2 bad arguments).
  int run() const;

  struct Args {
    std::string profile, proxy_addr, bytes;
    double duration = 0;  // seconds per direction; 0 = not given
    unsigned streams = 1;
    bool json = false;
  };

 private:
  CLI::App* cmd_ = nullptr;
  Args args_;
};

}  // namespace paniq::app
