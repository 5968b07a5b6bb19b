#include "mux/buffer.hpp"

#include <algorithm>
#include <cstring>

namespace paniq::mux {

ChunkPool::~ChunkPool() {
  while (free_ != nullptr) delete std::exchange(free_, free_->next);
}

Chunk* ChunkPool::get() {
  Chunk* c = free_;
  if (c != nullptr) {
    free_ = c->next;
    --free_count_;
  } else {
    c = new Chunk;
  }
  c->next = nullptr;
  c->begin = c->end = 0;
  ++in_use_;
  return c;
}

void ChunkPool::put(Chunk* c) {
  --in_use_;
  if (free_count_ >= keep_free_) {
    delete c;
    return;
  }
  c->next = free_;
  free_ = c;
  ++free_count_;
}

void ChunkQueue::append(ByteView data) {
  while (!data.empty()) {
    if (tail_ == nullptr || tail_->end == kChunkSize) {
      Chunk* c = pool_->get();
      if (tail_ == nullptr) {
        head_ = c;
      } else {
        tail_->next = c;
      }
      tail_ = c;
    }
    const std::size_t n = std::min(data.size(), kChunkSize - tail_->end);
    std::memcpy(tail_->data + tail_->end, data.data(), n);
    tail_->end += static_cast<std::uint32_t>(n);
    size_ += n;
    data = data.subspan(n);
  }
}

std::size_t ChunkQueue::read(MutByteView out) {
  std::size_t done = 0;
  while (done < out.size() && head_ != nullptr) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, head_->end - head_->begin);
    std::memcpy(out.data() + done, head_->data + head_->begin, n);
    head_->begin += static_cast<std::uint32_t>(n);
    done += n;
    if (head_->begin == head_->end) {
      Chunk* used = head_;
      head_ = used->next;
      if (head_ == nullptr) tail_ = nullptr;
      pool_->put(used);
    }
  }
  size_ -= done;
  return done;
}

void ChunkQueue::clear() {
  while (head_ != nullptr) pool_->put(std::exchange(head_, head_->next));
  tail_ = nullptr;
  size_ = 0;
}

std::uint8_t* OutBuffer::extend(std::size_t n) {
  if (tail_ + n > cap_ && head_ > 0) {  // slide the unsent bytes to the front
    std::memmove(buf_.get(), buf_.get() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  if (tail_ + n > cap_) {
    const std::size_t cap = std::max(cap_ * 2, tail_ + n);
    auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(cap);
    std::memcpy(bigger.get(), buf_.get(), tail_);
    buf_ = std::move(bigger);
    cap_ = cap;
  }
  std::uint8_t* p = buf_.get() + tail_;
  tail_ += n;
  return p;
}

void OutBuffer::consume(std::size_t n) {
  head_ += std::min(n, size());
  if (head_ == tail_) head_ = tail_ = 0;
}

}  // namespace paniq::mux
