// Framer: encoding (PROTOCOL.md 3.5) and classification (3.6) of framed datagrams.
#include "obf/framer.hpp"

#include <cassert>
#include <cstring>

#include "obf/errors.hpp"

namespace paniq::obf {

Result<Framer> Framer::create(const Config& cfg) {
  if (auto ok = cfg.validate(); !ok) return ok.error();
  Framer f;
  f.cfg_ = cfg;
  for (std::size_t k = 0; k < f.chains_.size(); ++k) {
    if (cfg.i[k].empty()) continue;
    auto chain = Chain::parse(cfg.i[k]);
    if (!chain) return chain.error();  // unreachable: validate() parsed it already
    f.chains_[k] = std::move(*chain);
  }
  return f;
}

std::uint32_t draw_header_value(const HeaderRange& h, Rng& rng) {
  if (h.start == h.end) return h.start;
  // 64-bit arithmetic: the full range has width 2^32.
  return static_cast<std::uint32_t>(h.start + rng.next_u32() % h.width());
}

void Framer::write_prefix(MessageType t, Rng& rng, MutByteView out) const {
  const std::size_t pad = cfg_.s[index(t)];
  assert(out.size() >= pad + 4);
  if (pad > 0) rng.fill(out.first(pad));
  put_u32_le(out.data() + pad, draw_header_value(cfg_.h[index(t)], rng));
}

void Framer::encode(MessageType t, ByteView payload, Rng& rng, Bytes& out) const {
  const std::size_t at = out.size();
  const std::size_t prefix = prefix_len(t);
  out.resize(at + prefix + payload.size());
  write_prefix(t, rng, MutByteView(out.data() + at, prefix));
  if (!payload.empty()) std::memcpy(out.data() + at + prefix, payload.data(), payload.size());
}

Bytes Framer::encode(MessageType t, ByteView payload, Rng& rng) const {
  Bytes out;
  out.reserve(prefix_len(t) + payload.size());
  encode(t, payload, rng, out);
  return out;
}

bool Framer::matches(ByteView datagram, std::size_t k) const {
  const std::size_t pad = cfg_.s[k];
  if (datagram.size() < pad + 4) return false;
  return cfg_.h[k].contains(get_u32_le(datagram.data() + pad));
}

std::optional<Classified> Framer::classify(ByteView datagram) const {
  if (datagram.size() < 4) return std::nullopt;  // "frame too short"
  // Reference order: Transport (fast path), then Initiation, Response, CookieReply.
  static constexpr MessageType kOrder[4] = {MessageType::Transport, MessageType::Initiation,
                                            MessageType::Response, MessageType::CookieReply};
  if (cfg_.classify == ClassifyMode::FirstMatch) {
    for (MessageType t : kOrder) {
      if (matches(datagram, index(t))) return Classified{t, datagram.subspan(prefix_len(t))};
    }
    return std::nullopt;
  }
  // Strict: exactly one type may match; ambiguous datagrams are dropped like garbage.
  int count = 0;
  MessageType found = MessageType::Transport;
  for (MessageType t : kOrder) {
    if (matches(datagram, index(t))) {
      ++count;
      found = t;
    }
  }
  if (count != 1) return std::nullopt;
  return Classified{found, datagram.subspan(prefix_len(found))};
}

}  // namespace paniq::obf
