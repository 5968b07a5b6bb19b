// The reactor's per-socket records, and giving back the memory of those a burst left behind.
//
// Asio's epoll reactor keeps one record (descriptor_state, about 170 bytes) for every socket that
// is open. Asio itself never frees one: a closed socket's record waits on a free list for the
// next socket, so after 1000 streams have come and gone a daemon keeps 1000 records. In this
// program's build of Asio (asio_impl.cpp) a closed socket's record is *retired* instead: the
// next socket still reuses it, and release_retired_socket_records() destroys those that no
// socket took back, on pages that then go back to the system (net/slab.hpp).
#pragma once

#include <cstddef>

#include "net/asio.hpp"

namespace paniq::net {

// Destroys the records of `io`'s sockets that were retired before the previous call and not
// reused since; the ones retired after it wait for the next call. Returns how many it
// destroyed.
//
// Why two calls: a record can still be named by an I/O event that the reactor collected before
// its socket closed, and Asio runs every event of one reactor pass before it waits for I/O
// again. Once the reactor has waited again, no event names a record retired before that. So:
// call this only from the completion of a timer wait on `io` (a timer completes only after the
// reactor has waited), once per expiry, and only when one thread runs `io`. The daemons call
// it every 2 s from their memory trim loop (app/common.cpp).
std::size_t release_retired_socket_records(asio::io_context& io);

struct SocketRecordCounts {
  std::size_t live = 0;     // records of open sockets
  std::size_t retired = 0;  // records of closed sockets, waiting for reuse or release
  std::size_t chunks = 0;   // pages the records occupy
};
// The counts for the whole process (every io_context).
SocketRecordCounts socket_record_counts();

}  // namespace paniq::net
