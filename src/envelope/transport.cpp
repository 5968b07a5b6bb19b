#include "envelope/transport.hpp"

#include <cstring>
#include <string>

#include "envelope/padding.hpp"

namespace paniq::envelope {

Result<std::size_t> finish_transport(MutByteView out, std::size_t inner_len, std::uint64_t counter,
                                     const TransportOptions& opts, Rng& rng) {
  const std::size_t header = header_len(opts.counter);
  if (inner_len > kMaxInnerLen) {
    return make_error(Errc::payload_too_large, "transport inner segment of " +
                                                   std::to_string(inner_len) +
                                                   " bytes exceeds the 16-bit length field");
  }
  // Unlike the reference (PROTOCOL.md 5.3 step 3), the clamp counts the counter and length
  // field, so a segment that fits without padding is never dropped because of padding.
  // Padding is local to the sender: the receiver ignores the tail either way.
  const std::size_t pad = choose_padding(opts.padding, header + inner_len, opts.budget, rng);
  const std::size_t total = header + inner_len + pad;
  if (total > opts.budget) {
    return make_error(Errc::payload_too_large, "transport payload of " + std::to_string(total) +
                                                   " bytes over budget " +
                                                   std::to_string(opts.budget));
  }
  if (total > out.size()) {
    return make_error(Errc::buffer_too_small, "transport payload of " + std::to_string(total) +
                                                  " bytes, buffer " + std::to_string(out.size()));
  }
  std::uint8_t* p = out.data();
  if (opts.counter) {
    put_u64_be(p, counter);
    p += kCounterLen;
  }
  put_u16_be(p, static_cast<std::uint16_t>(inner_len));
  if (pad > 0) rng.fill(out.subspan(header + inner_len, pad));
  return total;
}

Result<std::size_t> build_transport(MutByteView out, ByteView inner, std::uint64_t counter,
                                    const TransportOptions& opts, Rng& rng) {
  const std::size_t header = header_len(opts.counter);
  if (header + inner.size() > out.size()) {
    return make_error(Errc::buffer_too_small, "transport inner segment of " +
                                                  std::to_string(inner.size()) + " bytes, buffer " +
                                                  std::to_string(out.size()));
  }
  if (!inner.empty()) std::memmove(out.data() + header, inner.data(), inner.size());
  return finish_transport(out, inner.size(), counter, opts, rng);
}

Result<TransportView> decode_transport(ByteView payload, bool has_counter) {
  // Messages stay within std::string's small buffer: no allocation on this per-datagram path.
  TransportView v;
  std::size_t pos = 0;
  if (has_counter) {
    if (payload.size() < kCounterLen) return Error{Errc::too_short_for_counter, "no counter"};
    v.counter = get_u64_be(payload.data());
    pos = kCounterLen;
  }
  if (payload.size() - pos < kLengthLen) return Error{Errc::too_short_for_length, "no length"};
  const std::size_t inner_len = get_u16_be(payload.data() + pos);
  pos += kLengthLen;
  if (payload.size() - pos < inner_len) return Error{Errc::inner_truncated, "inner truncated"};
  v.inner = payload.subspan(pos, inner_len);
  v.padding_len = payload.size() - pos - inner_len;
  return v;
}

}  // namespace paniq::envelope
