// The impairment model, driven with a virtual clock: shares within tolerance for a seed, exact
// replay, order with jitter, reordering, the delay distribution, rate limiting and tail drop.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "impair/helpers.hpp"
#include "synack/impair/checksum.hpp"
#include "synack/wire/checksum.hpp"

using namespace synack::impair;
using namespace synack::impair::test;
using namespace std::chrono_literals;

namespace {

direction_config base(std::uint64_t seed = 42) {
  direction_config c;
  c.seed = seed;
  c.limit = 4096;
  return c;
}

double share(std::uint64_t n, std::uint64_t of) { return static_cast<double>(n) / static_cast<double>(of); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(channel_tests)

BOOST_AUTO_TEST_CASE(no_impairment_forwards_everything_at_once_in_order) {
  channel ch(base(), 0);
  auto out = drive(ch, 1000, 100us);
  BOOST_TEST_REQUIRE(out.size() == 1000u);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    BOOST_TEST_REQUIRE(out[i].seq == i);
    BOOST_TEST((out[i].released == out[i].sent));
  }
  BOOST_TEST(ch.stats().forwarded == 1000u);
}

BOOST_AUTO_TEST_CASE(loss_share_is_within_tolerance_over_100k_frames) {
  for (double p : {0.02, 0.1, 0.5}) {
    auto c = base(7);
    c.loss = p;
    channel ch(c, 0);
    auto out = drive(ch, 100'000, 10us, 10us);
    double lost = 1.0 - share(out.size(), 100'000);
    BOOST_TEST(std::abs(lost - p) < 0.005, "loss " << p << " measured " << lost);
    BOOST_TEST(ch.stats().dropped + out.size() == 100'000u);
  }
}

BOOST_AUTO_TEST_CASE(gilbert_elliott_loss_matches_its_mean_and_is_bursty) {
  auto c = base(11);
  c.loss_ge = gilbert_elliott{0.01, 0.25, 1.0, 0.0};  // mean 0.01 / 0.26 = 3.85%, bursts of 4
  channel ch(c, 0);
  auto out = drive(ch, 100'000, 10us, 10us);
  std::vector<bool> got(100'000, false);
  for (auto& d : out) got[d.seq] = true;
  std::size_t lost = 0, bursts = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!got[i]) {
      ++lost;
      if (i == 0 || got[i - 1]) ++bursts;
    }
  double mean = 0.01 / 0.26;
  BOOST_TEST(std::abs(share(lost, 100'000) - mean) < 0.01, "measured " << share(lost, 100'000));
  double burst_len = static_cast<double>(lost) / static_cast<double>(bursts);
  BOOST_TEST(std::abs(burst_len - 4.0) < 0.6, "mean burst length " << burst_len);
}

BOOST_AUTO_TEST_CASE(same_seed_replays_exactly_and_other_seed_differs) {
  auto c = base(1234);
  c.loss = 0.05;
  c.duplicate = 0.05;
  c.corrupt = 0.05;
  c.reorder = 0.1;
  c.delay = 2ms;
  c.jitter = 1ms;
  auto run = [&](std::uint64_t seed, std::uint64_t stream) {
    auto cc = c;
    cc.seed = seed;
    channel ch(cc, stream);
    return drive(ch, 20'000, 50us, 10us, 64, true);
  };
  auto a = run(1234, 0), b = run(1234, 0), other = run(1235, 0), b2a = run(1234, 1);
  BOOST_TEST_REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST_REQUIRE(a[i].seq == b[i].seq);
    BOOST_TEST_REQUIRE((a[i].released == b[i].released));
    BOOST_TEST_REQUIRE((a[i].bytes == b[i].bytes));
  }
  auto seqs = [](const std::vector<delivery>& v) {
    std::vector<std::uint32_t> s;
    for (auto& d : v) s.push_back(d.seq);
    return s;
  };
  BOOST_TEST((seqs(a) != seqs(other)));
  BOOST_TEST((seqs(a) != seqs(b2a)));  // the two directions of one seed are different streams
}

BOOST_AUTO_TEST_CASE(jitter_without_reorder_keeps_order) {
  auto c = base(5);
  c.delay = 10ms;
  c.jitter = 5ms;  // far more than the 100 us between frames
  channel ch(c, 0);
  auto out = drive(ch, 20'000, 100us);
  BOOST_TEST_REQUIRE(out.size() == 20'000u);
  for (std::uint32_t i = 0; i < out.size(); ++i) BOOST_TEST_REQUIRE(out[i].seq == i);
  // Delays stay within [delay - jitter, delay + jitter + the wait for the frame before].
  std::vector<double> d;
  for (auto& x : out) d.push_back(std::chrono::duration<double, std::milli>(x.released - x.sent).count());
  BOOST_TEST(*std::min_element(d.begin(), d.end()) >= 5.0 - 0.02);
}

BOOST_AUTO_TEST_CASE(delay_distribution_is_uniform_around_the_delay) {
  auto c = base(9);
  c.delay = 10ms;
  c.jitter = 2ms;
  channel ch(c, 0);
  auto out = drive(ch, 10'000, 5ms, 10us);  // gaps wider than 2 x jitter: order costs nothing
  std::vector<double> d;
  for (auto& x : out) d.push_back(std::chrono::duration<double, std::milli>(x.released - x.sent).count());
  BOOST_TEST(std::abs(median(d) - 10.0) < 0.1, "median " << median(d));
  BOOST_TEST(*std::min_element(d.begin(), d.end()) >= 8.0 - 0.01);
  BOOST_TEST(*std::max_element(d.begin(), d.end()) <= 12.0 + 0.01);
  // Uniform: each quarter of [8, 12] holds about a quarter.
  std::array<int, 4> q{};
  for (double x : d) q[static_cast<std::size_t>(std::clamp((x - 8.0) / 1.0, 0.0, 3.999))]++;
  for (int n : q) BOOST_TEST(std::abs(n - 2500) < 250, "quarter holds " << n);
}

BOOST_AUTO_TEST_CASE(fixed_delay_is_exact_with_a_fine_clock) {
  auto c = base();
  c.delay = 10ms;
  channel ch(c, 0);
  auto out = drive(ch, 1000, 100us, 1us);
  for (auto& x : out) BOOST_TEST_REQUIRE((x.released - x.sent == 10ms));
}

BOOST_AUTO_TEST_CASE(reordered_frames_skip_the_delay_in_about_the_requested_share) {
  auto c = base(21);
  c.delay = 10ms;
  c.reorder = 0.1;
  channel ch(c, 0);
  auto out = drive(ch, 50'000, 100us);
  BOOST_TEST_REQUIRE(out.size() == 50'000u);
  std::size_t early = 0, late_out_of_order = 0;
  std::uint32_t highest = 0;
  for (auto& x : out) {
    if (x.released == x.sent) ++early;
    else BOOST_TEST_REQUIRE((x.released - x.sent == 10ms));
    if (x.seq < highest) ++late_out_of_order;
    highest = std::max(highest, x.seq);
  }
  BOOST_TEST(std::abs(share(early, 50'000) - 0.1) < 0.01);
  BOOST_TEST(ch.stats().reordered == early);
  // A reordered frame overtakes the ~100 frames held: those now arrive after a higher number.
  BOOST_TEST(late_out_of_order > early);
}

BOOST_AUTO_TEST_CASE(duplicates_come_right_after_the_original) {
  auto c = base(33);
  c.duplicate = 0.05;
  c.delay = 1ms;
  channel ch(c, 0);
  auto out = drive(ch, 50'000, 20us);
  std::size_t dups = 0;
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].seq == out[i - 1].seq) ++dups;
  BOOST_TEST(out.size() == 50'000u + dups);
  BOOST_TEST(ch.stats().duplicated == dups);
  BOOST_TEST(std::abs(share(dups, 50'000) - 0.05) < 0.005);
}

BOOST_AUTO_TEST_CASE(corruption_flips_exactly_one_bit_past_the_ethernet_header) {
  auto c = base(44);
  c.corrupt = 0.2;
  channel ch(c, 0);
  auto out = drive(ch, 20'000, 10us, 10us, 128, true);
  BOOST_TEST_REQUIRE(out.size() == 20'000u);
  std::size_t flipped = 0;
  for (auto& x : out) {
    auto want = make_frame(x.seq, 128);
    int bits = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      int diff = std::popcount(std::to_integer<unsigned>(want[i] ^ x.bytes[i]));
      if (diff != 0) BOOST_TEST_REQUIRE(i >= 14u);
      bits += diff;
    }
    BOOST_TEST_REQUIRE(bits <= 1);
    flipped += static_cast<std::size_t>(bits);
  }
  BOOST_TEST(std::abs(share(flipped, 20'000) - 0.2) < 0.015);
  BOOST_TEST(ch.stats().corrupted == flipped);
}

BOOST_AUTO_TEST_CASE(rate_limit_sets_the_throughput_and_the_queue_tail_drops) {
  auto c = base();
  c.rate_bps = 10e6;  // 1000-byte frames: 800 us each, 1250 frames/s
  c.limit = 50;
  channel ch(c, 0);
  // Offer 5000 frames/s for 2 s: four times the rate.
  auto out = drive(ch, 10'000, 200us, 10us, 1000);
  const auto& s = ch.stats();
  BOOST_TEST(s.queue_drops + out.size() == 10'000u);
  BOOST_TEST(s.queue_drops > 7000u);
  // Spacing between departures is exactly the serialization time once the queue is full.
  std::size_t exact = 0;
  for (std::size_t i = 1; i < out.size(); ++i)
    if (out[i].released - out[i - 1].released >= 800us - 10us) ++exact;
  BOOST_TEST(exact >= out.size() - 2);
  double span_s = std::chrono::duration<double>(out.back().released - out.front().released).count();
  double mbit = static_cast<double>(out.size() - 1) * 1000 * 8 / span_s / 1e6;
  BOOST_TEST(std::abs(mbit - 10.0) < 0.1, "throughput " << mbit << " Mbit/s");
  // The queue never held more than the limit.
  BOOST_TEST(ch.held() == 0u);
}

BOOST_AUTO_TEST_CASE(below_the_rate_nothing_is_dropped_or_delayed_much) {
  auto c = base();
  c.rate_bps = 100e6;
  c.limit = 10;
  channel ch(c, 0);
  auto out = drive(ch, 5000, 200us, 1us, 1000);  // 40 Mbit/s offered
  BOOST_TEST(out.size() == 5000u);
  for (auto& x : out) BOOST_TEST_REQUIRE((x.released - x.sent == 80us));
}

BOOST_AUTO_TEST_CASE(limit_bounds_frames_held_in_the_delay_line) {
  auto c = base();
  c.delay = 10ms;
  c.limit = 20;  // 10 ms at one frame per 100 us would hold 100
  channel ch(c, 0);
  auto out = drive(ch, 1000, 100us);
  BOOST_TEST(ch.stats().queue_drops + out.size() == 1000u);
  BOOST_TEST(out.size() >= 190u);
  BOOST_TEST(out.size() <= 220u);
}

BOOST_AUTO_TEST_CASE(runts_and_oversize_frames_are_counted_and_dropped) {
  auto c = base();
  c.max_frame = 1514;
  channel ch(c, 0);
  std::vector<std::byte> runt(10, std::byte{1});
  ch.submit(t0, runt);
  ch.submit(t0, make_frame(1, 1515));
  frame_meta truncated;
  truncated.truncated = true;
  ch.submit(t0, make_frame(2, 100), truncated);
  ch.submit(t0, make_frame(3, 1514));
  ch.submit(t0, make_frame(4, 14));  // header only: legal on a veth, forwarded
  std::vector<std::uint32_t> got;
  ch.release_due(t0, [&](auto f) { got.push_back(seq_of(f)); });
  BOOST_TEST(ch.stats().runts == 1u);
  BOOST_TEST(ch.stats().oversize == 2u);
  BOOST_TEST(got.size() == 2u);
  BOOST_TEST(ch.stats().received == 5u);
}

BOOST_AUTO_TEST_CASE(stripped_vlan_tag_is_put_back) {
  channel ch(base(), 0);
  auto f = make_frame(9, 64);
  frame_meta m;
  m.vlan_tci = 0x0123;
  m.vlan_tpid = 0x8100;
  ch.submit(t0, f, m);
  std::vector<std::byte> got;
  ch.release_due(t0, [&](auto x) { got.assign(x.begin(), x.end()); });
  BOOST_TEST_REQUIRE(got.size() == 68u);
  BOOST_TEST(seq_of(got) == 9u);
  BOOST_TEST(std::to_integer<int>(got[12]) == 0x81);
  BOOST_TEST(std::to_integer<int>(got[13]) == 0x00);
  BOOST_TEST(std::to_integer<int>(got[14]) == 0x01);
  BOOST_TEST(std::to_integer<int>(got[15]) == 0x23);
  BOOST_TEST(std::to_integer<int>(got[16]) == 0x88);
  BOOST_TEST(std::to_integer<int>(got[17]) == 0xb5);
}

BOOST_AUTO_TEST_CASE(partial_udp_and_tcp_checksums_are_completed) {
  using namespace synack::wire;
  for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
    std::size_t l4 = proto == 6 ? 20 + 5 : 8 + 5;
    std::vector<std::byte> f(14 + 20 + l4, std::byte{0});
    mutable_bytes b(f);
    store_u16(b, 12, 0x0800);
    store_u8(b, 14, 0x45);
    store_u16(b, 16, static_cast<std::uint16_t>(20 + l4));
    store_u8(b, 14 + 8, 64);
    store_u8(b, 14 + 9, proto);
    store_u32(b, 14 + 12, 0x0a6f0001);
    store_u32(b, 14 + 16, 0x0a6f0002);
    for (std::size_t i = 14 + 20 + (proto == 6 ? 20 : 8); i < f.size(); ++i) f[i] = std::byte{0x5a};
    if (proto == 6) store_u8(b, 14 + 20 + 12, 0x50);
    else store_u16(b, 14 + 20 + 4, static_cast<std::uint16_t>(l4));
    store_u16(b, 14 + 20 + (proto == 6 ? 16 : 6), 0x1234);  // a partial sum, as a veth leaves it
    BOOST_TEST(complete_l4_checksum(b));
    checksum_accumulator acc;
    acc.add(bytes(f).subspan(14 + 12, 8)).add_u16(proto).add_u16(static_cast<std::uint16_t>(l4)).add(bytes(f).subspan(34));
    BOOST_TEST(acc.fold() == 0xffff);  // verifies
  }
}

BOOST_AUTO_TEST_CASE(partial_ipv6_udp_and_tcp_checksums_are_completed) {
  using namespace synack::wire;
  for (std::uint8_t proto : {std::uint8_t{6}, std::uint8_t{17}}) {
    std::size_t l4 = proto == 6 ? 20 + 5 : 8 + 5;
    std::vector<std::byte> f(14 + 40 + l4, std::byte{0});
    mutable_bytes b(f);
    store_u16(b, 12, 0x86dd);
    store_u8(b, 14, 0x60);
    store_u16(b, 14 + 4, static_cast<std::uint16_t>(l4));
    store_u8(b, 14 + 6, proto);
    store_u8(b, 14 + 7, 64);
    store_u32(b, 14 + 8, 0xfd000111);   // fd00:111::1
    store_u8(b, 14 + 23, 1);
    store_u32(b, 14 + 24, 0xfd000111);  // fd00:111::2
    store_u8(b, 14 + 39, 2);
    for (std::size_t i = 14 + 40 + (proto == 6 ? 20 : 8); i < f.size(); ++i) f[i] = std::byte{0x5a};
    if (proto == 6) store_u8(b, 14 + 40 + 12, 0x50);
    else store_u16(b, 14 + 40 + 4, static_cast<std::uint16_t>(l4));
    store_u16(b, 14 + 40 + (proto == 6 ? 16 : 6), 0x1234);  // a partial sum, as a veth leaves it
    BOOST_TEST(complete_l4_checksum(b));
    checksum_accumulator acc;
    acc.add(bytes(f).subspan(14 + 8, 32)).add_u16(proto).add_u16(static_cast<std::uint16_t>(l4)).add(bytes(f).subspan(54));
    BOOST_TEST(acc.fold() == 0xffff);  // verifies
  }
  // An extension header (hop-by-hop, 0) first: left alone.
  std::vector<std::byte> f(14 + 40 + 8 + 20, std::byte{0});
  mutable_bytes b(f);
  store_u16(b, 12, 0x86dd);
  store_u8(b, 14, 0x60);
  store_u16(b, 14 + 4, 28);
  store_u8(b, 14 + 6, 0);
  BOOST_TEST(!complete_l4_checksum(b));
}

BOOST_AUTO_TEST_SUITE_END()
