// A FIFO of bytes with a capacity limit, used for the send and receive buffers. Its storage costs
// what it holds, not what it may hold (issue 16): it is allocated on the first write, grows by
// doubling (a power of two, at least 2 KiB) as the bytes held grow, and is given back by trim()
// when the connection has drained it. The capacity is only a limit (the receive window, the send
// buffer's room): it can be raised while bytes are held (set_capacity, for autotuning) without
// touching the storage. A trimmed ring remembers the size it had, so the next burst of data
// allocates that size at once instead of doubling (and copying) its way up again.
//
// The receive side also keeps out-of-order bytes in the free space past the end (write_at), and
// later takes them into the FIFO with commit(): a byte's position depends only on its distance
// from the front, and growth copies the whole old storage (out-of-order bytes included).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
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
  // in 32 bits, so a ring costs 24 bytes until (and beside) its storage.
  explicit byte_ring(std::size_t capacity) : cap_(clamp(capacity)) {}

  static constexpr unsigned min_shift = 11;  // the smallest storage: 2 KiB

  std::size_t capacity() const { return cap_; }
  std::size_t size() const { return size_; }
  std::size_t free() const { return cap_ > size_ ? cap_ - size_ : 0; }
  bool empty() const { return size_ == 0; }
  // Bytes of storage held now (0 until the first write and after trim(0)).
  std::size_t memory() const { return buf_ ? storage() : 0; }
  bool allocated() const { return buf_ != nullptr; }

  // A new limit (never below what is held). The storage is not touched.
  void set_capacity(std::size_t capacity) { cap_ = std::max(clamp(capacity), size_); }

  // Append as much of `data` as fits; returns the count appended.
  std::size_t write(std::span<const std::byte> data) {
    const std::size_t n = std::min(data.size(), free());
    if (n == 0) return 0;
    reserve(std::size_t{size_} + n);
    put(size_, data.first(n));
    size_ = static_cast<std::uint32_t>(size_ + n);
    return n;
  }

  // Store bytes `offset` bytes past the end without taking them into the FIFO (out-of-order data);
  // returns how many fit. They become part of the FIFO through commit().
  std::size_t write_at(std::size_t offset, std::span<const std::byte> data) {
    if (offset >= free()) return 0;
    const std::size_t n = std::min(data.size(), free() - offset);
    if (n == 0) return 0;
    reserve(std::size_t{size_} + offset + n);
    put(size_ + offset, data.first(n));
    return n;
  }

  // Take `n` bytes already stored past the end (write_at) into the FIFO.
  void commit(std::size_t n) { size_ = static_cast<std::uint32_t>(size_ + std::min(n, free())); }

  // The longest contiguous run of at most `max` bytes starting `offset` bytes past the front.
  // Shorter than `max` where the storage wraps.
  std::span<const std::byte> peek(std::size_t offset, std::size_t max) const {
    if (offset >= size_) return {};
    const std::size_t start = (head_ + offset) & (storage() - 1);
    const std::size_t n = std::min({max, size_ - offset, storage() - start});
    return {buf_.get() + start, n};
  }

  // Drop `n` bytes from the front.
  void consume(std::size_t n) {
    n = std::min<std::size_t>(n, size_);
    if (buf_) head_ = static_cast<std::uint32_t>((head_ + n) & (storage() - 1));
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

  // Give storage back once the bytes that must stay (`keep` from the front: the FIFO, plus any
  // out-of-order bytes past it, which only the caller knows of) need much less: all of it when
  // keep is 0, half or less when they fill at most an eighth (the hysteresis keeps a ring that
  // fills and drains from copying back and forth).
  void trim(std::size_t keep) {
    if (!buf_) return;
    keep = std::max<std::size_t>(keep, size_);
    if (keep == 0) {
      hint_ = shift_;
      buf_.reset();
      head_ = 0;
      return;
    }
    if (shift_ <= min_shift || keep > storage() / 8) return;
    relocate(std::max(min_shift, static_cast<unsigned>(std::bit_width(2 * keep - 1))), keep);
    hint_ = shift_;
  }

  // Empty; the storage stays for the next bytes.
  void clear() { head_ = size_ = 0; }
  // Empty, the storage given back and the remembered size forgotten.
  void release() {
    buf_.reset();
    head_ = size_ = 0;
    hint_ = 0;
  }

private:
  static std::uint32_t clamp(std::size_t c) {
    return static_cast<std::uint32_t>(std::min<std::size_t>(c, std::uint32_t{0x80000000}));
  }
  std::size_t storage() const { return std::size_t{1} << shift_; }

  // Storage for `need` bytes from the front: the next power of two (at least the remembered
  // size), keeping every byte of the old storage in place relative to the front.
  void reserve(std::size_t need) {
    if (buf_ && need <= storage()) return;
    unsigned shift = std::max({min_shift, unsigned{hint_}, static_cast<unsigned>(std::bit_width(need - 1))});
    shift = std::min(shift, std::max(min_shift, static_cast<unsigned>(std::bit_width(std::size_t{cap_} - 1))));
    if (buf_) shift = std::max<unsigned>(shift, shift_ + 1u);
    relocate(shift, buf_ ? storage() : 0);
  }

  // New storage of 2^shift bytes holding the first `keep` bytes from the front.
  void relocate(unsigned shift, std::size_t keep) {
    auto fresh = std::make_unique_for_overwrite<std::byte[]>(std::size_t{1} << shift);
    if (buf_ && keep > 0) {
      const std::size_t first = std::min(keep, storage() - head_);
      std::memcpy(fresh.get(), buf_.get() + head_, first);
      std::memcpy(fresh.get() + first, buf_.get(), keep - first);
    }
    buf_ = std::move(fresh);
    shift_ = static_cast<std::uint8_t>(shift);
    head_ = 0;
  }

  // Copy `data` to `pos` bytes past the front (the storage holds it).
  void put(std::size_t pos, std::span<const std::byte> data) {
    const std::size_t at = (head_ + pos) & (storage() - 1);
    const std::size_t first = std::min(data.size(), storage() - at);
    std::memcpy(buf_.get() + at, data.data(), first);
    std::memcpy(buf_.get(), data.data() + first, data.size() - first);
  }

  std::unique_ptr<std::byte[]> buf_;
  std::uint32_t cap_;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
  std::uint8_t shift_ = 0;  // the storage is 2^shift_ bytes (while buf_ is set)
  std::uint8_t hint_ = 0;   // the size it had when last trimmed to nothing (2^hint_; 0: none)
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
