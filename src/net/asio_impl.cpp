// Asio's implementation, compiled once for the whole program (ASIO_SEPARATE_COMPILATION, set
// on paniq_net), with one change to where it keeps its per-socket records.
//
// The epoll reactor allocates one descriptor_state (about 170 bytes) per socket that is open at
// the same time and never frees it: a closed socket's record goes to a free list for the next
// socket. With the default `new`, those records sit in the heap between the memory of the
// streams that were open with them, and after a burst of connections each one pins a page of
// otherwise free heap that malloc_trim cannot return (about 4 KB per socket of the peak;
// bench/memory/heap_walk.py shows it). Here they come from pages of their own (net/slab.hpp),
// so what a burst leaves behind is the records themselves.
#include <asio/detail/config.hpp>

#if defined(ASIO_HAS_EPOLL)
#include <asio/detail/epoll_reactor.hpp>
#include <asio/detail/object_pool.hpp>

#include <new>

#include "net/slab.hpp"

namespace {

using State = asio::detail::epoll_reactor::descriptor_state;

paniq::net::Slab& state_slab() {
  static paniq::net::Slab slab(sizeof(State), alignof(State));
  return slab;
}

}  // namespace

namespace asio::detail {

template <>
State* object_pool_access::create<State, bool>(bool locking) {
  void* p = state_slab().allocate();
  return new (p) State(locking);
}

template <>
void object_pool_access::destroy<State>(State* o) {
  o->~State();
  state_slab().deallocate(o);
}

}  // namespace asio::detail
#endif

#include <asio/impl/src.hpp>
