// Helpers for the shell's tests: run one coroutine on a fresh io_context with a wall-clock
// bound, and build matching client/server configs from a seeded generated profile.
#pragma once

#include <chrono>
#include <exception>
#include <utility>

#include <gtest/gtest.h>

#include "core/rng.hpp"
#include "net/asio.hpp"
#include "obf/framer.hpp"
#include "profile/generate.hpp"
#include "profile/validate.hpp"
#include "tunnel/client.hpp"
#include "tunnel/server.hpp"

namespace paniq::test {

// Runs `make()`'s coroutine on `io` until it finishes or `limit` passes. Returns true when it
// finished; rethrows its exception.
template <class Make>
bool run_coroutine(asio::io_context& io, Make make, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  bool done = false;
  std::exception_ptr error;
  io.restart();  // a previous run may have stopped it
  asio::co_spawn(io, make(), [&](std::exception_ptr e) {
    done = true;
    error = e;
    io.stop();
  });
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  return done;
}

struct TunnelConfigs {
  tunnel::ClientConfig client;
  tunnel::ServerConfig server;
  obf::Config obf;
};

// Configs from one generated profile (random headers, S sizes, junk) seeded for repeatability.
inline TunnelConfigs tunnel_configs(std::uint64_t seed) {
  SeededRng rng(seed);
  auto p = profile::generate_profile(rng, 1420, "net-test", "127.0.0.1:1");
  if (!p) throw std::runtime_error(p.error().message);
  auto c = tunnel::client_config_from_profile(*p);
  auto s = tunnel::server_config_from_profile(*p);
  if (!c || !s) throw std::runtime_error("tunnel config");
  return TunnelConfigs{*c, *s, profile::obf_config(*p)};
}

inline obf::Framer framer(const obf::Config& c) {
  auto f = obf::Framer::create(c);
  if (!f) throw std::runtime_error(f.error().message);
  return std::move(f.value());
}

}  // namespace paniq::test
