// Prometheus metrics (`--metrics-listen IP:PORT` / `metrics_listen`, off by default): an HTTP
// exposer (prometheus-cpp's civetweb one, its own threads) serving /metrics. Every second the
// daemon's io thread takes a DaemonSnapshot (app/status.hpp: the GetStats counters and the
// live sessions) and applies it to the prometheus families, whose values are atomic (counters,
// gauges) or locked (histograms) inside prometheus-cpp: the exposer threads never touch the
// tunnel's state. Counters advance by the growth of the daemon's counters since the previous
// sample, so a scrape lags the daemon by at most one second. Names, types and the drop-reason
// mapping: docs/operations.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/status.hpp"
#include "core/result.hpp"
#include "net/asio.hpp"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace paniq::app {

// The drop reasons of paniq_drops_total and the counters summed under each (the mapping is
// documented in docs/operations.md). Pure, for the metrics and their tests.
struct DropReason {
  const char* reason;
  std::uint64_t count;
};
std::vector<DropReason> drop_reasons(const ControlStats& s);

class Metrics {
 public:
  // Binds the exposer at `listen` ("127.0.0.1:9100", "[::1]:9100"). Error: the address does not
  // parse or cannot be bound (the message names it); the daemon exits with it.
  static Result<std::unique_ptr<Metrics>> create(const std::string& listen, const std::string& daemon);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Applies one snapshot (call from one thread, the daemon's io thread).
  void update(const DaemonSnapshot& s);
  // The bound port (the one asked for, or the kernel's choice for port 0).
  std::uint16_t port() const;

 private:
  struct Families;
  Metrics();
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Families> f_;
  std::map<std::string, std::uint64_t> last_;          // counter key -> value last applied
  std::map<std::uint64_t, std::uint64_t> last_retx_;   // session id -> its retransmits
};

// The daemons' start-up: when `cli` (else `config`) names an address, creates the Metrics and
// samples `snapshot` on `ex` every `period_ms` for as long as the returned object lives.
// nullptr when no address is set. Errors as Metrics::create.
class MetricsSampler;
Result<std::shared_ptr<MetricsSampler>> open_metrics(asio::any_io_executor ex, const std::string& cli,
                                                     const std::optional<std::string>& config,
                                                     const std::string& daemon,
                                                     std::function<DaemonSnapshot()> snapshot,
                                                     std::uint32_t period_ms = 1000);
// Stops the sampling timer (before the io context goes away). Null is fine.
void stop_metrics(const std::shared_ptr<MetricsSampler>& m);

}  // namespace paniq::app
