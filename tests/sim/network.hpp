// A deterministic network simulator for protocol tests (STYLE.md 7; after ngtcp2's
// examples/sim.h and quinn's test Pair): two endpoints A and B exchanging datagrams of bytes over
// two independent one-way links, in virtual time (milliseconds), every random choice drawn from
// one seeded generator. Nothing here knows about KCP: smux and tunnel tests reuse it.
//
// A datagram sent at time t on a link goes through, in order:
//   1. `down`: dropped (a cut cable);
//   2. the bottleneck (rate_bytes_per_sec > 0): it waits behind the datagrams still being
//      serialised; if that backlog plus itself exceeds queue_bytes it is tail-dropped; with
//      burst_bytes, a token bucket of that size lets it leave early while the bucket holds
//      tokens (tbf after the link ran below its rate);
//   3. random loss with probability `loss` (after the bottleneck: lost on the wire);
//   4. propagation: arrival = departure + delay_ms + uniform[0, jitter_ms], but never before the
//      previous datagram of the link (jitter alone keeps order, as on a real path); then with
//      probability `reorder` it is held back reorder_delay_ms more, letting later ones overtake;
//   5. with probability `duplicate` a second copy is delivered with its own delay draw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.hpp"
#include "core/rng.hpp"

namespace paniq::sim {

using SimTime = std::uint64_t;  // virtual milliseconds since the start of the simulation

enum class Side : std::uint8_t { a = 0, b = 1 };
inline Side peer(Side s) { return s == Side::a ? Side::b : Side::a; }

struct LinkParams {
  std::uint32_t delay_ms = 0;          // one-way propagation delay
  std::uint32_t jitter_ms = 0;         // extra uniform delay in [0, jitter_ms]
  double loss = 0.0;                   // probability a datagram is lost
  double duplicate = 0.0;              // probability a datagram is delivered twice
  double reorder = 0.0;                // probability a datagram is held back reorder_delay_ms
  std::uint32_t reorder_delay_ms = 0;
  std::uint64_t rate_bytes_per_sec = 0;  // bottleneck rate; 0 = unlimited
  std::size_t queue_bytes = 0;           // bottleneck queue cap; 0 = unbounded
  // A token bucket in front of the rate, as Linux's tbf: after the link has run below its rate,
  // up to this many bytes leave at once (faster than the rate). 0 = a plain serialiser.
  std::size_t burst_bytes = 0;
  bool down = false;                     // drop everything
};

struct LinkStats {
  std::uint64_t sent = 0;           // datagrams handed to the link
  std::uint64_t sent_bytes = 0;
  std::uint64_t delivered = 0;      // datagrams taken by the receiver (copies included)
  std::uint64_t delivered_bytes = 0;
  std::uint64_t lost = 0;           // random loss and `down`
  std::uint64_t queue_drops = 0;    // bottleneck tail drops
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
};

class Network {
 public:
  Network(const LinkParams& a_to_b, const LinkParams& b_to_a, std::uint64_t seed);

  SimTime now() const { return now_ms_; }
  // Moves the clock forward to t (a t in the past is ignored).
  void advance_to(SimTime t);

  // Hands a datagram from `from` to the link towards its peer, at now().
  void send(Side from, ByteView datagram);

  // Takes the next datagram that has arrived at `to` by now() (earliest arrival first) into
  // `out`, reusing its storage. Returns false when none has.
  bool receive(Side to, Bytes& out);

  // The earliest future (or present) arrival time at either side; nullopt when nothing is in
  // flight.
  std::optional<SimTime> next_arrival() const;
  std::size_t in_flight() const;

  // Parameters of the link leaving `from`; tests may change them mid-run (e.g. cut a link).
  LinkParams& params(Side from) { return links_[index(from)].params; }
  const LinkStats& stats(Side from) const { return links_[index(from)].stats; }

 private:
  struct Pending {
    std::uint64_t arrive_us;
    std::uint64_t seq;
    Bytes data;
  };
  struct Link {
    LinkParams params;
    LinkStats stats;
    std::vector<Pending> heap;  // min-heap on (arrive_us, seq)
    std::uint64_t busy_until_us = 0;
    // Token bucket (burst_bytes > 0): the bucket holds min(burst, rate x (t - bucket_vt_us)).
    std::uint64_t bucket_vt_us = 0;
    std::uint64_t last_arrive_us = 0;  // FIFO floor for jitter
  };
  static std::size_t index(Side s) { return static_cast<std::size_t>(s); }
  void deliver_later(Link& link, std::uint64_t depart_us, ByteView datagram);
  bool chance(double p);

  Link links_[2];
  SeededRng rng_;
  SimTime now_ms_ = 0;
  std::uint64_t seq_ = 0;
  std::vector<Bytes> spare_;  // recycled datagram buffers
};

}  // namespace paniq::sim
