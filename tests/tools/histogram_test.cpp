#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <zlib.h>

#include "histogram.hpp"

using synack::tools::latency_histogram;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(histogram)

BOOST_AUTO_TEST_CASE(empty_reports_zeros) {
  latency_histogram h;
  BOOST_TEST(h.empty());
  BOOST_TEST(h.percentile_us(50) == 0.0);
  BOOST_TEST(h.min_us() == 0.0);
  BOOST_TEST(h.mdev_us() == 0.0);
  BOOST_TEST(h.cdf().empty());
}

BOOST_AUTO_TEST_CASE(buckets_tile_the_range_without_gaps) {
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i) {
    auto [lo, hi] = latency_histogram::bucket_range(i);
    BOOST_TEST_REQUIRE(lo == next);
    BOOST_TEST_REQUIRE(hi >= lo);
    BOOST_TEST_REQUIRE(latency_histogram::index_of(lo) == i);
    BOOST_TEST_REQUIRE(latency_histogram::index_of(hi) == i);
    // Two significant digits and more: a bucket is at most 1/128 of its lower bound wide.
    if (lo >= 256) BOOST_TEST_REQUIRE(static_cast<double>(hi - lo + 1) <= static_cast<double>(lo) / 128.0);
    next = hi + 1;
  }
  BOOST_TEST(next == (std::uint64_t{1} << latency_histogram::max_bits));
}

