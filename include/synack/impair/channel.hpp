// One direction of the impairment box, without I/O: frames go in with submit(now, bytes), come out
// of release_due(now, emit) when their time has come, and next_deadline() says when that is.
//
// A submitted frame is, in this order (each decision drawn from the seeded generator with a fixed
// number of draws per frame, so the k-th frame of a direction meets the same fate on every run
// with the same seed; only the time-dependent queue check can differ):
//   1. checked: shorter than 14 bytes -> runts, longer than max_frame -> oversize (both dropped,
//      no draws consumed);
//   2. lost (independent or Gilbert-Elliott) -> dropped;
//   3. copied into a pool buffer (a full pool, i.e. `limit` frames held, is a tail drop ->
//      queue_drops); its partial L4 checksum completed;
//   4. duplicated (the copy is the frame as received, before corruption) and corrupted (one bit of
//      bytes 14.. flipped, so the frame still reaches its host and the IP/L4 checksum catches it);
//   5. serialized at `rate_bps` behind the frames before it (start = max(now, link free));
//   6. delayed by delay + jitter, but never released before the previous non-reordered frame
//      (order is kept with jitter), unless chosen for reordering: then it skips the delay.
// Frames wait in a timer wheel keyed by release time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "synack/impair/config.hpp"
#include "synack/impair/frame_pool.hpp"
#include "synack/impair/random.hpp"
#include "synack/impair/timer_wheel.hpp"

namespace synack::impair {

// What the receive side knows about a frame besides its bytes.
struct frame_meta {
  bool checksum_partial = false;  // the L4 checksum holds only the pseudo-header sum
  bool truncated = false;         // the receive ring cut it (it was larger than a ring slot)
  std::size_t original_length = 0;  // its length on the wire (0: the span's size)
  // An 802.1Q tag the kernel stripped into metadata, to put back after the MAC addresses.
  std::optional<std::uint16_t> vlan_tci;
  std::uint16_t vlan_tpid = 0x8100;
};

class channel {
 public:
  // stream: which direction (0 = a2b, 1 = b2a) - selects the generator's stream for the seed.
  channel(const direction_config& cfg, std::uint64_t stream);

  void submit(instant now, std::span<const std::byte> frame, const frame_meta& meta = {});

  // Calls emit(std::span<const std::byte>) - or emit(frame, due) - for each frame due at now, in
  // release order; the span is valid during the call only. Returns how many.
  template <class F>
  std::size_t release_due(instant now, F&& emit);

  std::optional<instant> next_deadline() const { return wheel_.next_deadline(); }
  std::size_t held() const noexcept { return wheel_.size(); }
  const counters& stats() const noexcept { return stats_; }
  const direction_config& config() const noexcept { return cfg_; }

 private:
  bool lose() noexcept;  // one Bernoulli or Gilbert-Elliott step (two draws either way)
  std::optional<frame_pool::id> copy_in(std::span<const std::byte> frame, const frame_meta& meta);
  void schedule(instant now, frame_pool::id i, bool reordered, duration extra);

  direction_config cfg_;
  xoshiro256ss rng_;
  frame_pool pool_;
  timer_wheel wheel_;
  counters stats_;
  bool ge_bad_ = false;
  instant link_free_{};     // when the serializer is next idle (rate limiting)
  instant last_release_{};  // release time of the last non-reordered frame (order keeping)
};

template <class F>
std::size_t channel::release_due(instant now, F&& emit) {
  return wheel_.pop_due(now, [&](timer_wheel::id i, instant due) {
    ++stats_.forwarded;
    struct give_back {
      frame_pool& pool;
      frame_pool::id i;
      ~give_back() { pool.release(i); }
    } guard{pool_, i};
    if constexpr (std::is_invocable_v<F&, std::span<const std::byte>, instant>)
      emit(std::span<const std::byte>(pool_.frame(i)), due);
    else
      emit(std::span<const std::byte>(pool_.frame(i)));
  });
}

}  // namespace synack::impair
