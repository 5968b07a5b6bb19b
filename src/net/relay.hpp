// Bidirectional relay between a TCP socket and a mux stream (STYLE.md 2: `co_await (a_to_b()
// && b_to_a())`), with half-close carried across and back-pressure end to end: each direction
// finishes writing what it read before it reads again. An idle relay holds no big buffer: the
// TCP side waits for readability with none, the stream side waits on a 2 KiB one in the
// coroutine frame; a direction that has data takes a 64 KiB buffer from a per-thread pool for
// as long as data keeps coming and gives it back when it would wait again (memory per idle
// stream: docs/architecture.md).
//   TCP EOF          -> shutdown_write on the stream (FIN)
//   stream EOF       -> shutdown(send) on the TCP socket
//   an error either way ends both: the socket is closed and the stream released.
#pragma once

#include <cstddef>
#include <cstdint>

#include "net/asio.hpp"
#include "net/mux_stream.hpp"

namespace paniq::net {

struct RelayStats {
  std::uint64_t tcp_to_stream = 0;  // bytes
  std::uint64_t stream_to_tcp = 0;
  std::error_code error;  // the first error that ended the relay (empty: both ended cleanly)
  // With RelayOptions::leading_reply_byte: the byte the stream started with (-1: none came).
  int reply_byte = -1;
};

struct RelayOptions {
  std::size_t buffer_size = 64 * 1024;  // the pooled buffer a busy direction borrows
  // The stream starts with the proxy's one-byte open reply, not yet read (socks5d's
  // fast_connect): the relay consumes it; anything but 0x00 ends both directions at once and
  // the TCP socket is reset (SO_LINGER 0), so the application sees a failed connection.
  bool leading_reply_byte = false;
};

// Runs until both directions ended. The caller owns both objects and closes them afterwards
// (the relay closes them on errors).
awaitable<RelayStats> relay(tcp::socket& socket, MuxStream& stream, RelayOptions opt = {});

// Free 64 KiB relay buffers kept by this thread's pool (at most 8; the rest are freed).
std::size_t relay_pool_free_buffers();

// Frees this thread's pooled relay buffers when none was borrowed since the previous call, so
// a daemon that has gone quiet keeps none of them. Returns how many it freed. The daemons call
// it every 2 s from the loop that runs malloc_trim (app/common.hpp).
std::size_t relay_pool_release_if_idle();

}  // namespace paniq::net
