// Where an HTTP/1.x message body ends (RFC 9112 6), so a keep-alive proxy can pass bodies
// through unbuffered and still find the next message on the same connection. The tracker only
// counts and checks framing: the bytes it takes are forwarded unchanged by the caller.
//   Request:  Transfer-Encoding chunked (last coding) > Content-Length > no body.
//   Response: HEAD request, 1xx, 204, 304 -> no body; then chunked; Content-Length; otherwise
//             (or a Transfer-Encoding not ending in chunked) it runs until the origin closes.
// A request with both Transfer-Encoding and Content-Length, a request Transfer-Encoding not
// ending in chunked, or Content-Length values that are not digits or differ are errors
// (RFC 9112 6.1, 6.3: request smuggling defences); in a response they make the origin
// unusable (the caller answers 502).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "http/errors.hpp"
#include "http/head.hpp"

namespace paniq::http {

struct BodyFraming {
  enum class Kind : std::uint8_t { None, Length, Chunked, UntilClose };
  Kind kind = Kind::None;
  std::uint64_t length = 0;  // Kind::Length
  friend bool operator==(const BodyFraming&, const BodyFraming&) = default;
};

// Request body framing from the headers; bad_content_length / bad_transfer_encoding.
Errc request_body_framing(const std::vector<Header>& headers, BodyFraming& out);
// Response body framing for `status` to a request with `request_method`; bad_content_length.
Errc response_body_framing(const std::vector<Header>& headers, int status, std::string_view request_method,
                           BodyFraming& out);

// Follows one body from any split of input.
class BodyTracker {
 public:
  enum class Status : std::uint8_t { NeedMore, Done, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;  // body bytes in `in` (Done: the body ends there)
    Errc error = Errc::ok;
  };

  explicit BodyTracker(BodyFraming framing = {});
  // NeedMore: all of `in` belongs to the body. Done: the body ended after `consumed` bytes;
  // the rest is the next message. Error (chunked only): bad_chunk; the caller must close the
  // connection. UntilClose never reports Done: the caller ends it at end-of-stream
  // (finish_at_eof). After Done or Error put() takes nothing and repeats the status.
  Step put(ByteView in);
  // End of input: true when that ends the body cleanly (UntilClose, or already Done).
  bool finish_at_eof() const;
  Status status() const { return status_; }
  bool done() const { return status_ == Status::Done; }

 private:
  enum class Chunk : std::uint8_t {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    LastLf
  };
  Step put_chunked(ByteView in);

  BodyFraming framing_;
  Status status_ = Status::NeedMore;
  std::uint64_t left_ = 0;  // Length: bytes to come; chunked: bytes left in the chunk
  Chunk chunk_ = Chunk::Size;
  unsigned size_digits_ = 0;
  std::size_t line_len_ = 0;  // chunk extension / trailer line length (bounded)
};

}  // namespace paniq::http
