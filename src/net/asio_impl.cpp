// Asio's implementation, compiled once for the whole program (ASIO_SEPARATE_COMPILATION, set
// on paniq_net), with one change: how the epoll reactor keeps its per-socket records
// (net/socket_records.hpp says what for).
//
// The reactor takes a record (descriptor_state, about 170 bytes) from its object_pool when a
// socket opens and gives it back when the socket closes. Asio's pool keeps every record it ever
// made on a free list threaded through the records themselves, so a burst of connections leaves
// one record per socket of the peak for the life of the process. Here three members of that
// pool, for descriptor_state only, are specialised:
//   - `free` retires the record onto a list of its pool's (below) instead of the free list;
//   - `alloc` reuses a retired record first, as Asio would, and makes a new one otherwise;
//   - the destructor destroys the retired records with the live ones.
// release_retired_socket_records() destroys records retired for a whole timer period. New records
// come from pages of their own (net/slab.hpp), which go back to the system when their last
// record is destroyed; with the default `new` they would sit in the heap between the streams'
// memory and pin its pages.
//
// These specialisations must be declared before the code that uses them, Asio's epoll_reactor.ipp
// (included by asio/impl/src.hpp below), and that code is compiled only in this file.
#include <asio/detail/config.hpp>

#include <cstddef>

#if defined(ASIO_HAS_EPOLL)
#include <asio/detail/epoll_reactor.hpp>
#include <asio/detail/object_pool.hpp>

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

#include "net/slab.hpp"

namespace {

using State = asio::detail::epoll_reactor::descriptor_state;
using Access = asio::detail::object_pool_access;

paniq::net::Slab& state_slab() {
  static paniq::net::Slab slab(sizeof(State), alignof(State));
  return slab;
}

}  // namespace

// New records come from the slab.
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

namespace {

// The retired records of one pool (one reactor), linked through their `next_`.
struct Retired {
  const void* pool = nullptr;
  State* newer = nullptr;  // retired since the last release
  State* older = nullptr;  // retired before it: destroyed by the next release
  std::size_t live = 0;
  std::size_t retired = 0;
};

struct Registry {
  std::mutex mu;
  std::vector<Retired> pools;

  // The entry of `pool`, added when missing. Under `mu`.
  Retired& entry(const void* pool) {
    for (Retired& r : pools) {
      if (r.pool == pool) return r;
    }
    pools.push_back(Retired{pool});
    return pools.back();
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

void push(State*& list, State* o) {
  Access::next(o) = list;
  Access::prev(o) = nullptr;
  list = o;
}

State* pop(State*& list) {
  State* o = list;
  if (o != nullptr) list = Access::next(o);
  return o;
}

std::size_t destroy_all(State* list) {
  std::size_t n = 0;
  while (State* o = pop(list)) {
    Access::destroy(o);
    ++n;
  }
  return n;
}

}  // namespace

namespace asio::detail {

template <>
template <>
State* object_pool<State>::alloc<bool>(bool locking) {
  State* o = nullptr;
  {
    Registry& reg = registry();
    const std::lock_guard lock(reg.mu);
    Retired& r = reg.entry(this);
    o = pop(r.newer);
    if (o == nullptr) o = pop(r.older);
    if (o != nullptr) --r.retired;
    ++r.live;
  }
  if (o == nullptr) o = Access::create<State>(locking);
  Access::next(o) = live_list_;
  Access::prev(o) = nullptr;
  if (live_list_ != nullptr) Access::prev(live_list_) = o;
  live_list_ = o;
  return o;
}

template <>
void object_pool<State>::free(State* o) {
  State* const before = Access::prev(o);
  State* const after = Access::next(o);
  if (before != nullptr) Access::next(before) = after;
  if (after != nullptr) Access::prev(after) = before;
  if (live_list_ == o) live_list_ = after;
  Registry& reg = registry();
  const std::lock_guard lock(reg.mu);
  Retired& r = reg.entry(this);
  push(r.newer, o);
  --r.live;
  ++r.retired;
}

template <>
object_pool<State>::~object_pool() {
  destroy_all(live_list_);
  destroy_all(free_list_);  // always empty here: `free` retires instead
  Retired gone;
  {
    Registry& reg = registry();
    const std::lock_guard lock(reg.mu);
    auto it = std::find_if(reg.pools.begin(), reg.pools.end(),
                           [this](const Retired& r) { return r.pool == this; });
    if (it == reg.pools.end()) return;
    gone = *it;
    reg.pools.erase(it);
  }
  destroy_all(gone.newer);
  destroy_all(gone.older);
}

}  // namespace asio::detail
#endif

#include <asio/impl/src.hpp>

#include "net/socket_records.hpp"

namespace paniq::net {

#if defined(ASIO_HAS_EPOLL)

std::size_t release_retired_socket_records(asio::io_context& io) {
  using Reactor = asio::detail::epoll_reactor;
  if (!asio::has_service<Reactor>(io)) return 0;
  // The reactor holds its pool as a member: the pool to release is the one inside it.
  const auto* lo = reinterpret_cast<const char*>(&asio::use_service<Reactor>(io));
  const auto* hi = lo + sizeof(Reactor);
  Registry& reg = registry();
  const std::lock_guard lock(reg.mu);
  for (Retired& r : reg.pools) {
    const auto* at = static_cast<const char*>(r.pool);
    if (at < lo || at >= hi) continue;
    const std::size_t n = destroy_all(r.older);
    r.older = r.newer;
    r.newer = nullptr;
    r.retired -= n;
    return n;
  }
  return 0;
}

SocketRecordCounts socket_record_counts() {
  SocketRecordCounts c;
  {
    Registry& reg = registry();
    const std::lock_guard lock(reg.mu);
    for (const Retired& r : reg.pools) {
      c.live += r.live;
      c.retired += r.retired;
    }
  }
  c.chunks = state_slab().chunks();
  return c;
}

#else

std::size_t release_retired_socket_records(asio::io_context&) { return 0; }

SocketRecordCounts socket_record_counts() { return {}; }

#endif

}  // namespace paniq::net
