// rtnetlink queries inside a throw-away namespace pair (root only).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "link/netns.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"

using namespace synack::link;
using synack::link::test::enter_netns;
using synack::link::test::must_run;
using synack::link::test::veth_pair;
using synack::wire::ipv4_addr;
using synack::wire::ipv6_addr;

namespace {

ipv6_addr v6(const char* text) { return *ipv6_addr::parse(text); }

}  // namespace

namespace {

void udp_poke(ipv4_addr dst) {  // makes the kernel resolve dst's MAC (ARP)
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(9);
  sin.sin_addr.s_addr = htonl(dst.value);
  ::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  ::close(fd);
}

void udp_poke6(const ipv6_addr& dst) {  // makes the kernel resolve dst's MAC (neighbour discovery)
  int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 sin{};
  sin.sin6_family = AF_INET6;
  sin.sin6_port = htons(9);
  std::memcpy(&sin.sin6_addr, dst.octets.data(), 16);
  ::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  ::close(fd);
}

bool has_address6(const interface_info& info, const ipv6_addr& addr) {
  return std::any_of(info.addresses6.begin(), info.addresses6.end(),
                     [&](const ipv6_prefix& p) { return p.addr == addr; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(netlink_queries, *boost::unit_test::precondition(test::root_available))

BOOST_AUTO_TEST_CASE(interface_by_name_reports_index_mac_mtu_state_and_addresses) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  auto info = nl.interface_by_name(veth_pair::if_a);
  BOOST_TEST(info.index > 0);
  BOOST_TEST(info.name == veth_pair::if_a);
  BOOST_REQUIRE(info.mac.has_value());
  BOOST_TEST((*info.mac == veth_pair::mac_a));
  BOOST_TEST(info.mtu == 1500u);
  BOOST_TEST(info.up);
  BOOST_REQUIRE(info.addresses.size() == 1u);
  BOOST_TEST((info.addresses[0] == ipv4_prefix{veth_pair::addr_a, 24}));

  auto same = nl.interface_by_index(info.index);
  BOOST_TEST(same.name == veth_pair::if_a);
  BOOST_TEST((same.addresses == info.addresses));
}

BOOST_AUTO_TEST_CASE(loopback_has_no_mac) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  auto lo = nl.interface_by_name("lo");
  BOOST_TEST(!lo.mac.has_value());
  BOOST_TEST((std::find(lo.addresses.begin(), lo.addresses.end(),
                        ipv4_prefix{ipv4_addr::from_octets(127, 0, 0, 1), 8}) != lo.addresses.end()));
}

BOOST_AUTO_TEST_CASE(unknown_interface_throws_a_one_line_fix) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  BOOST_TEST(!nl.find_interface("nope0").has_value());
  BOOST_TEST(!nl.find_interface("a-name-longer-than-ifnamsiz").has_value());
  BOOST_TEST(!nl.find_interface(999999).has_value());
  try {
    nl.interface_by_name("nope0");
    BOOST_ERROR("no exception");
  } catch (const setup_error& e) {
    BOOST_TEST((e.code() == setup_errc::unknown_interface));
    BOOST_TEST(std::string(e.what()) == "unknown interface 'nope0' (list them with `ip link`)");
  }
}

BOOST_AUTO_TEST_CASE(route_to_same_subnet_has_no_gateway) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  auto route = nl.route_to(veth_pair::addr_b);
  BOOST_REQUIRE(route.has_value());
  BOOST_TEST(route->ifindex == nl.interface_by_name(veth_pair::if_a).index);
  BOOST_TEST(!route->gateway.has_value());
  BOOST_TEST((route->prefsrc == veth_pair::addr_a));
}

BOOST_AUTO_TEST_CASE(route_via_gateway_names_the_gateway) {
  veth_pair net;
  must_run({"ip", "-n", net.a, "route", "add", "198.51.100.0/24", "via", veth_pair::addr_b.to_string()});
  enter_netns in(net.a);
  netlink nl;
  auto route = nl.route_to(ipv4_addr::from_octets(198, 51, 100, 7));
  BOOST_REQUIRE(route.has_value());
  BOOST_TEST((route->gateway == veth_pair::addr_b));
  BOOST_TEST(route->ifindex == nl.interface_by_name(veth_pair::if_a).index);
}

