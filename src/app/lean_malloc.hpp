// glibc's per-thread cache of freed blocks (tcache), turned off in the daemons.
//
// glibc keeps up to 7 freed blocks of each small size (up to 1032 bytes) in a cache of the
// thread that freed them, and malloc_trim cannot give back a page that such a block is on.
// When 1000 streams close, the blocks each size class caches are the last ones freed: scattered
// through the heap, they kept about 130 kB of otherwise free pages resident in each daemon
// (bench/memory/bench_memory.py). With the cache off, freed blocks go back to the heap's bins,
// where malloc_trim can return their pages, and the loopback bench measures no cost
// (README, "Memory").
//
// glibc reads the setting only from the environment at start-up (GLIBC_TUNABLES, before main),
// so a daemon that was started without it runs itself again, once, with it set.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace paniq::app {

// The tunable the daemons add.
inline constexpr std::string_view kLeanMallocTunable = "glibc.malloc.tcache_count=0";

// The GLIBC_TUNABLES value to run with, given the current one (nullopt: unset): the current
// tunables with kLeanMallocTunable added, or nullopt when nothing is to change because the
// current value already sets tcache_count (the user's choice wins, e.g. `=7` for glibc's
// default).
std::optional<std::string> lean_malloc_tunables(std::optional<std::string_view> current);

// Runs the program again (execv of /proc/self/exe with the same arguments, so the same PID) with
// GLIBC_TUNABLES from lean_malloc_tunables(), before anything else has happened in main().
// Returns without doing anything when nothing is to change, or when the process runs with
// AT_SECURE (setuid: glibc would strip the variable). Returns as well when the exec fails (no
// /proc): the daemon then runs with glibc's defaults, which only costs memory. A marker
// variable (PANIQ_MALLOC_REEXEC, removed again at once) makes sure it happens at most once.
void reexec_with_lean_malloc(char** argv);

}  // namespace paniq::app
