#include "http/response.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace paniq::http {
namespace {

TEST(ResponseParser, HeadAndKeepAlive) {
  ResponseParser p;
  const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
  const auto s = p.put(as_bytes(text));
  ASSERT_EQ(s.status, ResponseParser::Status::Done);
  EXPECT_EQ(s.consumed, text.size() - 2);
  EXPECT_EQ(p.head().status, 200);
  EXPECT_EQ(p.head().reason, "OK");
  EXPECT_TRUE(p.head().keep_alive());
  EXPECT_FALSE(p.head().interim());

  ResponseParser q;
  ASSERT_EQ(q.put(as_bytes(std::string_view("HTTP/1.0 204\r\n\r\n"))).status, ResponseParser::Status::Done);
  EXPECT_EQ(q.head().status, 204);
  EXPECT_FALSE(q.head().keep_alive());
  ResponseParser c;
  ASSERT_EQ(c.put(as_bytes(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"))).status,
            ResponseParser::Status::Done);
  EXPECT_TRUE(c.head().interim());
  ResponseParser bad;
  EXPECT_EQ(bad.put(as_bytes(std::string_view("HTTP/1.1 20 OK\r\n\r\n"))).error, Errc::bad_status_line);
  ResponseParser bad2;
  EXPECT_EQ(bad2.put(as_bytes(std::string_view("SSH-2.0-x\r\n\r\n"))).error, Errc::bad_status_line);
}

TEST(SimpleResponse, Format) {
  EXPECT_EQ(simple_response(407, "auth", {"Proxy-Authenticate: Basic realm=\"paniq\""}),
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"paniq\"\r\n"
            "Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nauth\n");
  EXPECT_EQ(connect_established(), "HTTP/1.1 200 Connection established\r\n\r\n");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
}

TEST(ResponseParser, SplitAnywhereSameHead) {
  const std::string text = "HTTP/1.1 100 Continue\r\n\r\n";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    ResponseParser p;
    const auto a = p.put(as_bytes(std::string_view(text).substr(0, cut)));
    const auto b = p.put(as_bytes(std::string_view(text).substr(a.consumed)));
    ASSERT_EQ(b.status, ResponseParser::Status::Done) << cut;
    EXPECT_EQ(a.consumed + b.consumed, text.size());
    EXPECT_EQ(p.head().status, 100);
  }
}

}  // namespace
}  // namespace paniq::http
