// The engine's frame I/O: the one small interface between the engine and whatever carries its
// Ethernet frames (smoltcp's phy::Device, batch-shaped).
//
// Implementations: link::packet_socket (an AF_PACKET ring on a real interface) and
// link::memory_link (an in-memory endpoint a test harness moves frames out of and into, with a
// virtual clock and, between two endpoints, an impair::channel for seeded loss, duplication,
// reordering and delay). Later backends (a loopback device, an L3 tunnel with its own medium,
// pcap/trace wrappers around another frame_io) implement the same class.
//
// Contract: frames are whole Ethernet frames with every checksum filled in (trap 3); send(),
// queue() and flush() never block; receive() hands out frames that are valid only during the
// callback. One thread uses an instance. Nothing here knows about TCP or the engine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#include "synack/wire/address.hpp"

namespace synack::link {

// One received frame, valid only during the receive callback (it points into the ring, the
// socket's copy buffer or the memory link's queue).
struct rx_frame {
  std::span<const std::byte> data;  // from the Ethernet header; data.size() <= original_length
  std::size_t original_length = 0;  // the frame's length on the wire
  // Trap 3. The kernel's checksum status: over a veth the sender's checksum is left partial
  // (CHECKSUM_PARTIAL), so a frame with checksum_unverified must not be checksum-verified.
  bool checksum_unverified = false;  // TP_STATUS_CSUMNOTREADY
  bool checksum_valid = false;       // TP_STATUS_CSUM_VALID: the device or kernel checked it
  bool truncated = false;            // did not fit the ring frame (data.size() < original_length)
  bool gso_tcp = false;              // TP_STATUS_GSO_TCP: a GRO/GSO super-frame (trap 4)
  bool losing = false;               // TP_STATUS_LOSING: the ring dropped frames since last stats()
  // An 802.1Q/802.1ad tag the kernel moved out of the frame into metadata (TP_STATUS_VLAN_VALID):
  // `data` no longer holds it; a bridge must put it back when it forwards the frame.
  bool vlan_valid = false;
  std::uint16_t vlan_tci = 0;
  std::uint16_t vlan_tpid = 0;  // 0x8100 when the kernel did not say (TP_STATUS_VLAN_TPID_VALID)
  // When the frame was received (CLOCK_REALTIME since the epoch for a packet socket; 0 if unknown).
  std::chrono::nanoseconds kernel_timestamp{};
};

struct packet_stats {
  std::uint64_t received = 0;  // frames that passed the filter
  std::uint64_t dropped = 0;   // of those, dropped because the receive queue (ring) was full
};

// A non-owning reference to a callable `void(Args...)`: what receive() and read_tx_timestamps()
// take, so a virtual call needs neither a template nor a std::function allocation. The callable
// must outlive the call it is passed to (a lambda argument does).
template <class... Args>
class callback_ref {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::remove_cvref_t<F>, callback_ref>>>
  callback_ref(F&& f) noexcept  // NOLINT(google-explicit-constructor): passed as a lambda
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... a) { (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...); }) {}
  void operator()(Args... a) const { call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  void (*call_)(void*, Args...);
};

// What the engine needs from a link that it did not look up with netlink (a memory link, a
// tunnel): our addresses and the medium's limits.
struct link_facts {
  wire::mac_addr mac;          // our Ethernet address
  unsigned mtu = 1500;         // IPv4 bytes per frame (the MSS offered is mtu - 40)
  wire::ipv4_addr address;     // our IPv4 address
  std::uint8_t prefix_len = 24;  // destinations inside address/prefix_len are on-link (ARPed)
  // Off-link destinations go via this router (its MAC by ARP); none: they are unreachable.
  std::optional<wire::ipv4_addr> gateway;
  // IPv6, optional: our address, its on-link prefix (neighbours by our own NDP; we answer
  // solicitations for the address) and the router for the rest.
  std::optional<wire::ipv6_addr> address6;
  std::uint8_t prefix6_len = 64;
  std::optional<wire::ipv6_addr> gateway6;
};

class frame_io {
 public:
  using frame_handler = callback_ref<const rx_frame&>;
  // (frame id, CLOCK_REALTIME the frame reached the driver)
  using tx_timestamp_handler = callback_ref<std::uint32_t, std::chrono::nanoseconds>;

  virtual ~frame_io() = default;

  // Calls on_frame for up to max_frames received frames, in arrival order; each is released after
  // its call (also when it throws). Returns how many were consumed.
  virtual std::size_t receive(frame_handler on_frame, std::size_t max_frames) = 0;
  // True when receive() would find a frame now (no system call: for busy polling).
  virtual bool ready() const noexcept = 0;
  // Waits until a frame is ready or the timeout passes; false on timeout or EINTR. An
  // implementation without a blocking wait (memory_link: time is its harness's) returns ready().
  virtual bool wait_readable(std::chrono::nanoseconds timeout) = 0;

  // Sends one frame now. Never blocks: a full queue drops it (TCP retransmits) and says so.
  virtual std::error_code send(std::span<const std::byte> frame) noexcept = 0;
  // Batching: queue() copies the frame (and may flush a full batch by itself); flush() sends the
  // batch, `sent` (when given) receiving how many frames left; queued() counts what waits.
  virtual std::error_code queue(std::span<const std::byte> frame) = 0;
  virtual std::error_code flush(std::size_t* sent = nullptr) noexcept = 0;
  virtual std::size_t queued() const noexcept = 0;

  // The descriptor an event loop polls for readability (the Asio front end's stream_descriptor),
  // or -1 when there is none (a memory link is driven by its harness).
  virtual int fd() const noexcept { return -1; }
  // An asynchronous error kept by wait_readable() (ENETDOWN: the interface went down), once.
  virtual std::error_code take_error() noexcept { return {}; }
  // Receive counters since the last call (reset on read).
  virtual packet_stats stats() noexcept { return {}; }
  // Transmit timestamps: whether they are on, the id the next frame sent gets, and the reports
  // queued (each handed to on_timestamp; returns how many).
  virtual bool tx_timestamps() const noexcept { return false; }
  virtual std::uint32_t next_tx_id() const noexcept { return 0; }
  virtual std::size_t read_tx_timestamps(tx_timestamp_handler /*on_timestamp*/) { return 0; }

 protected:
  frame_io() = default;
  frame_io(const frame_io&) = default;
  frame_io& operator=(const frame_io&) = default;
  frame_io(frame_io&&) = default;
  frame_io& operator=(frame_io&&) = default;
};

}  // namespace synack::link
