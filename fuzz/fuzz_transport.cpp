// LINK: paniq_envelope
// Transport payload decoder: arbitrary bytes with and without the counter. Whatever decodes is
// rebuilt from its parts (same counter, same padding bytes) and must come back byte for byte.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "envelope/transport.hpp"

using namespace paniq;
using namespace paniq::envelope;

namespace {

void check(ByteView data, bool has_counter) {
  auto d = decode_transport(data, has_counter);
  if (!d) return;
  if (d->counter.has_value() != has_counter) std::abort();
  if (header_len(has_counter) + d->inner.size() + d->padding_len != data.size()) std::abort();

  TransportOptions o;
  o.counter = has_counter;
  o.budget = data.size();
  o.padding.enabled = d->padding_len > 0;
  o.padding.pad_min = o.padding.pad_max = static_cast<std::uint32_t>(d->padding_len);
  o.padding.pad_burst_prob = 0.0;
  ScriptedRng rng;
  rng.push(data.last(d->padding_len));
  Bytes out(data.size());
  auto n = build_transport(out, d->inner, d->counter.value_or(0), o, rng);
  if (!n || *n != data.size() || std::memcmp(out.data(), data.data(), data.size()) != 0) {
    std::abort();
  }
  auto again = decode_transport(out, has_counter);
  if (!again || again->counter != d->counter || again->inner.size() != d->inner.size() ||
      again->padding_len != d->padding_len) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  check(in, false);
  check(in, true);
  return 0;
}
