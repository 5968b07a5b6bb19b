// Datagram sockets behind a small interface (STYLE.md 2, after wireguard-go's conn.Bind), so a
// driver runs the same over a real UDP socket and over an in-memory link in a test. The UDP
// implementation moves datagrams in batches with recvmmsg/sendmmsg on Linux (one system call
// for up to kMaxBatch datagrams), one at a time elsewhere; IPv4 and IPv6.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <system_error>

#include "core/bytes.hpp"
#include "core/result.hpp"
#include "net/asio.hpp"

namespace paniq::net {

inline constexpr std::size_t kMaxBatch = 64;

// One receive buffer: `buffer` in, `size` and `from` out.
struct RecvSlot {
  MutByteView buffer;
  std::size_t size = 0;
  udp::endpoint from;
};

// How many datagrams an operation moved, and why it stopped early (empty = it did not).
struct IoResult {
  std::size_t count = 0;
  std::error_code error;
};

class DatagramSocket {
 public:
  virtual ~DatagramSocket() = default;

  // Waits until at least one datagram is there and fills slots[0..count) (count >= 1, at most
  // kMaxBatch). A datagram longer than its slot is cut to the slot's size. Errors (count 0):
  // operation_aborted after close() — end the receive loop; connection_refused on a connected
  // socket (an ICMP port-unreachable from the peer) and other system errors — the caller
  // decides whether to go on.
  virtual awaitable<IoResult> receive(std::span<RecvSlot> slots) = 0;

  // Sends datagrams to `to` (nullptr on a connected socket) without waiting and returns how
  // many the kernel took. error == would_block: it took `count` and the rest must wait for
  // wait_writable(). Any other error concerns datagram number `count`: the caller drops it
  // (UDP is lossy; KCP retransmits) and goes on with the rest.
  virtual IoResult try_send(std::span<const ByteView> datagrams, const udp::endpoint* to) = 0;
  // Completes when try_send may take datagrams again (or with operation_aborted after close).
  virtual awaitable<std::error_code> wait_writable() = 0;

  virtual udp::endpoint local_endpoint() const = 0;
  // Cancels pending operations (they complete with operation_aborted) and closes. Idempotent.
  virtual void close() = 0;
};

// A real UDP socket (non-blocking, batched on Linux).
class UdpDatagramSocket final : public DatagramSocket {
 public:
  explicit UdpDatagramSocket(udp::socket socket);

  // A socket bound to the wildcard address of `remote`'s family and connect()ed to it (client
  // session: one source port for the whole session, datagrams from elsewhere are filtered by
  // the kernel). Errors: the system error of open/bind/connect; nothing is left open.
  static Result<std::unique_ptr<UdpDatagramSocket>> connect(asio::any_io_executor ex,
                                                            const udp::endpoint& remote);
  // A socket bound to `local` (server). For an unspecified IPv6 address ("[::]:port") IPV6_V6ONLY
  // is turned off so IPv4 clients reach it too (their addresses appear as ::ffff:a.b.c.d).
  // Errors: the system error (address_in_use for a port in use), message naming the address.
  static Result<std::unique_ptr<UdpDatagramSocket>> bind(asio::any_io_executor ex,
                                                         const udp::endpoint& local);

  awaitable<IoResult> receive(std::span<RecvSlot> slots) override;
  IoResult try_send(std::span<const ByteView> datagrams, const udp::endpoint* to) override;
  awaitable<std::error_code> wait_writable() override;
  udp::endpoint local_endpoint() const override;
  void close() override;

 private:
  IoResult try_receive(std::span<RecvSlot> slots);
  udp::socket socket_;
};

// Larger kernel buffers (best effort; failures ignored): bursts of a fast sender fit instead
// of being dropped by the kernel.
void enlarge_socket_buffers(udp::socket& s, int bytes);

}  // namespace paniq::net
