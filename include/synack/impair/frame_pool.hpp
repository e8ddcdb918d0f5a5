// Fixed-size frame buffers in one allocation, handed out by index: the model's only storage for
// held frames, so memory is bounded and steady state allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace synack::impair {

class frame_pool {
 public:
  using id = std::uint32_t;

  frame_pool(std::size_t count, std::size_t buffer_size)
      : buffer_size_(buffer_size), storage_(count * buffer_size), length_(count, 0) {
    free_.reserve(count);
    for (std::size_t i = count; i-- > 0;) free_.push_back(static_cast<id>(i));
  }

  std::optional<id> acquire() noexcept {
    if (free_.empty()) return std::nullopt;
    id i = free_.back();
    free_.pop_back();
    return i;
  }
  void release(id i) noexcept { free_.push_back(i); }

  // The whole buffer, to fill; set_length() records how much of it is the frame.
  std::span<std::byte> buffer(id i) noexcept { return {storage_.data() + std::size_t{i} * buffer_size_, buffer_size_}; }
  void set_length(id i, std::size_t n) noexcept { length_[i] = n; }
  std::span<std::byte> frame(id i) noexcept { return buffer(i).first(length_[i]); }

  std::size_t capacity() const noexcept { return length_.size(); }
  std::size_t available() const noexcept { return free_.size(); }
  std::size_t buffer_size() const noexcept { return buffer_size_; }

 private:
  std::size_t buffer_size_;
  std::vector<std::byte> storage_;
  std::vector<std::size_t> length_;
  std::vector<id> free_;
};

}  // namespace synack::impair
