#include "synack/impair/timer_wheel.hpp"

#include <bit>
#include <stdexcept>

namespace synack::impair {

timer_wheel::timer_wheel(std::size_t capacity, unsigned tick_shift, unsigned slot_bits)
    : tick_shift_(tick_shift),
      mask_((std::size_t{1} << slot_bits) - 1),
      head_(std::size_t{1} << slot_bits, none),
      tail_(std::size_t{1} << slot_bits, none),
      occupied_(std::max<std::size_t>((std::size_t{1} << slot_bits) / 64, 1), 0),
      next_(capacity, none),
      due_(capacity),
      at_(capacity, 0) {
  if (slot_bits < 6 || slot_bits > 24 || tick_shift > 40 || capacity >= none)
    throw std::invalid_argument("timer_wheel: slot_bits must be 6..24, tick_shift <= 40");
}

void timer_wheel::append(std::size_t slot, id i) {
  next_[i] = none;
  if (tail_[slot] == none) {
    head_[slot] = i;
  } else {
    next_[tail_[slot]] = i;
  }
  tail_[slot] = i;
  occupied_[slot / 64] |= std::uint64_t{1} << (slot % 64);
}

void timer_wheel::insert(id i, instant due) {
  std::int64_t tick = std::max(tick_of(due), cursor_);
  due_[i] = due;
  at_[i] = tick;
  append(slot_of(tick), i);
  ++size_;
}

std::optional<instant> timer_wheel::next_deadline() const {
  if (size_ == 0) return std::nullopt;
  const std::size_t slots = mask_ + 1;
  const std::int64_t horizon = cursor_ + static_cast<std::int64_t>(slots);
  // Occupied slots in tick order from the cursor, one revolution: the first one holding an id of
  // this revolution holds the earliest (ids of one tick are all earlier than any later tick's).
  std::size_t start = slot_of(cursor_);
  for (std::size_t k = 0; k < slots;) {
    std::size_t s = (start + k) & mask_;
    std::uint64_t word = occupied_[s / 64] >> (s % 64);
    if (word == 0) {
      k += 64 - s % 64;
      continue;
    }
    std::size_t skip = static_cast<std::size_t>(std::countr_zero(word));
    k += skip;
    if (k >= slots) break;
    s = (start + k) & mask_;
    std::optional<instant> best;
    for (id cur = head_[s]; cur != none; cur = next_[cur])
      if (at_[cur] < horizon && (!best || due_[cur] < *best)) best = due_[cur];
    if (best) return best;
    ++k;
  }
  // Everything is more than a revolution away: look at every id.
  std::optional<instant> best;
  for (std::size_t s = 0; s < slots; ++s)
    for (id cur = head_[s]; cur != none; cur = next_[cur])
      if (!best || due_[cur] < *best) best = due_[cur];
  return best;
}

}  // namespace synack::impair
