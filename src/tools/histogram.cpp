#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace synack::tools {

namespace {
constexpr std::uint64_t linear_limit = std::uint64_t{1} << latency_histogram::sub_bits;  // 256
constexpr std::uint64_t half = linear_limit / 2;                                            // 128
constexpr std::uint64_t max_value = (std::uint64_t{1} << latency_histogram::max_bits) - 1;
}  // namespace

std::size_t latency_histogram::index_of(std::uint64_t ns) {
  ns = std::min(ns, max_value);
  if (ns < linear_limit) return static_cast<std::size_t>(ns);
  // ns in [128 * 2^e, 256 * 2^e) with e >= 1: bucket (ns >> e) - 128 of octave e.
  unsigned e = static_cast<unsigned>(std::bit_width(ns)) - sub_bits;
  return static_cast<std::size_t>(linear_limit + (e - 1) * half + ((ns >> e) - half));
}

std::pair<std::uint64_t, std::uint64_t> latency_histogram::bucket_range(std::size_t index) {
  if (index < linear_limit) return {index, index};
  std::size_t k = index - linear_limit;
  unsigned e = static_cast<unsigned>(k / half) + 1;
  std::uint64_t lo = (half + k % half) << e;
  return {lo, lo + (std::uint64_t{1} << e) - 1};
}

void latency_histogram::record(std::chrono::nanoseconds v) {
  std::uint64_t ns = v.count() < 0 ? 0 : static_cast<std::uint64_t>(v.count());
  ns = std::min(ns, max_value);
  ++counts_[index_of(ns)];
  if (count_ == 0 || ns < min_ns_) min_ns_ = ns;
  if (count_ == 0 || ns > max_ns_) max_ns_ = ns;
  ++count_;
  double d = static_cast<double>(ns);
  sum_ += d;
  sum_sq_ += d * d;
}

void latency_histogram::record_us(double us) {
  record(std::chrono::nanoseconds{static_cast<std::int64_t>(std::llround(us * 1000.0))});
}

void latency_histogram::merge(const latency_histogram& o) {
  if (o.count_ == 0) return;
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
  min_ns_ = count_ == 0 ? o.min_ns_ : std::min(min_ns_, o.min_ns_);
  max_ns_ = count_ == 0 ? o.max_ns_ : std::max(max_ns_, o.max_ns_);
  count_ += o.count_;
  sum_ += o.sum_;
  sum_sq_ += o.sum_sq_;
}

double latency_histogram::min_us() const { return count_ ? static_cast<double>(min_ns_) / 1000.0 : 0.0; }
double latency_histogram::max_us() const { return count_ ? static_cast<double>(max_ns_) / 1000.0 : 0.0; }
double latency_histogram::mean_us() const { return count_ ? sum_ / static_cast<double>(count_) / 1000.0 : 0.0; }

double latency_histogram::mdev_us() const {
  if (count_ == 0) return 0.0;
  double n = static_cast<double>(count_);
  double mean = sum_ / n;
  return std::sqrt(std::max(0.0, sum_sq_ / n - mean * mean)) / 1000.0;
}

double latency_histogram::percentile_us(double p) const {
  if (count_ == 0) return 0.0;
  p = std::clamp(p, 0.0, 100.0);
  if (p <= 0.0) return min_us();
  if (p >= 100.0) return max_us();
  // Nearest rank: the smallest value with at least ceil(p% of n) samples at or below it.
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      auto [lo, hi] = bucket_range(i);
      double mid = (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0;
      mid = std::clamp(mid, static_cast<double>(min_ns_), static_cast<double>(max_ns_));
      return mid / 1000.0;
    }
  }
  return max_us();
}

std::vector<std::pair<double, double>> latency_histogram::cdf() const {
  std::vector<std::pair<double, double>> out;
  if (count_ == 0) return out;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (counts_[i] == 0) continue;
    seen += counts_[i];
    auto [lo, hi] = bucket_range(i);
    double v = std::clamp(static_cast<double>(hi), static_cast<double>(min_ns_), static_cast<double>(max_ns_));
    out.emplace_back(v / 1000.0, static_cast<double>(seen) / static_cast<double>(count_));
  }
  return out;
}

nlohmann::json latency_histogram::summary_json() const {
  return {{"min_us", min_us()},           {"avg_us", mean_us()},          {"p50_us", percentile_us(50)},
          {"p90_us", percentile_us(90)},  {"p99_us", percentile_us(99)},  {"max_us", max_us()},
          {"mdev_us", mdev_us()}};
}

}  // namespace synack::tools
