#include "synack/engine/timer_wheel.hpp"

#include <algorithm>
#include <bit>

namespace synack::engine {

timer_wheel::timer_wheel(tcp::instant start) : cursor_(tick_of(start)) {}

timer_wheel::~timer_wheel() {
  for (auto& v : slots_)
    for (wheel_hook* h : v) {
      h->wheel = nullptr;
      h->deadline.reset();
    }
}

wheel_hook::~wheel_hook() {
  if (wheel && deadline) wheel->cancel(*this);
}

void timer_wheel::set_occupied(std::size_t s, bool on) {
  const std::uint64_t bit = std::uint64_t{1} << (s % 64);
  if (on)
    occupied_[s / 64] |= bit;
  else
    occupied_[s / 64] &= ~bit;
}

void timer_wheel::insert(wheel_hook& h) {
  // A deadline already past goes into the cursor's slot: the next expire() visits it.
  const std::int64_t t = std::max(tick_of(*h.deadline), cursor_);
  const auto s = static_cast<std::size_t>(t) & (slot_count - 1);
  auto& v = slots_[s];
  h.slot = static_cast<std::uint32_t>(s);
  h.index = static_cast<std::uint32_t>(v.size());
  h.wheel = this;
  v.push_back(&h);
  set_occupied(s, true);
  ++size_;
}

void timer_wheel::remove(wheel_hook& h) {
  auto& v = slots_[h.slot];
  wheel_hook* last = v.back();
  v[h.index] = last;
  last->index = h.index;
  v.pop_back();
  if (v.empty()) set_occupied(h.slot, false);
  h.deadline.reset();
  h.wheel = nullptr;
  --size_;
}

void timer_wheel::schedule(wheel_hook& h, std::optional<tcp::instant> at) {
  if (h.deadline) {
    if (at && tick_of(*at) == tick_of(*h.deadline) && tick_of(*at) >= cursor_) {
      h.deadline = at;  // same slot: no move
      return;
    }
    remove(h);
  }
  if (!at) return;
  h.deadline = at;
  insert(h);
}

void timer_wheel::expire(tcp::instant now, std::vector<wheel_hook*>& due) {
  if (size_ == 0) {
    cursor_ = std::max(cursor_, tick_of(now));
    return;
  }
  const std::int64_t target = tick_of(now);
  if (target < cursor_) return;
  // Every tick from the cursor to `target`, but each slot at most once.
  const std::int64_t span = std::min<std::int64_t>(target - cursor_ + 1, static_cast<std::int64_t>(slot_count));
  for (std::int64_t i = 0; i < span; ++i) {
    const auto s = static_cast<std::size_t>(cursor_ + i) & (slot_count - 1);
    auto& v = slots_[s];
    for (std::size_t k = 0; k < v.size();) {
      wheel_hook* h = v[k];
      if (*h->deadline <= now) {
        remove(*h);  // swaps the last one into k: look at k again
        due.push_back(h);
      } else {
        ++k;
      }
    }
  }
  cursor_ = target;
}

std::optional<tcp::instant> timer_wheel::next_deadline() const {
  if (size_ == 0) return std::nullopt;
  for (std::size_t i = 0; i < slot_count;) {
    const std::size_t s = static_cast<std::size_t>(cursor_ + static_cast<std::int64_t>(i)) & (slot_count - 1);
    const std::uint64_t word = occupied_[s / 64] >> (s % 64);
    if (word == 0) {
      i += 64 - s % 64;
      continue;
    }
    const auto skip = static_cast<std::size_t>(std::countr_zero(word));
    if (skip > 0) {
      i += skip;
      continue;
    }
    const std::int64_t t = cursor_ + static_cast<std::int64_t>(i);
    std::optional<tcp::instant> best;
    for (const wheel_hook* h : slots_[s])
      if (!best || *h->deadline < *best) best = h->deadline;
    if (best && tick_of(*best) <= t) return best;  // due in this revolution (or already)
    ++i;
  }
  // Everything armed lies beyond this revolution: wake when the next one starts.
  return tcp::instant{(cursor_ + static_cast<std::int64_t>(slot_count)) * tick};
}

}  // namespace synack::engine
