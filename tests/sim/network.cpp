#include "sim/network.hpp"

#include <algorithm>

namespace paniq::sim {
namespace {

struct Later {
  template <class P>
  bool operator()(const P& x, const P& y) const {
    return x.arrive_us != y.arrive_us ? x.arrive_us > y.arrive_us : x.seq > y.seq;
  }
};

}  // namespace

Network::Network(const LinkParams& a_to_b, const LinkParams& b_to_a, std::uint64_t seed)
    : rng_(seed) {
  links_[0].params = a_to_b;
  links_[1].params = b_to_a;
}

void Network::advance_to(SimTime t) { now_ms_ = std::max(now_ms_, t); }

bool Network::chance(double p) {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  return rng_.next_double() < p;
}

void Network::send(Side from, ByteView datagram) {
  Link& link = links_[index(from)];
  const LinkParams& p = link.params;
  ++link.stats.sent;
  link.stats.sent_bytes += datagram.size();
  if (p.down) {
    ++link.stats.lost;
    return;
  }
  const std::uint64_t now_us = now_ms_ * 1000;
  std::uint64_t depart_us = now_us;
  if (p.rate_bytes_per_sec > 0) {
    const std::uint64_t start = std::max(now_us, link.busy_until_us);
    const std::uint64_t backlog = (start - now_us) * p.rate_bytes_per_sec / 1'000'000;
    if (p.queue_bytes > 0 && backlog + datagram.size() > p.queue_bytes) {
      ++link.stats.queue_drops;
      return;
    }
    const std::uint64_t tx_us =
        (datagram.size() * 1'000'000 + p.rate_bytes_per_sec - 1) / p.rate_bytes_per_sec;
    if (p.burst_bytes > 0) {
      // Leaves once the bucket holds its size, not before the one ahead of it; tokens beyond
      // the bucket's size are lost.
      const std::uint64_t full_us = p.burst_bytes * 1'000'000 / p.rate_bytes_per_sec;
      if (start > full_us) link.bucket_vt_us = std::max(link.bucket_vt_us, start - full_us);
      depart_us = std::max(start, link.bucket_vt_us + tx_us);
      link.bucket_vt_us += tx_us;
      link.busy_until_us = depart_us;
    } else {
      link.busy_until_us = start + tx_us;
      depart_us = link.busy_until_us;
    }
  }
  if (chance(p.loss)) {
    ++link.stats.lost;
    return;
  }
  deliver_later(link, depart_us, datagram);
  if (chance(p.duplicate)) {
    ++link.stats.duplicated;
    deliver_later(link, depart_us, datagram);
  }
}

void Network::deliver_later(Link& link, std::uint64_t depart_us, ByteView datagram) {
  const LinkParams& p = link.params;
  std::uint64_t arrive = depart_us + std::uint64_t{p.delay_ms} * 1000;
  if (p.jitter_ms > 0) arrive += rng_.uniform(0, std::uint64_t{p.jitter_ms} * 1000);
  arrive = std::max(arrive, link.last_arrive_us);
  link.last_arrive_us = arrive;
  if (chance(p.reorder)) {
    ++link.stats.reordered;
    arrive += std::uint64_t{p.reorder_delay_ms} * 1000;
  }
  Bytes data;
  if (!spare_.empty()) {
    data = std::move(spare_.back());
    spare_.pop_back();
  }
  data.assign(datagram.begin(), datagram.end());
  link.heap.push_back(Pending{arrive, seq_++, std::move(data)});
  std::push_heap(link.heap.begin(), link.heap.end(), Later{});
}

bool Network::receive(Side to, Bytes& out) {
  Link& link = links_[index(peer(to))];
  if (link.heap.empty() || link.heap.front().arrive_us > now_ms_ * 1000) return false;
  std::pop_heap(link.heap.begin(), link.heap.end(), Later{});
  Pending& p = link.heap.back();
  out.swap(p.data);
  spare_.push_back(std::move(p.data));
  link.heap.pop_back();
  ++link.stats.delivered;
  link.stats.delivered_bytes += out.size();
  return true;
}

std::optional<SimTime> Network::next_arrival() const {
  std::optional<std::uint64_t> us;
  for (const Link& link : links_) {
    if (link.heap.empty()) continue;
    const std::uint64_t t = link.heap.front().arrive_us;
    if (!us || t < *us) us = t;
  }
  if (!us) return std::nullopt;
  return std::max<SimTime>((*us + 999) / 1000, now_ms_);
}

std::size_t Network::in_flight() const { return links_[0].heap.size() + links_[1].heap.size(); }

}  // namespace paniq::sim
