// LINK: paniq_profile
// Arbitrary bytes as profile JSON: never crash; whatever parses serialises back to an equal profile.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.hpp"
#include "profile/profile_cbor.hpp"
#include "profile/validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace paniq::profile;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> warnings;
  auto p = parse_profile_json_unvalidated(text, warnings);
  if (!p) return 0;
  (void)validate_profile(*p, warnings);
  const std::string json = to_json(*p);
  std::vector<std::string> again_warnings;
  auto again = parse_profile_json_unvalidated(json, again_warnings);
  if (!again || !(*again == *p) || !again_warnings.empty()) std::abort();
  // The compact form of anything that parsed must encode (or refuse bad key base64) and decode.
  if (auto bytes = encode_compact_profile(*p)) {
    if (!decode_compact_profile(*bytes)) std::abort();
  }
  return 0;
}
