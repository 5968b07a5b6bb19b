#include "http/head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace paniq::http {
namespace {

TEST(HeaderLookup, CaseInsensitiveAndTokens) {
  const std::vector<Header> h{{"connection", "Keep-Alive, X-Foo"}, {"Connection", " close "}, {"Host", "a"}};
  EXPECT_EQ(*find_header(h, "HOST"), "a");
  EXPECT_EQ(find_header(h, "Hos"), nullptr);
  EXPECT_TRUE(has_token(h, "Connection", "keep-alive"));
  EXPECT_TRUE(has_token(h, "CONNECTION", "x-foo"));
  EXPECT_TRUE(has_token(h, "Connection", "close"));
  EXPECT_FALSE(has_token(h, "Connection", "upgrade"));
  EXPECT_FALSE(has_token(h, "Host", "close"));
  EXPECT_TRUE(iequals("Content-LENGTH", "content-length"));
  EXPECT_FALSE(iequals("Content-Length", "Content-Lengt"));
}

TEST(HeadReader, EveryCutGivesTheSameHead) {
  const std::string text = "X-START line\r\nA: 1\r\nB:2\r\nC:\r\n\r\nbody";
  HeadReader whole;
  const auto w = whole.put(as_bytes(text));
  ASSERT_EQ(w.status, HeadReader::Status::Done);
  EXPECT_EQ(w.consumed, text.size() - 4);
  EXPECT_EQ(whole.start_line(), "X-START line");
  ASSERT_EQ(whole.headers().size(), 3u);
  EXPECT_EQ(whole.headers()[2], (Header{"C", ""}));
  for (std::size_t cut = 1; cut < text.size(); ++cut) {
    HeadReader r;
    const auto a = r.put(as_bytes(std::string_view(text).substr(0, cut)));
    std::size_t used = a.consumed;
    if (a.status == HeadReader::Status::NeedMore)
      used += r.put(as_bytes(std::string_view(text).substr(cut))).consumed;
    EXPECT_EQ(r.status(), HeadReader::Status::Done) << cut;
    EXPECT_EQ(used, w.consumed) << cut;
    EXPECT_EQ(r.headers(), whole.headers()) << cut;
  }
}

TEST(HeadReader, ErrorsRepeatUntilReset) {
  HeadReader r;
  const auto s = r.put(as_bytes(std::string_view("L\r\nbad header\r\n")));
  EXPECT_EQ(s.status, HeadReader::Status::Error);
  EXPECT_EQ(s.error, Errc::bad_header);
  EXPECT_EQ(r.put(as_bytes(std::string_view("x"))).consumed, 0u);
  r.reset();
  EXPECT_EQ(r.put(as_bytes(std::string_view("L\r\n\r\n"))).status, HeadReader::Status::Done);
}

// Garbage that starts like a method is refused at its first impossible byte, not after a line
// end that may never come (a prober or a confused client would otherwise hold the connection
// until the negotiation timeout).
TEST(HeadReader, RequestLineGarbageIsRefusedAtOnce) {
  struct Case {
    std::string bytes;
    std::size_t consumed;  // the offending byte is the last one taken
  };
  const Case cases[] = {
      {std::string("G\x80" "ET / HTTP/1.1"), 2},  // above 0x7e
      {std::string("GE\x01T"), 3},             // control byte
      {std::string("GET\0/", 5), 4},              // NUL
      {"GE(T / HTTP/1.1", 3},                   // not a token character in the method (bad_method)
      {"GET\rX", 5},                           // CR not followed by LF
      {std::string("GET /a\xff"), 7},          // high byte in the target
      {" GET / HTTP/1.1", 1},                   // empty method
  };
  for (const Case& c : cases) {
    HeadReader r;
    const auto s = r.put(as_bytes(std::string_view(c.bytes)));
    EXPECT_EQ(s.status, HeadReader::Status::Error) << c.bytes;
    EXPECT_EQ(s.error, c.bytes[2] == '(' ? Errc::bad_method : Errc::bad_request_line) << c.bytes;
    EXPECT_EQ(s.consumed, c.consumed) << c.bytes;
  }
  // Valid requests, blank lines before them, and header bytes the request-line rule does not
  // cover (obs-text in a field value) still pass.
  HeadReader ok;
  EXPECT_EQ(ok.put(as_bytes(std::string_view("\r\nGET http://a/%7e?q=1 HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n"))).status,
            HeadReader::Status::Done);
  // A response's status line is not held to the request rules (reason phrases may carry obs-text).
  HeadReader resp(HeadLimits::defaults(), Errc::bad_status_line);
  EXPECT_EQ(resp.put(as_bytes(std::string_view("HTTP/1.1 200 \xc3\xa9\r\n\r\n"))).status, HeadReader::Status::Done);
}

}  // namespace
}  // namespace paniq::http
