#include "synack/tcp/rtt.hpp"

#include <algorithm>

namespace synack::tcp {

namespace {
duration abs(duration d) { return d < duration::zero() ? -d : d; }
}  // namespace

duration rtt_estimator::clamp(duration d) const { return std::clamp(d, min_, max_); }

void rtt_estimator::sample(duration r) {
  if (r < duration::zero()) r = duration::zero();
  if (!sampled()) {
    srtt_ = r;                          // §2.2
    rttvar_ = r / 2;
  } else {
    const duration err = abs(srtt_ - r);  // §2.3: RTTVAR first, with the old SRTT
    rttvar_ = rttvar_ - rttvar_ / beta_denominator + err / beta_denominator;
    srtt_ = srtt_ - srtt_ / alpha_denominator + r / alpha_denominator;
  }
  base_rto_ = clamp(srtt_ + std::max(granularity_, k * rttvar_));
  backoffs_ = 0;
}

void rtt_estimator::backoff() {
  if (rto() < max_) ++backoffs_;
}

void rtt_estimator::reset_after_syn_loss() {
  if (!sampled()) base_rto_ = clamp(std::chrono::seconds{3});
  backoffs_ = 0;
}

duration rtt_estimator::rto() const {
  duration r = base_rto_;
  for (unsigned i = 0; i < backoffs_ && r < max_; ++i) r *= 2;
  return std::min(r, max_);
}

}  // namespace synack::tcp
