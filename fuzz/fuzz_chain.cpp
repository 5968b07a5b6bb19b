// LINK: paniq_obf
// Chain parser and codec (PROTOCOL.md 3.2). Byte 0 chooses how the spec is built: bit 7 clear =
// the next (byte0 & 63) bytes are the spec text; bit 7 set = (byte0 & 31) following bytes each
// pick a grammar fragment. The rest is both a de-obfuscation input and a payload.
// Invariants (abort on violation): parse never crashes; an accepted input re-obfuscates to the
// same length and de-obfuscates to the same payload; obfuscate -> deobfuscate round-trips.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/rng.hpp"
#include "obf/chain.hpp"

namespace {

constexpr const char* kFragments[] = {
    "<b 0x01>", "<b ", "0x", "ff", "A0", "<t>", "<r ", "<rc ", "<rd ", "<d>", "<ds>", "<dz ",
    "0",        "1",   "2",  "8",  "9",  ">",   " ",   "<",    "\t",   "+",   "65535", "65536",
    "-",        "x",   "<>", "\xC2\xA0", "<d", "<ds ", "<dz 9>", "<r 3>"};
constexpr std::size_t kFragmentCount = sizeof(kFragments) / sizeof(kFragments[0]);

std::string build_spec(const std::uint8_t* data, std::size_t size, std::size_t& used) {
  const std::uint8_t mode = data[0];
  used = 1;
  std::string spec;
  if ((mode & 0x80) == 0) {
    const std::size_t len = std::min<std::size_t>(mode & 0x3F, size - 1);
    spec.assign(reinterpret_cast<const char*>(data + 1), len);
    used += len;
    return spec;
  }
  const std::size_t count = std::min<std::size_t>(mode & 0x1F, size - 1);
  for (std::size_t k = 0; k < count; ++k) spec += kFragments[data[1 + k] % kFragmentCount];
  used += count;
  return spec;
}

bool has_data_tag(const paniq::obf::Chain& c) {
  for (std::size_t k = 0; k < c.size(); ++k) {
    if (!c.tag(k).fixed()) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace paniq;
  if (size == 0) return 0;
  std::size_t used = 0;
  const std::string spec = build_spec(data, size, used);
  const ByteView rest(data + used, size - used);
  auto chain = obf::Chain::parse(spec);
  if (!chain) return 0;
  SeededRng rng(size);

  // Arbitrary bytes as a signature candidate.
  if (auto got = chain->deobfuscate(rest); got.ok()) {
    Bytes again;
    chain->obfuscate(again, *got, 0x01020304, rng);
    if (again.size() != rest.size()) std::abort();
    auto back = chain->deobfuscate(again);
    if (!back.ok() || *back != *got) std::abort();
  }

  // The same bytes as a payload.
  const std::size_t len = chain->obfuscated_len(rest.size());
  if (len > (std::size_t{1} << 20)) return 0;
  Bytes out;
  chain->obfuscate(out, rest, 0x01020304, rng);
  if (out.size() != len) std::abort();
  auto back = chain->deobfuscate(out);
  if (!back.ok()) std::abort();
  const Bytes want = has_data_tag(*chain) ? Bytes(rest.begin(), rest.end()) : Bytes{};
  if (*back != want) std::abort();
  if (chain->signature(0, rng).size() != chain->obfuscated_len(0)) std::abort();
  return 0;
}
