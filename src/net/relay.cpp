#include "net/relay.hpp"

#include <array>
#include <memory>
#include <vector>

namespace paniq::net {
namespace {

using namespace asio::experimental::awaitable_operators;

void end_both(tcp::socket& socket, MuxStream& stream, RelayStats& stats, std::error_code ec) {
  if (!stats.error) stats.error = ec;
  std::error_code ignored;
  socket.close(ignored);
  stream.close();
}

// Relay buffers borrowed while a direction has data (one thread runs each io_context, so a
// thread-local pool needs no lock). At most kPoolKeep free buffers stay; the rest go back to
// the allocator, so memory follows traffic and returns when it stops.
constexpr std::size_t kPoolKeep = 8;
constexpr std::size_t kSmallBuffer = 2048;

struct BufferPool {
  std::size_t size = 0;
  std::vector<std::unique_ptr<std::uint8_t[]>> free;
  std::uint64_t borrows = 0;       // buffers handed out, ever
  std::uint64_t borrows_seen = 0;  // `borrows` at the last relay_pool_release_if_idle()
};
thread_local BufferPool pool;

class Borrowed {
 public:
  explicit Borrowed(std::size_t size) : size_(size) {
    ++pool.borrows;
    if (pool.size == size && !pool.free.empty()) {
      buf_ = std::move(pool.free.back());
      pool.free.pop_back();
    } else {
      // Not zero-filled: only the pages that reads write become resident.
      buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(size);
    }
  }
  ~Borrowed() {
    if (pool.size != size_) {
      pool.free.clear();
      pool.size = size_;
    }
    if (pool.free.size() < kPoolKeep) pool.free.push_back(std::move(buf_));
  }
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;
  MutByteView view() { return MutByteView(buf_.get(), size_); }

 private:
  std::size_t size_;
  std::unique_ptr<std::uint8_t[]> buf_;
};

awaitable<void> tcp_to_stream(tcp::socket& socket, MuxStream& stream, std::size_t size,
                              RelayStats& stats) {
  std::error_code nb;
  socket.non_blocking(true, nb);  // the drain loop below must never block the thread
  for (;;) {
    // Wait with no buffer; take one only when there is something to read.
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
    if (wec) {
      if (socket.is_open()) end_both(socket, stream, stats, wec);
      co_return;
    }
    Borrowed buf(size);
    for (;;) {  // drain what is there, then give the buffer back and wait again
      std::error_code ec;
      const std::size_t n = socket.read_some(asio::buffer(buf.view().data(), size), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
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
      if (auto wec2 = co_await stream.write_all(ByteView(buf.view().data(), n))) {
        end_both(socket, stream, stats, wec2);
        co_return;
      }
      if (n < size) break;  // the socket had less than a buffer: likely empty now
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

// Writes `data` to the socket; false (both directions ended) on an error.
awaitable<bool> to_socket(tcp::socket& socket, MuxStream& stream, ByteView data, RelayStats& stats) {
  auto [ec, n] = co_await asio::async_write(socket, asio::buffer(data.data(), data.size()), use_nothrow);
  if (ec) {
    end_both(socket, stream, stats, ec);
    co_return false;
  }
  stats.stream_to_tcp += n;
  co_return true;
}

awaitable<void> stream_to_tcp(tcp::socket& socket, MuxStream& stream, RelayOptions opt,
                              RelayStats& stats) {
  if (opt.leading_reply_byte && !co_await take_reply_byte(socket, stream, stats)) co_return;
  std::array<std::uint8_t, kSmallBuffer> small;  // held while idle: part of the frame
  for (;;) {
    IoResult r = co_await stream.read_some(MutByteView(small));
    if (r.error) {
      if (stream.valid() && socket.is_open()) end_both(socket, stream, stats, r.error);
      co_return;
    }
    if (r.count == 0) {
      std::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (!co_await to_socket(socket, stream, ByteView(small.data(), r.count), stats)) co_return;
    if (stream.readable() == 0) continue;
    // Busy: move what keeps coming through a big buffer until the stream would wait again.
    Borrowed buf(opt.buffer_size);
    while (stream.readable() > 0) {
      r = co_await stream.read_some(buf.view());
      if (r.error || r.count == 0) break;  // handled by the small read next round
      if (!co_await to_socket(socket, stream, ByteView(buf.view().data(), r.count), stats)) co_return;
    }
  }
}

}  // namespace

awaitable<RelayStats> relay(tcp::socket& socket, MuxStream& stream, RelayOptions opt) {
  RelayStats stats;
  co_await (tcp_to_stream(socket, stream, opt.buffer_size, stats) &&
            stream_to_tcp(socket, stream, opt, stats));
  co_return stats;
}

std::size_t relay_pool_free_buffers() { return pool.free.size(); }

std::size_t relay_pool_release_if_idle() {
  const bool idle = pool.borrows == pool.borrows_seen;
  pool.borrows_seen = pool.borrows;
  if (!idle) return 0;
  const std::size_t n = pool.free.size();
  pool.free.clear();
  pool.free.shrink_to_fit();
  return n;
}

}  // namespace paniq::net
