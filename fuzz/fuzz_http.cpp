// LINK: paniq_http
// Fuzzes the HTTP proxy parsers: request heads, response heads and body framing (Content-Length
// and chunked). Checks: never crash, consumed within the input, the same outcome whole and
// split into pieces, and the head built for the origin is itself a well-formed head without
// hop-by-hop fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/body.hpp"
#include "http/request.hpp"
#include "http/response.hpp"

namespace {

using namespace paniq;
using namespace paniq::http;

void check(bool ok) {
  if (!ok) std::abort();
}

template <class Parser>
HeadReader::Step feed(Parser& p, ByteView in, std::size_t piece) {
  std::size_t off = 0;
  HeadReader::Step s;
  do {
    const ByteView chunk = in.subspan(off, std::min(piece, in.size() - off));
    s = p.put(chunk);
    check(s.consumed <= chunk.size());
    off += s.consumed;
  } while (s.status == HeadReader::Status::NeedMore && off < in.size());
  s.consumed = off;
  return s;
}

void fuzz_request(ByteView in, std::size_t piece, const HeadLimits& lim) {
  RequestParser whole(lim), split(lim);
  const auto w = feed(whole, in, in.size() + 1);
  const auto s = feed(split, in, piece);
  check(w.status == s.status && w.consumed == s.consumed && w.error == s.error);
  if (w.status != HeadReader::Status::Done) return;
  const RequestHead& req = whole.head();
  check(req.port != 0 && !req.host.empty());
  if (req.is_connect()) return;
  const std::string up = upstream_head(req);
  // Host and Connection may be added: two header lines (up to ~300 bytes) more than the
  // request had.
  HeadLimits again_lim;
  again_lim.max_headers = req.headers.size() + 2;
  again_lim.max_head = lim.max_head + 1024;
  HeadReader again(again_lim);
  const auto a = again.put(as_bytes(up));
  check(a.status == HeadReader::Status::Done && a.consumed == up.size());
  for (const char* hop : {"Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "TE", "Upgrade"}) {
    check(find_header(again.headers(), hop) == nullptr);
  }
  check(*find_header(again.headers(), "Host") == req.authority);
}

void fuzz_response(ByteView in, std::size_t piece) {
  ResponseParser whole, split;
  const auto w = feed(whole, in, in.size() + 1);
  const auto s = feed(split, in, piece);
  check(w.status == s.status && w.consumed == s.consumed && w.error == s.error);
  if (w.status != HeadReader::Status::Done) return;
  check(whole.head().status >= 100 && whole.head().status <= 999);
  BodyFraming f;
  if (response_body_framing(whole.head().headers, whole.head().status, "GET", f) != Errc::ok) return;
  (void)whole.head().keep_alive();
}

void fuzz_body(ByteView in, std::size_t piece, BodyFraming f) {
  BodyTracker whole(f), split(f);
  const auto w = whole.put(in);
  check(w.consumed <= in.size());
  std::size_t off = 0;
  BodyTracker::Step s;
  do {
    const ByteView chunk = in.subspan(off, std::min(piece, in.size() - off));
    s = split.put(chunk);
    check(s.consumed <= chunk.size());
    off += s.consumed;
  } while (s.status == BodyTracker::Status::NeedMore && off < in.size());
  check(s.status == w.status && off == w.consumed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = 1 + data[0] % 16;
  HeadLimits lim;
  if (data[1] & 1) {
    lim.max_line = 64;
    lim.max_head = 512;
    lim.max_headers = 8;
  }
  const ByteView in(data + 2, size - 2);
  fuzz_request(in, piece, lim);
  fuzz_response(in, piece);
  fuzz_body(in, piece, {BodyFraming::Kind::Chunked, 0});
  fuzz_body(in, piece, {BodyFraming::Kind::Length, data[1]});
  return 0;
}