BOOST_AUTO_TEST_CASE(route_to_unknown_blackhole_or_unreachable_net_is_none) {
  veth_pair net;
  must_run({"ip", "-n", net.a, "route", "add", "blackhole", "203.0.113.0/24"});
  must_run({"ip", "-n", net.a, "route", "add", "unreachable", "100.64.0.0/24"});
  must_run({"ip", "-n", net.a, "route", "add", "prohibit", "100.65.0.0/24"});
  enter_netns in(net.a);
  netlink nl;
  BOOST_TEST(!nl.route_to(ipv4_addr::from_octets(192, 0, 2, 1)).has_value());
  BOOST_TEST(!nl.route_to(ipv4_addr::from_octets(203, 0, 113, 1)).has_value());
  BOOST_TEST(!nl.route_to(ipv4_addr::from_octets(100, 64, 0, 1)).has_value());
  BOOST_TEST(!nl.route_to(ipv4_addr::from_octets(100, 65, 0, 1)).has_value());
}

BOOST_AUTO_TEST_CASE(route_to_own_address_explains_the_packet_socket_limit) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  for (auto own : {veth_pair::addr_a, ipv4_addr::from_octets(127, 0, 0, 1)}) {
    try {
      nl.route_to(own);
      BOOST_ERROR("no exception for " << own.to_string());
    } catch (const setup_error& e) {
      BOOST_TEST((e.code() == setup_errc::own_address));
      BOOST_TEST(std::string(e.what()).find("tun device of its own") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(neighbour_appears_once_the_kernel_has_resolved_it) {
  veth_pair net;
  enter_netns in(net.a);
  netlink nl;
  int ifindex = nl.interface_by_name(veth_pair::if_a).index;
  BOOST_TEST(!nl.neighbour(ifindex, veth_pair::addr_b).has_value());
  udp_poke(veth_pair::addr_b);
  std::optional<synack::wire::mac_addr> mac;
  for (int i = 0; i < 200 && !mac; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    mac = nl.neighbour(ifindex, veth_pair::addr_b);
  }
  BOOST_REQUIRE(mac.has_value());
  BOOST_TEST((*mac == veth_pair::mac_b));
  BOOST_TEST(!nl.neighbour(ifindex, ipv4_addr::from_octets(10, 200, 0, 77)).has_value());
}

BOOST_AUTO_TEST_CASE(netlink_is_movable) {
  veth_pair net;
  enter_netns in(net.a);
  netlink first;
  netlink second = std::move(first);
  BOOST_TEST(second.interface_by_name("lo").index == 1);
}

// --- IPv6 ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ipv6_addresses_are_listed_apart_and_link_local_ones_marked) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  netlink nl;
  auto info = nl.interface_by_name(veth_pair::if_a);
  BOOST_TEST(info.addresses.size() == 1u);  // IPv4 as before
  BOOST_TEST(has_address6(info, veth_pair::addr6_a));
  for (const auto& p : info.addresses6) {
    BOOST_TEST(p.link_local == p.addr.is_link_local());
    if (p.addr == veth_pair::addr6_a) BOOST_TEST(p.len == 64u);
  }
  // lo's ::1 is listed (scope host, not link-local).
  auto lo = nl.interface_by_name("lo");
  BOOST_TEST(has_address6(lo, v6("::1")));
}

BOOST_AUTO_TEST_CASE(tentative_and_deprecated_ipv6_addresses_are_skipped) {
  veth_pair net;
  // A second veth pair inside namespace a, left down: DAD never runs, so an address added without
  // nodad stays tentative; one added with nodad is usable at once.
  must_run({"ip", "-n", net.a, "link", "add", "snk8", "type", "veth", "peer", "name", "snk9"});
  must_run({"ip", "-n", net.a, "-6", "addr", "add", "fd00:8::1/64", "dev", "snk8"});
  must_run({"ip", "-n", net.a, "-6", "addr", "add", "fd00:8::2/64", "dev", "snk8", "nodad"});
  // Preferred lifetime 0: deprecated at once.
  must_run({"ip", "-n", net.a, "-6", "addr", "add", "fd00:8::3/64", "dev", "snk8", "nodad", "preferred_lft", "0"});
  auto shown = test::run_command({"ip", "-n", net.a, "-6", "addr", "show", "dev", "snk8"});
  BOOST_TEST(shown.out.find("tentative") != std::string::npos, shown.out);
  BOOST_TEST(shown.out.find("deprecated") != std::string::npos, shown.out);
  enter_netns in(net.a);
  netlink nl;
  auto info = nl.interface_by_name("snk8");
  BOOST_TEST(!has_address6(info, v6("fd00:8::1")));
  BOOST_TEST(has_address6(info, v6("fd00:8::2")));
  BOOST_TEST(!has_address6(info, v6("fd00:8::3")));
  // The engine's second-family address: the usable one, whatever order the kernel lists them in.
  BOOST_TEST((first_global_ipv6(info) == v6("fd00:8::2")));
  // lo has only ::1 (scope host): no global address.
  BOOST_TEST(!first_global_ipv6(nl.interface_by_name("lo")).has_value());
}

BOOST_AUTO_TEST_CASE(ipv6_route_on_link_has_no_gateway_and_names_our_source) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  netlink nl;
  auto route = nl.route_to(veth_pair::addr6_b);
  BOOST_REQUIRE(route.has_value());
  BOOST_TEST(route->ifindex == nl.interface_by_name(veth_pair::if_a).index);
  BOOST_TEST(!route->next_hop.has_value());
  BOOST_TEST(!route->gateway.has_value());  // the IPv4 fields stay empty for IPv6
  BOOST_TEST(!route->prefsrc.has_value());
  BOOST_TEST((route->source == synack::wire::ip_addr(veth_pair::addr6_a)));
}

BOOST_AUTO_TEST_CASE(ipv4_route_fills_both_the_ipv4_and_the_family_agnostic_fields) {
  veth_pair net;
  must_run({"ip", "-n", net.a, "route", "add", "198.51.100.0/24", "via", veth_pair::addr_b.to_string()});
  enter_netns in(net.a);
  netlink nl;
  auto route = nl.route_to(ipv4_addr::from_octets(198, 51, 100, 7));
  BOOST_REQUIRE(route.has_value());
  BOOST_TEST((route->next_hop == synack::wire::ip_addr(veth_pair::addr_b)));
  BOOST_TEST((route->source == synack::wire::ip_addr(veth_pair::addr_a)));
}

BOOST_AUTO_TEST_CASE(ipv6_route_via_gateway_with_prefsrc_and_metrics) {
  veth_pair net;
  net.add_ipv6();
  must_run({"ip", "-n", net.a, "-6", "addr", "add", "fd00:200::5/64", "dev", veth_pair::if_a, "nodad"});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "2001:db8:7::/64", "via", veth_pair::addr6_b.to_string()});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "2001:db8:8::/64", "via", veth_pair::addr6_b.to_string(), "src",
            "fd00:200::5"});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "2001:db8:9::/64", "via", veth_pair::addr6_b.to_string(), "mtu",
            "1400", "advmss", "1300"});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "2001:db8:a::/64", "via", "fe80::2", "dev", veth_pair::if_a});
  enter_netns in(net.a);
  netlink nl;
  const int ifindex = nl.interface_by_name(veth_pair::if_a).index;

  auto via = nl.route_to(v6("2001:db8:7::1"));
  BOOST_REQUIRE(via.has_value());
  BOOST_TEST(via->ifindex == ifindex);
  BOOST_TEST((via->next_hop == synack::wire::ip_addr(veth_pair::addr6_b)));
  BOOST_TEST(!via->mtu.has_value());

  auto src = nl.route_to(v6("2001:db8:8::1"));
  BOOST_REQUIRE(src.has_value());
  BOOST_TEST((src->source == synack::wire::ip_addr(v6("fd00:200::5"))));

  auto metrics = nl.route_to(v6("2001:db8:9::1"));
  BOOST_REQUIRE(metrics.has_value());
  BOOST_TEST((metrics->mtu == std::optional<std::uint32_t>(1400)));
  BOOST_TEST((metrics->advmss == std::optional<std::uint32_t>(1300)));

  auto ll = nl.route_to(v6("2001:db8:a::1"));  // routers usually advertise their link-local address
  BOOST_REQUIRE(ll.has_value());
  BOOST_TEST((ll->next_hop == synack::wire::ip_addr(v6("fe80::2"))));

  // A link-local destination, asked for one interface.
  auto onlink = nl.route_to(v6("fe80::2"), ifindex);
  BOOST_REQUIRE(onlink.has_value());
  BOOST_TEST(onlink->ifindex == ifindex);
  BOOST_TEST(!onlink->next_hop.has_value());
}

