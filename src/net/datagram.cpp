#include "net/datagram.hpp"

#include <algorithm>
#include <cerrno>

#if defined(__linux__)
#include <sys/socket.h>
#endif

#include "net/driver_util.hpp"
#include "net/endpoint.hpp"

namespace paniq::net {
namespace {

constexpr int kSocketBuffer = 4 << 20;

// Asio's own system category, so comparisons with asio::error values work.
std::error_code last_error() { return {errno, asio::error::get_system_category()}; }

using detail::would_block;

Error system_error(std::error_code ec, const std::string& what) {
  return Error{ec, what + ": " + ec.message()};
}

}  // namespace

void enlarge_socket_buffers(udp::socket& s, int bytes) {
  std::error_code ignored;
  s.set_option(asio::socket_base::receive_buffer_size(bytes), ignored);
  s.set_option(asio::socket_base::send_buffer_size(bytes), ignored);
}

UdpDatagramSocket::UdpDatagramSocket(udp::socket socket) : socket_(std::move(socket)) {
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
}

Result<std::unique_ptr<UdpDatagramSocket>> UdpDatagramSocket::connect(
    asio::any_io_executor ex, const udp::endpoint& remote) {
  udp::socket s(ex);
  std::error_code ec;
  s.open(remote.protocol(), ec);
  if (!ec) {
    enlarge_socket_buffers(s, kSocketBuffer);
    s.connect(remote, ec);  // binds an ephemeral port of the right family
  }
  if (ec) return system_error(ec, std::string("udp connect to ").append(to_string(remote)));
  return std::make_unique<UdpDatagramSocket>(std::move(s));
}

Result<std::unique_ptr<UdpDatagramSocket>> UdpDatagramSocket::bind(asio::any_io_executor ex,
                                                                   const udp::endpoint& local) {
  udp::socket s(ex);
  std::error_code ec;
  s.open(local.protocol(), ec);
  if (!ec && local.address().is_v6() && local.address().is_unspecified()) {
    s.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) {
    enlarge_socket_buffers(s, kSocketBuffer);
    s.bind(local, ec);
  }
  if (ec) return system_error(ec, std::string("udp bind ").append(to_string(local)));
  return std::make_unique<UdpDatagramSocket>(std::move(s));
}

awaitable<IoResult> UdpDatagramSocket::receive(std::span<RecvSlot> slots) {
  for (;;) {
    IoResult r = try_receive(slots);
    if (r.count > 0 || (r.error && !would_block(r.error))) co_return r;
    auto [ec] = co_await socket_.async_wait(udp::socket::wait_read, use_nothrow);
    if (ec) co_return IoResult{0, ec};
  }
}

#if defined(__linux__)

IoResult UdpDatagramSocket::try_receive(std::span<RecvSlot> slots) {
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, kMaxBatch> iovs;
  const std::size_t n = std::min(slots.size(), kMaxBatch);
  for (std::size_t i = 0; i < n; ++i) {
    iovs[i].iov_base = slots[i].buffer.data();
    iovs[i].iov_len = slots[i].buffer.size();
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_name = slots[i].from.data();
    msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(slots[i].from.capacity());
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int got = ::recvmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(n),
                             MSG_DONTWAIT, nullptr);
  if (got < 0) return IoResult{0, last_error()};
  for (int i = 0; i < got; ++i) {
    auto& slot = slots[static_cast<std::size_t>(i)];
    slot.size = std::min<std::size_t>(msgs[static_cast<std::size_t>(i)].msg_len, slot.buffer.size());
    slot.from.resize(msgs[static_cast<std::size_t>(i)].msg_hdr.msg_namelen);
  }
  return IoResult{static_cast<std::size_t>(got), {}};
}

IoResult UdpDatagramSocket::try_send(std::span<const ByteView> datagrams,
                                     const udp::endpoint* to) {
  std::array<mmsghdr, kMaxBatch> msgs;
  std::array<iovec, kMaxBatch> iovs;
  IoResult r;
  while (r.count < datagrams.size()) {
    const std::size_t n = std::min(datagrams.size() - r.count, kMaxBatch);
    for (std::size_t i = 0; i < n; ++i) {
      const ByteView d = datagrams[r.count + i];
      iovs[i].iov_base = const_cast<std::uint8_t*>(d.data());
      iovs[i].iov_len = d.size();
      msgs[i] = mmsghdr{};
      if (to) {
        msgs[i].msg_hdr.msg_name = const_cast<void*>(static_cast<const void*>(to->data()));
        msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(to->size());
      }
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent = ::sendmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(n),
                                MSG_DONTWAIT);
    if (sent < 0) {
      r.error = last_error();
      return r;
    }
    r.count += static_cast<std::size_t>(sent);
    if (static_cast<std::size_t>(sent) < n) return r;  // the next call reports why
  }
  return r;
}

#else  // one datagram per system call

IoResult UdpDatagramSocket::try_receive(std::span<RecvSlot> slots) {
  IoResult r;
  for (auto& slot : slots) {
    std::error_code ec;
    slot.size = socket_.receive_from(asio::buffer(slot.buffer.data(), slot.buffer.size()),
                                     slot.from, 0, ec);
    if (ec) {
      if (r.count == 0) r.error = ec;
      break;
    }
    ++r.count;
  }
  return r;
}

IoResult UdpDatagramSocket::try_send(std::span<const ByteView> datagrams,
                                     const udp::endpoint* to) {
  IoResult r;
  for (const ByteView d : datagrams) {
    std::error_code ec;
    const auto buf = asio::buffer(d.data(), d.size());
    if (to) {
      socket_.send_to(buf, *to, 0, ec);
    } else {
      socket_.send(buf, 0, ec);
    }
    if (ec) {
      r.error = ec;
      break;
    }
    ++r.count;
  }
  return r;
}

#endif

awaitable<std::error_code> UdpDatagramSocket::wait_writable() {
  auto [ec] = co_await socket_.async_wait(udp::socket::wait_write, use_nothrow);
  co_return ec;
}

udp::endpoint UdpDatagramSocket::local_endpoint() const {
  std::error_code ec;
  return socket_.local_endpoint(ec);
}

void UdpDatagramSocket::close() {
  std::error_code ignored;
  socket_.close(ignored);
}

}  // namespace paniq::net
