// The timer wheel against a std::multimap reference, with random inserts (past, near, beyond one
// revolution) and random clock steps (tiny, whole ticks, several revolutions).
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

#include "synack/impair/random.hpp"
#include "synack/impair/timer_wheel.hpp"

using namespace synack::impair;
using namespace std::chrono_literals;

namespace {

constexpr instant start = instant(std::chrono::seconds(5000)) + 123ns;

}  // namespace

BOOST_AUTO_TEST_SUITE(timer_wheel_tests)

BOOST_AUTO_TEST_CASE(empty_wheel_has_no_deadline_and_pops_nothing) {
  timer_wheel w(16);
  BOOST_TEST(!w.next_deadline().has_value());
  BOOST_TEST(w.pop_due(start, [](auto, auto) { BOOST_FAIL("popped from an empty wheel"); }) == 0u);
}

BOOST_AUTO_TEST_CASE(pops_exactly_at_due_time_not_before) {
  timer_wheel w(16);
  w.pop_due(start, [](auto, auto) {});
  w.insert(3, start + 10ms);
  BOOST_TEST((w.next_deadline() == start + 10ms));
  BOOST_TEST(w.pop_due(start + 10ms - 1ns, [](auto, auto) {}) == 0u);
  std::vector<timer_wheel::id> got;
  BOOST_TEST(w.pop_due(start + 10ms, [&](auto i, auto) { got.push_back(i); }) == 1u);
  BOOST_TEST(got == std::vector<timer_wheel::id>{3});
  BOOST_TEST(w.empty());
}

BOOST_AUTO_TEST_CASE(same_tick_is_first_in_first_out) {
  timer_wheel w(16);
  w.pop_due(start, [](auto, auto) {});
  for (timer_wheel::id i = 0; i < 8; ++i) w.insert(i, start + 1ms);
  std::vector<timer_wheel::id> got;
  w.pop_due(start + 2ms, [&](auto i, auto) { got.push_back(i); });
  BOOST_TEST(got == (std::vector<timer_wheel::id>{0, 1, 2, 3, 4, 5, 6, 7}));
}

BOOST_AUTO_TEST_CASE(due_beyond_one_revolution_waits_for_its_own_revolution) {
  timer_wheel w(16, 14, 6);  // 64 slots of 16.384 us: one revolution is ~1.05 ms
  w.pop_due(start, [](auto, auto) {});
  w.insert(1, start + 5ms);
  w.insert(2, start + 100us);
  BOOST_TEST((w.next_deadline() == start + 100us));
  std::vector<timer_wheel::id> got;
  for (instant t = start; t <= start + 6ms; t += 7us) w.pop_due(t, [&](auto i, auto due) {
      BOOST_TEST((due <= t));
      got.push_back(i);
    });
  BOOST_TEST(got == (std::vector<timer_wheel::id>{2, 1}));
}

BOOST_AUTO_TEST_CASE(randomized_against_multimap) {
  for (unsigned round = 0; round < 20; ++round) {
    xoshiro256ss rng(round, 7);
    const std::size_t cap = 256;
    timer_wheel w(cap, 14, 8);  // 256 slots: ~4.2 ms per revolution, so long delays wrap
    std::multimap<instant, timer_wheel::id> ref;
    std::set<timer_wheel::id> free_ids;
    for (timer_wheel::id i = 0; i < cap; ++i) free_ids.insert(i);
    instant now = start;
    w.pop_due(now, [](auto, auto) {});
    for (int step = 0; step < 4000; ++step) {
      std::uint64_t action = rng.below(10);
      if (action < 6 && !free_ids.empty()) {
        auto it = free_ids.begin();
        std::advance(it, static_cast<long>(rng.below(free_ids.size())));
        timer_wheel::id i = *it;
        free_ids.erase(it);
        duration offset;
        switch (rng.below(4)) {
          case 0: offset = -duration(static_cast<std::int64_t>(rng.below(100'000))); break;  // already due
          case 1: offset = duration(static_cast<std::int64_t>(rng.below(50'000))); break;    // this tick or next
          case 2: offset = duration(static_cast<std::int64_t>(rng.below(4'000'000))); break; // this revolution
          default: offset = duration(static_cast<std::int64_t>(rng.below(30'000'000))); break;  // several
        }
        w.insert(i, now + offset);
        ref.emplace(now + offset, i);
      } else {
        duration adv;
        switch (rng.below(4)) {
          case 0: adv = duration(static_cast<std::int64_t>(rng.below(20'000))); break;
          case 1: adv = duration(static_cast<std::int64_t>(rng.below(500'000))); break;
          case 2: adv = duration(static_cast<std::int64_t>(rng.below(5'000'000))); break;
          default: adv = duration(static_cast<std::int64_t>(rng.below(40'000'000))); break;  // catch-up path
        }
        now += adv;
        std::multiset<timer_wheel::id> got;
        w.pop_due(now, [&](timer_wheel::id i, instant due) {
          BOOST_TEST((due <= now));
          got.insert(i);
          free_ids.insert(i);
        });
        std::multiset<timer_wheel::id> want;
        while (!ref.empty() && ref.begin()->first <= now) {
          want.insert(ref.begin()->second);
          ref.erase(ref.begin());
        }
        BOOST_TEST(got == want, "round " << round << " step " << step);
      }
      BOOST_TEST(w.size() == ref.size());
      if (ref.empty()) {
        BOOST_TEST(!w.next_deadline().has_value());
      } else {
        auto nd = w.next_deadline();
        BOOST_TEST_REQUIRE(nd.has_value());
        BOOST_TEST((*nd == ref.begin()->first), "round " << round << " step " << step);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(popped_in_due_order_across_ticks) {
  // Frames inserted with increasing due times come out in that order, however the clock steps.
  timer_wheel w(4096, 14, 8);
  w.pop_due(start, [](auto, auto) {});
  xoshiro256ss rng(3);
  instant due = start;
  for (timer_wheel::id i = 0; i < 4096; ++i) {
    due += duration(static_cast<std::int64_t>(rng.below(30'000)));
    w.insert(i, due);
  }
  std::vector<timer_wheel::id> got;
  instant now = start;
  while (!w.empty()) {
    now += duration(static_cast<std::int64_t>(rng.below(3'000'000)));
    w.pop_due(now, [&](auto i, auto) { got.push_back(i); });
  }
  BOOST_TEST_REQUIRE(got.size() == 4096u);
  for (std::size_t i = 0; i < got.size(); ++i) BOOST_TEST_REQUIRE(got[i] == i);
}

BOOST_AUTO_TEST_SUITE_END()
