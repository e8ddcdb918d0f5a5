// Unit tests of the TCP core's building blocks: seq, SipHash, ISNs, the RTO estimator, buffers, timers.
#include <boost/test/unit_test.hpp>

#include <array>
#include <vector>

#include "synack/tcp/byte_ring.hpp"
#include "synack/tcp/isn.hpp"
#include "synack/tcp/rtt.hpp"
#include "synack/tcp/seq.hpp"
#include "synack/tcp/timers.hpp"
#include "tcp/printers.hpp"

using namespace synack::tcp;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(sequence_numbers)

BOOST_AUTO_TEST_CASE(seq_orders_across_the_wrap) {
  const seq before{0xfffffff0u};
  const seq after = before + 0x20;
  BOOST_TEST(after.value() == 0x10u);
  BOOST_TEST((before < after));
  BOOST_TEST((after > before));
  BOOST_TEST(after - before == 0x20);
  BOOST_TEST(before - after == -0x20);
  BOOST_TEST(in_range_half_open(before, seq{0}, after));
  BOOST_TEST(!in_range_half_open(before, after, after));
  BOOST_TEST(in_range_closed(before, after, after));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(siphash)

siphash_key reference_key() {
  siphash_key k{};
  for (std::size_t i = 0; i < 16; ++i) k[i] = static_cast<std::byte>(i);
  return k;
}

std::uint64_t reference_message(std::size_t len) {
  std::vector<std::byte> m(len);
  for (std::size_t i = 0; i < len; ++i) m[i] = static_cast<std::byte>(i);
  return siphash_2_4(reference_key(), m);
}

// vectors.h of the SipHash reference implementation: key 00..0f, message 00..(len-1); the
// expected outputs are the reference's little-endian bytes read as integers.
BOOST_AUTO_TEST_CASE(siphash_matches_reference_vectors) {
  BOOST_TEST(reference_message(0) == 0x726fdb47dd0e0e31ULL);
  BOOST_TEST(reference_message(1) == 0x74f839c593dc67fdULL);
  BOOST_TEST(reference_message(7) == 0xab0200f58b01d137ULL);
  BOOST_TEST(reference_message(8) == 0x93f5f5799a932462ULL);   // exactly one block
  BOOST_TEST(reference_message(12) == 0x751e8fbc860ee5fbULL);
  BOOST_TEST(reference_message(14) == 0xf723ca908e7af2eeULL);
}

// The paper's Appendix A example: key 00..0f, message 00..0e (15 bytes).
BOOST_AUTO_TEST_CASE(siphash_matches_paper_example) { BOOST_TEST(reference_message(15) == 0xa129ca6149be45e5ULL); }

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(isn)

const synack::wire::four_tuple tuple_a{synack::wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000,
                                       synack::wire::ipv4_addr::from_octets(10, 0, 0, 2), 80};

siphash_key key(std::uint8_t base) {
  siphash_key k{};
  for (std::size_t i = 0; i < 16; ++i) k[i] = static_cast<std::byte>(base + i);
  return k;
}

BOOST_AUTO_TEST_CASE(isn_timer_ticks_every_4_microseconds) {
  BOOST_TEST(isn_generator::m(instant{0us}) == 0u);
  BOOST_TEST(isn_generator::m(instant{3us}) == 0u);
  BOOST_TEST(isn_generator::m(instant{4us}) == 1u);
  BOOST_TEST(isn_generator::m(instant{1s}) == 250000u);
  // Wraps modulo 2^32 (every ~4.77 hours).
  BOOST_TEST(isn_generator::m(instant{std::chrono::microseconds{4ULL << 32}}) == 0u);
}

BOOST_AUTO_TEST_CASE(isn_is_timer_plus_keyed_hash_of_the_tuple) {
  const isn_generator g(key(7));
  BOOST_TEST(g.generate(tuple_a, instant{1s}).value() == 250000u + g.f(tuple_a));
  // Later, the same tuple gets a larger ISN by exactly the elapsed ticks.
  BOOST_TEST(g.generate(tuple_a, instant{2s}) - g.generate(tuple_a, instant{1s}) == 250000);
}

BOOST_AUTO_TEST_CASE(isn_hash_depends_on_key_and_every_tuple_field) {
  const isn_generator g(key(7));
  const isn_generator other(key(8));
  BOOST_TEST(g.f(tuple_a) != other.f(tuple_a));
  auto t = tuple_a;
  t.local_port = 40001;
  BOOST_TEST(g.f(t) != g.f(tuple_a));
  t = tuple_a;
  t.remote_port = 81;
  BOOST_TEST(g.f(t) != g.f(tuple_a));
  t = tuple_a;
  t.remote_addr = synack::wire::ipv4_addr{t.remote_addr.v4().value + 1};
  BOOST_TEST(g.f(t) != g.f(tuple_a));
  t = tuple_a;
  t.local_addr = synack::wire::ipv4_addr{t.local_addr.v4().value + 1};
  BOOST_TEST(g.f(t) != g.f(tuple_a));
}

BOOST_AUTO_TEST_CASE(isn_hash_is_siphash_of_addresses_and_ports_in_rfc_order) {
  const isn_generator g(key(0));
  // local 10.0.0.1, local port 40000 (0x9c40), remote 10.0.0.2, remote port 80, big-endian.
  const std::array<std::byte, 12> msg{std::byte{10}, std::byte{0}, std::byte{0}, std::byte{1},
                                      std::byte{0x9c}, std::byte{0x40}, std::byte{10}, std::byte{0},
                                      std::byte{0}, std::byte{2}, std::byte{0}, std::byte{80}};
  BOOST_TEST(g.f(tuple_a) == static_cast<std::uint32_t>(siphash_2_4(key(0), msg)));
}

BOOST_AUTO_TEST_CASE(isn_hash_over_an_ipv6_tuple_is_siphash_of_the_36_byte_tuple) {
  const isn_generator g(key(0));
  synack::wire::four_tuple t6{*synack::wire::ipv6_addr::parse("fd00::1"), 40000,
                              *synack::wire::ipv6_addr::parse("fd00::2"), 80};
  std::array<std::byte, 36> msg{};
  for (std::size_t i = 0; i < 16; ++i) {
    msg[i] = std::byte{t6.local_addr.raw.octets[i]};
    msg[18 + i] = std::byte{t6.remote_addr.raw.octets[i]};
  }
  msg[16] = std::byte{0x9c};
  msg[17] = std::byte{0x40};
  msg[35] = std::byte{80};
  BOOST_TEST(g.f(t6) == static_cast<std::uint32_t>(siphash_2_4(key(0), msg)));
  // Every byte of the IPv6 addresses counts (not only the low 32 bits an IPv4 hash would read).
  synack::wire::four_tuple other = t6;
  other.remote_addr = *synack::wire::ipv6_addr::parse("fd01::2");
  BOOST_TEST(g.f(other) != g.f(t6));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rtt)

rtt_estimator::bounds linux_bounds() { return {1s, 200ms, 120s, 1ms}; }

BOOST_AUTO_TEST_CASE(rto_starts_at_initial_value) {
  rtt_estimator r(linux_bounds());
  BOOST_TEST(r.rto() == duration{1s});
  BOOST_TEST(!r.srtt());
}

BOOST_AUTO_TEST_CASE(first_sample_sets_srtt_and_half_rttvar) {
  rtt_estimator r(linux_bounds());
  r.sample(100ms);
  BOOST_TEST(*r.srtt() == duration{100ms});
  BOOST_TEST(*r.rttvar() == duration{50ms});
  BOOST_TEST(r.rto() == duration{300ms});  // 100 + 4 * 50
}

BOOST_AUTO_TEST_CASE(later_samples_use_alpha_one_eighth_and_beta_one_quarter) {
  rtt_estimator r(linux_bounds());
  r.sample(100ms);
  r.sample(200ms);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
  BOOST_TEST(*r.rttvar() == duration{62500us});
  BOOST_TEST(*r.srtt() == duration{112500us});
  BOOST_TEST(r.rto() == duration{362500us});  // 112.5 + 4 * 62.5
}

BOOST_AUTO_TEST_CASE(rto_is_clamped_to_the_minimum) {
  rtt_estimator r(linux_bounds());
  r.sample(10ms);  // 10 + 4 * 5 = 30 ms
  BOOST_TEST(r.rto() == duration{200ms});
}

BOOST_AUTO_TEST_CASE(granularity_bounds_the_variance_term) {
  rtt_estimator r({1s, 0ms, 120s, 100ms});
  for (int i = 0; i < 200; ++i) r.sample(50ms);  // RTTVAR decays towards 0
  BOOST_TEST(r.rto() == duration{150ms});         // SRTT + G
}

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_the_maximum) {
  rtt_estimator r(linux_bounds());
  r.backoff();
  BOOST_TEST(r.rto() == duration{2s});
  r.backoff();
  BOOST_TEST(r.rto() == duration{4s});
  for (int i = 0; i < 20; ++i) r.backoff();
  BOOST_TEST(r.rto() == duration{120s});
  BOOST_TEST(r.backoffs() == 7u);  // 1 s * 2^7 = 128 s > 120 s: it stops counting there
}