BOOST_AUTO_TEST_CASE(small_exact_values_are_exact) {
  latency_histogram h;
  for (int i = 1; i <= 100; ++i) h.record(std::chrono::nanoseconds{i});
  BOOST_TEST(h.count() == 100u);
  BOOST_TEST(h.percentile_us(50) == 0.050);
  BOOST_TEST(h.percentile_us(99) == 0.099);
  BOOST_TEST(h.min_us() == 0.001);
  BOOST_TEST(h.max_us() == 0.100);
  BOOST_TEST(h.mean_us() == 0.0505, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(percentiles_match_sorted_samples_within_resolution) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(40'000.0), 0.8);  // around 40 us, long tail
  latency_histogram h;
  std::vector<double> v;
  for (int i = 0; i < 100'000; ++i) {
    double ns = std::max(1.0, dist(rng));
    auto q = std::chrono::nanoseconds{static_cast<std::int64_t>(ns)};
    h.record(q);
    v.push_back(static_cast<double>(q.count()) / 1000.0);
  }
  std::sort(v.begin(), v.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) {
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    double exact = v[rank - 1];
    BOOST_TEST(h.percentile_us(p) == exact, boost::test_tools::tolerance(0.005));
  }
  BOOST_TEST(h.percentile_us(0) == v.front());
  BOOST_TEST(h.percentile_us(100) == v.back());
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  BOOST_TEST(h.mean_us() == mean, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(memory_is_bounded_by_the_layout_not_the_samples) {
  BOOST_TEST(sizeof(latency_histogram) < 64 * 1024);
  latency_histogram h;
  h.record(std::chrono::hours{100});  // beyond the range: clamped into the top bucket
  BOOST_TEST(h.count() == 1u);
  BOOST_TEST(latency_histogram::index_of(~std::uint64_t{0}) == latency_histogram::bucket_count - 1);
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_everything_in_one) {
  latency_histogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    auto x = std::chrono::nanoseconds{1000 + i * 37};
    (i % 2 ? a : b).record(x);
    all.record(x);
  }
  a.merge(b);
  BOOST_TEST(a.count() == all.count());
  for (double p : {50.0, 90.0, 99.0}) BOOST_TEST(a.percentile_us(p) == all.percentile_us(p));
  BOOST_TEST(a.min_us() == all.min_us());
  BOOST_TEST(a.max_us() == all.max_us());
}

BOOST_AUTO_TEST_CASE(mdev_is_the_population_standard_deviation) {
  latency_histogram h;
  for (int us : {10, 20, 30, 40}) h.record(std::chrono::microseconds{us});
  BOOST_TEST(h.mdev_us() == std::sqrt(125.0), boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(cdf_is_monotonic_and_ends_at_one) {
  latency_histogram h;
  for (int i = 1; i <= 500; ++i) h.record(std::chrono::microseconds{i});
  auto c = h.cdf();
  BOOST_TEST_REQUIRE(!c.empty());
  for (std::size_t i = 1; i < c.size(); ++i) {
    BOOST_TEST(c[i].first > c[i - 1].first);
    BOOST_TEST(c[i].second > c[i - 1].second);
  }
  BOOST_TEST(c.back().second == 1.0);
  BOOST_TEST(c.back().first == 500.0);
}

BOOST_AUTO_TEST_CASE(summary_json_has_the_contract_keys) {
  latency_histogram h;
  h.record(21us);
  auto j = h.summary_json();
  for (const char* k : {"min_us", "avg_us", "p50_us", "p90_us", "p99_us", "max_us", "mdev_us"}) {
    BOOST_TEST_REQUIRE(j.contains(k));
    BOOST_TEST(j[k].is_number_float());
  }
  BOOST_TEST(j["p50_us"].get<double>() == 21.0);
}

// --hdr: HdrHistogram's compressed V2 encoding, decoded here the way HdrHistogram's decoder does.
namespace {
std::string unbase64(const std::string& in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v = ch >= 'A' && ch <= 'Z' ? ch - 'A' : ch >= 'a' && ch <= 'z' ? ch - 'a' + 26 : ch >= '0' && ch <= '9' ? ch - '0' + 52
          : ch == '+' ? 62 : ch == '/' ? 63 : -1;
    if (v < 0) break;  // '=' padding
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}
std::uint64_t be(const std::string& s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}
// HdrHistogram's countsArrayIndex for unit 1 and 2 significant digits (subBucketCount 256).
std::size_t hdr_index(std::uint64_t v) {
  const int bucket = 64 - 8 - std::countl_zero(v | 255u);
  const std::uint64_t sub = v >> bucket;
  return static_cast<std::size_t>(((bucket + 1) << 7) + static_cast<int>(sub) - 128);
}
}  // namespace

BOOST_AUTO_TEST_CASE(layout_is_hdrhistograms_for_two_significant_digits) {
  for (std::uint64_t v : {0ull, 1ull, 127ull, 255ull, 256ull, 511ull, 512ull, 1000ull, 123456789ull, (1ull << 44) - 1})
    BOOST_TEST(latency_histogram::index_of(v) == hdr_index(v), "value " << v);
}

BOOST_AUTO_TEST_CASE(hdr_encoding_decodes_to_the_same_counts) {
  latency_histogram h;
  for (int i = 0; i < 300; ++i) h.record(std::chrono::nanoseconds{50});  // a count above 127: two LEB128 bytes
  h.record(std::chrono::nanoseconds{51});
  h.record(21us);
  h.record(1030ms);  // a long run of empty buckets before it
  const std::string b64 = h.hdr_compressed_base64();
  BOOST_TEST(b64.rfind("HISTF", 0) == 0);
  const std::string raw = unbase64(b64);
  BOOST_TEST_REQUIRE(raw.size() > 8);
  BOOST_TEST(be(raw, 0, 4) == 0x1c849314u);
  const auto clen = be(raw, 4, 4);
  BOOST_TEST_REQUIRE(raw.size() == 8 + clen);
  std::string plain(1 << 16, '\0');
  uLongf plen = plain.size();
  BOOST_TEST_REQUIRE(uncompress(reinterpret_cast<Bytef*>(plain.data()), &plen, reinterpret_cast<const Bytef*>(raw.data() + 8),
                                static_cast<uLong>(clen)) == Z_OK);
  plain.resize(plen);
  BOOST_TEST(be(plain, 0, 4) == 0x1c849313u);
  const auto payload_len = be(plain, 4, 4);
  BOOST_TEST(plain.size() == 40 + payload_len);
  BOOST_TEST(be(plain, 8, 4) == 0u);   // normalizingIndexOffset
  BOOST_TEST(be(plain, 12, 4) == 2u);  // significant digits
  BOOST_TEST(be(plain, 16, 8) == 1u);  // lowest discernible value
  BOOST_TEST(be(plain, 24, 8) == (1ull << 44) - 1);
  const std::uint64_t ratio_bits = be(plain, 32, 8);
  double ratio = 0;
  std::memcpy(&ratio, &ratio_bits, sizeof ratio);
  BOOST_TEST(ratio == 1.0);
  std::vector<std::uint64_t> counts;
  for (std::size_t i = 40; i < plain.size();) {
    std::uint64_t v = 0;
    for (int k = 0, shift = 0; k < 9; ++k, shift += 7) {
      const auto b = static_cast<unsigned char>(plain[i++]);
      if (k == 8) {
        v |= std::uint64_t{b} << 56;
        break;
      }
      v |= std::uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    const auto value = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
    if (value < 0)
      counts.insert(counts.end(), static_cast<std::size_t>(-value), 0);
    else
      counts.push_back(static_cast<std::uint64_t>(value));
  }
  BOOST_TEST_REQUIRE(counts.size() == latency_histogram::index_of(1'030'000'000) + 1);
  std::uint64_t total = 0;
  for (auto c : counts) total += c;
  BOOST_TEST(total == 303u);
  BOOST_TEST(counts[50] == 300u);
  BOOST_TEST(counts[51] == 1u);
  BOOST_TEST(counts[latency_histogram::index_of(21'000)] == 1u);
  BOOST_TEST(counts.back() == 1u);
  // An empty histogram encodes no counts.
  const std::string empty = unbase64(latency_histogram{}.hdr_compressed_base64());
  BOOST_TEST(be(empty, 0, 4) == 0x1c849314u);
}

BOOST_AUTO_TEST_SUITE_END()
