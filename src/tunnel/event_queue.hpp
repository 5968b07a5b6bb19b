// A FIFO of small event records that reuses its storage (no allocation once it has grown to
// the largest backlog; std::deque allocates a block every few events).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace paniq::tunnel {

template <class T>
class EventQueue {
 public:
  void push(const T& e) { items_.push_back(e); }
  std::optional<T> pop() {
    if (head_ == items_.size()) return std::nullopt;
    T e = items_[head_++];
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return e;
  }
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  // The queued events, oldest first (for in-place edits such as cancelling one).
  typename std::vector<T>::iterator begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  typename std::vector<T>::iterator end() { return items_.end(); }
  void erase(typename std::vector<T>::iterator it) { items_.erase(it); }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace paniq::tunnel
