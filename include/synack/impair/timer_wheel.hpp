// A hashed timer wheel holding small integer ids (the frame pool's buffer indices) until their
// due time. Insert is O(1); pop_due(now) walks the ticks elapsed since the last call and hands out
// every id whose time has come, in tick order and first-in-first-out within a tick; next_deadline()
// finds the earliest due time through a bitmap of occupied slots.
//
// Time is cut into ticks of 2^tick_shift ns (default 16.384 us) and slots = 2^slot_bits of them
// make one revolution (default 8192 slots: 134 ms). An id due further than one revolution ahead
// waits in its slot for the right revolution (it stores its own tick). If the caller falls more
// than a whole revolution behind, pop_due sorts the due ids instead of walking, so the order holds
// however late it is called. An id due in the past is placed in the current tick.
//
// Memory is fixed at construction: three arrays of `capacity` entries plus two of `slots`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "synack/impair/time.hpp"

namespace synack::impair {

class timer_wheel {
 public:
  using id = std::uint32_t;
  static constexpr id none = UINT32_MAX;

  explicit timer_wheel(std::size_t capacity, unsigned tick_shift = 14, unsigned slot_bits = 13);

  // Precondition: id < capacity() and not already held.
  void insert(id i, instant due);

  // Calls f(id, due) for every id due at or before now, in order of due tick (FIFO within one
  // tick); each is removed before f runs. Returns how many.
  template <class F>
  std::size_t pop_due(instant now, F&& f);

  // The earliest due time held, if any (exact, not rounded to a tick).
  std::optional<instant> next_deadline() const;

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return next_.size(); }
  bool empty() const noexcept { return size_ == 0; }

 private:
  std::int64_t tick_of(instant t) const noexcept { return t.time_since_epoch().count() >> tick_shift_; }
  std::size_t slot_of(std::int64_t tick) const noexcept { return static_cast<std::size_t>(tick) & mask_; }
  void append(std::size_t slot, id i);
  // Removes and hands out the ids of one slot that satisfy due(i); keeps the others in order.
  template <class Pred, class F>
  std::size_t take_from_slot(std::size_t slot, Pred&& due, F&& f);
  template <class F>
  std::size_t catch_up(instant now, F&& f);  // more than a revolution behind

  unsigned tick_shift_;
  std::size_t mask_;
  std::vector<id> head_, tail_;        // per slot: FIFO list through next_
  std::vector<std::uint64_t> occupied_;  // bitmap of non-empty slots
  std::vector<id> next_;
  std::vector<instant> due_;
  std::vector<std::int64_t> at_;  // the tick an id is filed under (>= its due tick if that had passed)
  std::int64_t cursor_ = 0;       // every tick before this one has been handed out
  std::size_t size_ = 0;
};

template <class Pred, class F>
std::size_t timer_wheel::take_from_slot(std::size_t slot, Pred&& due, F&& f) {
  std::size_t n = 0;
  id prev = none;
  id cur = head_[slot];
  while (cur != none) {
    id nxt = next_[cur];
    if (due(cur)) {
      if (prev == none) head_[slot] = nxt; else next_[prev] = nxt;
      if (tail_[slot] == cur) tail_[slot] = prev;
      next_[cur] = none;
      --size_;
      ++n;
      f(cur, due_[cur]);
    } else {
      prev = cur;
    }
    cur = nxt;
  }
  if (head_[slot] == none) occupied_[slot / 64] &= ~(std::uint64_t{1} << (slot % 64));
  return n;
}

template <class F>
std::size_t timer_wheel::catch_up(instant now, F&& f) {
  // Rare: called more than one revolution late. Collect, sort by (tick, FIFO position), hand out.
  struct item { std::int64_t at; std::size_t order; id i; };
  std::vector<item> items;
  std::size_t order = 0;
  for (std::size_t s = 0; s <= mask_; ++s)
    for (id cur = head_[s]; cur != none; cur = next_[cur])
      if (due_[cur] <= now) items.push_back({at_[cur], order++, cur});
  std::sort(items.begin(), items.end(), [](const item& a, const item& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });
  std::vector<bool> take(capacity(), false);
  for (const auto& it : items) take[it.i] = true;
  for (std::size_t s = 0; s <= mask_; ++s)
    if (head_[s] != none) take_from_slot(s, [&](id i) { return take[i]; }, [](id, instant) {});
  for (const auto& it : items) f(it.i, due_[it.i]);
  cursor_ = tick_of(now);
  return items.size();
}

template <class F>
std::size_t timer_wheel::pop_due(instant now, F&& f) {
  const std::int64_t now_tick = tick_of(now);
  if (size_ == 0) {  // nothing held: jump ahead
    cursor_ = std::max(cursor_, now_tick);
    return 0;
  }
  std::size_t n = 0;
  if (now_tick - cursor_ > static_cast<std::int64_t>(mask_)) return catch_up(now, f);
  // Whole ticks that have passed: everything filed under them is due.
  for (; cursor_ < now_tick; ++cursor_) {
    std::size_t slot = slot_of(cursor_);
    if (head_[slot] == none) continue;
    const std::int64_t t = cursor_;
    n += take_from_slot(slot, [&](id i) { return at_[i] <= t; }, f);
    if (size_ == 0) {
      cursor_ = now_tick;
      break;
    }
  }
  // The current tick: only what is due by now.
  if (cursor_ == now_tick && size_ != 0) {
    std::size_t slot = slot_of(now_tick);
    if (head_[slot] != none)
      n += take_from_slot(slot, [&](id i) { return at_[i] <= now_tick && due_[i] <= now; }, f);
  }
  return n;
}

}  // namespace synack::impair
