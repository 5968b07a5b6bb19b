// proxy-server: the tunnel's server end (PROTOCOL.md 2.3, 8.3, 8.5). Thin main: flags,
// configs, wiring.
#include <spdlog/spdlog.h>

#include "app/common.hpp"
#include "app/control.hpp"
#include "app/proxy_service.hpp"
#include "net/datagram.hpp"
#include "net/endpoint.hpp"
#include "net/server_driver.hpp"
#include "profile/daemon_config.hpp"
#include "profile/validate.hpp"
#include "tunnel/server.hpp"

namespace {

using namespace paniq;
constexpr const char* kProgram = "proxy-server";

struct Flags {
  std::string config, listen, profile, control;
};

// -1: go on; otherwise the exit code (help, version, usage error).
int parse_flags(int argc, char** argv, Flags& f) {
  CLI::App cli{"paniq proxy server: accepts obfuscated UDP tunnels and connects their streams "
               "to their targets.",
               kProgram};
  cli.add_option("-c,--config", f.config, "daemon config file (JSON); a missing file means defaults");
  cli.add_option("-l,--listen", f.listen, "UDP listen address IP:port, e.g. 0.0.0.0:9000 or [::]:9000 "
                                          "(both families) (overrides listen_addr)");
  cli.add_option("-p,--profile", f.profile, "profile JSON (with a valid obfuscation section)")->required();
  cli.add_option("--control-socket", f.control, "control socket path (else config, else $PANIQ_CONTROL_SOCKET)");
  cli.set_version_flag("-V,--version", app::kVersionText);
  cli.footer("Targets are dialled with the config's dial_timeout (happy eyeballs for names with "
             "IPv4 and IPv6 addresses). SIGINT/SIGTERM stop the server (exit 0).");
  return app::parse_command_line(cli, argc, argv);
}

int run(const Flags& f) {
  std::vector<std::string> notes;
  auto cfg = profile::load_proxy_server_config(f.config, notes);
  if (!cfg) return app::fail(kProgram, cfg.error().message);
  app::setup_logging(cfg->log_level);
  for (const auto& n : notes) spdlog::warn("{}", n);
  auto prof = app::load_profile(f.profile);
  if (!prof) return app::fail(kProgram, prof.error().message);
  auto scfg = tunnel::server_config_from_profile(*prof);
  if (!scfg) return app::fail(kProgram, scfg.error().message);
  if (auto v = scfg->validate(); !v) return app::fail(kProgram, v.error().message);
  auto framer = obf::Framer::create(profile::obf_config(*prof));
  if (!framer) return app::fail(kProgram, "failed to create framer: " + framer.error().message);

  asio::io_context io(1);
  auto listen_ep = net::resolve_udp_endpoint(io, f.listen.empty() ? cfg->listen_addr : f.listen);
  if (!listen_ep) return app::fail(kProgram, "listen address: " + listen_ep.error().message);
  auto socket = net::UdpDatagramSocket::bind(io.get_executor(), *listen_ep);
  if (!socket) return app::fail(kProgram, "cannot listen: " + socket.error().message);

  app::ProxyOptions opt;
  opt.dial_timeout = cfg->dial_timeout;
  app::ProxyService service(io.get_executor(), opt);
  net::ServerDriver driver(io.get_executor(), *scfg, std::move(framer.value()), std::move(socket.value()),
                           [&service](net::MuxStream s) { return service.serve(std::move(s)); });
  app::ControlServer control(io.get_executor(), [&] {
    app::ControlStats s;
    s.udp_in_bytes = driver.stats().udp_in_bytes;
    s.udp_out_bytes = driver.stats().udp_out_bytes;
    s.transport_invalid_length = driver.endpoint().stats().drop_invalid_length;
    return s;
  });
  if (const auto path = app::control_socket_path(f.control, cfg->control_socket); !path.empty()) {
    if (auto r = control.listen(path); !r) return app::fail(kProgram, r.error().message);
    control.start();
  }

  driver.start();
  spdlog::info("proxy-server listening on {} (udp)", net::to_string(driver.local_endpoint()));
  app::on_termination(io, [&](int sig) {
    spdlog::info("signal {}: shutting down", sig);
    control.stop();
    driver.stop();
    io.stop();
  });
  io.run();
  return app::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    if (const int rc = parse_flags(argc, argv, flags); rc >= 0) return rc;
    return run(flags);
  } catch (const std::exception& e) {
    return paniq::app::fail(kProgram, e.what());
  }
}
