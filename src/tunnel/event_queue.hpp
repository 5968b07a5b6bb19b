// A FIFO of small event records that reuses its storage (no allocation once it has grown to
// the largest backlog; std::deque allocates a block every few events). Storage grown past
// kKeep events by a burst is freed once the queue has drained, so that a burst of thousands
// of stream events leaves nothing behind; a queue that never holds more keeps its storage.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace paniq::tunnel {

template <class T>
class EventQueue {
 public:
  static constexpr std::size_t kKeep = 64;

  void push(const T& e) { items_.push_back(e); }
  std::optional<T> pop() {
    if (head_ == items_.size()) return std::nullopt;
    T e = items_[head_++];
    if (head_ == items_.size()) {
      if (items_.capacity() > kKeep) {
        std::vector<T>().swap(items_);
      } else {
        items_.clear();
      }
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return e;
  }
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  std::size_t capacity() const { return items_.capacity(); }
  // The queued events, oldest first (for in-place edits such as cancelling one).
  typename std::vector<T>::iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  typename std::vector<T>::iterator end() { return items_.end(); }
  void erase(typename std::vector<T>::iterator it) { items_.erase(it); }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace paniq::tunnel
