// Latency percentiles from a log-linear ("HDR-style") histogram: bounded memory, no sample kept.
//
// Values are nanoseconds. Below 256 ns every value has its own bucket; above, each power-of-two
// range [128*2^e, 256*2^e) is split into 128 equal buckets, so a bucket is never wider than 1/128 of
// its lower bound: every reported percentile is within 0.4% of a recorded value (two significant
// digits and then some, as HdrHistogram with 2 digits). 44 bits of range (~4.9 hours) in 4,864
// counters (38 KiB), whatever the number of samples. min, max, mean and standard deviation are
// exact (kept beside the buckets).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace synack::tools {

class latency_histogram {
 public:
  void record(std::chrono::nanoseconds v);
  void record_us(double us);  // convenience: microseconds as a float
  void merge(const latency_histogram& other);
  void reset() { *this = latency_histogram{}; }

  std::uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // In microseconds, 0 when empty.
  double min_us() const;
  double max_us() const;
  double mean_us() const;
  double mdev_us() const;  // population standard deviation, as ping(8)'s mdev
  // Nearest-rank percentile, p in [0, 100]: the midpoint of the bucket holding the rank, clamped
  // to [min, max] (so p0 is the min and p100 the max exactly).
  double percentile_us(double p) const;

  // The distribution as (value_us, fraction of samples <= value) per non-empty bucket, ascending:
  // what a CDF plot needs.
  std::vector<std::pair<double, double>> cdf() const;

  // {"min_us","avg_us","p50_us","p90_us","p99_us","max_us","mdev_us"}.
  nlohmann::json summary_json() const;

  // HdrHistogram's compressed V2 encoding of this histogram, base64 (what HistogramLogWriter puts
  // in an interval line, "HISTF..."). The bucket layout above is HdrHistogram's for
  // lowestDiscernibleValue 1, highestTrackableValue 2^44-1 and 2 significant digits (256 sub-buckets,
  // 4,864 counts), so the counts carry over one to one; values are nanoseconds. The encoding: a
  // 40-byte big-endian header (cookie 0x1c849313, payload length, normalizing offset 0, digits 2,
  // lowest 1, highest, conversion ratio 1.0), then the counts up to the max value's bucket as
  // ZigZag LEB128 (a run of k > 1 empty buckets as -k), all zlib-deflated behind cookie 0x1c849314
  // (0x1c849304 | 0x10, as HdrHistogram writes it; readers mask 0xf0) and the deflated length.
  std::string hdr_compressed_base64() const;

  // Bucket layout, exposed for tests.
  static constexpr unsigned sub_bits = 8;  // 256 linear buckets, then 128 per octave
  static constexpr unsigned max_bits = 44;
  static constexpr std::size_t bucket_count =
      (std::size_t{1} << sub_bits) + (max_bits - sub_bits) * (std::size_t{1} << (sub_bits - 1));
  static std::size_t index_of(std::uint64_t ns);
  static std::pair<std::uint64_t, std::uint64_t> bucket_range(std::size_t index);  // [lo, hi]

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ns_ = 0;
  std::uint64_t max_ns_ = 0;
  double sum_ = 0;     // ns
  double sum_sq_ = 0;  // ns^2
};

}  // namespace synack::tools
