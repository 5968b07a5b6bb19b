// The control plane (PROTOCOL.md 10): a Unix stream socket; per connection one read of at most
// 1024 bytes holding a JSON request ("Ping" or "GetStats"), one JSON response, then the server
// shuts down its write side. No authentication (filesystem permissions; the socket is created
// 0600). An existing file at the path is replaced, as the reference does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace paniq::app {

using net::awaitable;

// The 12 counters of PROTOCOL.md 10.2 / 12.
struct ControlStats {
  std::uint64_t udp_in_bytes = 0, udp_out_bytes = 0;
  std::uint64_t transport_payload_in_bytes = 0, transport_payload_out_bytes = 0;
  std::uint64_t transport_padding_in_bytes = 0, transport_padding_out_bytes = 0;
  std::uint64_t transport_frame_in_bytes = 0, transport_frame_out_bytes = 0;
  std::uint64_t transport_invalid_length = 0;
  std::uint64_t transport_counter_reject = 0;
  std::uint64_t transport_payload_too_large = 0;
  std::uint64_t active_connections = 0;
};

// The response text for a request text: "\"Pong\"", {"Stats": {...}} or
// {"Error": "Invalid request: ..."}. Pure.
std::string control_response(std::string_view request, const ControlStats& stats);

class ControlServer {
 public:
  ControlServer(asio::any_io_executor ex, std::function<ControlStats()> stats);
  ~ControlServer();
  // Binds the socket at `path` (replacing a file there). Error message names the path.
  Result<void> listen(const std::string& path);
  void start();
  // Closes the socket and removes the file. Idempotent.
  void stop();

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(asio::local::stream_protocol::socket s);

  asio::any_io_executor ex_;
  std::function<ControlStats()> stats_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::string path_;
};

// paniq-ctl: sends `request` to the socket at `path`, shuts down the write side and reads the
// response to EOF (bounded by `timeout_ms`). Errors: connect/read failures naming the path.
Result<std::string> control_request(const std::string& path, std::string_view request,
                                    int timeout_ms = 5000);

}  // namespace paniq::app
