// Common Asio vocabulary of the shell: standalone Asio with C++20 coroutines, expected errors
// as values (STYLE.md 2: `as_tuple(use_awaitable)`), and the awaitable operators for relays.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace paniq::net {

template <class T = void>
using awaitable = asio::awaitable<T>;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

// Completion token that returns (error_code, results...) as a tuple instead of throwing.
inline constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

// Asio 1.22 (standalone) reports system errors in its own category, whose mapping to std::errc
// conditions is compiled out, so `ec == std::errc::connection_refused` is false for them.
// Errno values are POSIX values: re-tag them in the generic category, where such comparisons
// (e.g. socks5::reply_code_for) work. Other codes are returned unchanged.
inline std::error_code to_generic(std::error_code ec) {
  if (ec && ec.category() == asio::error::get_system_category()) {
    return {ec.value(), std::generic_category()};
  }
  return ec;
}

}  // namespace paniq::net
