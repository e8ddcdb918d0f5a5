// An AF_PACKET SOCK_RAW socket bound to one interface: synack's only way onto the wire.
//
// Set-up order (trap 7): socket(AF_PACKET, SOCK_RAW, 0) receives nothing until bound; attach the
// BPF filter (rx_filter.hpp); drain whatever was queued; only then bind(ETH_P_ALL) to the
// interface, so no frame from another interface or port is ever queued.
//
// RX is a TPACKET_V2 ring (trap 6: a V3 ring only wakes the reader when a block fills or times out,
// adding up to milliseconds per reply; V2 signals each frame). Frames are 64 KiB by default so
// GRO/GSO super-frames (trap 4) fit whole; with smaller slots a frame that does not fit is read
// whole from the socket's receive queue (options::copy_oversized), else it arrives `truncated`.
// The socket never sees its own transmissions (trap 5): PACKET_IGNORE_OUTGOING where the kernel
// has it (4.20+), else frames marked PACKET_OUTGOING are skipped in drain().
//
// Not thread-safe: one thread drains and sends.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "synack/link/frame_io.hpp"
#include "synack/link/ports.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

// Which frames the socket receives.
enum class rx_filter_mode {
  synack_tcp,  // only synack's traffic: the BPF filter of rx_filter.hpp (the default)
  all_frames,  // every frame on the interface, no filter (the impairment bridge)
};

// The AF_PACKET implementation of frame_io (frame_io.hpp); its own drain()/drain_tx_timestamps()
// templates are the same operations without the indirect call.
class packet_socket final : public frame_io {
 public:
  struct options {
    int ifindex = 0;
    wire::ipv4_addr local_addr;  // the filter keeps TCP to this address and ARP for it
    // Our IPv6 address, if any: the filter also keeps IPv6 TCP to it, neighbour discovery for it
    // and (icmp_errors) ICMPv6 errors about our segments, and the socket joins the Ethernet group
    // of its solicited-node address (33:33:ff:XX:XX:XX) so solicitations for it are delivered.
    std::optional<wire::ipv6_addr> local_addr6;
    port_range ports{61000, 65535};
    // Each ring slot holds one received frame after a 66-byte ring header, so 64 KiB slots keep
    // IPv4 packets up to 65456 bytes whole (GRO/TSO super-frames stay below that: measured 65226
    // over a veth); 2048 is enough with GRO off and gives many more slots per byte.
    // A slot holds the largest IPv4 packet (65,535 bytes: a GRO/TSO super-frame) with its Ethernet
    // and tpacket headers: 64 KiB + one page.
    std::size_t rx_frame_size = (1 << 16) + 4096;
    std::size_t rx_ring_bytes = 8 << 20;  // 120 frames of 68 KiB
    // A frame larger than a slot still arrives whole: the kernel keeps a full copy on the socket's
    // receive queue (PACKET_COPY_THRESH, TP_STATUS_COPY) and next() reads it from there. So small
    // slots (2 KiB: many more per byte, for bursts of many small frames) lose nothing on the
    // occasional GRO/TSO super-frame. Off: such a frame arrives `truncated`.
    bool copy_oversized = true;
    std::size_t send_buffer_bytes = 4 << 20;  // SO_SNDBUF(FORCE); 0 keeps the kernel default
    bool qdisc_bypass = false;  // PACKET_QDISC_BYPASS (trap 8: also skips tc on this interface)
    // Also receive ICMP destination-unreachable/time-exceeded sent to local_addr, and ICMPv6 errors
    // (1-4) sent to local_addr6, about our segments (rx_filter.hpp).
    bool icmp_errors = false;
    rx_filter_mode filter = rx_filter_mode::synack_tcp;  // all_frames ignores local_addr and ports
    // PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC: also frames for other MAC addresses (dropped by the
    // kernel when the socket closes).
    bool promiscuous = false;
    // flush(): on an error drop only the frame that failed and still send the rest of the batch
    // (default: drop the rest of the batch too).
    bool tx_keep_going = false;
    // SO_TIMESTAMPING software transmit timestamps (SOF_TIMESTAMPING_OPT_ID, timestamp only): the
    // kernel reports when each frame sent leaves for the driver; read with drain_tx_timestamps().
    // Best effort: tx_timestamps() says whether the kernel took it.
    bool tx_timestamps = false;
    // An L3 interface (ARPHRD_NONE: tun, WireGuard; frames start at the IP header). The socket
    // keeps the frame_io contract anyway: received packets get a synthetic Ethernet header (zero
    // addresses, the EtherType of the IP version) written into the ring slot's headroom, and sent
    // frames lose their first 14 bytes, the EtherType becoming sll_protocol (WireGuard drops a
    // packet whose protocol is 0). No ARP, no multicast membership.
    bool l3 = false;
  };

  // Throws setup_error: permission (EPERM), unknown_interface (ENODEV), interface_down, system.
  explicit packet_socket(const options& opts);
  ~packet_socket();
  packet_socket(packet_socket&& other) noexcept;
  packet_socket& operator=(packet_socket&& other) noexcept;
  packet_socket(const packet_socket&) = delete;
  packet_socket& operator=(const packet_socket&) = delete;

