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

class timer_set {
public:
  void arm(timer_kind k, instant at) { at_[index(k)] = at; }
  void disarm(timer_kind k) { at_[index(k)].reset(); }
  void disarm_all() { at_ = {}; }
  bool armed(timer_kind k) const { return at_[index(k)].has_value(); }
  std::optional<instant> deadline(timer_kind k) const { return at_[index(k)]; }
  bool expired(timer_kind k, instant now) const { return armed(k) && *at_[index(k)] <= now; }

  // The earliest armed deadline, if any.
  std::optional<instant> next() const {
    std::optional<instant> best;
    for (const auto& at : at_)
      if (at && (!best || *at < *best)) best = at;
    return best;
  }

private:
  static constexpr std::size_t index(timer_kind k) { return static_cast<std::size_t>(k); }
  std::array<std::optional<instant>, timer_kind_count> at_{};
};

}  // namespace synack::tcp
