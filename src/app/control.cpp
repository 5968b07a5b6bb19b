#include "app/control.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace paniq::app {
namespace {

using local = asio::local::stream_protocol;

constexpr ControlField kReference[] = {
    {"udp_in_bytes", &ControlStats::udp_in_bytes},
    {"udp_out_bytes", &ControlStats::udp_out_bytes},
    {"transport_payload_in_bytes", &ControlStats::transport_payload_in_bytes},
    {"transport_payload_out_bytes", &ControlStats::transport_payload_out_bytes},
    {"transport_padding_in_bytes", &ControlStats::transport_padding_in_bytes},
    {"transport_padding_out_bytes", &ControlStats::transport_padding_out_bytes},
    {"transport_frame_in_bytes", &ControlStats::transport_frame_in_bytes},
    {"transport_frame_out_bytes", &ControlStats::transport_frame_out_bytes},
    {"transport_invalid_length", &ControlStats::transport_invalid_length},
    {"transport_counter_reject", &ControlStats::transport_counter_reject},
    {"transport_payload_too_large", &ControlStats::transport_payload_too_large},
    {"active_connections", &ControlStats::active_connections},
};

constexpr ControlField kExtension[] = {
    {"datagrams_in", &ControlStats::datagrams_in},
    {"datagrams_out", &ControlStats::datagrams_out},
    {"send_errors", &ControlStats::send_errors},
    {"sessions_created", &ControlStats::sessions_created},
    {"sessions_active", &ControlStats::sessions_active},
    {"sessions_closed", &ControlStats::sessions_closed},
    {"initiation_repeats", &ControlStats::initiation_repeats},
    {"drop_unclassified", &ControlStats::drop_unclassified},
    {"drop_unexpected_type", &ControlStats::drop_unexpected_type},
    {"drop_policy", &ControlStats::drop_policy},
    {"drop_cap_total", &ControlStats::drop_cap_total},
    {"drop_cap_host", &ControlStats::drop_cap_host},
    {"drop_unknown_session", &ControlStats::drop_unknown_session},
    {"drop_kcp_rejected", &ControlStats::drop_kcp_rejected},
    {"drop_repeat_limit", &ControlStats::drop_repeat_limit},
    {"drop_backlog", &ControlStats::drop_backlog},
    {"drop_transport_replay", &ControlStats::drop_transport_replay},
    {"streams_accepted", &ControlStats::streams_accepted},
    {"egress_refused_default_range", &ControlStats::egress_refused_default_range},
    {"egress_refused_rule", &ControlStats::egress_refused_rule},
    {"egress_refused_own_address", &ControlStats::egress_refused_own_address},
    {"egress_udp_dropped_default_range", &ControlStats::egress_udp_dropped_default_range},
    {"egress_udp_dropped_rule", &ControlStats::egress_udp_dropped_rule},
    {"egress_udp_dropped_own_address", &ControlStats::egress_udp_dropped_own_address},
    {"sessions_encrypted", &ControlStats::sessions_encrypted},
    {"drop_plain_refused", &ControlStats::drop_plain_refused},
    {"drop_secure_handshake", &ControlStats::drop_secure_handshake},
    {"drop_unknown_user", &ControlStats::drop_unknown_user},
    {"drop_transport_auth", &ControlStats::drop_transport_auth},
    {"sessions_roamed", &ControlStats::sessions_roamed},
    {"sessions_revoked", &ControlStats::sessions_revoked},
    {"rekeys_sent", &ControlStats::rekeys_sent},
    {"rekeys_received", &ControlStats::rekeys_received},
    {"server_changes", &ControlStats::server_changes},
    {"hops", &ControlStats::hops},
    {"refused_max_connections", &ControlStats::refused_max_connections},
    {"refused_user_streams", &ControlStats::refused_user_streams},
    {"refused_session_streams", &ControlStats::refused_session_streams},
    {"initiations_answered", &ControlStats::initiations_answered},
    {"sessions_lazy_created", &ControlStats::sessions_lazy_created},
    {"responses_out", &ControlStats::responses_out},
    {"response_bytes", &ControlStats::response_bytes},
    {"drop_response_budget", &ControlStats::drop_response_budget},
    {"drop_conv_busy", &ControlStats::drop_conv_busy},
};

nlohmann::ordered_json to_json(const ControlStats& s) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const ControlField& f : kReference) j[f.name] = s.*f.member;
  for (const ControlField& f : kExtension) j[f.name] = s.*f.member;
  nlohmann::ordered_json auth = nlohmann::ordered_json::object();
  for (const auto& [name, count] : s.auth) {
    if (count != 0) auth[name] = count;
  }
  j["auth"] = std::move(auth);
  if (!s.users.empty()) {
    nlohmann::ordered_json users = nlohmann::ordered_json::object();
    for (const ControlStats::User& u : s.users) {
      users[u.name] = {{"sessions_live", u.sessions_live},
                       {"sessions_total", u.sessions_total},
                       {"bytes_in", u.bytes_in},
                       {"bytes_out", u.bytes_out},
                       {"streams_active", u.streams_active},
                       {"streams_refused", u.streams_refused}};
    }
    j["users"] = std::move(users);
  }
  if (!s.servers.empty()) {
    nlohmann::ordered_json servers = nlohmann::ordered_json::array();
    for (const ControlStats::Server& v : s.servers) {
      servers.push_back({{"address", v.address},
                         {"in_use", v.in_use},
                         {"failures", v.failures},
                         {"down_ms", v.down_ms},
                         {"last_failure", v.last_failure}});
      if (v.sessions) servers.back()["sessions"] = *v.sessions;
      if (v.streams) servers.back()["streams"] = *v.streams;
    }
    j["servers"] = std::move(servers);
  }
  return j;
}

}  // namespace

