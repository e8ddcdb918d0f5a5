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

#include <algorithm>
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

  // As freshly constructed with the same bounds and this initial RTO (no sample, no backoff).
  void restart(duration initial) {
    srtt_ = rttvar_ = duration{-1};
    base_rto_ = clamp(initial);
    backoffs_ = 0;
  }

  // One RTT measurement (never from a retransmitted segment). (Inline: one per ACK of new data.)
  void sample(duration r) {
    if (r < duration::zero()) r = duration::zero();
    if (!sampled()) {
      srtt_ = r;  // §2.2
      rttvar_ = r / 2;
    } else {
      const duration err = srtt_ < r ? r - srtt_ : srtt_ - r;  // §2.3: RTTVAR first, with the old SRTT
      rttvar_ = rttvar_ - rttvar_ / beta_denominator + err / beta_denominator;
      srtt_ = srtt_ - srtt_ / alpha_denominator + r / alpha_denominator;
    }
    base_rto_ = clamp(srtt_ + std::max(granularity_, k * rttvar_));
    backoffs_ = 0;
  }
  // The retransmission timer expired: double the RTO (§5.5).
  void backoff();
  // §5.7: the SYN (or SYN-ACK) had to be retransmitted and no sample was taken: start data
  // transmission with an RTO of 3 s.
  void reset_after_syn_loss();

  // Current timeout, backoff included. (base_rto_ is always within the bounds: without a backoff
  // it is the answer.)
  duration rto() const { return backoffs_ == 0 ? base_rto_ : backed_off_rto(); }
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
  duration clamp(duration d) const { return d < min_ ? min_ : max_ < d ? max_ : d; }  // std::clamp
  duration backed_off_rto() const;
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