BOOST_AUTO_TEST_CASE(new_sample_collapses_the_backoff) {
  rtt_estimator r(linux_bounds());
  r.sample(100ms);
  r.backoff();
  r.backoff();
  BOOST_TEST(r.rto() == duration{1200ms});
  r.sample(100ms);
  BOOST_TEST(r.backoffs() == 0u);
  BOOST_TEST(r.rto() < duration{400ms});
}

BOOST_AUTO_TEST_CASE(syn_loss_without_sample_resets_rto_to_three_seconds) {
  rtt_estimator r(linux_bounds());
  r.backoff();
  r.reset_after_syn_loss();
  BOOST_TEST(r.rto() == duration{3s});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(buffers)

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

BOOST_AUTO_TEST_CASE(byte_ring_is_bounded) {
  byte_ring r(4);
  BOOST_TEST(r.write(bytes({1, 2, 3, 4, 5, 6})) == 4u);
  BOOST_TEST(r.free() == 0u);
  BOOST_TEST(r.write(bytes({7})) == 0u);
}

// (The ring's storage, wrap and growth: tests/tcp/autotune_test.cpp.)

BOOST_AUTO_TEST_CASE(bounded_queue_refuses_when_full) {
  bounded_queue<int, 2> q;
  BOOST_TEST(q.push(1));
  BOOST_TEST(q.push(2));
  BOOST_TEST(!q.push(3));
  int v = 0;
  BOOST_TEST(q.pop(v));
  BOOST_TEST(v == 1);
}

BOOST_AUTO_TEST_CASE(timer_set_reports_the_earliest_deadline) {
  timer_set t;
  BOOST_TEST(!t.next());
  t.arm(timer_kind::time_wait, instant{5s});
  t.arm(timer_kind::retransmit, instant{2s});
  BOOST_TEST((*t.next() == instant{2s}));
  BOOST_TEST(t.expired(timer_kind::retransmit, instant{2s}));
  BOOST_TEST(!t.expired(timer_kind::time_wait, instant{2s}));
  t.disarm(timer_kind::retransmit);
  BOOST_TEST((*t.next() == instant{5s}));
}

BOOST_AUTO_TEST_SUITE_END()
