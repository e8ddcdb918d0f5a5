// The engine's protocol-timer wheel: one slot per connection, keyed by the connection's own
// next_deadline(), re-armed after every call that touches the connection.
//
// A hashed wheel of `slot_count` slots of `tick` each (1 ms x 1024: one revolution ≈ 1 s). A timer
// is an intrusive `wheel_hook` inside its owner (no allocation per re-arm, O(1) schedule and
// cancel by swap-remove). A deadline further away than one revolution waits in its slot and is
// skipped until its own revolution comes round. expire() fires exactly the timers whose deadline
// is <= now; next_deadline() is exact for timers due within the current revolution and otherwise
// returns the start of the next revolution (an early wake-up that fires nothing). A bitmap of
// occupied slots keeps next_deadline() to a few word scans.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "synack/tcp/time.hpp"

namespace synack::engine {

class timer_wheel;

// Embedded in whatever owns a timer; `owner` is handed back by expire(). A hook destroyed while
// scheduled unlinks itself, so no erase path can leave a dangling timer behind.
struct wheel_hook {
  wheel_hook() = default;
  ~wheel_hook();
  wheel_hook(const wheel_hook&) = delete;
  wheel_hook& operator=(const wheel_hook&) = delete;

  void* owner = nullptr;
  std::optional<tcp::instant> deadline;  // set while scheduled
  timer_wheel* wheel = nullptr;          // the wheel it is in, while scheduled
  std::uint32_t slot = 0;
  std::uint32_t index = 0;  // position inside the slot
};

class timer_wheel {
public:
  static constexpr tcp::duration tick = std::chrono::milliseconds{1};
  static constexpr std::size_t slot_count = 1024;  // a power of two, a multiple of 64

  explicit timer_wheel(tcp::instant start = {});
  ~timer_wheel();  // unlinks the hooks still scheduled
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  // Arms (or moves) the hook's timer to `at`; nullopt disarms it. `at` may be in the past.
  void schedule(wheel_hook& h, std::optional<tcp::instant> at);
  void cancel(wheel_hook& h) { schedule(h, std::nullopt); }

  // Disarms every timer with deadline <= now and appends its hook to `due` (in no particular
  // order). The hooks may be re-scheduled by the caller afterwards.
  void expire(tcp::instant now, std::vector<wheel_hook*>& due);

  // The earliest deadline within the current revolution, else the start of the next revolution
  // while timers wait further out; nullopt when nothing is armed.
  std::optional<tcp::instant> next_deadline() const;

  std::size_t size() const { return size_; }

private:
  static std::int64_t tick_of(tcp::instant t) { return t.time_since_epoch() / tick; }
  void insert(wheel_hook& h);
  void remove(wheel_hook& h);
  void set_occupied(std::size_t s, bool on);
  bool occupied(std::size_t s) const { return (occupied_[s / 64] >> (s % 64)) & 1u; }

  std::array<std::vector<wheel_hook*>, slot_count> slots_;
  std::array<std::uint64_t, slot_count / 64> occupied_{};
  std::int64_t cursor_;  // every tick before this one has been expired
  std::size_t size_ = 0;
};

}  // namespace synack::engine
