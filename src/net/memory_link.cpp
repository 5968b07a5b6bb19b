#include "net/memory_link.hpp"

#include <algorithm>
#include <chrono>

namespace paniq::net {

MemoryNetwork::MemoryNetwork(asio::any_io_executor ex, double loss, std::uint64_t seed)
    : ex_(std::move(ex)), loss_(loss), rng_(seed) {}

MemoryNetwork::~MemoryNetwork() {
  for (auto& [ep, s] : sockets_) s->net_ = nullptr;
}

Result<std::unique_ptr<DatagramSocket>> MemoryNetwork::open(udp::endpoint local,
                                                            std::optional<udp::endpoint> remote) {
  if (local.port() == 0) {
    do {
      local.port(next_port_++);
    } while (sockets_.count(local) != 0);
  }
  if (sockets_.count(local) != 0) {
    return Error{asio::error::address_in_use, "memory network: address in use"};
  }
  auto s = std::make_unique<MemorySocket>(*this, ex_, local, remote);
  sockets_[local] = s.get();
  return std::unique_ptr<DatagramSocket>(std::move(s));
}

void MemoryNetwork::deliver(const udp::endpoint& from, const udp::endpoint& to, ByteView data) {
  if (loss_ > 0 && rng_.next_double() < loss_) {
    ++dropped_;
    return;
  }
  auto it = sockets_.find(to);
  if (it == sockets_.end()) {
    ++dropped_;
    return;
  }
  ++delivered_;
  it->second->push(from, data);
}

void MemoryNetwork::forget(const udp::endpoint& local) { sockets_.erase(local); }

MemorySocket::MemorySocket(MemoryNetwork& net, asio::any_io_executor ex, udp::endpoint local,
                           std::optional<udp::endpoint> remote)
    : net_(&net), local_(local), remote_(remote), wake_(std::move(ex)) {}

MemorySocket::~MemorySocket() { close(); }

void MemorySocket::push(const udp::endpoint& from, ByteView data) {
  if (closed_ || (remote_ && from != *remote_) || inbox_.size() >= kInboxLimit) return;
  inbox_.emplace_back(from, Bytes(data.begin(), data.end()));
  wake_.cancel();
}

awaitable<IoResult> MemorySocket::receive(std::span<RecvSlot> slots) {
  while (inbox_.empty() && !closed_) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
    co_await wake_.async_wait(use_nothrow);
  }
  if (closed_) co_return IoResult{0, asio::error::operation_aborted};
  IoResult r;
  while (r.count < slots.size() && !inbox_.empty()) {
    auto& [from, data] = inbox_.front();
    RecvSlot& slot = slots[r.count++];
    slot.size = std::min(data.size(), slot.buffer.size());
    std::copy_n(data.begin(), slot.size, slot.buffer.begin());
    slot.from = from;
    inbox_.pop_front();
  }
  co_return r;
}

IoResult MemorySocket::try_send(std::span<const ByteView> datagrams, const udp::endpoint* to) {
  if (closed_ || net_ == nullptr) return IoResult{0, asio::error::bad_descriptor};
  const udp::endpoint dest = to ? *to : remote_.value_or(udp::endpoint{});
  for (const ByteView d : datagrams) net_->deliver(local_, dest, d);
  return IoResult{datagrams.size(), {}};
}

void MemorySocket::close() {
  if (closed_) return;
  closed_ = true;
  if (net_ != nullptr) net_->forget(local_);
  inbox_.clear();
  wake_.cancel();
}

}  // namespace paniq::net
