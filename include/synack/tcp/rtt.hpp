// Retransmission timeout per RFC 6298, as its own small type.
//
//   first sample R:   SRTT = R, RTTVAR = R/2                                   (§2.2)
//   later samples R': RTTVAR = (1 - beta) * RTTVAR + beta * |SRTT - R'|        (§2.3)
//                     SRTT   = (1 - alpha) * SRTT + alpha * R'
//   RTO = SRTT + max(G, K * RTTVAR), clamped to [min, max]                    (§2.2-§2.5)
//   on expiry:        RTO = 2 * RTO (capped at max)                           (§5.5)
//
// alpha = 1/8, beta = 1/4 and K = 4 are the RFC's constants. G is the clock granularity. The RFC's
// 1 s minimum is replaced by the caller's (synack uses Linux's 200 ms); the maximum is Linux's
// 120 s. Karn's algorithm (§3) is the caller's part: it must not feed samples taken from
// retransmitted segments. A new sample ends any backoff (§5.7, "collapsing" the RTO).
#pragma once

#include <cstdint>
#include <optional>

#include "synack/tcp/time.hpp"

namespace synack::tcp {

class rtt_estimator {
public:
  static constexpr int alpha_denominator = 8;  // alpha = 1/8
  static constexpr int beta_denominator = 4;   // beta = 1/4
  static constexpr int k = 4;

  struct bounds {
    duration initial;
    duration min;
    duration max;
    duration granularity;
  };

  explicit rtt_estimator(bounds b)
      : min_(b.min), max_(b.max), granularity_(b.granularity), base_rto_(clamp(b.initial)) {}

  // One RTT measurement (never from a retransmitted segment).
  void sample(duration r);
  // The retransmission timer expired: double the RTO (§5.5).
  void backoff();
  // §5.7: the SYN (or SYN-ACK) had to be retransmitted and no sample was taken: start data
  // transmission with an RTO of 3 s.
  void reset_after_syn_loss();

  duration rto() const;  // current timeout, backoff included
  std::optional<duration> srtt() const {
    if (!sampled()) return std::nullopt;
    return srtt_;
  }
  std::optional<duration> rttvar() const {
    if (!sampled()) return std::nullopt;
    return rttvar_;
  }
  unsigned backoffs() const { return backoffs_; }

private:
  duration clamp(duration d) const;
  bool sampled() const { return srtt_ >= duration::zero(); }

  duration min_;          // the bounds (the initial RTO is only needed at construction)
  duration max_;
  duration granularity_;
  duration srtt_{-1};    // negative until the first sample (samples are never negative)
  duration rttvar_{-1};
  duration base_rto_;       // RTO before backoff
  unsigned backoffs_ = 0;   // how many times it doubled since the last sample
};

}  // namespace synack::tcp
