// rtnetlink queries (NETLINK_ROUTE via libmnl): interfaces, routes, neighbours.
//
// Trap 9: the next hop is resolved per destination from the routing table (RTM_GETROUTE), then its
// MAC from the neighbour table (RTM_GETNEIGH). A same-subnet destination has no gateway and must
// be sent to its own MAC, never the gateway's. When neighbour() returns nullopt the engine ARPs.
//
// Both families: IPv4 and IPv6 addresses of an interface, routes and neighbours (the IPv6
// neighbour table is filled by neighbour discovery as the ARP table is by ARP). Functions taking a
// wire::ip_addr accept an ipv4_addr (it converts implicitly) and ask the IPv4 tables for it.
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

// A usable IPv6 address of an interface: tentative (duplicate address detection still running),
// deprecated (preferred lifetime over) and DAD-failed addresses are never listed, since the kernel
// itself would not use them as a source.
struct ipv6_prefix {
  wire::ipv6_addr addr;
  std::uint8_t len = 0;
  bool link_local = false;  // scope link (fe80::/10): only for destinations on the same link
  friend constexpr bool operator==(const ipv6_prefix&, const ipv6_prefix&) = default;
};

struct interface_info {
  int index = 0;
  std::string name;
  std::optional<wire::mac_addr> mac;  // only for Ethernet-like links; none for lo, tun, wireguard
  unsigned mtu = 0;
  bool up = false;       // IFF_UP: administratively up
  bool running = false;  // IFF_RUNNING: carrier (for a veth: the peer is up too)
  std::uint16_t link_type = 0;  // ARPHRD_*
  std::vector<ipv4_prefix> addresses;   // IPv4
  std::vector<ipv6_prefix> addresses6;  // IPv6, in the kernel's order (see ipv6_prefix)
};

struct route_info {
  int ifindex = 0;
  // IPv4 routes: nullopt gateway means the destination is on-link (same subnet); prefsrc is the
  // source address the kernel would choose. Both stay nullopt for an IPv6 route (kept as they were
  // for IPv4 callers); use next_hop/source, which hold either family.
  std::optional<wire::ipv4_addr> gateway;
  std::optional<wire::ipv4_addr> prefsrc;
  // Either family: the gateway (nullopt: on-link, resolve the destination itself; for IPv6 a
  // gateway is usually the router's link-local address) and the route's preferred source.
  std::optional<wire::ip_addr> next_hop;
  std::optional<wire::ip_addr> source;
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

  // The route the kernel would use for `dst` (RTM_GETROUTE, like `ip route get`), IPv4 or IPv6.
  // nullopt when there is none, or it is unreachable/blackhole/prohibit. Throws
  // setup_error(own_address) when dst is one of this host's addresses: a packet socket cannot talk
  // to its own host (trap 10); the kernel routes those (IPv6 too) as type local via `lo`.
  // `oif` (optional) asks for the route out of that interface, which a link-local IPv6
  // destination needs (fe80::/64 is on every link; like `ip -6 route get fe80::1 oif eth0`).
  std::optional<route_info> route_to(wire::ip_addr dst, int oif = 0);

  // The neighbour table's MAC for `addr` on `ifindex` if the entry is usable (REACHABLE, STALE,
  // DELAY, PROBE, PERMANENT or NOARP); nullopt when absent, INCOMPLETE or FAILED. IPv6 addresses
  // are looked up in the neighbour-discovery table (the same NUD states).
  std::optional<wire::mac_addr> neighbour(int ifindex, wire::ip_addr addr);

  // Changes (each returns 0 or the kernel's errno; nothing throws but a dead socket). For devices
  // synack creates itself (its tun, its macvlan): they go with the device.
  // RTM_NEWLINK on an existing device: its MTU (when given) and IFF_UP.
  int set_link(int ifindex, std::optional<unsigned> mtu, bool up);
  // One IPv4 per-device setting (IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF), e.g.
  // IPV4_DEVCONF_ROUTE_LOCALNET or IPV4_DEVCONF_FORWARDING from <linux/ip.h>: the
  // /proc/sys/net/ipv4/conf/DEV/ knobs without /proc.
  int set_ipv4_devconf(int ifindex, int devconf_id, std::uint32_t value);
  // IFLA_INET6_ADDR_GEN_MODE none: no link-local address, so no router solicitations or DAD.
  int set_ipv6_addr_gen_none(int ifindex);
  // A route `dst/prefix_len dev ifindex scope link` in the main table (NLM_F_EXCL: EEXIST when the
  // prefix is routed already).
  int add_route(wire::ip_addr dst, std::uint8_t prefix_len, int ifindex);

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

// The first global-scope IPv6 address of `iface`, in the kernel's order: not link-local (scope
// link, fe80::/10) nor the loopback ::1 (scope host); addresses6 is already free of tentative,
// deprecated and DAD-failed ones. ULAs (fc00::/7) count, as the kernel gives them scope global.
// nullopt when there is none: no link-local fallback, as one cannot be answered from beyond the
// link. What a dual-stack engine takes as its second family's address, with no destination to
// ask a route for.
std::optional<wire::ipv6_addr> first_global_ipv6(const interface_info& iface);

// Our IPv6 source for `dst` leaving by `out` (the route's output interface): the route's preferred
// source when it has one and leaves by `out`, else first_global_ipv6(out), or a link-local one
// only when `dst` is link-local itself (a link-local source cannot be answered from beyond the
// link). nullopt when the interface has no usable address for it.
std::optional<wire::ipv6_addr> ipv6_source(const interface_info& out, const std::optional<route_info>& route,
                                           wire::ipv6_addr dst);

}  // namespace synack::link
