// Small helpers shared by the Asio drivers and the datagram socket (src/net only).
#pragma once

#include <cstddef>
#include <exception>
#include <system_error>

#include <spdlog/spdlog.h>

#include "net/asio.hpp"

namespace paniq::net::detail {

inline constexpr std::size_t kRecvSlots = 32;       // datagrams per recvmmsg batch
inline constexpr std::size_t kMaxDatagram = 65536;  // receivers accept any size up to 65535

// Logs the exception a finished coroutine left behind, if any.
inline void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("{}: {}", what, x.what());
  }
}

inline bool would_block(const std::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

}  // namespace paniq::net::detail
