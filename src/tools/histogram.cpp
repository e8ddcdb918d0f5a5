#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <zlib.h>

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

namespace {

void put_be32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put_be64(std::string& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
// HdrHistogram's ZigZag LEB128-64b9B: 7 bits a byte, least significant first, at most 9 bytes (the
// ninth carries 8 bits). Counts here never need the ninth byte's extra bit, but it costs nothing.
void put_zigzag(std::string& out, std::int64_t value) {
  std::uint64_t v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      out.push_back(static_cast<char>(v));
      return;
    }
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v & 0xff));
}

std::string base64(const std::string& in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                      (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                      std::uint32_t{static_cast<unsigned char>(in[i + 2])};
    for (int s = 18; s >= 0; s -= 6) out.push_back(table[(n >> s) & 63]);
  }
  if (i < in.size()) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
    if (i + 1 < in.size()) n |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
    out.push_back(table[(n >> 18) & 63]);
    out.push_back(table[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? table[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace

std::string latency_histogram::hdr_compressed_base64() const {
  // The counts up to the bucket of the largest value recorded (all of them empty: none).
  std::string payload;
  const std::size_t limit = count_ ? index_of(max_ns_) + 1 : 0;
  for (std::size_t i = 0; i < limit;) {
    const std::uint64_t c = counts_[i++];
    if (c != 0) {
      put_zigzag(payload, static_cast<std::int64_t>(c));
      continue;
    }
    std::int64_t zeros = 1;
    while (i < limit && counts_[i] == 0) {
      ++zeros;
      ++i;
    }
    put_zigzag(payload, zeros > 1 ? -zeros : 0);
  }
  std::string plain;
  put_be32(plain, 0x1c849303u | 0x10u);                      // V2 encoding cookie
  put_be32(plain, static_cast<std::uint32_t>(payload.size()));  // payload length
  put_be32(plain, 0);                                         // normalizingIndexOffset
  put_be32(plain, 2);                                         // numberOfSignificantValueDigits
  put_be64(plain, 1);                                         // lowestDiscernibleValue
  put_be64(plain, max_value);                                 // highestTrackableValue
  double ratio = 1.0;                                         // integerToDoubleValueConversionRatio
  std::uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_be64(plain, ratio_bits);
  plain += payload;

  uLongf deflated_len = compressBound(static_cast<uLong>(plain.size()));
  std::string deflated(deflated_len, '\0');
  if (compress2(reinterpret_cast<Bytef*>(deflated.data()), &deflated_len,
                reinterpret_cast<const Bytef*>(plain.data()), static_cast<uLong>(plain.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK)
    throw std::runtime_error("zlib compress2 failed");
  deflated.resize(deflated_len);
  std::string out;
  put_be32(out, 0x1c849304u | 0x10u);  // V2 compressed encoding cookie
  put_be32(out, static_cast<std::uint32_t>(deflated.size()));
  out += deflated;
  return base64(out);
}

}  // namespace synack::tools
