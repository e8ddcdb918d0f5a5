#include "synack/tcp/congestion_control.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace synack::tcp {

namespace {
constexpr std::uint32_t max_window = std::uint32_t{1} << 30;  // RFC 7323: no window beyond 2^30
std::uint32_t to_bytes(double segments, std::uint32_t smss) {
  const double b = segments * smss;
  return b >= max_window ? max_window : static_cast<std::uint32_t>(b);
}
}  // namespace

// --- NewReno (RFC 5681 §3.1) ---------------------------------------------------------------------

// Congestion avoidance by byte counting (RFC 5681 §3.1, RFC 3465): one SMSS per cwnd of ACKed
// bytes.
void newreno::congestion_avoidance(cc_window& w, std::uint32_t acked) {
  w.acked_ca += acked;
  if (w.acked_ca >= w.cwnd) {
    w.acked_ca -= w.cwnd;
    w.cwnd = std::min(w.cwnd + w.smss, max_window);
  }
}

// RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS).
std::uint32_t newreno::ssthresh_after_loss(const cc_window& w, std::uint32_t flight) {
  return std::max(flight / 2, 2 * w.smss);
}

// --- CUBIC (RFC 9438) ----------------------------------------------------------------------------

// §4.6/§4.7: W_max remembers the window before the reduction (less with fast convergence);
// ssthresh = cwnd * beta_cubic (cwnd rather than FlightSize, as Linux does; §4.6 allows both).
std::uint32_t cubic::ssthresh_after_loss(const cc_window& w, std::uint32_t) {
  const double cwnd = static_cast<double>(w.cwnd) / w.smss;
  w_max_ = cwnd < w_last_max_ ? cwnd * (1 + beta) / 2 : cwnd;  // fast convergence
  w_last_max_ = cwnd;
  epoch_ = no_epoch;
  return std::max(to_bytes(cwnd * beta, w.smss), 2 * w.smss);
}

void cubic::congestion_avoidance(cc_window& w, std::uint32_t acked, instant now, duration srtt) {
  const double smss = w.smss;
  const double cwnd = w.cwnd / smss;
  if (epoch_ == no_epoch) {
    // §4.2: a new epoch at the first ACK in congestion avoidance.
    epoch_ = now;
    cwnd_epoch_ = cwnd;
    w_est_ = cwnd;
    carry_ = 0;
    if (w_max_ <= cwnd) {  // no reduction to recover from (e.g. slow start ended at ssthresh)
      w_max_ = cwnd;
      k_ = 0;
    } else {
      k_ = std::cbrt((w_max_ - cwnd_epoch_) / c);  // Figure 2
    }
  }
  const double segments = acked / smss;
  const double t = std::chrono::duration<double>(now - epoch_).count();
  const double rtt = std::chrono::duration<double>(srtt).count();
  // §4.3 Reno-friendly region: W_est grows like Reno with alpha_cubic, and alpha 1 once W_est
  // reaches the window before the last reduction.
  w_est_ += (w_est_ >= w_last_max_ ? 1.0 : alpha) * segments / cwnd;
  if (window_at(t) < w_est_) {
    w.cwnd = std::max(w.cwnd, to_bytes(w_est_, w.smss));
    carry_ = 0;
    return;
  }
  // §4.4/§4.5: aim for W_cubic one RTT ahead, between cwnd and 1.5 * cwnd; grow by
  // (target - cwnd) / cwnd per acknowledged segment. carry_ keeps the fraction of a byte.
  const double target = std::clamp(window_at(t + rtt), cwnd, 1.5 * cwnd);
  carry_ += (target - cwnd) / cwnd * segments * smss;
  const double whole = std::floor(carry_);
  carry_ -= whole;
  w.cwnd = std::min(w.cwnd + static_cast<std::uint32_t>(std::min(whole, double{max_window})), max_window);
}

// --- the controller ------------------------------------------------------------------------------

void congestion_control::reset(congestion_algorithm algo, std::uint32_t smss, unsigned initial_window) {
  algo_ = algo;
  w_ = {};
  w_.smss = std::max<std::uint32_t>(smss, 1);
  w_.cwnd = std::max(1u, initial_window) * w_.smss;
  w_.ssthresh = std::numeric_limits<std::uint32_t>::max();
  if (algo == congestion_algorithm::cubic)
    impl_.emplace<cubic>();
  else
    impl_.emplace<newreno>();
}

void congestion_control::rescale(std::uint32_t smss) {
  smss = std::max<std::uint32_t>(smss, 1);
  if (smss == w_.smss) return;
  const auto scale = [&](std::uint32_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{v} * smss / w_.smss, 0xffffffffu));
  };
  w_.cwnd = std::max(scale(w_.cwnd), smss);
  if (w_.ssthresh != std::numeric_limits<std::uint32_t>::max()) w_.ssthresh = std::max(scale(w_.ssthresh), 2 * smss);
  w_.acked_ca = scale(w_.acked_ca);
  w_.smss = smss;
}

void congestion_control::set_algorithm(congestion_algorithm algo) {
  if (algo == algo_) return;
  algo_ = algo;
  w_.acked_ca = 0;
  if (algo == congestion_algorithm::cubic)
    impl_.emplace<cubic>();
  else
    impl_.emplace<newreno>();
}

void congestion_control::on_ack(std::uint32_t acked, instant now, duration srtt) {
  if (acked == 0) return;
  if (in_slow_start()) {
    // RFC 5681 §3.1 with RFC 3465's L = 2*SMSS: up to two segments per ACK (delayed ACKs).
    // Slow start ends at ssthresh; the rest of this ACK is not carried over.
    const std::uint32_t next = std::min(w_.cwnd + std::min(acked, 2 * w_.smss), max_window);
    w_.cwnd = std::min(next, std::max(w_.ssthresh, w_.cwnd));
    return;
  }
  std::visit(
      [&](auto& algo) {
        if constexpr (std::is_same_v<std::decay_t<decltype(algo)>, cubic>)
          algo.congestion_avoidance(w_, acked, now, srtt);
        else
          algo.congestion_avoidance(w_, acked);
      },
      impl_);
}

std::uint32_t congestion_control::on_congestion_event(std::uint32_t flight) {
  w_.ssthresh = std::visit([&](auto& algo) { return algo.ssthresh_after_loss(w_, flight); }, impl_);
  w_.acked_ca = 0;
  return w_.ssthresh;
}

void congestion_control::on_rto(std::uint32_t flight, bool first) {
  if (first) on_congestion_event(flight);
  std::visit([](auto& algo) { algo.restart(); }, impl_);
  w_.cwnd = w_.smss;  // RFC 5681 §3.1: the loss window is one segment
  w_.acked_ca = 0;
}

}  // namespace synack::tcp
