#include "net/relay.hpp"

#include <memory>

namespace paniq::net {
namespace {

using namespace asio::experimental::awaitable_operators;

void end_both(tcp::socket& socket, MuxStream& stream, RelayStats& stats, std::error_code ec) {
  if (!stats.error) stats.error = ec;
  std::error_code ignored;
  socket.close(ignored);
  stream.close();
}

awaitable<void> tcp_to_stream(tcp::socket& socket, MuxStream& stream, std::size_t size,
                              RelayStats& stats) {
  auto buf = std::make_unique<std::uint8_t[]>(size);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf.get(), size), use_nothrow);
    if (ec == asio::error::eof) {
      stream.shutdown_write();
      co_return;
    }
    if (ec) {
      // The other direction may have closed the socket already: not a new error.
      if (socket.is_open()) end_both(socket, stream, stats, ec);
      co_return;
    }
    stats.tcp_to_stream += n;
    if (auto wec = co_await stream.write_all(ByteView(buf.get(), n))) {
      end_both(socket, stream, stats, wec);
      co_return;
    }
  }
}

awaitable<void> stream_to_tcp(tcp::socket& socket, MuxStream& stream, std::size_t size,
                              RelayStats& stats) {
  auto buf = std::make_unique<std::uint8_t[]>(size);
  for (;;) {
    const IoResult r = co_await stream.read_some(MutByteView(buf.get(), size));
    if (r.error) {
      if (stream.valid() && socket.is_open()) end_both(socket, stream, stats, r.error);
      co_return;
    }
    if (r.count == 0) {
      std::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(buf.get(), r.count), use_nothrow);
    if (ec) {
      end_both(socket, stream, stats, ec);
      co_return;
    }
    stats.stream_to_tcp += n;
  }
}

}  // namespace

awaitable<RelayStats> relay(tcp::socket& socket, MuxStream& stream, std::size_t buffer_size) {
  RelayStats stats;
  co_await (tcp_to_stream(socket, stream, buffer_size, stats) &&
            stream_to_tcp(socket, stream, buffer_size, stats));
  co_return stats;
}

}  // namespace paniq::net
