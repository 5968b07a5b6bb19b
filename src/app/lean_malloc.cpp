#include "app/lean_malloc.hpp"

#include <sys/auxv.h>
#include <unistd.h>

#include <cstdlib>

namespace paniq::app {

std::optional<std::string> lean_malloc_tunables(std::optional<std::string_view> current) {
  if (!current || current->empty()) return std::string(kLeanMallocTunable);
  // Tunables are NAME=VALUE items separated by ':'.
  std::string_view rest = *current;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string_view item = rest.substr(0, colon);
    const std::string_view name = item.substr(0, item.find('='));
    if (name == "glibc.malloc.tcache_count") return std::nullopt;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  std::string out(*current);
  out += ':';
  out += kLeanMallocTunable;
  return out;
}

namespace {
// Set across the one re-exec: whatever a C library does to GLIBC_TUNABLES, never a second.
constexpr const char* kMarker = "PANIQ_MALLOC_REEXEC";
}  // namespace

void reexec_with_lean_malloc(char** argv) {
  if (std::getenv(kMarker) != nullptr) {
    ::unsetenv(kMarker);
    return;
  }
  if (::getauxval(AT_SECURE) != 0) return;
  const char* now = std::getenv("GLIBC_TUNABLES");
  const auto want = lean_malloc_tunables(now ? std::optional<std::string_view>(now) : std::nullopt);
  if (!want) return;
  std::string saved = now ? now : "";
  if (::setenv("GLIBC_TUNABLES", want->c_str(), 1) != 0 || ::setenv(kMarker, "1", 1) != 0) {
    return;
  }
  ::execv("/proc/self/exe", argv);
  // Still here: the exec failed. Put the environment back and go on as started.
  ::unsetenv(kMarker);
  if (now != nullptr) {
    ::setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
}

}  // namespace paniq::app
