// Congestion control: the window arithmetic only. Which segments to send, duplicate-ACK counting
// and loss recovery (RFC 6675 / RFC 6582) stay in the connection, which tells the controller:
//   on_ack(acked)          new data was cumulatively acknowledged outside recovery: grow
//                          (RFC 5681 §3.1: slow start below ssthresh, else congestion avoidance)
//   on_congestion_event()  loss detected by duplicate ACKs / SACK: returns the new ssthresh
//   on_rto()               retransmission timeout: ssthresh as for a loss (first expiry only),
//                          cwnd = one segment, the loss window (RFC 5681 §3.1)
// The two algorithms share slow start and differ in congestion avoidance and the decrease:
//   NewReno (RFC 5681):  +1 SMSS per cwnd of acknowledged bytes; ssthresh = max(FlightSize/2, 2*SMSS)
//   CUBIC (RFC 9438):    W_cubic(t) = C*(t-K)^3 + W_max, with the Reno-friendly estimate W_est;
//                        ssthresh = max(cwnd*beta_cubic, 2*SMSS), fast convergence (§4.7).
// The state is a plain value inside the connection (no allocation); the algorithm is a variant.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "synack/tcp/config.hpp"
#include "synack/tcp/time.hpp"

namespace synack::tcp {

struct cc_window {
  std::uint32_t cwnd = 0;      // bytes
  std::uint32_t ssthresh = 0;  // bytes
  std::uint32_t smss = 536;    // sender MSS the arithmetic counts in
  std::uint32_t acked_ca = 0;  // bytes acknowledged towards the next +1 SMSS in congestion avoidance
};

class newreno {
public:
  void congestion_avoidance(cc_window& w, std::uint32_t acked);
  std::uint32_t ssthresh_after_loss(const cc_window& w, std::uint32_t flight);
  void restart() {}
};

class cubic {
public:
  static constexpr double c = 0.4;                           // RFC 9438 §5.1 C
  static constexpr double beta = 0.7;                        // beta_cubic
  static constexpr double alpha = 3 * (1 - beta) / (1 + beta);  // alpha_cubic (§4.3)

  void congestion_avoidance(cc_window& w, std::uint32_t acked, instant now, duration srtt);
  std::uint32_t ssthresh_after_loss(const cc_window& w, std::uint32_t flight);
  void restart() { epoch_ = no_epoch; }

  // For tests and inspection, in segments and seconds: W_cubic(t) of the current epoch.
  double window_at(double t) const { return c * (t - k_) * (t - k_) * (t - k_) + w_max_; }
  double k() const { return k_; }
  double w_max() const { return w_max_; }
  double w_est() const { return w_est_; }

private:
  static constexpr instant no_epoch = instant::min();  // (a sentinel: 8 bytes less than an optional)
  instant epoch_ = no_epoch;      // t_epoch: start of this congestion-avoidance stage
  double w_max_ = 0;              // segments, window before the last reduction
  double w_last_max_ = 0;         // for fast convergence
  double k_ = 0;                  // seconds
  double cwnd_epoch_ = 0;         // segments, cwnd at t_epoch
  double w_est_ = 0;              // segments, Reno-friendly estimate
  double carry_ = 0;              // fractional segments of growth not yet applied
};

class congestion_control {
public:
  // A fresh window: cwnd = initial_window segments (RFC 6928), ssthresh "arbitrarily high".
  void reset(congestion_algorithm algo, std::uint32_t smss, unsigned initial_window);
  // Change the algorithm, keeping cwnd and ssthresh (TCP_CONGESTION on a live socket).
  void set_algorithm(congestion_algorithm algo);
  void set_smss(std::uint32_t smss) { w_.smss = smss; }
  // A new MSS after a path MTU change: cwnd and ssthresh keep their number of segments (Linux
  // counts them in packets), so they shrink in bytes with it.
  void rescale(std::uint32_t smss);

  congestion_algorithm algorithm() const { return algo_; }
  std::uint32_t cwnd() const { return w_.cwnd; }
  std::uint32_t ssthresh() const { return w_.ssthresh; }
  std::uint32_t smss() const { return w_.smss; }
  bool in_slow_start() const { return w_.cwnd < w_.ssthresh; }
  const cubic* cubic_state() const { return std::get_if<cubic>(&impl_); }

  // Growth for `acked` newly acknowledged bytes (only while the window was actually used).
  void on_ack(std::uint32_t acked, instant now, duration srtt);
  // Loss found by duplicate ACKs or SACK: ssthresh reduced; returns it. The caller sets cwnd
  // for its recovery (ssthresh, or ssthresh + 3*SMSS for NewReno without SACK).
  std::uint32_t on_congestion_event(std::uint32_t flight);
  // Retransmission timeout; `first` if this is the first expiry for the data outstanding.
  void on_rto(std::uint32_t flight, bool first);
  // Recovery's own cwnd changes (inflation, deflation, the value at the end of recovery).
  void set_cwnd(std::uint32_t cwnd) { w_.cwnd = std::max(cwnd, w_.smss); }

private:
  congestion_algorithm algo_ = congestion_algorithm::cubic;
  cc_window w_;
  std::variant<newreno, cubic> impl_;
};

}  // namespace synack::tcp
