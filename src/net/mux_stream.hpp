// A mux stream as an awaitable object for C++20 coroutines (issue #4 item 4): read_some /
// write_all / shutdown_write / close on one smux stream of a tunnel session, with
// back-pressure all the way to the caller. There is no queue of its own: write_all hands bytes
// to the mux (bounded by mux::Config::outbound_limit, drained into KCP only while KCP's send
// queue has room) and returns only when the mux took all of them, so a relay that finishes one
// write_all before its next TCP read never holds more than one read buffer.
//
// Waiting: a reader that finds no data (mux would_block) and a writer the mux accepted less
// from sleep on their own Wake (net/wake.hpp); the driver (StreamHost) wakes them from the mux's
// edge events (Readable, Writable, StreamClosed, SessionClosed). A wake that comes while nobody
// sleeps is kept for the next sleep, which returns at once; callers re-check the mux after every
// wake. Everything runs on the driver's one io_context thread: no locks.
#pragma once

#include <cstdint>
#include <memory>
#include <system_error>
#include <unordered_map>

#include "core/bytes.hpp"
#include "mux/session.hpp"
#include "net/asio.hpp"
#include "net/datagram.hpp"
#include "net/wake.hpp"

namespace paniq::net {

class StreamHost;
class MuxStream;

namespace detail {
struct StreamState {
  StreamState(StreamHost& h, asio::any_io_executor ex, std::uint64_t s, mux::StreamId i);
  StreamHost* host;
  std::uint64_t session;
  mux::StreamId id;
  Wake read_wake;
  Wake write_wake;
  std::error_code gone;  // the session ended (its reason) or the host went away
  bool closed = false;   // close() was called
};
}  // namespace detail

// What a driver offers its streams. A driver implements stream_mux and request_flush and calls
// the wake_* functions from its event loop.
class StreamHost {
 public:
  StreamHost() = default;
  StreamHost(const StreamHost&) = delete;
  StreamHost& operator=(const StreamHost&) = delete;
  // Streams still alive fail with operation_aborted from then on.
  virtual ~StreamHost();

  // The mux holding `session`'s streams; nullptr when the session is gone.
  virtual mux::Session* stream_mux(std::uint64_t session) = 0;
  // A stream command changed the mux: the driver must flush the session and send (it may
  // coalesce several requests into one flush).
  virtual void request_flush() = 0;

  // Event dispatch (driver side).
  void wake_readable(std::uint64_t session, mux::StreamId id);
  void wake_writable(std::uint64_t session, mux::StreamId id);
  void wake_closed(std::uint64_t session, mux::StreamId id);
  // Every stream of `session` fails with `reason` (after the data it already read).
  void session_gone(std::uint64_t session, std::error_code reason);
  // Every stream fails with `reason` (shutdown).
  void fail_all(std::error_code reason);
  std::size_t stream_count() const { return streams_.size(); }

 private:
  friend class MuxStream;
  struct Key {
    std::uint64_t session;
    mux::StreamId id;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>{}(k.session * 0x9E3779B97F4A7C15ull ^ k.id);
    }
  };
  void attach(detail::StreamState* s);
  void detach(detail::StreamState* s);
  detail::StreamState* find(std::uint64_t session, mux::StreamId id);

  std::unordered_map<Key, detail::StreamState*, KeyHash> streams_;
};

class MuxStream {
 public:
  MuxStream() = default;
  // Adopts stream `id` of `session` (opened by us, or accepted from the peer). The stream is
  // released (mux close) when this object is closed or destroyed.
  MuxStream(StreamHost& host, asio::any_io_executor ex, std::uint64_t session, mux::StreamId id);
  MuxStream(MuxStream&&) noexcept = default;
  MuxStream& operator=(MuxStream&& o) noexcept;
  ~MuxStream();

  // Waits for data and moves up to out.size() (> 0) bytes into `out`. count 0 with no error =
  // orderly end-of-stream. Errors: the mux's (a reset reason, session_failed, unknown_stream),
  // the session's end reason, operation_aborted after close() or the host's shutdown. After an
  // error the caller should close().
  awaitable<IoResult> read_some(MutByteView out);
  // Hands all of `data` to the mux, waiting for Writable whenever it accepts less. Returns an
  // empty code when everything was taken; otherwise the error (mux::Errc::stream_closed after
  // the peer's FIN in async_smux mode or our shutdown_write, a reset reason, session_failed,
  // the session's end reason, operation_aborted); an unknown part of `data` was sent then.
  awaitable<std::error_code> write_all(ByteView data);
  // Ends our direction (FIN after the queued data). In async_smux mode our read side ends too
  // once its buffer is read. Errors: the mux's; nothing to do but close().
  std::error_code shutdown_write();
  // Releases the stream (FIN unless already sent / the peer closed) and wakes a pending
  // read_some / write_all with operation_aborted. Idempotent.
  void close();

  bool valid() const { return state_ != nullptr; }
  // Bytes read_some() would return at once (0: it would wait, or the stream has ended).
  std::size_t readable() const;
  std::uint64_t session() const { return state_ ? state_->session : 0; }
  mux::StreamId id() const { return state_ ? state_->id : 0; }

 private:
  mux::Session* session_mux(std::error_code& why) const;
  std::unique_ptr<detail::StreamState> state_;
};

}  // namespace paniq::net
