#include "http/body.hpp"

#include <algorithm>
#include <charconv>

namespace paniq::http {
namespace {

// Chunk extensions and trailer lines longer than this are refused (no legitimate use).
constexpr std::size_t kMaxChunkLine = 4096;
constexpr unsigned kMaxSizeDigits = 15;  // < 2^60: no overflow

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Content-Length: every header and every comma-separated item must be the same decimal value.
Errc content_length(const std::vector<Header>& headers, bool& present, std::uint64_t& value) {
  present = false;
  for (const Header& h : headers) {
    if (!iequals(h.name, "Content-Length")) continue;
    std::string_view v = h.value;
    for (;;) {
      const auto comma = v.find(',');
      const std::string_view item = trim(v.substr(0, comma));
      std::uint64_t n = 0;
      if (item.empty() || item.size() > 18 ||
          !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Errc::bad_content_length;
      }
      std::from_chars(item.data(), item.data() + item.size(), n);
      if (present && n != value) return Errc::bad_content_length;
      present = true;
      value = n;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return Errc::ok;
}

// The last transfer coding named by all Transfer-Encoding headers; empty when there is none.
std::string_view last_coding(const std::vector<Header>& headers, bool& present) {
  present = false;
  std::string_view last;
  for (const Header& h : headers) {
    if (!iequals(h.name, "Transfer-Encoding")) continue;
    present = true;
    std::string_view v = h.value;
    for (;;) {
      const auto comma = v.find(',');
      const std::string_view item = trim(v.substr(0, comma));
      if (!item.empty()) last = item;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return last;
}

}  // namespace

Errc request_body_framing(const std::vector<Header>& headers, BodyFraming& out) {
  bool te = false, cl = false;
  std::uint64_t n = 0;
  const std::string_view coding = last_coding(headers, te);
  if (const Errc e = content_length(headers, cl, n); e != Errc::ok) return e;
  if (te) {
    if (cl || !iequals(coding, "chunked")) return Errc::bad_transfer_encoding;
    out = {BodyFraming::Kind::Chunked, 0};
  } else if (cl && n > 0) {
    out = {BodyFraming::Kind::Length, n};
  } else {
    out = {BodyFraming::Kind::None, 0};
  }
  return Errc::ok;
}

Errc response_body_framing(const std::vector<Header>& headers, int status, std::string_view request_method,
                           BodyFraming& out) {
  if (request_method == "HEAD" || (status >= 100 && status < 200) || status == 204 || status == 304) {
    out = {BodyFraming::Kind::None, 0};
    return Errc::ok;
  }
  bool te = false, cl = false;
  std::uint64_t n = 0;
  const std::string_view coding = last_coding(headers, te);
  if (te) {
    out = {iequals(coding, "chunked") ? BodyFraming::Kind::Chunked : BodyFraming::Kind::UntilClose, 0};
    return Errc::ok;
  }
  if (const Errc e = content_length(headers, cl, n); e != Errc::ok) return e;
  if (cl) {
    out = n > 0 ? BodyFraming{BodyFraming::Kind::Length, n} : BodyFraming{BodyFraming::Kind::None, 0};
  } else {
    out = {BodyFraming::Kind::UntilClose, 0};
  }
  return Errc::ok;
}

BodyTracker::BodyTracker(BodyFraming framing) : framing_(framing) {
  if (framing_.kind == BodyFraming::Kind::None) status_ = Status::Done;
  if (framing_.kind == BodyFraming::Kind::Length) left_ = framing_.length;
}

bool BodyTracker::finish_at_eof() const {
  return status_ == Status::Done || framing_.kind == BodyFraming::Kind::UntilClose;
}

BodyTracker::Step BodyTracker::put(ByteView in) {
  if (status_ != Status::NeedMore) {
    return {status_, 0, status_ == Status::Error ? Errc::bad_chunk : Errc::ok};
  }
  switch (framing_.kind) {
    case BodyFraming::Kind::UntilClose: return {status_, in.size(), Errc::ok};
    case BodyFraming::Kind::Length: {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size()));
      left_ -= take;
      if (left_ == 0) status_ = Status::Done;
      return {status_, take, Errc::ok};
    }
    case BodyFraming::Kind::Chunked: return put_chunked(in);
    case BodyFraming::Kind::None: break;
  }
  return {status_, 0, Errc::ok};
}

// chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1); a bare LF is accepted
// where CRLF is expected.
BodyTracker::Step BodyTracker::put_chunked(ByteView in) {
  std::size_t i = 0;
  auto fail = [&] {
    status_ = Status::Error;
    return Step{status_, i, Errc::bad_chunk};
  };
  while (i < in.size()) {
    if (chunk_ == Chunk::Data) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size() - i));
      i += take;
      left_ -= take;
      if (left_ == 0) chunk_ = Chunk::DataCr;
      continue;
    }
    const char c = static_cast<char>(in[i++]);
    switch (chunk_) {
      case Chunk::Size:
        if (const int d = hex_value(c); d >= 0) {
          if (++size_digits_ > kMaxSizeDigits) return fail();
          left_ = left_ * 16 + static_cast<unsigned>(d);
        } else if (size_digits_ == 0) {
          return fail();
        } else if (c == ';' || c == ' ' || c == '\t') {
          chunk_ = Chunk::Ext;
          line_len_ = 0;
        } else if (c == '\r') {
          chunk_ = Chunk::SizeLf;
        } else if (c == '\n') {
          chunk_ = left_ > 0 ? Chunk::Data : Chunk::TrailerStart;
        } else {
          return fail();
        }
        break;
      case Chunk::Ext:
        if (c == '\r') {
          chunk_ = Chunk::SizeLf;
        } else if (c == '\n') {
          chunk_ = left_ > 0 ? Chunk::Data : Chunk::TrailerStart;
        } else if (++line_len_ > kMaxChunkLine || c == '\0') {
          return fail();
        }
        break;
      case Chunk::SizeLf:
        if (c != '\n') return fail();
        chunk_ = left_ > 0 ? Chunk::Data : Chunk::TrailerStart;
        break;
      case Chunk::DataCr:
        if (c == '\n') {
          chunk_ = Chunk::Size;
          size_digits_ = 0;
        } else if (c == '\r') {
          chunk_ = Chunk::DataLf;
        } else {
          return fail();
        }
        break;
      case Chunk::DataLf:
        if (c != '\n') return fail();
        chunk_ = Chunk::Size;
        size_digits_ = 0;
        break;
      case Chunk::TrailerStart:  // at the start of a trailer line or the final empty line
        if (c == '\n') {
          status_ = Status::Done;
          return {status_, i, Errc::ok};
        }
        chunk_ = c == '\r' ? Chunk::LastLf : Chunk::TrailerLine;
        line_len_ = 1;
        break;
      case Chunk::TrailerLine:
        if (c == '\n') {
          chunk_ = Chunk::TrailerStart;
        } else if (++line_len_ > kMaxChunkLine) {
          return fail();
        }
        break;
      case Chunk::LastLf:
        if (c != '\n') return fail();
        status_ = Status::Done;
        return {status_, i, Errc::ok};
      case Chunk::Data: break;
    }
  }
  return {status_, i, Errc::ok};
}

}  // namespace paniq::http
