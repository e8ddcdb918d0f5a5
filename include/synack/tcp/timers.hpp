// A connection's timers as data: which timer, and when. The connection arms and disarms them; the
// owner asks for the earliest deadline and calls on_timer() then. No callbacks, no clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/tcp/time.hpp"

namespace synack::tcp {

enum class timer_kind : std::uint8_t {
  retransmit,   // RFC 6298: one RTO timer for SYN, SYN-ACK, data and FIN
  persist,      // zero-window probe (RFC 9293 §3.8.6.1), or the sender-SWS override
  delayed_ack,  // RFC 9293 §3.8.6.3
  time_wait,    // 2*MSL
  fin_wait_2,   // Linux tcp_fin_timeout
  keepalive,    // RFC 1122 §4.2.3.6
};
inline constexpr std::size_t timer_kind_count = 6;

// Six instants, "disarmed" being the largest instant (which nobody arms: it is ~292 years past
// the caller's epoch), so an idle connection's timers take 48 bytes and the earliest deadline is
// a branch-free minimum.
class timer_set {
public:
  void arm(timer_kind k, instant at) { at_[index(k)] = at < never ? at : never - duration{1}; }
  void disarm(timer_kind k) { at_[index(k)] = never; }
  void disarm_all() {
    static_assert(timer_kind_count == 6);
    at_ = {never, never, never, never, never, never};  // (fill() is a loop)
  }
  bool armed(timer_kind k) const { return at_[index(k)] != never; }
  std::optional<instant> deadline(timer_kind k) const {
    if (!armed(k)) return std::nullopt;
    return at_[index(k)];
  }
  // (The time first: it fails for most timers, disarmed ones included, which sit at `never`.)
  bool expired(timer_kind k, instant now) const { return at_[index(k)] <= now && armed(k); }

  // The earliest armed deadline, if any. (A branch-free minimum over the raw counts: as written
  // here GCC unrolls it and returns the optional in registers.)
  std::optional<instant> next() const {
    auto best = at_[0].time_since_epoch().count();
    for (int i = 1; i < static_cast<int>(timer_kind_count); ++i) {
      const auto t = at_[i].time_since_epoch().count();
      best = t < best ? t : best;
    }
    if (best == never.time_since_epoch().count()) return std::nullopt;
    return instant{duration{best}};
  }

private:
  static constexpr instant never = instant::max();
  static constexpr std::size_t index(timer_kind k) { return static_cast<std::size_t>(k); }
  std::array<instant, timer_kind_count> at_ = [] {
    std::array<instant, timer_kind_count> a;
    a.fill(never);
    return a;
  }();
};

}  // namespace synack::tcp
