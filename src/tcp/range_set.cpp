#include "synack/tcp/range_set.hpp"

#include <algorithm>

namespace synack::tcp {

std::uint32_t range_set::insert(seq b, seq e) {
  if (!(b < e) || cap_ == 0) return 0;
  // First range whose end reaches b (it overlaps or touches [b, e) or lies after it).
  std::size_t i = 0;
  while (i < n_ && r_[i].end < b) ++i;
  // Ranges i .. j-1 overlap or touch [b, e).
  std::size_t j = i;
  while (j < n_ && r_[j].begin <= e) ++j;
  if (i == j) {  // a new range at i
    if (n_ == cap_) return 0;
    if (!r_) r_ = std::make_unique<seq_range[]>(cap_);
    for (std::size_t k = n_; k > i; --k) r_[k] = r_[k - 1];
    r_[i] = {b, e, ++stamp_};
    ++n_;
    return static_cast<std::uint32_t>(e - b);
  }
  const seq nb = std::min(b, r_[i].begin);
  const seq ne = std::max(e, r_[j - 1].end);
  std::uint32_t before = 0;
  for (std::size_t k = i; k < j; ++k) before += r_[k].size();
  const std::uint32_t added = static_cast<std::uint32_t>(ne - nb) - before;
  // Merge i .. j-1 into i and close the gap.
  r_[i] = {nb, ne, added > 0 ? ++stamp_ : r_[i].stamp};
  const std::size_t removed = j - i - 1;
  for (std::size_t k = i + 1; k + removed < n_; ++k) r_[k] = r_[k + removed];
  n_ = static_cast<std::uint32_t>(n_ - removed);
  return added;
}

void range_set::erase_below(seq s) {
  std::size_t drop = 0;
  while (drop < n_ && r_[drop].end <= s) ++drop;
  if (drop > 0) {
    for (std::size_t k = 0; k + drop < n_; ++k) r_[k] = r_[k + drop];
    n_ = static_cast<std::uint32_t>(n_ - drop);
  }
  if (n_ > 0 && r_[0].begin < s) r_[0].begin = s;
}

bool range_set::contains(seq s) const {
  for (std::size_t i = 0; i < n_; ++i)
    if (in_range_half_open(r_[i].begin, s, r_[i].end)) return true;
  return false;
}

const seq_range* range_set::at_or_after(seq s) const {
  for (std::size_t i = 0; i < n_; ++i)
    if (s < r_[i].end) return &r_[i];
  return nullptr;
}

std::uint32_t range_set::covered(seq b, seq e) const {
  std::uint32_t total = 0;
  for (std::size_t i = 0; i < n_; ++i) {
    const seq lo = std::max(b, r_[i].begin);
    const seq hi = std::min(e, r_[i].end);
    if (lo < hi) total += static_cast<std::uint32_t>(hi - lo);
  }
  return total;
}

}  // namespace synack::tcp
