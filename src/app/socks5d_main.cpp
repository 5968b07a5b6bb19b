// socks5d: the SOCKS5 client daemon (PROTOCOL.md 2.3, 9). Thin main: flags, configs, wiring.
#include <spdlog/spdlog.h>

#include "app/common.hpp"
#include "app/control.hpp"
#include "app/lean_malloc.hpp"
#include "app/metrics.hpp"
#include "app/socks5_front.hpp"
#include "app/status.hpp"
#include "net/client_driver.hpp"
#include "net/clock.hpp"
#include "net/endpoint.hpp"
#include "profile/addr.hpp"
#include "profile/daemon_config.hpp"
#include "profile/validate.hpp"
#include "tunnel/client.hpp"

namespace {

using namespace paniq;
constexpr const char* kProgram = "socks5d";

struct Flags {
  std::string config, listen, profile, proxy_addr, user, password, control, metrics;
};

// -1: go on; otherwise the exit code (help, version, usage error).
int parse_flags(int argc, char** argv, Flags& f) {
  CLI::App cli{"paniq SOCKS5 client daemon: SOCKS5 on TCP, carried over one obfuscated UDP "
               "tunnel to proxy-server.",
               kProgram};
  cli.add_option("-c,--config", f.config, "daemon config file (JSON); a missing file means defaults");
  cli.add_option("-l,--listen", f.listen, "SOCKS5 listen address IP:port (overrides listen_addr)");
  cli.add_option("-p,--profile", f.profile,
                 "profile: a JSON file, a pnq:// link (paniq-ctl link), or a file holding one")
      ->required();
  cli.add_option("--proxy-addr", f.proxy_addr,
                 "proxy-server UDP address IP:port or host:port, resolved once at start "
                 "(overrides the profile's proxy_addr)");
  cli.add_option("-u,--user", f.user, "SOCKS5 username (with -a; else the config's username/password)");
  cli.add_option("-a,--auth", f.password, "SOCKS5 password (with -u)");
  cli.add_option("--control-socket", f.control, "control socket path (else config, else $PANIQ_CONTROL_SOCKET)");
  cli.add_option("--metrics-listen", f.metrics,
                 "serve Prometheus metrics on http://IP:PORT/metrics (else config metrics_listen; off by "
                 "default; docs/operations.md)");
  cli.set_version_flag("-V,--version", app::kVersionText);
  cli.footer(
      "Policies: SOCKS negotiation must finish within 10 s (or the config's accept_timeout when "
      "the file sets it); connections over max_connections are accepted and closed at once; a "
      "tunnel that cannot be reached is reported to the SOCKS client as 01 (general failure); "
      "the same port also serves an HTTP proxy (CONNECT and http:// requests, Basic auth with "
      "the SOCKS5 credentials; docs/http-proxy.md); "
      "SIGINT/SIGTERM stop the daemon (exit 0).");
  return app::parse_command_line(cli, argc, argv);
}

// Command line -u/-a (both), else the config's username/password (both), else none.
Result<socks5::HandshakeConfig> credentials(const Flags& f, const profile::Socks5dConfig& cfg) {
  socks5::HandshakeConfig auth;
  if (!f.user.empty() || !f.password.empty()) {
    if (f.user.empty() || f.password.empty()) {
      return Error{std::make_error_code(std::errc::invalid_argument), "-u/--user and -a/--auth go together"};
    }
    auth.username = f.user;
    auth.password = f.password;
  } else if (cfg.username && cfg.password) {
    auth.username = *cfg.username;
    auth.password = *cfg.password;
  }
  if (auto v = auth.validate(); !v) return v.error();
  return auth;
}

// The control plane's counters (PROTOCOL.md 12, and our extension: app/control.hpp). The
// transport ones are totals over every session's Link (tunnel::Client::link_totals):
//   udp_out_bytes                 transport datagrams built (the preamble and the Initiation
//                                 are not counted, as in the reference)
//   transport_frame_out_bytes     the same minus the transport prefix (random[S4] || h) of each
//   transport_counter_reject      transport counters refused by the replay window
// udp_in_bytes is every datagram received on the session sockets: unlike the reference it
// includes the Response (and any noise) received during handshakes, which ClientDriver does not
// count apart. active_connections: CONNECT relays running (as the reference).
app::ControlStats control_stats(net::ClientDriver& driver, const app::Socks5Front& front,
                                std::size_t transport_prefix) {
  const tunnel::LinkStats links = driver.client().link_totals();
  const net::ClientDriverStats& ds = driver.stats();
  const tunnel::ClientStats& cs = driver.client().stats();
  app::ControlStats s;
  s.udp_in_bytes = ds.udp_in_bytes;
  s.udp_out_bytes = links.bytes_out;
  app::set_link_counters(s, links);
  s.transport_frame_out_bytes = links.bytes_out - links.datagrams_out * transport_prefix;
  s.transport_invalid_length = links.drop_invalid_length;
  s.transport_counter_reject = links.drop_replay;
  s.active_connections = front.stats().active_relays;

  s.datagrams_in = ds.datagrams_in;
  s.datagrams_out = ds.datagrams_out;
  s.send_errors = ds.send_errors;
  s.sessions_created = cs.sessions_started;
  // Every live session (spread mode: up to one per server).
  const std::vector<tunnel::ClientSessionView> live = driver.client().sessions();
  for (const tunnel::ClientSessionView& v : live) {
    s.sessions_active += v.session->state() == tunnel::ClientState::Established ? 1 : 0;
    s.sessions_encrypted += v.session->encrypted() ? 1 : 0;
  }
  s.refused_max_connections = front.stats().over_limit;
  s.server_changes = driver.client().stats().server_changes;
  s.hops = driver.client().stats().hops;
  if (driver.servers().size() > 1) {
    const auto& health = driver.client().server_health();
    const TimeMs now = net::now_ms();
    for (std::size_t i = 0; i < health.size() && i < driver.servers().size(); ++i) {
      const tunnel::ServerHealth& h = health[i];
      app::ControlStats::Server v{net::to_string(driver.servers()[i]), driver.client().current_server() == i,
                                  h.failures, h.down_until > now ? h.down_until - now : 0,
                                  h.last_failure ? h.last_failure.message() : "", {}, {}};
      if (driver.client().spread()) {
        // Spread: in use = has a live session; its open streams.
        std::uint64_t n = 0;
        for (const tunnel::ClientSessionView& l : live) n += l.server == i ? 1 : 0;
        v.in_use = n > 0;
        v.sessions = n;
        v.streams = driver.client().server_streams(static_cast<std::uint32_t>(i));
      }
      s.servers.push_back(std::move(v));
    }
  }
  s.sessions_closed = cs.sessions_failed + cs.sessions_died;
  s.drop_unclassified = driver.client().session_totals().ignored_unclassified;
  s.drop_kcp_rejected = links.drop_kcp_rejected;
  s.drop_transport_replay = links.drop_replay;
  return s;
}

// What GetStatus and the metrics report (app/status.hpp): the current session, if established,
// with the address of the server it talks to.
app::DaemonSnapshot snapshot(net::ClientDriver& driver, const app::Socks5Front& front,
                             std::size_t transport_prefix, TimeMs started) {
  app::DaemonSnapshot d;
  d.daemon = kProgram;
  d.listen = net::to_string(front.local_endpoint());
  d.now = net::now_ms();
  d.uptime_ms = d.now - started;
  d.stats = control_stats(driver, front, transport_prefix);
  const tunnel::Client& client = driver.client();
  // Every established session (spread mode: up to one per server), with its server address.
  for (const tunnel::ClientSessionView& v : client.sessions()) {
    if (auto i = client.session_info(v.id, d.now)) {
      i->peer = net::to_string(driver.endpoint_for(v.server, v.port));
      d.sessions.push_back(std::move(*i));
    }
  }
  d.handshakes_ok = client.stats().sessions_established;
  d.handshakes_failed = client.stats().sessions_failed;
  d.streams_opened = client.stats().opens_ok;
  return d;
}

int run(const Flags& f) {
  std::vector<std::string> notes;
  auto cfg = profile::load_socks5d_config(f.config, notes);
  if (!cfg) return app::fail(kProgram, cfg.error().message);
  app::setup_logging(cfg->log_level);
  for (const auto& n : notes) spdlog::warn("{}", n);
  auto prof = app::load_client_profile(f.profile);
  if (!prof) return app::fail(kProgram, prof.error().message);
  // Precedence: defaults < profile < daemon config < command line.
  // --proxy-addr > the profile's `servers` (our extension) > proxy_addr.
  const bool several = f.proxy_addr.empty() && !prof->servers.empty();
  const std::string proxy_text = f.proxy_addr.empty() ? prof->proxy_addr : f.proxy_addr;
  if (proxy_text.empty() && !several) {
    return app::fail(kProgram, "no proxy address: set proxy_addr (or servers) in the profile or pass --proxy-addr");
  }
  auto auth = credentials(f, *cfg);
  if (!auth) return app::fail(kProgram, auth.error().message, app::kExitUsage);
  auto ccfg = tunnel::client_config_from_profile(*prof);
  if (!ccfg) return app::fail(kProgram, ccfg.error().message);
  if (!several) ccfg->servers.clear();
  if (auto v = ccfg->validate(); !v) return app::fail(kProgram, v.error().message);
  auto framer = obf::Framer::create(profile::obf_config(*prof));
  if (!framer) return app::fail(kProgram, "failed to create framer: " + framer.error().message);
  const std::size_t transport_prefix = framer->prefix_len(obf::MessageType::Transport);

  asio::io_context io(1);
  std::vector<net::udp::endpoint> servers;
  if (several) {
    for (std::size_t i = 0; i < prof->servers.size(); ++i) {
      const auto r = profile::parse_host_port_range(prof->servers[i]);
      auto ep = net::resolve_udp_endpoint(io, r->host + ":" + std::to_string(r->first_port));
      if (!ep) return app::fail(kProgram, "servers[" + std::to_string(i) + "]: " + ep.error().message);
      servers.push_back(*ep);
    }
  } else {
    auto server = net::resolve_udp_endpoint(io, proxy_text);
    if (!server) return app::fail(kProgram, "proxy address: " + server.error().message);
    servers.push_back(*server);
  }
  auto listen_ep = app::resolve_tcp_endpoint(io, f.listen.empty() ? cfg->listen_addr : f.listen);
  if (!listen_ep) return app::fail(kProgram, "listen address: " + listen_ep.error().message);

  net::ClientDriver driver(io.get_executor(), *ccfg, std::move(framer.value()), servers);
  app::Socks5Options opt;
  opt.auth = *auth;
  // max_connections: the config's value when it sets one, else what the open-files limit
  // (raised to its hard limit) allows.
  const std::uint64_t nofile = app::raise_nofile_limit();
  opt.max_connections = app::config_has_key(f.config, "max_connections")
                            ? cfg->max_connections
                            : app::connections_for_nofile(nofile);
  opt.fast_connect = cfg->fast_connect;
  if (app::config_has_key(f.config, "accept_timeout")) opt.negotiation_timeout = cfg->accept_timeout;
  // Covers a whole handshake (every attempt) plus the proxy's dial.
  opt.reply_timeout = std::chrono::milliseconds(
      std::uint64_t{ccfg->handshake_timeout_ms} * ccfg->handshake_attempts * 9 / 8 +
      static_cast<std::uint64_t>(cfg->dial_timeout.count()) + 5000);
  app::Socks5Front front(io.get_executor(), driver, opt);
  if (auto r = front.listen(*listen_ep); !r) return app::fail(kProgram, r.error().message);
  app::ControlServer control(io.get_executor(),
                             [&] { return control_stats(driver, front, transport_prefix); });
  const TimeMs started = net::now_ms();
  control.set_status([&] { return app::status_response(snapshot(driver, front, transport_prefix, started)); });
  if (auto r = control.open(f.control, cfg->control_socket); !r) return app::fail(kProgram, r.error().message);
  auto metrics = app::open_metrics(io.get_executor(), f.metrics, cfg->metrics_listen, kProgram,
                                   [&] { return snapshot(driver, front, transport_prefix, started); });
  if (!metrics) return app::fail(kProgram, metrics.error().message);

  driver.start();
  front.start();
  app::trim_memory_after_bursts(io, [&front] { return front.stats().active; });
  spdlog::info("max_connections {} (open-files limit {})", opt.max_connections, nofile);
  std::string proxies;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    proxies += (i ? ", " : "") + (several ? prof->servers[i] : net::to_string(servers[i]));
  }
  spdlog::info("SOCKS5 daemon listening on {} (proxy {}{})", net::to_string(front.local_endpoint()),
               proxies, auth->requires_auth() ? ", username/password required" : "");
  app::on_termination(io, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    front.stop();
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