BOOST_AUTO_TEST_CASE(ipv6_route_to_unknown_blackhole_unreachable_or_prohibited_net_is_none) {
  veth_pair net;
  net.add_ipv6();
  must_run({"ip", "-n", net.a, "-6", "route", "add", "blackhole", "2001:db8:b::/64"});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "unreachable", "2001:db8:c::/64"});
  must_run({"ip", "-n", net.a, "-6", "route", "add", "prohibit", "2001:db8:d::/64"});
  enter_netns in(net.a);
  netlink nl;
  BOOST_TEST(!nl.route_to(v6("2001:db8:ff::1")).has_value());  // no default route here
  BOOST_TEST(!nl.route_to(v6("2001:db8:b::1")).has_value());
  BOOST_TEST(!nl.route_to(v6("2001:db8:c::1")).has_value());
  BOOST_TEST(!nl.route_to(v6("2001:db8:d::1")).has_value());
}

BOOST_AUTO_TEST_CASE(ipv6_route_to_own_address_explains_the_packet_socket_limit) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  netlink nl;
  for (auto own : {veth_pair::addr6_a, v6("::1")}) {
    try {
      nl.route_to(own);
      BOOST_ERROR("no exception for " << own.to_string());
    } catch (const setup_error& e) {
      BOOST_TEST((e.code() == setup_errc::own_address));
      BOOST_TEST(std::string(e.what()).find(own.to_string()) != std::string::npos);
      BOOST_TEST(std::string(e.what()).find("tun device of its own") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(ipv6_neighbour_appears_once_the_kernel_has_resolved_it) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  netlink nl;
  int ifindex = nl.interface_by_name(veth_pair::if_a).index;
  BOOST_TEST(!nl.neighbour(ifindex, veth_pair::addr6_b).has_value());
  udp_poke6(veth_pair::addr6_b);
  std::optional<synack::wire::mac_addr> mac;
  for (int i = 0; i < 200 && !mac; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    mac = nl.neighbour(ifindex, veth_pair::addr6_b);
  }
  BOOST_REQUIRE(mac.has_value());
  BOOST_TEST((*mac == veth_pair::mac_b));
  BOOST_TEST(!nl.neighbour(ifindex, v6("fd00:200::77")).has_value());
  // The IPv4 table does not answer for it, nor the IPv6 one for an IPv4 address.
  BOOST_TEST(!nl.neighbour(ifindex, veth_pair::addr_b).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// The source choice is pure: no namespace needed.
BOOST_AUTO_TEST_SUITE(ipv6_source_choice)

BOOST_AUTO_TEST_CASE(prefsrc_then_first_global_then_link_local_only_for_link_local_destinations) {
  interface_info out;
  out.index = 3;
  out.addresses6 = {{v6("fe80::1"), 64, true}, {v6("2001:db8::1"), 64, false}, {v6("2001:db8::2"), 64, false}};
  route_info route;
  route.ifindex = 3;
  BOOST_TEST((ipv6_source(out, route, v6("2001:db8:5::1")) == v6("2001:db8::1")));
  BOOST_TEST((ipv6_source(out, std::nullopt, v6("2001:db8:5::1")) == v6("2001:db8::1")));
  route.source = synack::wire::ip_addr(v6("2001:db8::2"));
  BOOST_TEST((ipv6_source(out, route, v6("2001:db8:5::1")) == v6("2001:db8::2")));
  route.ifindex = 4;  // the route leaves by another interface: its source is not ours here
  BOOST_TEST((ipv6_source(out, route, v6("2001:db8:5::1")) == v6("2001:db8::1")));

  interface_info ll_only;
  ll_only.index = 3;
  ll_only.addresses6 = {{v6("fe80::1"), 64, true}};
  BOOST_TEST(!ipv6_source(ll_only, std::nullopt, v6("2001:db8:5::1")).has_value());
  BOOST_TEST((ipv6_source(ll_only, std::nullopt, v6("fe80::2")) == v6("fe80::1")));
  BOOST_TEST(!ipv6_source(interface_info{}, std::nullopt, v6("fe80::2")).has_value());
}

BOOST_AUTO_TEST_CASE(first_global_ipv6_skips_link_local_and_loopback_and_has_no_fallback) {
  interface_info i;
  BOOST_TEST(!first_global_ipv6(i).has_value());
  i.addresses6 = {{v6("fe80::1"), 64, true}};
  BOOST_TEST(!first_global_ipv6(i).has_value());  // no link-local fallback
  i.addresses6 = {{v6("::1"), 128, false}};
  BOOST_TEST(!first_global_ipv6(i).has_value());  // scope host
  // A link-local address the kernel marks scope link though it is not in fe80::/10 counts as such.
  i.addresses6 = {{v6("fe80::1"), 64, true}, {v6("fd00::7"), 64, true}, {v6("::1"), 128, false},
                  {v6("fd00::1"), 64, false}, {v6("2001:db8::1"), 64, false}};
  BOOST_TEST((first_global_ipv6(i) == v6("fd00::1")));  // a ULA is scope global: the first counts
  // ipv6_source without a route answers the same for a global destination.
  BOOST_TEST((ipv6_source(i, std::nullopt, v6("2001:db8:5::1")) == first_global_ipv6(i)));
}

BOOST_AUTO_TEST_SUITE_END()
