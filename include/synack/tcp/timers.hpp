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
  void disarm_all() { at_.fill(never); }
  bool armed(timer_kind k) const { return at_[index(k)] != never; }
  std::optional<instant> deadline(timer_kind k) const {
    if (!armed(k)) return std::nullopt;
    return at_[index(k)];
  }
  bool expired(timer_kind k, instant now) const { return armed(k) && at_[index(k)] <= now; }

  // The earliest armed deadline, if any.
  std::optional<instant> next() const {
    static_assert(timer_kind_count == 6);
    const instant a = at_[0] < at_[1] ? at_[0] : at_[1];
    const instant b = at_[2] < at_[3] ? at_[2] : at_[3];
    const instant c = at_[4] < at_[5] ? at_[4] : at_[5];
    const instant ab = a < b ? a : b;
    const instant best = ab < c ? ab : c;
    if (best == never) return std::nullopt;
    return best;
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
