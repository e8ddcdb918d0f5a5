// What one direction of the impairment box does to the frames passing through it, and what it
// counts. Plain values; the tool fills them from the command line, tests by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/impair/time.hpp"

namespace synack::impair {

// Bursty loss, as netem's `loss gemodel p r 1-h 1-k`: a two-state Markov chain moved once per
// frame; in the good state a frame is lost with loss_good (1-k), in the bad state with loss_bad
// (1-h). Mean loss = (r * loss_good + p * loss_bad) / (p + r); mean burst length 1 / r frames
// (with loss_bad = 1). Probabilities in [0, 1].
struct gilbert_elliott {
  double p = 0;          // good -> bad, per frame
  double r = 1;          // bad -> good, per frame
  double loss_bad = 1;   // 1 - h
  double loss_good = 0;  // 1 - k
};

struct direction_config {
  double loss = 0;                         // independent loss probability (ignored with loss_ge)
  std::optional<gilbert_elliott> loss_ge;  // bursty loss instead
  duration delay{};                        // added to every frame but the reordered ones
  duration jitter{};                       // uniform in [-jitter, +jitter] on top of delay (>= 0 total)
  double reorder = 0;    // probability that a frame skips the delay (and so overtakes the held ones)
  double duplicate = 0;  // probability that a frame is sent twice (the copy right after it)
  double corrupt = 0;    // probability that one random bit past the Ethernet header is flipped
  double rate_bps = 0;   // serialization rate in bit/s (frame bytes * 8; 0 = unlimited)
  std::size_t limit = 1000;  // frames held at once (rate queue + delay line); more: tail drop
  std::uint64_t seed = 1;
  // The largest frame forwarded, Ethernet header included (the egress MTU + 14; a VLAN-tagged
  // frame may have 4 more). Larger frames are counted as oversize and dropped.
  std::size_t max_frame = 1514;
  // Complete the L4 checksum of frames the kernel left partial (veth, trap 3) before forwarding:
  // the receiver of a packet-socket frame treats it as unchecked and would drop it otherwise.
  bool complete_checksums = true;
};

struct counters {
  std::uint64_t received = 0;     // frames submitted
  std::uint64_t forwarded = 0;    // frames handed out for transmission (duplicates included)
  std::uint64_t dropped = 0;      // lost on purpose (--loss / Gilbert-Elliott)
  std::uint64_t duplicated = 0;   // extra copies made
  std::uint64_t reordered = 0;    // frames that skipped the delay
  std::uint64_t corrupted = 0;    // frames with a bit flipped
  std::uint64_t queue_drops = 0;  // tail drops: `limit` frames were already held
  std::uint64_t oversize = 0;     // larger than max_frame (or truncated by the receive ring)
  std::uint64_t runts = 0;        // shorter than an Ethernet header (14 bytes)
  std::uint64_t checksums_completed = 0;
};

}  // namespace synack::impair
