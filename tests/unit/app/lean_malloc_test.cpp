#include "app/lean_malloc.hpp"

#include <gtest/gtest.h>

namespace paniq::app {
namespace {

TEST(LeanMalloc, AddsTheTunableWhenUnsetOrEmpty) {
  EXPECT_EQ(lean_malloc_tunables(std::nullopt), "glibc.malloc.tcache_count=0");
  EXPECT_EQ(lean_malloc_tunables(""), "glibc.malloc.tcache_count=0");
}

TEST(LeanMalloc, KeepsTheUsersOtherTunables) {
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.check=3"),
            "glibc.malloc.check=3:glibc.malloc.tcache_count=0");
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.tcache_max=64:glibc.malloc.arena_max=1"),
            "glibc.malloc.tcache_max=64:glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0");
}

TEST(LeanMalloc, TheUsersOwnTcacheCountWins) {
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.tcache_count=7"), std::nullopt);
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.check=3:glibc.malloc.tcache_count=2"), std::nullopt);
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.tcache_count=0:glibc.malloc.check=3"), std::nullopt);
  // Only the exact name counts: a longer name that starts the same is another tunable.
  EXPECT_EQ(lean_malloc_tunables("glibc.malloc.tcache_counts=1"),
            "glibc.malloc.tcache_counts=1:glibc.malloc.tcache_count=0");
}

}  // namespace
}  // namespace paniq::app
