#include "synack/tcp/sack_scoreboard.hpp"

#include <algorithm>

namespace synack::tcp {

std::uint32_t sack_scoreboard::update(seq snd_una, seq snd_max, std::span<const wire::sack_block> blocks) {
  std::uint32_t added = 0;
  for (const auto& b : blocks) {
    seq left{b.left};
    seq right{b.right};
    if (!(left < right) || right - left > (std::int32_t{1} << 30)) continue;  // malformed
    left = std::max(left, snd_una);
    right = std::min(right, snd_max);
    if (left < right) added += sacked_.insert(left, right);
  }
  return added;
}

std::uint32_t sack_scoreboard::sacked_bytes() const {
  std::uint32_t total = 0;
  for (const auto& r : sacked_) total += r.size();
  return total;
}

seq sack_scoreboard::lost_boundary(seq snd_una, std::uint32_t smss) const {
  // Walk down from the highest range: the first range whose start has enough SACKed above it.
  std::uint32_t bytes = 0;
  std::uint32_t count = 0;
  for (std::size_t i = sacked_.size(); i-- > 0;) {
    bytes += sacked_[i].size();
    ++count;
    if (bytes > (dup_thresh - 1) * smss || count >= dup_thresh) return std::max(sacked_[i].begin, snd_una);
  }
  return snd_una;
}

std::uint32_t sack_scoreboard::pipe(seq snd_una, seq snd_max, seq high_rxt, std::uint32_t smss) const {
  if (!(snd_una < snd_max)) return 0;
  const auto unsacked = [&](seq b, seq e) -> std::uint32_t {
    if (!(b < e)) return 0;
    return static_cast<std::uint32_t>(e - b) - sacked_.covered(b, e);
  };
  const seq lost = std::min(lost_boundary(snd_una, smss), snd_max);
  const seq rxt = std::clamp(high_rxt, snd_una, snd_max);
  return unsacked(snd_una, snd_max) - unsacked(snd_una, lost) + unsacked(snd_una, rxt);
}

std::optional<seq> sack_scoreboard::next_lost(seq from, seq snd_una, std::uint32_t smss) const {
  const seq lost = lost_boundary(snd_una, smss);
  const seq s = skip_sacked(std::max(from, snd_una));
  if (s < lost) return s;
  return std::nullopt;
}

seq sack_scoreboard::hole_end(seq s, seq limit) const {
  if (const seq_range* r = sacked_.at_or_after(s); r && r->begin < limit && s < r->begin) return r->begin;
  return limit;
}

seq sack_scoreboard::skip_sacked(seq s) const {
  for (const auto& r : sacked_)
    if (in_range_half_open(r.begin, s, r.end)) return r.end;
  return s;
}

}  // namespace synack::tcp
