// A small sorted set of disjoint half-open sequence ranges [begin, end), merged on insert. The
// receiver's out-of-order queue and the sender's SACK scoreboard are both built on it.
//
// Bounded: at most `capacity` ranges, stored in one array allocated on the first insert (an idle
// connection pays for a pointer), never reallocated, so nothing is allocated per segment. A range
// that would need a slot beyond the capacity is refused (insert returns false); merging into
// existing ranges always works. Each range carries a stamp of its last growth, so the receiver can
// report the most recently changed ranges first (RFC 2018 §4).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "synack/tcp/seq.hpp"

namespace synack::tcp {

struct seq_range {
  seq begin;
  seq end;
  std::uint32_t stamp = 0;  // insert counter when this range last grew
  std::uint32_t size() const { return static_cast<std::uint32_t>(end - begin); }
};

class range_set {
public:
  explicit range_set(std::size_t capacity)
      : cap_(static_cast<std::uint32_t>(std::min<std::size_t>(capacity, std::uint32_t{0xffffffff}))) {}

  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  bool full() const { return n_ == cap_; }
  std::size_t capacity() const { return cap_; }
  const seq_range& operator[](std::size_t i) const { return r_[i]; }
  const seq_range* begin() const { return r_.get(); }
  const seq_range* end() const { return r_.get() + n_; }

  // Add [b, e), merging with ranges it overlaps or touches. Returns the number of sequence
  // numbers that were not in the set before (0 when refused for lack of a slot, or if covered).
  std::uint32_t insert(seq b, seq e);
  // Forget everything below `s` (ranges are cut at s).
  void erase_below(seq s);
  void clear() { n_ = 0; }
  // Is `s` inside one of the ranges?
  bool contains(seq s) const;
  // The range containing s, or the first range starting after s; nullptr if none.
  const seq_range* at_or_after(seq s) const;
  // Total of range sizes within [b, e).
  std::uint32_t covered(seq b, seq e) const;

private:
  std::unique_ptr<seq_range[]> r_;
  std::uint32_t cap_;  // 32-bit counts: an idle set costs 24 bytes
  std::uint32_t n_ = 0;
  std::uint32_t stamp_ = 0;
};

}  // namespace synack::tcp
