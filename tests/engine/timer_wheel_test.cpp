// The engine's protocol-timer wheel: exact expiry, re-arming, far deadlines, catch-up.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "synack/engine/timer_wheel.hpp"

namespace synack::engine {

using namespace std::chrono_literals;

namespace {
tcp::instant at(tcp::duration d) { return tcp::instant{} + 1h + d; }  // away from the epoch
}  // namespace

BOOST_AUTO_TEST_CASE(wheel_fires_exactly_the_due_timers) {
  timer_wheel w(at(0ms));
  wheel_hook a, b, c;
  w.schedule(a, at(5ms));
  w.schedule(b, at(5ms + 300us));
  w.schedule(c, at(900ms));
  BOOST_TEST(w.size() == 3u);
  BOOST_TEST((w.next_deadline() == at(5ms)));
  std::vector<wheel_hook*> due;
  w.expire(at(5ms + 100us), due);
  BOOST_TEST((due == std::vector<wheel_hook*>{&a}));
  BOOST_TEST((w.next_deadline() == at(5ms + 300us)));  // same tick, not yet due: kept
  due.clear();
  w.expire(at(6ms), due);
  BOOST_TEST((due == std::vector<wheel_hook*>{&b}));
  BOOST_TEST(!a.deadline);
  BOOST_TEST(w.size() == 1u);
}

BOOST_AUTO_TEST_CASE(wheel_rearm_and_cancel_move_the_timer) {
  timer_wheel w(at(0ms));
  wheel_hook a;
  w.schedule(a, at(50ms));
  w.schedule(a, at(20ms));
  BOOST_TEST((w.next_deadline() == at(20ms)));
  w.cancel(a);
  BOOST_TEST(!w.next_deadline());
  std::vector<wheel_hook*> due;
  w.expire(at(100ms), due);
  BOOST_TEST(due.empty());
}

BOOST_AUTO_TEST_CASE(wheel_far_deadline_waits_for_its_revolution) {
  timer_wheel w(at(0ms));
  wheel_hook far;
  w.schedule(far, at(60s));  // TIME_WAIT: many revolutions away
  auto nd = w.next_deadline();
  BOOST_REQUIRE(nd);
  BOOST_TEST((*nd <= at(60s)));  // early (a revolution boundary), never late
  std::vector<wheel_hook*> due;
  for (auto t = 0ms; t < 60s; t += 250ms) w.expire(at(t), due);
  BOOST_TEST(due.empty());
  w.expire(at(60s), due);
  BOOST_TEST((due == std::vector<wheel_hook*>{&far}));
}

BOOST_AUTO_TEST_CASE(wheel_late_caller_catches_up_and_past_deadline_fires_next) {
  timer_wheel w(at(0ms));
  std::vector<wheel_hook> hooks(200);
  std::mt19937 rng(1);
  for (auto& h : hooks) w.schedule(h, at(std::chrono::microseconds(rng() % 5'000'000)));
  std::vector<wheel_hook*> due;
  w.expire(at(3s), due);  // one call, three revolutions late
  for (auto* h : due) BOOST_TEST((h->deadline == std::nullopt));
  std::size_t left = std::count_if(hooks.begin(), hooks.end(), [](auto& h) { return h.deadline.has_value(); });
  BOOST_TEST(due.size() + left == hooks.size());
  for (auto& h : hooks)
    if (h.deadline) BOOST_TEST((*h.deadline > at(3s)));
  wheel_hook past;
  w.schedule(past, at(1s));  // already past: fires at the next expire
  BOOST_TEST((w.next_deadline() == at(1s)));
  due.clear();
  w.expire(at(3s), due);
  BOOST_TEST((due == std::vector<wheel_hook*>{&past}));
}

}  // namespace synack::engine
