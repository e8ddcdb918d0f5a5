// Own-address mode (issue 15, options::own_address): the engine as a host of its own on the link,
// through a macvlan with an address the kernel never owns. Kept apart from engine.cpp, which calls
// setup_own_address() first and own_address_ready() last in its netlink constructor.
#include <array>
#include <string>

#include "synack/engine/engine.hpp"
#include "synack/wire/arp.hpp"
#include "synack/wire/ethernet.hpp"

namespace synack::engine {

namespace {

bool contains(const wire::ip_addr& prefix, unsigned len, const wire::ip_addr& a) {
  if (prefix.is_v4() != a.is_v4()) return false;
  if (a.is_v4()) {
    const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    return (prefix.v4().value & mask) == (a.v4().value & mask);
  }
  for (unsigned i = 0; i < 16 && len > 0; ++i, len = len >= 8 ? len - 8 : 0) {
    const std::uint8_t mask = len >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - len));
    if ((a.v6().octets[i] & mask) != (prefix.v6().octets[i] & mask)) return false;
  }
  return true;
}

[[noreturn]] void refuse(link::setup_errc code, const std::string& what) { throw link::setup_error(code, what); }

}  // namespace

void engine::setup_own_address(const wire::ip_addr& destination) {
  const auto& own = *opts_.own_address;
  const wire::ip_addr addr = own.address;
  const std::string text = addr.to_string();
  const unsigned max_len = addr.is_v4() ? 32 : 128;
  if (own.prefix_len && *own.prefix_len > max_len)
    refuse(link::setup_errc::invalid_argument,
           "--own-address " + text + "/" + std::to_string(*own.prefix_len) + ": the prefix is at most " +
               std::to_string(max_len));
  const bool bad = addr.is_v4() ? (addr.is_unspecified() || (addr.v4().value >> 24) == 127 ||
                                   (addr.v4().value >> 28) == 0xe || addr.v4().value == 0xffffffff)
                                : (addr.is_unspecified() || addr.v6().is_multicast() || addr.v6().is_loopback() ||
                                   addr.v6().is_link_local());
  if (bad)
    refuse(link::setup_errc::invalid_argument,
           "--own-address " + text + " cannot be a host's address (give a unicast address on the link" +
               (addr.is_v6() ? ", not link-local)" : ")"));
  if (addr.family() != destination.family())
    refuse(link::setup_errc::invalid_argument,
           "--own-address " + text + " is " + (addr.is_v4() ? "IPv4" : "IPv6") + " but " + destination.to_string() +
               " is not (give an own address of the destination's family; for a name, -4 or -6 picks it)");
  if (opts_.source && *opts_.source != addr)
    refuse(link::setup_errc::invalid_argument,
           "--source " + opts_.source->to_string() + " and --own-address " + text +
               " disagree (the own address is the source; drop --source)");

  // The kernel must not own ADDR anywhere here: it would answer ARP/NDP and reset our connections.
  try {
    (void)netlink_->route_to(addr);
  } catch (const link::setup_error& e) {
    if (e.code() != link::setup_errc::own_address) throw;
    refuse(link::setup_errc::own_address,
           "--own-address " + text + " is an address of this host's kernel, which would answer for it "
                                     "(pick an address nobody on the link owns, or remove it: ip addr del " +
               text + " dev IFACE)");
  }

  // The parent: -I, else the interface the route to the destination leaves by.
  link::interface_info parent;
  if (!opts_.interface.empty()) {
    parent = netlink_->interface_by_name(opts_.interface);
  } else {
    const auto route = netlink_->route_to(destination);
    if (!route)
      refuse(link::setup_errc::no_route,
             "no route to " + destination.to_string() + " (check `ip route`, or pass -I IFACE for the macvlan)");
    parent = netlink_->interface_by_index(route->ifindex);
  }
  link::interface_info lower = parent;
  const auto kind = link::link_kind(parent.index);
  if (kind && kind->kind == "macvlan" && !opts_.interface.empty()) {
    // The user's own macvlan: used as it is, never deleted; routes and neighbours are its lower's.
    if (!parent.up)
      refuse(link::setup_errc::interface_down,
             "interface '" + parent.name + "' is down (ip link set " + parent.name + " up)");
    macvlan_.emplace(link::macvlan::adopt(parent.index, parent.name));
    if (kind->lower_index > 0)
      if (auto l = netlink_->find_interface(kind->lower_index)) lower = std::move(*l);
  } else {
    macvlan_.emplace(parent, link::macvlan::mac_for(addr));
  }

  // On-link around ADDR: the prefix given, else that of the parent's address containing ADDR.
  own_prefix_len_ = static_cast<std::uint8_t>(max_len);
  if (own.prefix_len) {
    own_prefix_len_ = *own.prefix_len;
  } else if (addr.is_v4()) {
    for (const auto& p : lower.addresses)
      if (contains(wire::ip_addr{p.addr}, p.len, addr)) {
        own_prefix_len_ = p.len;
        break;
      }
  } else {
    for (const auto& p : lower.addresses6)
      if (!p.link_local && contains(wire::ip_addr{p.addr}, p.len, addr)) {
        own_prefix_len_ = p.len;
        break;
      }
  }
  own_parent_index_ = lower.index;
  opts_.interface = macvlan_->name();
  opts_.source = addr;
  opts_.rst_guard = false;  // the kernel never owns ADDR: it never resets synack's connections
}

void engine::own_address_ready() {
  const wire::ip_addr addr = opts_.own_address->address;
  // ADDR is the interface's one address (on_link() reads it) and the engine's only one: an
  // address of the other family would be the kernel's (an adopted macvlan's), which resets.
  if (addr.is_v4()) {
    local6_.reset();
    iface_.addresses = {link::ipv4_prefix{addr.v4(), own_prefix_len_}};
    iface_.addresses6.clear();
    local_is_kernel_address_ = false;
  } else {
    local4_.reset();
    iface_.addresses.clear();
    iface_.addresses6 = {link::ipv6_prefix{addr.v6(), own_prefix_len_, false}};
    local6_is_kernel_address_ = false;
  }
  // Announce ADDR at our MAC: a peer whose neighbour entry still names another MAC (an earlier
  // run on a random MAC, another host) updates it (Linux updates existing entries on gratuitous
  // ARP and on an unsolicited NA with the override flag; it makes no new ones).
  if (addr.is_v4()) {
    wire::arp_repr garp{wire::arp_op::request, mac_, addr.v4(), wire::mac_addr{}, addr.v4()};
    std::array<std::byte, wire::ethernet_header_len + wire::arp_packet_len> frame{};
    wire::emit_ethernet(frame, wire::mac_addr::broadcast(), mac_, wire::ethertype::arp);
    garp.emit(std::span{frame}.subspan(wire::ethernet_header_len));
    ++stats_.arp_requests_sent;
    send_frame(frame, clock_now());
  } else {
    wire::ndp_repr na;
    na.type = wire::icmpv6_type::neighbor_advertisement;
    na.target = addr.v6();
    na.solicited = false;
    na.override = true;
    na.target_lladdr = mac_;
    const wire::ipv6_addr all_nodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    send_ndp(na, all_nodes, all_nodes.multicast_mac());
    ++stats_.ndp_advertisements_sent;
  }
}

}  // namespace synack::engine
