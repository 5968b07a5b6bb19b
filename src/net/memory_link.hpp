// An in-memory datagram network for tests (STYLE.md 2, wireguard-go's bindtest): sockets with
// endpoint addresses, a seeded loss rate, bounded inboxes. Runs on one io_context like the real
// sockets, so the drivers run over it unchanged. Not for production (allocates per datagram).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "core/rng.hpp"
#include "net/datagram.hpp"

namespace paniq::net {

class MemorySocket;

class MemoryNetwork {
 public:
  // Each datagram is dropped with probability `loss` (seeded, repeatable).
  MemoryNetwork(asio::any_io_executor ex, double loss, std::uint64_t seed);
  ~MemoryNetwork();
  MemoryNetwork(const MemoryNetwork&) = delete;
  MemoryNetwork& operator=(const MemoryNetwork&) = delete;

  // A socket at `local` (port 0 = the next free port of that address), connected to `remote`
  // when given (then it only takes datagrams from there, like a connected UDP socket).
  // Fails with address_in_use when `local` is taken.
  Result<std::unique_ptr<DatagramSocket>> open(udp::endpoint local,
                                               std::optional<udp::endpoint> remote = std::nullopt);

  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  friend class MemorySocket;
  void deliver(const udp::endpoint& from, const udp::endpoint& to, ByteView data);
  void forget(const udp::endpoint& local);

  asio::any_io_executor ex_;
  double loss_;
  SeededRng rng_;
  std::map<udp::endpoint, MemorySocket*> sockets_;
  std::uint16_t next_port_ = 40000;
  std::uint64_t delivered_ = 0, dropped_ = 0;
};

class MemorySocket final : public DatagramSocket {
 public:
  static constexpr std::size_t kInboxLimit = 4096;  // datagrams; more are dropped

  MemorySocket(MemoryNetwork& net, asio::any_io_executor ex, udp::endpoint local,
               std::optional<udp::endpoint> remote);
  ~MemorySocket() override;

  awaitable<IoResult> receive(std::span<RecvSlot> slots) override;
  IoResult try_send(std::span<const ByteView> datagrams, const udp::endpoint* to) override;
  awaitable<std::error_code> wait_writable() override { co_return std::error_code{}; }
  udp::endpoint local_endpoint() const override { return local_; }
  void close() override;

 private:
  friend class MemoryNetwork;
  void push(const udp::endpoint& from, ByteView data);

  MemoryNetwork* net_;
  udp::endpoint local_;
  std::optional<udp::endpoint> remote_;
  std::deque<std::pair<udp::endpoint, Bytes>> inbox_;
  asio::steady_timer wake_;
  bool closed_ = false;
};

}  // namespace paniq::net
