// proxy-server: the tunnel's server end (PROTOCOL.md 2.3, 8.3, 8.5). Thin main: flags,
// configs, wiring.
#include <spdlog/spdlog.h>

#include "app/common.hpp"
#include "app/control.hpp"
#include "app/lean_malloc.hpp"
#include "app/metrics.hpp"
#include "app/status.hpp"
#include "net/clock.hpp"
#include "app/proxy_service.hpp"
#include "core/ip_text.hpp"
#include "envelope/handshake.hpp"
#include "net/datagram.hpp"
#include "net/endpoint.hpp"
#include "net/server_driver.hpp"
#include "profile/addr.hpp"
#include "profile/daemon_config.hpp"
#include "profile/users.hpp"
#include "profile/validate.hpp"
#include "tunnel/auth_config.hpp"
#include "tunnel/egress.hpp"
#include "tunnel/server.hpp"

namespace {

using namespace paniq;
constexpr const char* kProgram = "proxy-server";

struct Flags {
  std::string config, listen, profile, control, metrics;
};

// -1: go on; otherwise the exit code (help, version, usage error).
int parse_flags(int argc, char** argv, Flags& f) {
  CLI::App cli{"paniq proxy server: accepts obfuscated UDP tunnels and connects their streams "
               "to their targets.",
               kProgram};
  cli.add_option("-c,--config", f.config, "daemon config file (JSON); a missing file means defaults");
  cli.add_option("-l,--listen", f.listen, "UDP listen address IP:port, e.g. 0.0.0.0:9000 or [::]:9000 "
                                          "(both families), or a port range IP:PORT-PORT for port hopping (at most 256 ports) "
                                          "(overrides listen_addr)");
  cli.add_option("-p,--profile", f.profile, "profile JSON (with a valid obfuscation section)")->required();
  cli.add_option("--control-socket", f.control, "control socket path (else config, else $PANIQ_CONTROL_SOCKET)");
  cli.add_option("--metrics-listen", f.metrics,
                 "serve Prometheus metrics on http://IP:PORT/metrics (else config metrics_listen; off by "
                 "default; docs/operations.md)");
  cli.set_version_flag("-V,--version", app::kVersionText);
  cli.footer("Targets are dialled with the config's dial_timeout (happy eyeballs for names with "
             "IPv4 and IPv6 addresses). Egress policy: targets in loopback, link-local, private "
             "(RFC 1918), CGNAT, ULA, multicast and unspecified ranges and this host's own addresses "
             "are refused (reply 0x02) unless the config's allow_targets names them; deny_targets "
             "always wins (docs/egress.md). SIGINT/SIGTERM stop the server (exit 0).");
  return app::parse_command_line(cli, argc, argv);
}

// Sizes fixed by the profile: the prefix in front of every transport payload (random[S4] || h).
struct FrameSizes {
  std::size_t transport_prefix = 0;
};

// The control plane's counters (PROTOCOL.md 12, and our extension: app/control.hpp).
// Exact from the endpoint's and the driver's process-wide counters:
//   udp_in_bytes                 every datagram received on the listen socket (as the reference)
//   udp_out_bytes                transport datagrams built (the Responses' bytes subtracted), as
//                                the reference counts queued ones
//   transport_frame_out_bytes    the same minus the transport prefix of each
//   transport_invalid_length     transport payloads that did not decode
//   transport_counter_reject     transport counters refused by the replay window
// Totals over every session's Link (tunnel::ServerEndpoint::link_totals):
//   transport_payload_*_bytes, transport_padding_*_bytes, transport_frame_in_bytes and
//   transport_payload_too_large. The inbound ones count transport that reached a session; the
//   reference also counts payloads decoded for no session (drop_unknown_session here).
// active_connections: streams being served (CONNECT relays and UDP associations); the
// reference's server always reports 0 (PROTOCOL.md 17 item 27).
app::ControlStats control_stats(const net::ServerDriver& driver, const app::ProxyService& service,
                                const FrameSizes& sizes) {
  const tunnel::ServerEndpoint& ep = driver.endpoint();
  const tunnel::ServerStats& es = ep.stats();
  const net::ServerDriverStats& ds = driver.stats();
  const tunnel::LinkStats links = ep.link_totals();
  // Every queued datagram is a Response or a transport datagram.
  const std::uint64_t responses = es.responses_out;
  const std::uint64_t transport_out = es.datagrams_out - responses;

  app::ControlStats s;
  s.udp_in_bytes = ds.udp_in_bytes;
  s.udp_out_bytes = es.bytes_out - es.response_bytes;
  app::set_link_counters(s, links);
  s.transport_frame_out_bytes = s.udp_out_bytes - transport_out * sizes.transport_prefix;
  s.transport_invalid_length = es.drop_invalid_length + links.drop_invalid_length;
  s.transport_counter_reject = es.drop_transport_replay;
  s.active_connections = service.stats().active;

  s.datagrams_in = ds.datagrams_in;
  s.datagrams_out = ds.datagrams_out;
  s.send_errors = ds.send_errors;
  s.sessions_created = es.sessions_created;
  s.sessions_active = ep.session_count();
  s.sessions_closed = es.sessions_closed;
  s.initiation_repeats = es.initiation_repeats;
  s.drop_unclassified = es.drop_unclassified;
  s.drop_unexpected_type = es.drop_unexpected_type;
  s.drop_policy = es.drop_policy;
  s.drop_cap_total = es.drop_cap_total;
  s.drop_cap_host = es.drop_cap_host;
  s.drop_unknown_session = es.drop_unknown_session;
  s.drop_kcp_rejected = es.drop_kcp_rejected;
  s.drop_repeat_limit = es.drop_repeat_limit;
  s.drop_backlog = es.drop_backlog;
  s.drop_transport_replay = es.drop_transport_replay;
  s.streams_accepted = ds.streams_accepted;
  using tunnel::EgressVerdict;
  const auto at = [](const auto& counts, EgressVerdict v) { return counts[static_cast<std::size_t>(v)]; };
  const app::EgressStats& eg = service.egress_stats();
  s.egress_refused_default_range = at(eg.connect_refused, EgressVerdict::denied_default_range);
  s.egress_refused_rule = at(eg.connect_refused, EgressVerdict::denied_rule);
  s.egress_refused_own_address = at(eg.connect_refused, EgressVerdict::denied_own_address);
  s.egress_udp_dropped_default_range = at(eg.udp_dropped, EgressVerdict::denied_default_range);
  s.egress_udp_dropped_rule = at(eg.udp_dropped, EgressVerdict::denied_rule);
  s.egress_udp_dropped_own_address = at(eg.udp_dropped, EgressVerdict::denied_own_address);
  s.sessions_encrypted = es.sessions_encrypted;
  s.refused_max_connections = service.stats().over_limit;
  s.refused_user_streams = service.user_limits().refused_total();
  s.refused_session_streams = es.streams_refused_session_cap;
  s.drop_plain_refused = es.drop_plain_refused;
  s.drop_secure_handshake = es.drop_secure_handshake;
  s.drop_unknown_user = es.drop_unknown_user;
  s.drop_transport_auth = es.drop_transport_auth;
  s.sessions_roamed = es.sessions_roamed;
  s.sessions_revoked = es.sessions_revoked;
  s.initiations_answered = es.initiations_answered;
  s.sessions_lazy_created = es.sessions_lazy_created;
  s.responses_out = es.responses_out;
  s.response_bytes = es.response_bytes;
  s.drop_response_budget = es.drop_response_budget;
  s.drop_conv_busy = es.drop_conv_busy;
  for (const auto& [name, u] : ep.user_stats()) {
    const tunnel::UserStreamLimits::Counts c = service.user_limits().counts(name);
    s.users.push_back(
        {name, u.sessions_live, u.sessions_total, u.bytes_in, u.bytes_out, c.active, c.refused});
  }
  for (std::size_t r = 0; r < tunnel::kAuthReasonCount; ++r) {
    s.auth.emplace_back(tunnel::to_string(static_cast<tunnel::AuthReason>(r)), es.auth[r]);
  }
  return s;
}

// What GetStatus and the metrics report (app/status.hpp).
app::DaemonSnapshot snapshot(const net::ServerDriver& driver, const app::ProxyService& service,
                             const FrameSizes& sizes, TimeMs started) {
  app::DaemonSnapshot d;
  d.daemon = kProgram;
  d.listen = net::to_string(driver.local_endpoint());
  d.now = net::now_ms();
  d.uptime_ms = d.now - started;
  d.stats = control_stats(driver, service, sizes);
  d.sessions = driver.endpoint().session_infos(d.now);
  d.handshakes_ok = d.stats.sessions_created;
  d.handshakes_failed = d.stats.drop_secure_handshake;
  d.streams_opened = d.stats.streams_accepted;
  return d;
}

// The egress policy from the config's allow_targets / deny_targets and this host's interface
// addresses. Errors name the rule (`config <path>: allow_targets[2]: "10.0.0.0/33": prefix
// length above 32`) or say that the addresses could not be read.
Result<tunnel::EgressPolicy> egress_policy(const profile::ProxyServerConfig& cfg, const std::string& path) {
  auto own = app::own_interface_addresses();
  if (!own) return own.error();
  auto p = tunnel::EgressPolicy::create(tunnel::EgressConfig{cfg.allow_targets, cfg.deny_targets, *own});
  if (!p) return Error{p.error().code, (path.empty() ? "" : "config " + path + ": ") + p.error().message};
  std::string own_text;
  for (const tunnel::PeerAddr& a : p->own_addresses()) {
    if (!own_text.empty()) own_text += ", ";
    own_text += a.family == tunnel::PeerAddr::Family::v4 ? ipv4_text(a.addr.data()) : ipv6_text(a.addr.data());
  }
  spdlog::info("egress policy: {} allow rule(s), {} deny rule(s); default ranges and own addresses "
               "({}) refused unless allowed", p->allow_rules().size(), p->deny_rules().size(), own_text);
  return p;
}

// What cfg.users_file gives: the users table (docs/protocol.md 7.7) and the per-user stream
// caps (entries with max_streams).
struct LoadedUsers {
  std::shared_ptr<const tunnel::UserTable> table;
  std::map<std::string, std::uint64_t> stream_caps;
};

// Reads cfg.users_file; errors name the file and entry.
Result<LoadedUsers> load_users(const std::string& path) {
  auto entries = profile::load_users_file(path);
  if (!entries) return entries.error();
  auto table = std::make_shared<tunnel::UserTable>();
  LoadedUsers out;
  for (const profile::UserEntry& u : *entries) {
    table->names.emplace(*tunnel::decode_key(u.public_key), u.name);  // checked by the parser
    if (u.max_streams) out.stream_caps.emplace(u.name, *u.max_streams);
  }
  out.table = std::move(table);
  return out;
}

// SIGHUP: re-read the users file; sessions of users no longer listed end at once (the others
// are untouched). A file that does not parse keeps the previous table.
void on_reload(asio::io_context& io, net::ServerDriver& driver, app::ProxyService& service,
               const std::string& users_file) {
  auto signals = std::make_shared<asio::signal_set>(io, SIGHUP);
  auto handler = std::make_shared<std::function<void(std::error_code, int)>>();
  *handler = [signals, handler, &driver, &service, users_file](std::error_code ec, int) {
    if (ec) return;
    if (users_file.empty()) {
      spdlog::info("SIGHUP: no users_file configured, nothing to reload");
    } else if (auto users = load_users(users_file); !users) {
      spdlog::error("SIGHUP: {}; keeping the previous users", users.error().message);
    } else {
      const auto before = driver.endpoint().stats().sessions_revoked;
      driver.set_users(users->table);
      service.set_user_caps(users->stream_caps);
      spdlog::info("SIGHUP: users reloaded from {}: {} user(s), {} session(s) revoked", users_file,
                   users->table->names.size(), driver.endpoint().stats().sessions_revoked - before);
    }
    signals->async_wait(*handler);
  };
  signals->async_wait(*handler);
}

int run(const Flags& f) {
  std::vector<std::string> notes;
  auto cfg = profile::load_proxy_server_config(f.config, notes);
  if (!cfg) return app::fail(kProgram, cfg.error().message);
  app::setup_logging(cfg->log_level);
  for (const auto& n : notes) spdlog::warn("{}", n);
  auto egress = egress_policy(*cfg, f.config);
  if (!egress) return app::fail(kProgram, egress.error().message);
  auto prof = app::load_profile(f.profile);
  if (!prof) return app::fail(kProgram, prof.error().message);
  auto scfg = tunnel::server_config_from_profile(*prof);
  if (!scfg) return app::fail(kProgram, scfg.error().message);
  if (auto v = scfg->validate(); !v) return app::fail(kProgram, v.error().message);
  scfg->auth.accept_unauthenticated = cfg->accept_unauthenticated_clients;
  if (cfg->accept_unauthenticated_clients) {
    spdlog::info("accept_unauthenticated_clients: handshakes without MAC1 are admitted (what they "
                 "carry is still checked)");
    if (scfg->encryption == tunnel::Encryption::required) {
      spdlog::warn("accept_unauthenticated_clients: clients without encryption (paniq-rs) are "
                   "still refused: obfuscation.encryption is \"required\" (set it to \"preferred\")");
    }
  }
  std::optional<LoadedUsers> users;
  if (cfg->users_file) {
    if (scfg->encryption == tunnel::Encryption::off) {
      return app::fail(kProgram, "users_file: needs obfuscation.encryption \"preferred\" or "
                                 "\"required\" in the profile (users are client keys of the "
                                 "encrypted mode)");
    }
    auto u = load_users(*cfg->users_file);
    if (!u) return app::fail(kProgram, u.error().message);
    users = *u;
  }

  auto framer = obf::Framer::create(profile::obf_config(*prof));
  if (!framer) return app::fail(kProgram, "failed to create framer: " + framer.error().message);
  const FrameSizes sizes{framer->prefix_len(obf::MessageType::Transport)};

  asio::io_context io(1);
  const std::string listen_text = f.listen.empty() ? cfg->listen_addr : f.listen;
  // IP:PORT-PORT: one socket per port of the range (port hopping, our extension).
  std::vector<std::unique_ptr<net::DatagramSocket>> sockets;
  if (const auto range = profile::parse_socket_addr_range(listen_text); range && range->size() > 1) {
    if (range->size() > profile::kMaxListenPorts) {
      return app::fail(kProgram, "listen address: \"" + listen_text + "\": at most " +
                                     std::to_string(profile::kMaxListenPorts) + " ports");
    }
    for (std::uint32_t p = range->first.port; p <= range->last_port; ++p) {
      profile::SocketAddr a = range->first;
      a.port = static_cast<std::uint16_t>(p);
      auto ep = net::resolve_udp_endpoint(io, a.to_string());
      if (!ep) return app::fail(kProgram, "listen address: " + ep.error().message);
      auto sock = net::UdpDatagramSocket::bind(io.get_executor(), *ep);
      if (!sock) return app::fail(kProgram, "cannot listen on " + a.to_string() + ": " + sock.error().message);
      sockets.push_back(std::move(sock.value()));
    }
  }
  if (sockets.empty()) {
    auto listen_ep = net::resolve_udp_endpoint(io, listen_text);
    if (!listen_ep) return app::fail(kProgram, "listen address: " + listen_ep.error().message);
    auto socket = net::UdpDatagramSocket::bind(io.get_executor(), *listen_ep);
    if (!socket) return app::fail(kProgram, "cannot listen: " + socket.error().message);
    sockets.push_back(std::move(socket.value()));
  }

  app::ProxyOptions opt;
  opt.dial_timeout = cfg->dial_timeout;
  const std::uint64_t nofile = app::raise_nofile_limit();
  opt.max_connections = app::config_has_key(f.config, "max_connections")
                            ? cfg->max_connections
                            : app::connections_for_nofile(nofile);
  opt.max_streams_per_user = cfg->max_streams_per_user.value_or(
      tunnel::default_streams_per_user(opt.max_connections));
  opt.egress = std::move(egress.value());
  opt.speedtest.enabled = cfg->speedtest;
  app::ProxyService service(io.get_executor(), opt);
  net::ServerDriver driver(io.get_executor(), *scfg, std::move(framer.value()), std::move(sockets),
                           [&service](net::MuxStream s) { return service.serve(std::move(s)); });
  app::ControlServer control(io.get_executor(),
                             [&] { return control_stats(driver, service, sizes); });
  const TimeMs started = net::now_ms();
  control.set_status([&] { return app::status_response(snapshot(driver, service, sizes, started)); });
  if (auto r = control.open(f.control, cfg->control_socket); !r) return app::fail(kProgram, r.error().message);
  auto metrics = app::open_metrics(io.get_executor(), f.metrics, cfg->metrics_listen, kProgram,
                                   [&] { return snapshot(driver, service, sizes, started); });
  if (!metrics) return app::fail(kProgram, metrics.error().message);

  service.set_user_lookup(
      [&driver](std::uint64_t session) { return driver.endpoint().user(session); });
  if (users) {
    driver.set_users(users->table);
    service.set_user_caps(users->stream_caps);
    spdlog::info("users: {} listed in {}; only they are served; max_streams_per_user {}{}",
                 users->table->names.size(), *cfg->users_file, opt.max_streams_per_user,
                 users->stream_caps.empty()
                     ? std::string()
                     : " (" + std::to_string(users->stream_caps.size()) +
                           " user(s) with their own max_streams)");
  }
  on_reload(io, driver, service, cfg->users_file.value_or(""));
  driver.start();
  app::trim_memory_after_bursts(io, [&service] { return service.stats().active; });
  spdlog::info("max_connections {} (open-files limit {}); streams per session: kcp.max_streams {}",
               opt.max_connections, nofile, scfg->link.mux.max_streams);
  spdlog::info("speedtest target {} (config \"speedtest\")", opt.speedtest.enabled ? "on" : "off");
  spdlog::info("proxy-server listening on {} (udp{}, encryption {})", net::to_string(driver.local_endpoint()),
               driver.socket_count() > 1 ? ", " + std::to_string(driver.socket_count()) + " ports" : "",
               tunnel::to_string(scfg->encryption));
  app::on_termination(io, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    control.stop();
    app::stop_metrics(*metrics);
    driver.stop();
    io.stop();
  });
  io.run();
  return app::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  paniq::app::reexec_with_lean_malloc(argv);
  return paniq::app::guarded_main(kProgram, [&] {
    Flags flags;
    if (const int rc = parse_flags(argc, argv, flags); rc >= 0) return rc;
    return run(flags);
  });
}