std::span<const ControlField> reference_fields() { return kReference; }
std::span<const ControlField> extension_fields() { return kExtension; }

void set_link_counters(ControlStats& s, const tunnel::LinkStats& links) {
  s.rekeys_sent = links.rekeys_sent;
  s.rekeys_received = links.rekeys_received;
  s.transport_payload_in_bytes = links.segment_bytes_in;
  s.transport_payload_out_bytes = links.segment_bytes_out;
  s.transport_padding_in_bytes = links.padding_bytes_in;
  s.transport_padding_out_bytes = links.padding_bytes_out;
  s.transport_frame_in_bytes = links.bytes_in;
  s.transport_payload_too_large = links.drop_too_large;
}

std::string control_response(std::string_view request, const ControlStats& stats) {
  const auto j = nlohmann::json::parse(request, nullptr, false);
  if (j.is_string() && j.get<std::string>() == "Ping") return "\"Pong\"";
  if (j.is_string() && j.get<std::string>() == "GetStats") {
    return nlohmann::ordered_json{{"Stats", to_json(stats)}}.dump();
  }
  std::string why = j.is_discarded() ? "expected a JSON value" : "unknown variant " + j.dump();
  return nlohmann::json{{"Error", "Invalid request: " + why}}.dump();
}

ControlServer::ControlServer(asio::any_io_executor ex, std::function<ControlStats()> stats)
    : ex_(ex), stats_(std::move(stats)), acceptor_(ex) {}

ControlServer::~ControlServer() { stop(); }

Result<void> ControlServer::listen(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);  // the reference unlinks an existing file
  ec.clear();
  acceptor_.open(local(), ec);
  if (!ec) acceptor_.bind(local::endpoint(path), ec);
  if (!ec) ::chmod(path.c_str(), 0600);
  if (!ec) acceptor_.listen(16, ec);
  if (ec) {
    std::error_code ignored;
    acceptor_.close(ignored);
    return Error{ec, "control socket " + path + ": " + ec.message()};
  }
  path_ = path;
  return {};
}

std::string control_socket_path(const std::string& cli, const std::optional<std::string>& config) {
  if (!cli.empty()) return cli;
  if (config && !config->empty()) return *config;
  if (const char* v = std::getenv("PANIQ_CONTROL_SOCKET"); v != nullptr) return v;
  return {};
}

Result<void> ControlServer::open(const std::string& cli, const std::optional<std::string>& config) {
  const std::string path = control_socket_path(cli, config);
  if (path.empty()) return {};
  if (auto r = listen(path); !r) return r;
  start();
  return {};
}

void ControlServer::start() {
  asio::co_spawn(ex_, accept_loop(), asio::detached);
}

void ControlServer::stop() {
  std::error_code ec;
  acceptor_.close(ec);
  if (!path_.empty()) std::filesystem::remove(path_, ec);
  path_.clear();
}

awaitable<void> ControlServer::accept_loop() {
  for (;;) {
    auto [ec, s] = co_await acceptor_.async_accept(net::use_nothrow);
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    asio::co_spawn(ex_, serve(std::move(s)), asio::detached);
  }
}

awaitable<void> ControlServer::serve(local::socket s) {
  std::array<char, 1024> buf;
  auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_nothrow);
  if (ec) co_return;
  const std::string_view request(buf.data(), n);
  const auto j = nlohmann::json::parse(request, nullptr, false);
  const bool get_status = status_ && j.is_string() && j.get<std::string>() == "GetStatus";
  const std::string response = get_status ? status_() : control_response(request, stats_());
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(response), net::use_nothrow);
  (void)wn;
  std::error_code ignored;
  if (!wec) s.shutdown(local::socket::shutdown_send, ignored);
}

Result<std::string> control_request(const std::string& path, std::string_view request,
                                    int timeout_ms) {
  asio::io_context io;
  local::socket s(io);
  std::error_code ec;
  s.connect(local::endpoint(path), ec);
  if (ec) return Error{ec, "cannot connect to control socket " + path + ": " + ec.message()};
  asio::write(s, asio::buffer(request.data(), request.size()), ec);
  if (!ec) s.shutdown(local::socket::shutdown_send, ec);
  if (ec) return Error{ec, "control socket " + path + ": " + ec.message()};
  std::string out;
  std::array<char, 4096> buf;
  std::error_code rec;
  bool done = false;
  std::function<void()> read_more = [&] {
    s.async_read_some(asio::buffer(buf), [&](std::error_code e, std::size_t n) {
      out.append(buf.data(), n);
      if (e) {
        if (e != asio::error::eof) rec = e;
        done = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!done) return Error{std::make_error_code(std::errc::timed_out), "control socket " + path + ": no answer"};
  if (rec) return Error{rec, "control socket " + path + ": " + rec.message()};
  return out;
}

}  // namespace paniq::app
