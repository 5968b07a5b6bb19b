#include "http/request.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace paniq::http {
namespace {

using Status = RequestParser::Status;

struct Parsed {
  Status status = Status::NeedMore;
  std::size_t consumed = 0;
  Errc error = Errc::ok;
  RequestHead head;
};

// Feeds `text` in pieces of `piece` bytes (0 = whole), stopping at the first non-NeedMore.
Parsed parse(std::string_view text, std::size_t piece = 0, HeadLimits limits = HeadLimits::defaults()) {
  RequestParser p(limits);
  Parsed out;
  const ByteView all = as_bytes(text);
  std::size_t off = 0;
  do {
    const std::size_t n = piece == 0 ? all.size() - off : std::min(piece, all.size() - off);
    const auto s = p.put(all.subspan(off, n));
    off += s.consumed;
    out.status = s.status;
    out.error = s.error;
    if (s.status != Status::NeedMore) break;
  } while (off < all.size());
  out.consumed = off;
  if (out.status == Status::Done) out.head = p.head();
  return out;
}

TEST(RequestParser, AbsoluteFormAnySplit) {
  const std::string text =
      "GET http://Example.COM:8080/a/b?x=1#frag HTTP/1.1\r\nHost: other\r\nAccept: */*\r\n\r\nNEXT";
  for (std::size_t piece : {0, 1, 2, 3, 7, 13}) {
    const Parsed p = parse(text, piece);
    ASSERT_EQ(p.status, Status::Done) << piece;
    EXPECT_EQ(p.consumed, text.size() - 4) << "the next request's bytes are not taken";
    EXPECT_EQ(p.head.method, "GET");
    EXPECT_EQ(p.head.host, "Example.COM");
    EXPECT_EQ(p.head.port, 8080);
    EXPECT_EQ(p.head.authority, "Example.COM:8080");
    EXPECT_EQ(p.head.path, "/a/b?x=1");
    EXPECT_EQ(p.head.version_minor, 1);
    EXPECT_FALSE(p.head.is_connect());
    EXPECT_EQ(p.head.headers.size(), 2u);
  }
}

TEST(RequestParser, DefaultPortEmptyPathQueryOnly) {
  Parsed p = parse("GET http://h HTTP/1.0\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(p.head.port, 80);
  EXPECT_EQ(p.head.path, "/");
  EXPECT_EQ(p.head.authority, "h");
  p = parse("GET HTTP://h:80?q HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(p.head.path, "/?q");
  EXPECT_EQ(p.head.authority, "h");
}

TEST(RequestParser, ConnectAuthorityForm) {
  Parsed p = parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_TRUE(p.head.is_connect());
  EXPECT_EQ(p.head.host, "example.com");
  EXPECT_EQ(p.head.port, 443);
  p = parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(p.head.host, "2001:db8::1");
  EXPECT_EQ(p.head.authority, "[2001:db8::1]:8443");
  EXPECT_EQ(parse("CONNECT example.com HTTP/1.1\r\n\r\n").error, Errc::bad_target) << "port required";
  EXPECT_EQ(parse("CONNECT example.com:0 HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("CONNECT example.com:65536 HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("CONNECT http://example.com:80 HTTP/1.1\r\n\r\n").error, Errc::bad_target);
}

TEST(RequestParser, RefusedForms) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n").error, Errc::origin_form);
  EXPECT_EQ(status_for(Errc::origin_form), 400);
  EXPECT_EQ(parse("OPTIONS * HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("GET https://h/ HTTP/1.1\r\n\r\n").error, Errc::unsupported_scheme);
  EXPECT_EQ(status_for(Errc::unsupported_scheme), 501);
  EXPECT_EQ(parse("GET http://user:pw@h/ HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("GET http:///x HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("GET http://h:x/ HTTP/1.1\r\n\r\n").error, Errc::bad_target);
  EXPECT_EQ(parse("GET http://h/ HTTP/2.0\r\n\r\n").error, Errc::bad_version);
  EXPECT_EQ(status_for(Errc::bad_version), 505);
  EXPECT_EQ(parse("GET http://h/ HTTX/1.1\r\n\r\n").error, Errc::bad_request_line);
  EXPECT_EQ(parse("GET  http://h/ HTTP/1.1\r\n\r\n").error, Errc::bad_request_line);
  EXPECT_EQ(parse("G@T http://h/ HTTP/1.1\r\n\r\n").error, Errc::bad_method);
}

TEST(RequestParser, HeaderRules) {
  EXPECT_EQ(parse("GET http://h/ HTTP/1.1\r\nNoColon\r\n\r\n").error, Errc::bad_header);
  EXPECT_EQ(parse("GET http://h/ HTTP/1.1\r\nName : v\r\n\r\n").error, Errc::bad_header);
  EXPECT_EQ(parse("GET http://h/ HTTP/1.1\r\nA: b\r\n folded\r\n\r\n").error, Errc::bad_header);
  static constexpr char kNul[] = "GET http://h/ HTTP/1.1\r\nA: b\0c\r\n\r\n";
  EXPECT_EQ(parse(std::string(kNul, sizeof(kNul) - 1)).error, Errc::bad_header);
  // Bare LF line ends and leading empty lines are accepted.
  const Parsed p = parse("\r\n\nGET http://h/ HTTP/1.1\nA:  spaced value \t\n\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(p.head.headers[0], (Header{"A", "spaced value"}));
}

TEST(RequestParser, Limits) {
  HeadLimits lim;
  lim.max_line = 64;
  lim.max_head = 256;
  lim.max_headers = 3;
  EXPECT_EQ(parse("GET http://h/" + std::string(80, 'a') + " HTTP/1.1\r\n\r\n", 5, lim).error,
            Errc::uri_too_long);
  EXPECT_EQ(status_for(Errc::uri_too_long), 414);
  EXPECT_EQ(parse("GET http://h/ HTTP/1.1\r\nA: " + std::string(80, 'a') + "\r\n\r\n", 0, lim).error,
            Errc::line_too_long);
  EXPECT_EQ(parse("GET http://h/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 0, lim).error,
            Errc::too_many_headers);
  std::string big = "GET http://h/ HTTP/1.1\r\n";
  lim.max_headers = 10;
  for (int i = 0; i < 5; ++i) big += "X: " + std::string(60, 'b') + "\r\n";
  big += "\r\n";
  const Parsed p = parse(big, 9, lim);
  EXPECT_EQ(p.error, Errc::head_too_large);
  EXPECT_EQ(status_for(Errc::head_too_large), 431);
  EXPECT_LE(p.consumed, 257u) << "stops taking input at the limit";
  // Without a line end the parser gives up at max_line, not at the end of input.
  const Parsed endless = parse(std::string(1000, 'G'), 10, lim);
  EXPECT_EQ(endless.error, Errc::uri_too_long);
}

TEST(RequestParser, BodyFramingRules) {
  Parsed p = parse("POST http://h/ HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(p.head.body, (BodyFraming{BodyFraming::Kind::Length, 12}));
  p = parse("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
  EXPECT_EQ(p.head.body.kind, BodyFraming::Kind::Chunked);
  p = parse("GET http://h/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(p.head.body.kind, BodyFraming::Kind::None);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n").error,
            Errc::bad_transfer_encoding);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").error,
            Errc::bad_transfer_encoding);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").error,
            Errc::bad_content_length);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n").head.body.length, 5u);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n").error, Errc::bad_content_length);
  EXPECT_EQ(parse("POST http://h/ HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n").error, Errc::bad_content_length);
}

TEST(RequestHead, KeepAlive) {
  EXPECT_TRUE(parse("GET http://h/ HTTP/1.1\r\n\r\n").head.keep_alive());
  EXPECT_FALSE(parse("GET http://h/ HTTP/1.1\r\nConnection: Close\r\n\r\n").head.keep_alive());
  EXPECT_FALSE(parse("GET http://h/ HTTP/1.1\r\nProxy-Connection: close\r\n\r\n").head.keep_alive());
  EXPECT_FALSE(parse("GET http://h/ HTTP/1.0\r\n\r\n").head.keep_alive());
  EXPECT_TRUE(parse("GET http://h/ HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n").head.keep_alive());
}

TEST(UpstreamHead, OriginFormWithoutHopByHop) {
  const Parsed p = parse(
      "POST http://example.com:8080/up?x HTTP/1.1\r\nHost: wrong\r\nProxy-Authorization: Basic eDp5\r\n"
      "Proxy-Connection: keep-alive\r\nConnection: X-Secret, Content-Length\r\nX-Secret: 1\r\nKeep-Alive: "
      "5\r\n"
      "TE: trailers\r\nTrailer: X\r\nUpgrade: h2c\r\nContent-Length: 3\r\nUser-Agent: t\r\n\r\n");
  ASSERT_EQ(p.status, Status::Done);
  EXPECT_EQ(upstream_head(p.head),
            "POST /up?x HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 3\r\nUser-Agent: t\r\n\r\n");
  const Parsed close = parse("GET http://h/ HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(upstream_head(close.head), "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const Parsed old = parse("GET http://[::1]:81/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n");
  EXPECT_EQ(upstream_head(old.head), "GET / HTTP/1.0\r\nHost: [::1]:81\r\nConnection: keep-alive\r\n\r\n");
}

TEST(Credentials, BasicDecode) {
  // "alice:s3cret:x" -> the password keeps later colons.
  EXPECT_EQ(basic_credentials("Basic YWxpY2U6czNjcmV0Ong="), (Credentials{"alice", "s3cret:x"}));
  EXPECT_EQ(basic_credentials("basic  YWxpY2U6czNjcmV0"), (Credentials{"alice", "s3cret"}));
  EXPECT_EQ(basic_credentials("Basic Og=="), (Credentials{"", ""}));
  EXPECT_FALSE(basic_credentials("Bearer YWxpY2U6czNjcmV0"));
  EXPECT_FALSE(basic_credentials("Basic YWxpY2U="));  // no colon
  EXPECT_FALSE(basic_credentials("Basic !!!!"));
  EXPECT_FALSE(basic_credentials("Basic"));
  const Parsed p = parse("GET http://h/ HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n");
  EXPECT_TRUE(proxy_authorized(p.head, {"alice", "s3cret"}));
  EXPECT_FALSE(proxy_authorized(p.head, {"alice", "s3cret!"}));
  EXPECT_FALSE(proxy_authorized(p.head, {"bob", "s3cret"}));
  EXPECT_FALSE(proxy_authorized(parse("GET http://h/ HTTP/1.1\r\n\r\n").head, {"alice", "s3cret"}));
}

TEST(RequestParser, ResetForTheNextRequest) {
  RequestParser p;
  const std::string two = "GET http://a/1 HTTP/1.1\r\n\r\nGET http://b/2 HTTP/1.1\r\n\r\n";
  ByteView in = as_bytes(two);
  auto s = p.put(in);
  ASSERT_EQ(s.status, Status::Done);
  EXPECT_EQ(p.head().host, "a");
  EXPECT_EQ(p.put(in.subspan(s.consumed)).consumed, 0u) << "after Done nothing is taken";
  p.reset();
  s = p.put(in.subspan(s.consumed));
  ASSERT_EQ(s.status, Status::Done);
  EXPECT_EQ(p.head().host, "b");
  EXPECT_EQ(p.head().path, "/2");
}

}  // namespace
}  // namespace paniq::http
