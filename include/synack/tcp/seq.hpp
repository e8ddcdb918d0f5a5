// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4). The state machine
// never compares raw integers; it compares `seq`, whose ordering is defined by signed distance,
// so everything stays right across the wrap-around.
#pragma once

#include <compare>
#include <cstdint>

namespace synack::tcp {

class seq {
public:
  constexpr seq() = default;
  constexpr explicit seq(std::uint32_t v) : v_(v) {}
  constexpr std::uint32_t value() const { return v_; }

  // Signed distance from `other` to this (positive if this is "after" other), valid while the two
  // are less than 2^31 apart, which TCP's windows guarantee.
  constexpr std::int32_t operator-(seq other) const { return static_cast<std::int32_t>(v_ - other.v_); }
  constexpr seq operator+(std::uint32_t n) const { return seq{v_ + n}; }
  constexpr seq operator-(std::uint32_t n) const { return seq{v_ - n}; }
  constexpr seq& operator+=(std::uint32_t n) { v_ += n; return *this; }

  friend constexpr bool operator==(seq a, seq b) { return a.v_ == b.v_; }
  friend constexpr std::strong_ordering operator<=>(seq a, seq b) { return (a - b) <=> 0; }

private:
  std::uint32_t v_ = 0;
};

// a <= x < b in sequence space.
constexpr bool in_range_half_open(seq a, seq x, seq b) { return a <= x && x < b; }
// a <= x <= b in sequence space.
constexpr bool in_range_closed(seq a, seq x, seq b) { return a <= x && x <= b; }

}  // namespace synack::tcp
