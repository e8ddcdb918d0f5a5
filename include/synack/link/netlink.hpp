// rtnetlink queries (NETLINK_ROUTE via libmnl): interfaces, routes, neighbours.
//
// Trap 9: the next hop is resolved per destination from the routing table (RTM_GETROUTE), then its
// MAC from the neighbour table (RTM_GETNEIGH). A same-subnet destination has no gateway and must
// be sent to its own MAC, never the gateway's. When neighbour() returns nullopt the engine ARPs.
//
// Every request is synchronous: send one message with a fresh sequence number, read until the
// kernel's ACK (or NLMSG_DONE for dumps); replies with another sequence number (left over from an
// earlier, abandoned request) are skipped. The socket lives in the network namespace of the
// thread that constructed it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synack/wire/address.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace synack::link {

struct ipv4_prefix {
  wire::ipv4_addr addr;
  std::uint8_t len = 0;
  friend constexpr bool operator==(const ipv4_prefix&, const ipv4_prefix&) = default;
};

struct interface_info {
  int index = 0;
  std::string name;
  std::optional<wire::mac_addr> mac;  // only for Ethernet-like links; none for lo, tun, wireguard
  unsigned mtu = 0;
  bool up = false;       // IFF_UP: administratively up
  bool running = false;  // IFF_RUNNING: carrier (for a veth: the peer is up too)
  std::uint16_t link_type = 0;  // ARPHRD_*
  std::vector<ipv4_prefix> addresses;
};

struct route_info {
  int ifindex = 0;
  std::optional<wire::ipv4_addr> gateway;  // nullopt: the destination is on-link (same subnet)
  std::optional<wire::ipv4_addr> prefsrc;  // the source address the kernel would choose
  // The route's metrics (RTA_METRICS), when set: its MTU (`ip route ... mtu N`, or a path MTU the
  // kernel learned for this destination and has not expired) and advertised MSS (`advmss N`).
  std::optional<std::uint32_t> mtu;
  std::optional<std::uint32_t> advmss;
};

class netlink {
 public:
  // Opens and binds the socket; throws setup_error.
  netlink();
  ~netlink();
  netlink(netlink&&) noexcept;
  netlink& operator=(netlink&&) noexcept;
  netlink(const netlink&) = delete;
  netlink& operator=(const netlink&) = delete;

  // Throw setup_error(unknown_interface) naming the interface and `ip link` when it does not exist.
  interface_info interface_by_name(std::string_view name);
  interface_info interface_by_index(int index);
  std::optional<interface_info> find_interface(std::string_view name);
  std::optional<interface_info> find_interface(int index);

  // The route the kernel would use for `dst` (RTM_GETROUTE, like `ip route get`). nullopt when
  // there is none, or it is unreachable/blackhole/prohibit. Throws setup_error(own_address) when
  // dst is one of this host's addresses: a packet socket cannot talk to its own host (trap 10).
  std::optional<route_info> route_to(wire::ipv4_addr dst);

  // The neighbour table's MAC for `addr` on `ifindex` if the entry is usable (REACHABLE, STALE,
  // DELAY, PROBE, PERMANENT or NOARP); nullopt when absent, INCOMPLETE or FAILED.
  std::optional<wire::mac_addr> neighbour(int ifindex, wire::ipv4_addr addr);

 private:
  using callback = std::function<void(const nlmsghdr&)>;
  // Sends `request` and hands each reply message of the same sequence to `on_message`; returns 0
  // or the kernel's errno.
  int transact(nlmsghdr* request, const callback& on_message);
  std::optional<interface_info> get_link(int index, std::string_view name);

  struct closer {
    void operator()(mnl_socket*) const noexcept;
  };
  std::unique_ptr<mnl_socket, closer> socket_;
  unsigned portid_ = 0;
  unsigned seq_ = 0;
  std::vector<char> buffer_;
};

}  // namespace synack::link
