// An in-memory frame_io endpoint: no NIC, no socket, no clock. What the engine sends waits in the
// endpoint's outbox until a harness takes it (take_sent); what the harness delivers waits in its
// inbox until the engine receives it. Between two endpoints the harness moves frames directly
// (forward) or through an impair::channel (seeded loss, duplication, reordering, delay), on a
// virtual clock it advances itself: the engine's injected clock (engine::options::clock) and the
// channels' next_deadline() say when.
//
// Frames are copied in and out (buffers are recycled, so a long run does not allocate per frame).
// Delivered frames carry full checksums (the receiver verifies them). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "synack/link/frame_io.hpp"

namespace synack::link {

class memory_link final : public frame_io {
 public:
  struct options {
    // Frames the inbox holds; a delivery beyond it is dropped and counted (as a full ring's).
    // 0: unbounded.
    std::size_t rx_capacity = 0;
    // Frames the outbox holds until the harness takes them; a send beyond it fails with
    // ENOBUFS (as a full socket buffer's). 0: unbounded.
    std::size_t tx_capacity = 0;
    // The largest frame accepted either way (Ethernet header included); larger ones fail (EMSGSIZE)
    // or, delivered, are dropped.
    std::size_t max_frame = 65535 + 14;
  };

  struct counters {
    std::uint64_t sent = 0;        // frames the engine sent (taken or not yet)
    std::uint64_t send_errors = 0; // refused: outbox full or too large
    std::uint64_t delivered = 0;   // frames put in the inbox
    std::uint64_t received = 0;    // frames the engine read
    std::uint64_t rx_dropped = 0;  // deliveries refused: inbox full or too large
  };

  memory_link() : memory_link(options{}) {}
  explicit memory_link(const options& opts) : opts_(opts) {}

  // frame_io. queue() sends at once (there is no system call to save), flush() only reports.
  std::size_t receive(frame_handler on_frame, std::size_t max_frames) override;
  bool ready() const noexcept override { return !inbox_.empty(); }
  bool wait_readable(std::chrono::nanoseconds) override { return ready(); }
  std::error_code send(std::span<const std::byte> frame) noexcept override;
  std::error_code queue(std::span<const std::byte> frame) override;
  std::error_code flush(std::size_t* sent = nullptr) noexcept override;
  std::size_t queued() const noexcept override { return 0; }
  packet_stats stats() noexcept override;

  // The harness's side. deliver() copies a frame into the inbox (false: dropped, inbox full or
  // too large). take_sent() hands each frame sent since the last call to on_frame, oldest first,
  // and returns how many; the span is valid during the call only.
  bool deliver(std::span<const std::byte> frame);
  std::size_t take_sent(const std::function<void(std::span<const std::byte>)>& on_frame);
  std::size_t pending_sent() const noexcept { return outbox_.size(); }
  std::size_t pending_received() const noexcept { return inbox_.size(); }
  const counters& counts() const noexcept { return counts_; }

 private:
  std::vector<std::byte> take_buffer(std::span<const std::byte> frame);
  void recycle(std::vector<std::byte>&& buf);

  options opts_;
  std::deque<std::vector<std::byte>> inbox_;
  std::deque<std::vector<std::byte>> outbox_;
  std::vector<std::vector<std::byte>> spare_;  // buffers to reuse
  std::size_t batch_sent_ = 0;                 // queue()d since the last flush()
  counters counts_;
  std::uint64_t stats_dropped_ = 0;  // rx_dropped not yet read by stats()
  std::uint64_t stats_received_ = 0;
};

// Moves every frame `from` sent into `to`'s inbox, unchanged (a perfect wire). Returns how many.
std::size_t forward(memory_link& from, memory_link& to);

}  // namespace synack::link
