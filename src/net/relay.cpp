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

// Reads the stream's leading reply byte. True when it is 0x00 and the relay goes on; otherwise
// the socket is reset and both directions end.
awaitable<bool> take_reply_byte(tcp::socket& socket, MuxStream& stream, RelayStats& stats) {
  std::uint8_t byte = 0;
  const IoResult r = co_await stream.read_some(MutByteView(&byte, 1));
  if (!r.error && r.count == 1) stats.reply_byte = byte;
  if (!r.error && r.count == 1 && byte == 0) co_return true;
  std::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  end_both(socket, stream, stats,
           r.error ? r.error : std::make_error_code(std::errc::connection_refused));
  co_return false;
}

awaitable<void> stream_to_tcp(tcp::socket& socket, MuxStream& stream, RelayOptions opt,
                              RelayStats& stats) {
  if (opt.leading_reply_byte && !co_await take_reply_byte(socket, stream, stats)) co_return;
  const std::size_t size = opt.buffer_size;
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

awaitable<RelayStats> relay(tcp::socket& socket, MuxStream& stream, RelayOptions opt) {
  RelayStats stats;
  co_await (tcp_to_stream(socket, stream, opt.buffer_size, stats) &&
            stream_to_tcp(socket, stream, opt, stats));
  co_return stats;
}

}  // namespace paniq::net
