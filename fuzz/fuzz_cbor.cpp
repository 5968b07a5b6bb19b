// LINK: paniq_profile
// Arbitrary bytes to the compact-profile CBOR decoder: never crash; a decoded profile re-encodes,
// and after one decode(encode(.)) round the profile is a fixed point.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "profile/profile.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/validate.hpp"

namespace {

// NaN never compares equal; treat two NaN probabilities as the same value.
bool same(paniq::profile::Profile a, paniq::profile::Profile b) {
  if (a.transport_padding && b.transport_padding && std::isnan(a.transport_padding->pad_burst_prob) &&
      std::isnan(b.transport_padding->pad_burst_prob)) {
    a.transport_padding->pad_burst_prob = b.transport_padding->pad_burst_prob = 0;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace paniq::profile;
  auto p1 = decode_compact_profile({data, size});
  if (!p1) return 0;
  std::vector<std::string> warnings;
  (void)validate_profile(*p1, warnings);
  auto e1 = encode_compact_profile(*p1);
  if (!e1) std::abort();  // keys came from byte strings, so their base64 is valid
  auto p2 = decode_compact_profile(*e1);
  if (!p2) std::abort();
  // One round normalises what the encoding drops or canonicalises (max_payload 0 -> default,
  // preamble 0 -> null, header/address text -> canonical); from then on it is a fixed point.
  auto e2 = encode_compact_profile(*p2);
  if (!e2) std::abort();
  auto p3 = decode_compact_profile(*e2);
  if (!p3 || !same(*p2, *p3)) std::abort();
  auto e3 = encode_compact_profile(*p3);
  if (!e3 || *e3 != *e2) std::abort();
  // What the decoder produced also survives the JSON form (finite probabilities only).
  if (!p1->transport_padding || std::isfinite(p1->transport_padding->pad_burst_prob)) {
    auto j = parse_profile_json_unvalidated(to_json(*p1), warnings);
    if (!j || !(*j == *p1)) std::abort();
  }
  return 0;
}