  int fd() const noexcept override { return fd_; }
  const options& opts() const noexcept { return opts_; }

  // Calls on_frame(const rx_frame&) for up to max_frames ready frames, handing each slot back to
  // the kernel after the call (also when it throws). Returns how many slots were consumed.
  template <class F>
  std::size_t drain(F&& on_frame, std::size_t max_frames = 64);

  // True when drain() would find a frame now (no system call; for busy polling).
  bool ready() const noexcept override;

  // Waits until a frame is ready or the timeout passes (ppoll). Returns false on timeout and on
  // EINTR, so the caller can check its signal flag. An asynchronous socket error (e.g. ENETDOWN)
  // makes it return true and is kept for take_error().
  bool wait_readable(std::chrono::nanoseconds timeout) override;
  std::error_code take_error() noexcept override;

  // Sends one complete Ethernet frame (checksums already filled in, trap 3). Never blocks: a full
  // queue gives EAGAIN/ENOBUFS and the frame is dropped (TCP retransmits).
  std::error_code send(std::span<const std::byte> frame) noexcept override;

  // Batching: queue() copies the frame; flush() sends everything queued with sendmmsg(2). queue()
  // flushes by itself when the batch is full. On an error the rest of the batch is dropped and the
  // first error returned.
  std::error_code queue(std::span<const std::byte> frame) override;
  // `sent`, when given, receives how many of the batch the kernel took. With tx_keep_going the
  // first error is still returned.
  std::error_code flush(std::size_t* sent = nullptr) noexcept override;
  std::size_t queued() const noexcept override { return batch_offsets_.size(); }

  // Kernel counters since the last call (PACKET_STATISTICS, reset on read).
  packet_stats stats() noexcept override;

  // Transmit timestamps (options::tx_timestamps). Each frame sent gets the next id, counting from
  // 0 (the kernel's SOF_TIMESTAMPING_OPT_ID key); next_tx_id() is the id of the next frame sent.
  // drain_tx_timestamps calls on_timestamp(id, CLOCK_REALTIME) for each report queued (software
  // transmit time, at the driver) and returns how many it read. While reports are queued the
  // socket polls with POLLERR, so a caller that enables them must drain them after every wait.
  bool tx_timestamps() const noexcept override { return tx_timestamps_; }
  std::uint32_t next_tx_id() const noexcept override { return tx_next_id_; }
  template <class F>
  std::size_t drain_tx_timestamps(F&& on_timestamp);

  // frame_io: drain() and drain_tx_timestamps() through a callback reference.
  std::size_t receive(frame_handler on_frame, std::size_t max_frames) override {
    return drain(on_frame, max_frames);
  }
  std::size_t read_tx_timestamps(tx_timestamp_handler on_timestamp) override {
    return drain_tx_timestamps(on_timestamp);
  }

 private:
  // The current slot's frame if it is ready for user space; skips (and returns) outgoing frames.
  bool next(rx_frame& frame) noexcept;
  // One transmit timestamp report from the error queue, if any.
  bool next_tx_timestamp(std::uint32_t& id, std::chrono::nanoseconds& at) noexcept;
  void release_current() noexcept;  // hand the current slot back and advance
  std::byte* slot_at(std::size_t index) const noexcept;
  void close() noexcept;

  options opts_;
  int fd_ = -1;
  bool ignore_outgoing_ = false;  // PACKET_IGNORE_OUTGOING took effect
  std::byte* ring_ = nullptr;
  std::size_t ring_bytes_ = 0;
  std::size_t frame_size_ = 0;
  std::size_t frames_per_block_ = 0;
  std::size_t block_size_ = 0;
  std::size_t frame_count_ = 0;
  std::size_t current_ = 0;
  int pending_error_ = 0;
  std::vector<std::byte> copy_buf_;  // an oversized frame read from the receive queue (copy_oversized)
  std::vector<std::byte> batch_;
  std::vector<std::size_t> batch_offsets_;  // start of each queued frame in batch_, plus sizes below
  std::vector<std::size_t> batch_sizes_;
  bool tx_timestamps_ = false;
  std::uint32_t tx_next_id_ = 0;
};

template <class F>
std::size_t packet_socket::drain_tx_timestamps(F&& on_timestamp) {
  std::size_t n = 0;
  std::uint32_t id = 0;
  std::chrono::nanoseconds at{};
  while (tx_timestamps_ && next_tx_timestamp(id, at)) {
    ++n;
    on_timestamp(id, at);
  }
  return n;
}

template <class F>
std::size_t packet_socket::drain(F&& on_frame, std::size_t max_frames) {
  std::size_t n = 0;
  rx_frame frame;
  while (n < max_frames && next(frame)) {
    struct give_back {
      packet_socket* self;
      ~give_back() { self->release_current(); }
    } guard{this};
    ++n;
    on_frame(static_cast<const rx_frame&>(frame));
  }
  return n;
}

}  // namespace synack::link
