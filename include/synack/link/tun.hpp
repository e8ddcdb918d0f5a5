// A tun device synack creates and holds: the carrier of "this host" mode, where synack is a
// separate host reachable from this one (targets on 127.0.0.0/8 and on this host's own addresses).
//
// Why not lo: a SYN written to lo by a packet socket has no route attached, so the kernel routes it
// on input and drops it as a martian (a local source, or a 127/8 destination), counting it only in
// /proc/net/stat/rt_cache. A tun device is a real input device instead: synack takes an address the
// kernel does not own (198.18.0.0/15, RFC 2544's benchmarking range; 2001:2::/48 for IPv6, RFC
// 5180), the kernel gets a /32 (/128) route to it via the tun and route_localnet=1 on the tun only
// (so 127/8 may be routed to and from it), and kernel sockets answer synack as they answer any
// other host. The kernel never owns synack's address, so it never resets synack's connections: no
// firewall rule. The device is not persistent: closing its descriptor (exit, crash, SIGKILL)
// deletes it with its routes and settings. `::1` stays out of reach: the kernel drops ::1 arriving
// on any non-loopback device (RFC 4291 2.5.3).
//
// frame_io contract: frames carry a synthetic Ethernet header (zero addresses, the EtherType of the
// IP version) in front of the IP packet, read straight behind it (no copy); sent frames lose it.
// One read(2)/write(2) per packet (a tun has no ring); a large MTU (64 KiB by default) keeps the
// packet count low, as lo's MTU does for the kernel's own loopback path.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "synack/link/frame_io.hpp"
#include "synack/link/netlink.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

class tun_device final : public frame_io {
 public:
  // Creates `name` (a pattern with %d lets the kernel number it), IFF_TUN | IFF_NO_PI, not
  // persistent, non-blocking. Throws setup_error: permission (no CAP_NET_ADMIN), system.
  explicit tun_device(const std::string& name = "synack%d");
  ~tun_device() override;
  tun_device(const tun_device&) = delete;
  tun_device& operator=(const tun_device&) = delete;

  const std::string& name() const noexcept { return name_; }

  std::size_t receive(frame_handler on_frame, std::size_t max_frames) override;
  bool ready() const noexcept override;
  bool wait_readable(std::chrono::nanoseconds timeout) override;
  std::error_code send(std::span<const std::byte> frame) noexcept override;
  // A tun takes one packet per write: queue() writes at once, flush() has nothing left to send.
  std::error_code queue(std::span<const std::byte> frame) override { return send(frame); }
  std::error_code flush(std::size_t* sent = nullptr) noexcept override {
    if (sent != nullptr) *sent = 0;
    return {};
  }
  std::size_t queued() const noexcept override { return 0; }
  int fd() const noexcept override { return fd_; }
  packet_stats stats() noexcept override { return std::exchange(stats_, {}); }

 private:
  bool read_one() const noexcept;  // into buf_ behind the synthetic header; false: none waiting
  int fd_ = -1;
  std::string name_;
  mutable std::vector<std::byte> buf_;
  mutable std::size_t pending_ = 0;  // bytes of a packet read by ready() and not yet handed out
  packet_stats stats_;
};

// What "this host" mode sets up: the device and synack's addresses on it.
struct this_host_link {
  std::unique_ptr<tun_device> device;
  interface_info iface;  // as netlink reports it once configured (index, name, MTU)
  wire::ipv4_addr address;
  std::optional<wire::ipv6_addr> address6;  // none when IPv6 is off in this namespace
};

// Creates the tun, sets its MTU and brings it up, routes synack's addresses to it and sets
// route_localnet on it. `want` (--source): synack's address of that family, which the kernel must
// not own; else one of 198.18.0.0/15 (and 2001:2::/48) picked from the process id, skipping any
// routed already. Throws setup_error.
this_host_link open_this_host(netlink& nl, std::optional<wire::ip_addr> want = {}, unsigned mtu = 65535);

}  // namespace synack::link
