#include <algorithm>
#include <cstring>

#include "tunnel/link.hpp"

namespace paniq::tunnel {

std::uint8_t* DatagramQueue::reserve(std::size_t max_len) {
  if (len_ + max_len > buf_.size() && head_ > 0) {
    // Move the datagrams still queued to the front before growing.
    const std::size_t shift = first_offset();
    std::memmove(buf_.data(), buf_.data() + shift, len_ - shift);
    len_ -= shift;
    spans_.erase(spans_.begin(), spans_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
    for (auto& s : spans_) s.first -= shift;
  }
  if (len_ + max_len > buf_.size()) {
    buf_.resize(std::max({len_ + max_len, buf_.size() * 2, std::size_t{16} << 10}));
  }
  return buf_.data() + len_;
}

void DatagramQueue::commit(std::size_t len) {
  spans_.emplace_back(len_, len);
  len_ += len;
}

std::span<const ByteView> DatagramQueue::views() {
  views_.clear();
  for (std::size_t i = head_; i < spans_.size(); ++i) {
    views_.emplace_back(buf_.data() + spans_[i].first, spans_[i].second);
  }
  return views_;
}

void DatagramQueue::consume(std::size_t n) {
  head_ += std::min(n, count());
  if (head_ == spans_.size()) {
    spans_.clear();
    head_ = 0;
    len_ = 0;
  }
}

void DatagramQueue::shrink() {
  if (count() == 0 && buf_.size() > kKeepBytes) Bytes().swap(buf_);
}

}  // namespace paniq::tunnel
