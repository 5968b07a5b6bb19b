#include "tunnel/preamble_tracker.hpp"

#include <algorithm>
#include <stdexcept>

namespace paniq::tunnel {

std::uint64_t PreambleTracker::PeerHash::operator()(const PeerAddr& p, std::uint64_t seed) const {
  std::array<std::uint8_t, 19> k{};
  k[0] = static_cast<std::uint8_t>(p.family);
  std::copy(p.addr.begin(), p.addr.end(), k.begin() + 1);
  put_u16_le(k.data() + 17, p.port);
  return seeded_hash(k, seed);
}

PreambleTracker::PreambleTracker(const obf::Framer& framer, const PreambleConfig& cfg,
                                 std::uint64_t seed)
    : chains_(framer.chains()), ttl_ms_(cfg.ttl_ms), table_(cfg.table_size, seed) {
  if (cfg.ttl_ms == 0) throw std::invalid_argument("PreambleTracker: ttl_ms must be >= 1");
  for (std::size_t k = 0; k < chains_.size(); ++k) {
    if (framer.config().i[k].empty()) continue;  // not sent (Framer::signatures)
    Signature& sig = sigs_[k];
    sig.configured = true;
    sig.first_step = steps_.size();
    std::size_t off = 0;
    for (std::size_t t = 0; t < chains_[k].size(); ++t) {
      const obf::Tag& tag = chains_[k].tag(t);
      const std::size_t len = tag.obfuscated_len(0);
      if (tag.name() == "t" && !sig.time_at) sig.time_at = off;
      steps_.push_back(Step{&tag, off, len});
      off += len;
    }
    sig.steps = steps_.size() - sig.first_step;
    sig.len = off;
    required_ = static_cast<std::uint8_t>(required_ | (1u << k));
  }
}

bool PreambleTracker::has_timestamp_chain() const {
  return std::any_of(sigs_.begin(), sigs_.end(),
                     [](const Signature& s) { return s.configured && s.time_at.has_value(); });
}

bool PreambleTracker::matches(const Signature& sig, ByteView datagram) const {
  if (datagram.size() != sig.len) return false;
  for (std::size_t i = 0; i < sig.steps; ++i) {
    const Step& st = steps_[sig.first_step + i];
    // Signatures carry an empty payload: <d>/<ds> consume nothing, <dz N> N zero-size bytes.
    const auto want = st.tag->deobfuscated_input_len(0);
    if (!want || *want != st.len) return false;
    scratch_.clear();
    if (!st.tag->deobfuscate(datagram.subspan(st.offset, st.len), scratch_)) return false;
    if (!scratch_.empty()) return false;
  }
  return true;
}

std::optional<std::size_t> PreambleTracker::observe(const PeerAddr& peer, ByteView datagram,
                                                    TimeMs now) {
  if (required_ == 0) return std::nullopt;
  Record* rec = table_.find(peer);
  if (rec != nullptr && !live(*rec, now)) {
    *rec = Record{};
  }
  const std::uint8_t seen = rec != nullptr ? rec->seen : 0;
  std::optional<std::size_t> hit;
  std::optional<std::size_t> repeat;  // matches a chain already seen (a re-sent preamble)
  for (std::size_t k = 0; k < sigs_.size(); ++k) {
    if (!sigs_[k].configured || !matches(sigs_[k], datagram)) continue;
    if ((seen & (1u << k)) == 0) {
      hit = k;
      break;
    }
    if (!repeat) repeat = k;
  }
  if (!hit) hit = repeat;
  if (!hit) return std::nullopt;
  Record r = rec != nullptr ? *rec : Record{};
  r.seen = static_cast<std::uint8_t>(r.seen | (1u << *hit));
  r.last = now;
  if (const auto at = sigs_[*hit].time_at) {
    r.has_time = true;
    r.time = get_u32_be(datagram.data() + *at);
  }
  if (table_.insert(peer, r)) ++evictions_;
  return hit;
}

PreambleTracker::Status PreambleTracker::status(const PeerAddr& peer, TimeMs now) const {
  Status st;
  const Record* rec = table_.find(peer);
  if (rec == nullptr || !live(*rec, now)) return st;
  st.complete = (rec->seen & required_) == required_;
  if (rec->has_time) st.timestamp = rec->time;
  return st;
}

void PreambleTracker::consume(const PeerAddr& peer) { table_.erase(peer); }

}  // namespace paniq::tunnel
