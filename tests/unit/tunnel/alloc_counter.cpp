// Counts the test program's heap allocations, for the steady-state "no allocation per
// datagram" checks (test::allocations()).
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace paniq::tunnel::test {
std::uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace paniq::tunnel::test
