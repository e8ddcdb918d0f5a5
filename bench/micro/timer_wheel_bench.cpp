// The engine's timer wheel: arm, re-arm, cancel, expire, next_deadline, with many timers armed
// (one per connection, as in the engine).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "synack/engine/timer_wheel.hpp"

namespace {

using namespace synack;
using namespace std::chrono_literals;

tcp::instant at(tcp::duration d) { return tcp::instant{1h} + d; }

// `n` background timers spread over a minute a day from now (idle connections' keepalive timers):
// they share the slots the benchmark visits but never fire.
std::unique_ptr<engine::wheel_hook[]> background(engine::timer_wheel& w, std::int64_t n) {
  auto hooks = std::make_unique<engine::wheel_hook[]>(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) w.schedule(hooks[static_cast<std::size_t>(i)], at(24h + i * 1ms % 60s));
  return hooks;
}

// Arm a new timer, then cancel it.
void BM_wheel_arm_cancel(benchmark::State& state) {
  engine::timer_wheel w(at(0ms));
  auto bg = background(w, state.range(0));
  engine::wheel_hook h;
  for (auto _ : state) {
    w.schedule(h, at(200ms));
    w.cancel(h);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_wheel_arm_cancel)->Arg(0)->Arg(10000);

// Re-arm an armed timer to another tick (an RTO restarted on every ACK).
void BM_wheel_rearm(benchmark::State& state) {
  engine::timer_wheel w(at(0ms));
  auto bg = background(w, state.range(0));
  engine::wheel_hook h;
  w.schedule(h, at(200ms));
  tcp::duration d = 200ms;
  for (auto _ : state) {
    d = d == 200ms ? 201ms : 200ms;
    w.schedule(h, at(d));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_wheel_rearm)->Arg(0)->Arg(10000);

// Re-arm within the same tick (a deadline that moved by microseconds): no move.
void BM_wheel_rearm_same_tick(benchmark::State& state) {
  engine::timer_wheel w(at(0ms));
  engine::wheel_hook h;
  tcp::duration d = 200ms;
  for (auto _ : state) {
    d = d == 200ms ? 200ms + 10us : 200ms;
    w.schedule(h, at(d));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_wheel_rearm_same_tick);

// Expiry: 64 timers due in the next tick, expired and handed back, per iteration.
void BM_wheel_expire(benchmark::State& state) {
  engine::timer_wheel w(at(0ms));
  auto bg = background(w, state.range(0));
  std::vector<engine::wheel_hook> hooks(64);
  std::vector<engine::wheel_hook*> due;
  tcp::duration t = 0ms;
  for (auto _ : state) {
    t += 1ms;
    for (auto& h : hooks) w.schedule(h, at(t));
    due.clear();
    w.expire(at(t), due);
    if (due.size() != hooks.size()) state.SkipWithError("not every timer expired");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(hooks.size()));
}
BENCHMARK(BM_wheel_expire)->Arg(0)->Arg(10000);

// next_deadline() with timers spread over the revolution.
void BM_wheel_next_deadline(benchmark::State& state) {
  engine::timer_wheel w(at(0ms));
  auto bg = background(w, state.range(0));
  for (auto _ : state) {
    auto d = w.next_deadline();
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_wheel_next_deadline)->Arg(1)->Arg(10000);

}  // namespace
