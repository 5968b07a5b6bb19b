#include "app/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "profile/addr.hpp"
#include "tunnel/auth_config.hpp"

namespace paniq::app {

std::vector<DropReason> drop_reasons(const ControlStats& s) {
  // drop_policy split by its reasons: rate_limited and replay have their own labels, every other
  // policy reason (MAC1, timestamps, signatures, skew, a custom policy) is "auth".
  std::uint64_t policy_rate = 0, policy_replay = 0, policy_other = 0;
  for (const auto& [name, count] : s.auth) {
    if (name == tunnel::to_string(tunnel::AuthReason::rate_limited)) {
      policy_rate += count;
    } else if (name == tunnel::to_string(tunnel::AuthReason::replay)) {
      policy_replay += count;
    } else {
      for (std::size_t r = 0; r < tunnel::kAuthDropReasonCount; ++r) {
        if (name == tunnel::to_string(static_cast<tunnel::AuthReason>(r))) policy_other += count;
      }
    }
  }
  return {
      {"auth", policy_other + s.drop_secure_handshake + s.drop_unknown_user + s.drop_transport_auth +
                   s.drop_plain_refused},
      {"rate_limit", policy_rate + s.drop_repeat_limit + s.drop_response_budget},
      {"replay", policy_replay + s.drop_transport_replay},
      {"cap", s.drop_cap_total + s.drop_cap_host + s.drop_conv_busy},
      {"unclassified", s.drop_unclassified + s.drop_unexpected_type},
      {"unknown_session", s.drop_unknown_session},
      {"invalid", s.transport_invalid_length + s.drop_kcp_rejected},
      {"backlog", s.drop_backlog},
      {"too_large", s.transport_payload_too_large},
      {"egress", s.egress_udp_dropped_default_range + s.egress_udp_dropped_rule +
                     s.egress_udp_dropped_own_address},
  };
}

namespace {

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

// Every family (docs/operations.md has the table). Names end in _total for counters and name
// base units (bytes, seconds).
struct Metrics::Families {
  using Counters = prometheus::Family<prometheus::Counter>;
  using Gauges = prometheus::Family<prometheus::Gauge>;

  explicit Families(prometheus::Registry& r)
      : sessions(gauge(r, "paniq_sessions", "Tunnel sessions open now")),
        streams(gauge(r, "paniq_streams", "smux streams open now, all sessions")),
        connections(gauge(r, "paniq_connections",
                          "Connections being served (socks5d: CONNECT relays; proxy-server: streams relayed)")),
        created(counter(r, "paniq_sessions_created_total", "Tunnel sessions created since start")),
        closed(counter(r, "paniq_sessions_closed_total", "Tunnel sessions ended since start")),
        roamed(counter(r, "paniq_sessions_roamed_total", "Sessions moved to a new client address")),
        streams_opened(counter(r, "paniq_streams_opened_total", "smux streams opened through the tunnel")),
        streams_refused(counter(r, "paniq_streams_refused_total",
                                "Connections/streams refused, by reason (max_connections, egress)")),
        tunnel_bytes(counter(r, "paniq_tunnel_bytes_total",
                             "Tunnel payload bytes (KCP segments inside the transport envelope), by direction")),
        udp_bytes(counter(r, "paniq_udp_bytes_total", "UDP payload bytes on the tunnel socket(s), by direction")),
        datagrams(counter(r, "paniq_datagrams_total", "UDP datagrams on the tunnel socket(s), every kind, by direction")),
        send_errors(counter(r, "paniq_send_errors_total", "Datagrams the kernel refused to send")),
        retransmissions(counter(r, "paniq_kcp_retransmissions_total",
                                "KCP segment retransmissions (timeout and fast), all sessions")),
        handshakes(counter(r, "paniq_handshakes_total", "Handshakes by outcome (ok, failed, refused, repeat)")),
        drops(counter(r, "paniq_drops_total", "Datagrams dropped, by reason (docs/operations.md)")),
        rekeys(counter(r, "paniq_rekeys_total", "Encrypted mode: key epochs moved, by direction (sent, received)")),
        build(gauge(r, "paniq_build_info", "Version and daemon kind; always 1")),
        rtt(prometheus::BuildHistogram()
                .Name("paniq_rtt_seconds")
                .Help("Smoothed RTT of each session with an RTT sample, observed once per second")
                .Register(r)),
        rtt_hist(rtt.Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                       0.1, 0.25, 0.5, 1.0, 2.5, 5.0})) {}

