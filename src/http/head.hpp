// An HTTP/1.x message head (start line, header fields, empty line; RFC 9112 2.1) collected
// from any split of input (STYLE.md 6), with bounds so a client cannot make the proxy buffer
// without limit: the whole head, each line and the number of header lines are capped.
//
// Leniency (RFC 9112 2.2): a bare LF ends a line like CRLF; empty lines before the start line
// are skipped. Strictness: obs-fold (a line starting with SP/HT), whitespace between the field
// name and ':', a name that is not a token, a CR or NUL inside a line are errors (request
// smuggling defences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bytes.hpp"
#include "http/errors.hpp"

namespace paniq::http {

struct Header {
  std::string name;   // as sent
  std::string value;  // leading and trailing whitespace removed
  friend bool operator==(const Header&, const Header&) = default;
};

struct HeadLimits {
  std::size_t max_head = 64 * 1024;  // start line + headers + line ends
  std::size_t max_line = 16 * 1024;  // one line without its line end
  std::size_t max_headers = 128;

  static HeadLimits defaults() { return HeadLimits{}; }
};

// ASCII case-insensitive comparison (header names, tokens, schemes).
bool iequals(std::string_view a, std::string_view b);
// True for RFC 9110 tchar.
bool is_tchar(char c);
// The value of the first header named `name` (case-insensitive), or nullptr.
const std::string* find_header(const std::vector<Header>& headers, std::string_view name);
// True when any header named `name` holds `token` in its comma-separated list
// (case-insensitive), e.g. has_token(h, "Connection", "close").
bool has_token(const std::vector<Header>& headers, std::string_view name, std::string_view token);

class HeadReader {
 public:
  enum class Status : std::uint8_t { NeedMore, Done, Error };
  struct Step {
    Status status = Status::NeedMore;
    std::size_t consumed = 0;  // Done: ends exactly after the head's empty line
    Errc error = Errc::ok;
  };

  // `start_line_error` is what an over-long first line reports (uri_too_long for requests).
  explicit HeadReader(HeadLimits limits = HeadLimits::defaults(), Errc start_line_error = Errc::uri_too_long);

  // Takes bytes up to the end of the head. NeedMore: all of `in` was taken. Done: start_line()
  // and headers() are valid; bytes of `in` after `consumed` belong to the body or the next
  // message. Error: `error` names the broken rule (head_too_large, line_too_long,
  // too_many_headers, bad_header, or `start_line_error`); the caller answers status_for(error)
  // and closes. After Done or Error put() takes nothing and repeats the status until reset().
  // A request line is checked byte by byte as it arrives (the method's token characters, no
  // control bytes, nothing above 0x7e, CR only before LF), so garbage is refused at its first
  // impossible byte instead of after a line end that may never come.
  Step put(ByteView in);
  void reset();

  Status status() const { return status_; }
  const std::string& start_line() const { return start_line_; }
  const std::vector<Header>& headers() const { return headers_; }
  std::vector<Header>& headers() { return headers_; }

 private:
  Errc end_line();
  Errc check_request_line_byte() const;  // the byte just appended to line_

  HeadLimits limits_;
  Errc start_line_error_;
  Status status_ = Status::NeedMore;
  Errc error_ = Errc::ok;
  std::size_t total_ = 0;
  std::string line_;
  bool have_start_ = false;
  std::string start_line_;
  std::vector<Header> headers_;
};

// A head parser's put(): feeds `reader`; on the step that completed the head, parses it once
// with `parse(start_line, headers, out)` (later calls repeat Done with 0 consumed); a parse
// error turns this and every later step into Error with that error (kept in `failed`).
template <class Head, class Parse>
HeadReader::Step put_and_parse(HeadReader& reader, ByteView in, Head& out, Errc& failed, Parse parse) {
  HeadReader::Step s = reader.put(in);
  if (s.status == HeadReader::Status::Done && s.consumed > 0) {
    if (const Errc e = parse(reader.start_line(), std::move(reader.headers()), out); e != Errc::ok) {
      s.status = HeadReader::Status::Error;
      s.error = e;
      failed = e;
    }
  } else if (s.status == HeadReader::Status::Done && failed != Errc::ok) {
    s.status = HeadReader::Status::Error;
    s.error = failed;
  }
  return s;
}

}  // namespace paniq::http
