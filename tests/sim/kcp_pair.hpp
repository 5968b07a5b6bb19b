// Two KCP engines joined by a sim::Network, driven the way the reference drives its engines
// (PROTOCOL.md 6.3): every inbound datagram is input, the application acts, update() runs on
// the flush interval and flush() after every step so ACKs leave at once. Virtual time jumps to
// the next event (arrival or engine deadline), so seconds of traffic take milliseconds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "core/rng.hpp"
#include "kcp/engine.hpp"
#include "sim/network.hpp"

namespace paniq::sim {

// A deterministic byte stream: byte i is pattern[i % kPeriod] (a prime period, so it never lines
// up with segment sizes).
class Pattern {
 public:
  static constexpr std::size_t kPeriod = 1'048'573;
  explicit Pattern(std::uint64_t seed) : bytes_(kPeriod) { SeededRng(seed).fill(bytes_); }
  // The longest run starting at stream offset `off`, capped at `max`.
  ByteView at(std::uint64_t off, std::size_t max) const {
    const std::size_t i = static_cast<std::size_t>(off % kPeriod);
    return ByteView(bytes_).subspan(i, std::min(max, kPeriod - i));
  }
  // True when `got` equals the stream from offset `off`.
  bool matches(std::uint64_t off, ByteView got) const {
    while (!got.empty()) {
      const ByteView want = at(off, got.size());
      if (std::memcmp(want.data(), got.data(), want.size()) != 0) return false;
      got = got.subspan(want.size());
      off += want.size();
    }
    return true;
  }

 private:
  Bytes bytes_;
};

class KcpPair {
 public:
  KcpPair(const kcp::Config& a, const kcp::Config& b, const LinkParams& a_to_b,
          const LinkParams& b_to_a, std::uint64_t seed, std::uint32_t clock_base)
      : net(a_to_b, b_to_a, seed), a(a), b(b), clock_base_(clock_base) {}

  Network net;
  kcp::Engine a;
  kcp::Engine b;
  bool input_failed = false;  // an engine rejected a datagram (never expected here)
  // Optional rewrite of every datagram leaving B before it enters the network (e.g. to make B
  // look like a peer with a different ACK layout).
  std::function<void(Bytes&)> rewrite_from_b;

  Clock32 clock() const { return static_cast<Clock32>(clock_base_ + net.now()); }

  // One event: deliver arrivals, let the application act, run timers, ship output, then jump
  // the clock to the next event.
  void step(const std::function<void(KcpPair&)>& app) {
    const Clock32 t = clock();
    while (net.receive(Side::b, buf_)) input_failed |= b.input(buf_, t) != kcp::Errc::ok;
    while (net.receive(Side::a, buf_)) input_failed |= a.input(buf_, t) != kcp::Errc::ok;
    app(*this);
    for (kcp::Engine* e : {&a, &b}) {
      e->update(t);
      e->flush(t);
    }
    ship(a, Side::a);
    ship(b, Side::b);
    SimTime next = net.now() + static_cast<std::uint32_t>(
                                   std::max(time_diff(a.check(t), t), std::int32_t{1}));
    next = std::min<SimTime>(next, net.now() + static_cast<std::uint32_t>(std::max(
                                                   time_diff(b.check(t), t), std::int32_t{1})));
    if (auto arrival = net.next_arrival()) next = std::min(next, std::max(*arrival, net.now() + 1));
    net.advance_to(next);
  }

 private:
  void ship(kcp::Engine& e, Side from) {
    for (ByteView d : e.output()) {
      if (from == Side::b && rewrite_from_b) {
        scratch_.assign(d.begin(), d.end());
        rewrite_from_b(scratch_);
        net.send(from, scratch_);
      } else {
        net.send(from, d);
      }
    }
    e.clear_output();
  }

  std::uint32_t clock_base_;
  Bytes buf_;
  Bytes scratch_;
};

// A one-way bulk stream of `total` bytes (a to b, or b to a), checked byte for byte. Records
// the virtual time at which the last byte was read.
struct BulkTransfer {
  explicit BulkTransfer(std::uint64_t total, std::uint64_t seed = 7, bool a_to_b = true)
      : total(total), pattern(seed), a_to_b(a_to_b) {}

  std::uint64_t total;
  Pattern pattern;
  bool a_to_b;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  bool corrupt = false;
  bool reading = true;  // the receiving application reads
  std::vector<std::uint8_t> rbuf = std::vector<std::uint8_t>(64 * 1024);

  SimTime finished_at = 0;

  bool done() const { return received == total || corrupt; }

  void operator()(KcpPair& p) {
    kcp::Engine& tx = a_to_b ? p.a : p.b;
    kcp::Engine& rx = a_to_b ? p.b : p.a;
    while (sent < total && tx.writable()) {
      const ByteView chunk = pattern.at(sent, std::min<std::uint64_t>(total - sent, 256 * 1024));
      auto n = tx.send(chunk);
      if (!n || *n == 0) break;
      sent += *n;
    }
    while (reading && !corrupt && received < total) {
      auto n = rx.recv(rbuf);
      if (!n || *n == 0) break;
      if (!pattern.matches(received, ByteView(rbuf).first(*n))) corrupt = true;
      received += *n;
      if (received == total) finished_at = p.net.now();
    }
  }
};

}  // namespace paniq::sim
