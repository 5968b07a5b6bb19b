// LINK: paniq_profile
// Arbitrary text to the pnq:// link decoder: never crash; every error is Errc::link with a
// "pnq:// link: " message; a decoded link holds no server private key, re-encodes, and after
// one decode(encode(.)) round the profile is a fixed point.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "profile/link.hpp"

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
  // Half the inputs get the scheme, so the fuzzer spends its time past the prefix check.
  std::string text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1)) text = "pnq://" + text.substr(1);
  std::vector<std::string> warnings;
  auto p1 = decode_link(text, warnings);
  if (!p1) {
    if (p1.error().code != make_error_code(Errc::link) || p1.error().message.rfind("pnq:// link: ", 0) != 0) {
      std::abort();
    }
    return 0;
  }
  if (!p1->obfuscation.server_private_key.empty()) std::abort();
  auto l1 = encode_link(*p1);
  if (!l1) std::abort();
  auto p2 = decode_link(*l1, warnings);
  if (!p2) return 0;  // a normalisation (e.g. preamble 0 -> null) may break a cross-field rule
  auto l2 = encode_link(*p2);
  if (!l2) std::abort();
  auto p3 = decode_link(*l2, warnings);
  if (!p3 || !same(*p3, *p2)) std::abort();
  auto l3 = encode_link(*p3);
  if (!l3 || *l3 != *l2) std::abort();
  return 0;
}
