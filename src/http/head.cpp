#include "http/head.hpp"

#include <algorithm>

namespace paniq::http {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

const std::string* find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

bool has_token(const std::vector<Header>& headers, std::string_view name, std::string_view token) {
  for (const Header& h : headers) {
    if (!iequals(h.name, name)) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      const auto comma = v.find(',');
      if (iequals(trim(v.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

HeadReader::HeadReader(HeadLimits limits, Errc start_line_error)
    : limits_(limits), start_line_error_(start_line_error) {}

void HeadReader::reset() {
  status_ = Status::NeedMore;
  error_ = Errc::ok;
  total_ = 0;
  line_.clear();
  have_start_ = false;
  start_line_.clear();
  headers_.clear();
}

HeadReader::Step HeadReader::put(ByteView in) {
  if (status_ != Status::NeedMore) return {status_, 0, error_};
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = static_cast<char>(in[i++]);
    if (++total_ > limits_.max_head) {
      status_ = Status::Error;
      error_ = Errc::head_too_large;
      return {status_, i, error_};
    }
    if (c == '\n') {
      error_ = end_line();
      if (error_ != Errc::ok) {
        status_ = Status::Error;
        return {status_, i, error_};
      }
      if (status_ == Status::Done) return {status_, i, Errc::ok};
      continue;
    }
    line_.push_back(c);
    if (!have_start_ && start_line_error_ == Errc::uri_too_long) {
      if (const Errc e = check_request_line_byte(); e != Errc::ok) {
        status_ = Status::Error;
        error_ = e;
        return {status_, i, error_};
      }
    }
    // +1: a CR that will turn out to end the line is not counted against max_line.
    if (line_.size() > limits_.max_line + 1) {
      status_ = Status::Error;
      error_ = have_start_ ? Errc::line_too_long : start_line_error_;
      return {status_, i, error_};
    }
  }
  return {status_, i, Errc::ok};
}

Errc HeadReader::check_request_line_byte() const {
  const auto c = static_cast<unsigned char>(line_.back());
  if (line_.size() >= 2 && line_[line_.size() - 2] == '\r') return Errc::bad_request_line;  // CR not before LF
  if (c == '\r') return Errc::ok;
  // request-line = method SP request-target SP HTTP-version: visible ASCII and SP only.
  if (c < 0x20 || c > 0x7e) return Errc::bad_request_line;
  const auto sp = line_.find(' ');
  if (sp == line_.size() - 1) return sp == 0 ? Errc::bad_request_line : Errc::ok;  // empty method
  if (sp == std::string::npos && !is_tchar(static_cast<char>(c))) return Errc::bad_method;
  return Errc::ok;
}

Errc HeadReader::end_line() {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > limits_.max_line) return have_start_ ? Errc::line_too_long : start_line_error_;
  if (line.find('\r') != std::string_view::npos || line.find('\0') != std::string_view::npos) {
    return have_start_                               ? Errc::bad_header
           : start_line_error_ == Errc::uri_too_long ? Errc::bad_request_line
                                                     : Errc::bad_status_line;
  }
  Errc result = Errc::ok;
  if (!have_start_) {
    if (!line.empty()) {  // empty lines before the start line are skipped
      have_start_ = true;
      start_line_ = line;
    }
  } else if (line.empty()) {
    status_ = Status::Done;
  } else if (headers_.size() >= limits_.max_headers) {
    result = Errc::too_many_headers;
  } else {
    const auto colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
      result = Errc::bad_header;  // also obs-fold and "Name :" (RFC 9112 5.1, 5.2)
    } else {
      headers_.push_back(Header{std::string(name), std::string(trim(line.substr(colon + 1)))});
    }
  }
  line_.clear();
  return result;
}

}  // namespace paniq::http
