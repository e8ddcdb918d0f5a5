#include "synack/tcp/rtt.hpp"

#include <algorithm>

namespace synack::tcp {

void rtt_estimator::backoff() {
  if (rto() < max_) ++backoffs_;
}

void rtt_estimator::reset_after_syn_loss() {
  if (!sampled()) base_rto_ = clamp(std::chrono::seconds{3});
  backoffs_ = 0;
}

duration rtt_estimator::backed_off_rto() const {
  duration r = base_rto_;
  for (unsigned i = 0; i < backoffs_ && r < max_; ++i) r *= 2;
  return std::min(r, max_);
}

}  // namespace synack::tcp