  Gauges& sessions;
  Gauges& streams;
  Gauges& connections;
  Counters& created;
  Counters& closed;
  Counters& roamed;
  Counters& streams_opened;
  Counters& streams_refused;
  Counters& tunnel_bytes;
  Counters& udp_bytes;
  Counters& datagrams;
  Counters& send_errors;
  Counters& retransmissions;
  Counters& handshakes;
  Counters& drops;
  Counters& rekeys;
  Gauges& build;
  prometheus::Family<prometheus::Histogram>& rtt;
  prometheus::Histogram& rtt_hist;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Result<std::unique_ptr<Metrics>> Metrics::create(const std::string& listen, const std::string& daemon) {
  const auto addr = profile::parse_socket_addr(listen);
  if (!addr) {
    return Error{std::make_error_code(std::errc::invalid_argument),
                 "metrics listen address \"" + listen + "\": expected IP:port or [IPv6]:port"};
  }
  std::unique_ptr<Metrics> m(new Metrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->f_ = std::make_unique<Families>(*m->registry_);
  m->f_->build.Add({{"version", PANIQ_VERSION}, {"daemon", daemon}}).Set(1);
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return Error{std::make_error_code(std::errc::address_in_use),
                 "cannot serve metrics on " + listen + ": " + e.what()};
  }
  m->exposer_->RegisterCollectable(m->registry_);
  return m;
}

std::uint16_t Metrics::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

void Metrics::update(const DaemonSnapshot& s) {
  const ControlStats& c = s.stats;
  // A counter advances by what its source grew since the last sample (sources only grow).
  const auto add = [this](prometheus::Family<prometheus::Counter>& fam, const prometheus::Labels& labels,
                          std::uint64_t value) {
    std::string key = fam.GetName();
    for (const auto& [k, v] : labels) key += "," + k + "=" + v;
    auto& counter = fam.Add(labels);
    std::uint64_t& last = last_[key];
    if (value > last) counter.Increment(static_cast<double>(value - last));
    last = std::max(last, value);
  };
  std::uint64_t streams = 0;
  for (const tunnel::SessionInfo& i : s.sessions) streams += i.streams;
  f_->sessions.Add({}).Set(static_cast<double>(c.sessions_active));
  f_->streams.Add({}).Set(static_cast<double>(streams));
  f_->connections.Add({}).Set(static_cast<double>(c.active_connections));
  add(f_->created, {}, c.sessions_created);
  add(f_->closed, {}, c.sessions_closed);
  add(f_->streams_opened, {}, s.streams_opened);
  add(f_->streams_refused, {{"reason", "max_connections"}}, c.refused_max_connections);
  add(f_->streams_refused, {{"reason", "max_streams_per_user"}}, c.refused_user_streams);
  add(f_->streams_refused, {{"reason", "session_max_streams"}}, c.refused_session_streams);
  add(f_->streams_refused, {{"reason", "egress"}},
      c.egress_refused_default_range + c.egress_refused_rule + c.egress_refused_own_address);
  add(f_->tunnel_bytes, {{"direction", "rx"}}, c.transport_payload_in_bytes);
  add(f_->tunnel_bytes, {{"direction", "tx"}}, c.transport_payload_out_bytes);
  add(f_->udp_bytes, {{"direction", "rx"}}, c.udp_in_bytes);
  add(f_->udp_bytes, {{"direction", "tx"}}, c.udp_out_bytes);
  add(f_->datagrams, {{"direction", "rx"}}, c.datagrams_in);
  add(f_->datagrams, {{"direction", "tx"}}, c.datagrams_out);
  add(f_->send_errors, {}, c.send_errors);
  add(f_->handshakes, {{"outcome", "ok"}}, s.handshakes_ok);
  add(f_->handshakes, {{"outcome", "failed"}}, s.handshakes_failed);
  add(f_->handshakes, {{"outcome", "refused"}},
      c.drop_policy + c.drop_cap_total + c.drop_cap_host + c.drop_plain_refused + c.drop_unknown_user +
          c.drop_repeat_limit + c.drop_response_budget + c.drop_conv_busy);
  add(f_->handshakes, {{"outcome", "repeat"}}, c.initiation_repeats);
  for (const DropReason& d : drop_reasons(c)) add(f_->drops, {{"reason", d.reason}}, d.count);
  add(f_->rekeys, {{"direction", "sent"}}, c.rekeys_sent);
  add(f_->rekeys, {{"direction", "received"}}, c.rekeys_received);
  add(f_->roamed, {}, c.sessions_roamed);
  // Retransmissions: per live session, by growth since the last sample (a session's last
  // second before it closed is not seen).
  std::map<std::uint64_t, std::uint64_t> retx;
  double grown = 0;
  for (const tunnel::SessionInfo& i : s.sessions) {
    retx[i.id] = i.retransmits;
    const auto it = last_retx_.find(i.id);
    const std::uint64_t before = it == last_retx_.end() ? 0 : it->second;
    if (i.retransmits > before) grown += static_cast<double>(i.retransmits - before);
    if (i.srtt_ms > 0) f_->rtt_hist.Observe(i.srtt_ms / 1000.0);
  }
  last_retx_ = std::move(retx);
  f_->retransmissions.Add({}).Increment(grown);
}

class MetricsSampler : public std::enable_shared_from_this<MetricsSampler> {
 public:
  MetricsSampler(asio::any_io_executor ex, std::unique_ptr<Metrics> m, std::function<DaemonSnapshot()> snap,
                 std::uint32_t period_ms)
      : timer_(ex), metrics_(std::move(m)), snapshot_(std::move(snap)), period_ms_(period_ms) {}
  void arm() {
    timer_.expires_after(std::chrono::milliseconds(period_ms_));
    timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
      const auto self = weak.lock();
      if (ec || !self || self->stopped_) return;
      self->metrics_->update(self->snapshot_());
      self->arm();
    });
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }
  Metrics& metrics() { return *metrics_; }
  const std::function<DaemonSnapshot()>& snapshot() const { return snapshot_; }

 private:
  asio::steady_timer timer_;
  std::unique_ptr<Metrics> metrics_;
  std::function<DaemonSnapshot()> snapshot_;
  std::uint32_t period_ms_;
  bool stopped_ = false;
};

Result<std::shared_ptr<MetricsSampler>> open_metrics(asio::any_io_executor ex, const std::string& cli,
                                                     const std::optional<std::string>& config,
                                                     const std::string& daemon,
                                                     std::function<DaemonSnapshot()> snapshot,
                                                     std::uint32_t period_ms) {
  const std::string listen = !cli.empty() ? cli : config.value_or("");
  if (listen.empty()) return std::shared_ptr<MetricsSampler>{};
  auto m = Metrics::create(listen, daemon);
  if (!m) return m.error();
  spdlog::info("metrics on http://{}/metrics", listen);
  auto s = std::make_shared<MetricsSampler>(ex, std::move(m.value()), std::move(snapshot), period_ms);
  s->metrics().update(s->snapshot()());
  s->arm();
  return s;
}

void stop_metrics(const std::shared_ptr<MetricsSampler>& m) {
  if (m) m->stop();
}

}  // namespace paniq::app
