// A fixed-capacity FIFO of bytes, used for the send and receive buffers. The storage is allocated
// once, on the first write, and never grows: a connection's memory is bounded by its config. It is
// not zeroed, so its pages are only touched (and resident) as far as data has passed through.
//
// The receive side also keeps out-of-order bytes in the free space past the end (write_at), and
// later takes them into the FIFO with commit(): a byte's position depends only on its distance
// from the end, so the front never jumps back when the ring empties.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <memory>
#include <span>

namespace synack::tcp {

class byte_ring {
public:
  // Capacities are below 4 GiB (the connection's buffers at most 1 GiB): the positions are kept
  // in 32 bits, so a ring costs 24 bytes until its storage is allocated.
  explicit byte_ring(std::size_t capacity)
      : cap_(static_cast<std::uint32_t>(std::min<std::size_t>(capacity, std::uint32_t{0xffffffff}))) {}

  std::size_t capacity() const { return cap_; }
  std::size_t size() const { return size_; }
  std::size_t free() const { return cap_ - size_; }
  bool empty() const { return size_ == 0; }

  // Append as much of `data` as fits; returns the count appended.
  std::size_t write(std::span<const std::byte> data) {
    const std::size_t n = std::min(data.size(), free());
    if (n == 0) return 0;
    allocate();
    const std::size_t tail = (head_ + size_) % cap_;
    const std::size_t first = std::min(n, cap_ - tail);
    std::memcpy(buf_.get() + tail, data.data(), first);
    std::memcpy(buf_.get(), data.data() + first, n - first);
    size_ = static_cast<std::uint32_t>(size_ + n);
    return n;
  }

  // Store bytes `offset` bytes past the end without taking them into the FIFO (out-of-order data);
  // returns how many fit. They become part of the FIFO through commit().
  std::size_t write_at(std::size_t offset, std::span<const std::byte> data) {
    if (offset >= free()) return 0;
    const std::size_t n = std::min(data.size(), free() - offset);
    if (n == 0) return 0;
    allocate();
    const std::size_t at = (head_ + size_ + offset) % cap_;
    const std::size_t first = std::min(n, cap_ - at);
    std::memcpy(buf_.get() + at, data.data(), first);
    std::memcpy(buf_.get(), data.data() + first, n - first);
    return n;
  }

  // Take `n` bytes already stored past the end (write_at) into the FIFO.
  void commit(std::size_t n) { size_ = static_cast<std::uint32_t>(size_ + std::min(n, free())); }

  // The longest contiguous run of at most `max` bytes starting `offset` bytes past the front.
  // Shorter than `max` where the ring wraps.
  std::span<const std::byte> peek(std::size_t offset, std::size_t max) const {
    if (offset >= size_) return {};
    const std::size_t start = (head_ + offset) % cap_;
    const std::size_t n = std::min({max, size_ - offset, std::size_t{cap_} - start});
    return {buf_.get() + start, n};
  }

  // Drop `n` bytes from the front.
  void consume(std::size_t n) {
    n = std::min<std::size_t>(n, size_);
    if (cap_ != 0) head_ = static_cast<std::uint32_t>((head_ + n) % cap_);
    size_ = static_cast<std::uint32_t>(size_ - n);
  }

  // Copy from the front into `out` and drop what was copied.
  std::size_t read(std::span<std::byte> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      const auto part = peek(0, out.size() - done);
      if (part.empty()) break;
      std::memcpy(out.data() + done, part.data(), part.size());
      consume(part.size());
      done += part.size();
    }
    return done;
  }

  void clear() { head_ = size_ = 0; }
  // Empties the ring and gives its memory back (it is allocated again on the next write).
  void release() {
    buf_.reset();
    head_ = size_ = 0;
  }

  bool allocated() const { return buf_ != nullptr; }

private:
  void allocate() {
    if (!buf_) buf_ = std::make_unique_for_overwrite<std::byte[]>(cap_);
  }

  std::unique_ptr<std::byte[]> buf_;
  std::uint32_t cap_;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

// A fixed-capacity FIFO of small values (the event queue). Never allocates.
template <class T, std::size_t N>
class bounded_queue {
public:
  bool push(const T& v) {
    if (size_ == N) return false;
    std::size_t at = std::size_t{head_} + size_;  // (no division: N need not be a power of two)
    if (at >= N) at -= N;
    items_[at] = v;
    ++size_;
    return true;
  }
  bool pop(T& out) {
    if (size_ == 0) return false;
    out = items_[head_];
    head_ = head_ + 1 == N ? 0 : static_cast<index>(head_ + 1);
    --size_;
    return true;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

private:
  // Small queues (the connection's events) keep their indices in a byte.
  using index = std::conditional_t<(N < 256), std::uint8_t, std::size_t>;
  std::array<T, N> items_{};
  index head_ = 0;
  index size_ = 0;
};

}  // namespace synack::tcp
