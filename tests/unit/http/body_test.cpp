#include "http/body.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace paniq::http {
namespace {

using Kind = BodyFraming::Kind;

struct Tracked {
  BodyTracker::Status status = BodyTracker::Status::NeedMore;
  std::size_t consumed = 0;
};

Tracked track(BodyFraming f, std::string_view text, std::size_t piece) {
  BodyTracker t(f);
  Tracked r;
  const ByteView all = as_bytes(text);
  std::size_t off = 0;
  while (off < all.size()) {
    const auto s = t.put(all.subspan(off, std::min(piece, all.size() - off)));
    off += s.consumed;
    r.status = s.status;
    if (s.status != BodyTracker::Status::NeedMore) break;
  }
  r.consumed = off;
  if (all.empty()) r.status = t.status();
  return r;
}

TEST(BodyTracker, ContentLength) {
  for (std::size_t piece : {1, 2, 5, 100}) {
    const Tracked r = track({Kind::Length, 5},
                            "hello"
                            "GET next",
                            piece);
    EXPECT_EQ(r.status, BodyTracker::Status::Done);
    EXPECT_EQ(r.consumed, 5u);
  }
  EXPECT_EQ(track({Kind::Length, 5}, "hel", 2).status, BodyTracker::Status::NeedMore);
  EXPECT_EQ(track({Kind::None, 0}, "", 1).status, BodyTracker::Status::Done);
}

TEST(BodyTracker, ChunkedAnySplit) {
  const std::string body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t piece : {1, 2, 3, 7, 64, 1000}) {
    const Tracked r = track({Kind::Chunked, 0}, body + "HTTP/1.1 200", piece);
    EXPECT_EQ(r.status, BodyTracker::Status::Done) << piece;
    EXPECT_EQ(r.consumed, body.size()) << piece;
  }
  EXPECT_EQ(track({Kind::Chunked, 0}, "0\r\n\r\n", 1).consumed, 5u);
  EXPECT_EQ(track({Kind::Chunked, 0}, "0\n\n", 1).status, BodyTracker::Status::Done);
  EXPECT_EQ(track({Kind::Chunked, 0}, "3\r\nabc\r\n", 1).status, BodyTracker::Status::NeedMore);
}

TEST(BodyTracker, ChunkedErrors) {
  for (std::string_view bad : {"x\r\n", "\r\n", "3\r\nabcX", "3\rX", "1234567890abcdef0\r\n", "0\r\n\rX"}) {
    EXPECT_EQ(track({Kind::Chunked, 0}, bad, 1).status, BodyTracker::Status::Error) << bad;
  }
  BodyTracker t({Kind::Chunked, 0});
  EXPECT_EQ(t.put(as_bytes(std::string_view("zz"))).error, Errc::bad_chunk);
  EXPECT_EQ(t.put(as_bytes(std::string_view("0"))).consumed, 0u) << "stays failed";
}

TEST(BodyTracker, UntilClose) {
  BodyTracker t({Kind::UntilClose, 0});
  EXPECT_EQ(t.put(as_bytes(std::string_view("anything"))).consumed, 8u);
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(t.finish_at_eof());
  BodyTracker len({Kind::Length, 3});
  EXPECT_FALSE(len.finish_at_eof()) << "a Content-Length body cut short is not complete";
}

TEST(ResponseFraming, Rules) {
  BodyFraming f;
  const std::vector<Header> cl{{"Content-Length", "10"}};
  const std::vector<Header> chunked{{"Transfer-Encoding", "chunked"}, {"Content-Length", "10"}};
  EXPECT_EQ(response_body_framing(cl, 200, "GET", f), Errc::ok);
  EXPECT_EQ(f, (BodyFraming{Kind::Length, 10}));
  EXPECT_EQ(response_body_framing(cl, 200, "HEAD", f), Errc::ok);
  EXPECT_EQ(f.kind, Kind::None);
  for (int status : {100, 204, 304}) {
    EXPECT_EQ(response_body_framing(cl, status, "GET", f), Errc::ok);
    EXPECT_EQ(f.kind, Kind::None) << status;
  }
  EXPECT_EQ(response_body_framing(chunked, 200, "GET", f), Errc::ok);
  EXPECT_EQ(f.kind, Kind::Chunked) << "Transfer-Encoding overrides Content-Length";
  EXPECT_EQ(response_body_framing({{"Transfer-Encoding", "gzip"}}, 200, "GET", f), Errc::ok);
  EXPECT_EQ(f.kind, Kind::UntilClose);
  EXPECT_EQ(response_body_framing({}, 200, "GET", f), Errc::ok);
  EXPECT_EQ(f.kind, Kind::UntilClose);
  EXPECT_EQ(response_body_framing({{"Content-Length", "x"}}, 200, "GET", f), Errc::bad_content_length);
}

}  // namespace
}  // namespace paniq::http
