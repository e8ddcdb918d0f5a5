#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()
