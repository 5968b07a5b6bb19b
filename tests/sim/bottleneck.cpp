#include "sim/bottleneck.hpp"

#include <algorithm>
#include <memory>

namespace paniq::sim {

double BottleneckResult::wire_per_payload() const {
  std::uint64_t payload = 0;
  for (const FlowResult& f : flows) payload += f.bytes;
  return payload == 0 ? 0 : static_cast<double>(forward.sent_bytes) / static_cast<double>(payload);
}

namespace {

constexpr std::uint32_t kClockBase = 0xFFFFFFFFu - 500;  // every run crosses the clock wrap

struct Flow {
  std::unique_ptr<kcp::Engine> tx, rx;
  BulkTransfer bulk;
  Flow(const kcp::Config& s, const kcp::Config& r, std::uint64_t bytes, std::uint64_t seed)
      : tx(std::make_unique<kcp::Engine>(s)), rx(std::make_unique<kcp::Engine>(r)), bulk(bytes, seed) {}
};

}  // namespace

BottleneckResult run_bottleneck(const kcp::Config& sender, const kcp::Config& receiver,
                                const PathSpec& path, std::uint64_t bytes, std::size_t flows,
                                std::uint64_t seed, SimTime limit_ms, const RunOptions& opt) {
  Network net(path.link(), path.link(), seed);
  std::vector<std::unique_ptr<Flow>> fl;
  for (std::size_t i = 0; i < flows; ++i) {
    kcp::Config s = sender, r = receiver;
    s.conv = r.conv = 0x5EED0100u + static_cast<std::uint32_t>(i);
    fl.push_back(std::make_unique<Flow>(s, r, bytes, seed * 131 + i));
  }
  // Each receiver first sends a short request, as a client does before a download: its engine
  // then knows the RTT (which the ACK hold of docs/kcp.md depends on).
  for (auto& f : fl) {
    const std::uint8_t request[64] = {};
    (void)f->rx->send(ByteView(request, sizeof request));
  }
  auto route = [&](ByteView d, bool to_receiver) -> kcp::Engine* {
    if (d.size() < 4) return nullptr;
    const std::uint32_t conv = get_u32_le(d.data());
    const std::size_t i = conv - 0x5EED0100u;
    if (i >= fl.size()) return nullptr;
    return to_receiver ? fl[i]->rx.get() : fl[i]->tx.get();
  };
  Bytes buf;
  BottleneckResult res;
  res.flows.resize(flows);
  for (;;) {
    const Clock32 t = static_cast<Clock32>(kClockBase + net.now());
    while (net.receive(Side::b, buf)) {
      if (kcp::Engine* e = route(buf, true)) (void)e->input(buf, t);
    }
    while (net.receive(Side::a, buf)) {
      if (kcp::Engine* e = route(buf, false)) (void)e->input(buf, t);
    }
    bool all_done = true;
    for (auto& f : fl) {
      kcp::Engine& tx = *f->tx;
      kcp::Engine& rx = *f->rx;
      BulkTransfer& b = f->bulk;
      std::uint64_t allowed = b.total;
      if (net.now() < opt.prelude_ms) {
        allowed = std::min<std::uint64_t>(b.total, 1024 * (net.now() / opt.prelude_gap_ms + 1));
      }
      while (b.sent < allowed && tx.writable()) {
        auto n = tx.send(b.pattern.at(b.sent, std::min<std::uint64_t>(allowed - b.sent, 256 * 1024)));
        if (!n || *n == 0) break;
        b.sent += *n;
      }
      std::uint8_t sink[256];
      for (int i = 0; i < 64; ++i) {  // the request (and nothing else) comes back this way
        auto n = tx.recv(sink);
        if (!n || *n == 0) break;
      }
      while (!b.corrupt && b.received < b.total) {
        auto n = rx.recv(b.rbuf);
        if (!n || *n == 0) break;
        if (!b.pattern.matches(b.received, ByteView(b.rbuf).first(*n))) b.corrupt = true;
        b.received += *n;
        if (b.received == b.total) b.finished_at = net.now();
      }
      all_done = all_done && b.done();
    }
    SimTime next = net.now() + 1000;
    for (auto& f : fl) {
      for (kcp::Engine* e : {f->tx.get(), f->rx.get()}) {
        e->update(t);
        e->flush(t);
        const Side from = e == f->tx.get() ? Side::a : Side::b;
        for (ByteView d : e->output()) net.send(from, d);
        e->clear_output();
        next = std::min<SimTime>(
            next, net.now() + static_cast<std::uint32_t>(std::max(time_diff(e->check(t), t), 1)));
      }
    }
    if (opt.probe) opt.probe(net.now(), *fl[0]->tx, net);
    if (opt.mark_ms > 0 && net.now() <= opt.mark_ms) {
      for (std::size_t i = 0; i < fl.size(); ++i) res.flows[i].bytes_at_mark = fl[i]->bulk.received;
    }
    if (all_done || net.now() >= limit_ms) break;
    if (net.now() < opt.prelude_ms) next = std::min(next, (net.now() / opt.prelude_gap_ms + 1) * opt.prelude_gap_ms);
    if (auto arrival = net.next_arrival()) next = std::min(next, std::max(*arrival, net.now() + 1));
    net.advance_to(next);
  }
  for (std::size_t i = 0; i < flows; ++i) {
    const BulkTransfer& b = fl[i]->bulk;
    res.flows[i].complete = b.received == b.total && !b.corrupt;
    res.flows[i].corrupt = b.corrupt;
    res.flows[i].bytes = b.received;
    res.flows[i].finished_ms = b.received == b.total ? b.finished_at : net.now();
  }
  res.forward = net.stats(Side::a);
  res.reverse = net.stats(Side::b);
  res.sender = fl[0]->tx->stats();
  res.end_ms = net.now();
  return res;
}

}  // namespace paniq::sim
