#include "synack/tcp/reassembly.hpp"

#include <algorithm>
#include <array>

namespace synack::tcp {

std::size_t reassembly::insert(byte_ring& ring, seq rcv_nxt, seq start, std::span<const std::byte> data) {
  if (data.empty() || !(rcv_nxt < start)) return 0;
  const std::size_t offset = static_cast<std::uint32_t>(start - rcv_nxt);
  if (offset >= ring.free()) return 0;
  const std::size_t n = std::min(data.size(), ring.free() - offset);
  const seq end = start + static_cast<std::uint32_t>(n);
  // A range with no slot left is refused before its bytes are written. (Writing them anyway would
  // be harmless: bytes past the ring's end mean nothing until a range says they are there.)
  if (ranges_.full() && ranges_.covered(start, end) == 0) {
    bool touches = false;
    for (const auto& r : ranges_)
      if (!(r.end < start) && !(end < r.begin)) touches = true;
    if (!touches) return 0;
  }
  ring.write_at(offset, data.first(n));
  ranges_.insert(start, end);
  return n;
}

std::uint32_t reassembly::take_contiguous(seq rcv_nxt) {
  seq nxt = rcv_nxt;
  while (!ranges_.empty() && ranges_[0].begin <= nxt) {
    if (nxt < ranges_[0].end) nxt = ranges_[0].end;
    ranges_.erase_below(ranges_[0].end);
  }
  ranges_.erase_below(nxt);
  return static_cast<std::uint32_t>(nxt - rcv_nxt);
}

std::size_t reassembly::sack_blocks(std::span<wire::sack_block> out) const {
  // Selection by stamp, newest first: at most 32 ranges and 4 blocks, so a few passes are cheap.
  std::size_t count = 0;
  std::array<bool, max_ranges> used{};
  while (count < out.size()) {
    std::size_t best = ranges_.size();
    for (std::size_t i = 0; i < ranges_.size(); ++i)
      if (!used[i] && (best == ranges_.size() || ranges_[best].stamp < ranges_[i].stamp)) best = i;
    if (best == ranges_.size()) break;
    used[best] = true;
    out[count++] = {ranges_[best].begin.value(), ranges_[best].end.value()};
  }
  return count;
}

}  // namespace synack::tcp
