// rtnetlink queries inside a throw-away namespace pair (root only).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "link/netns.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"

using namespace synack::link;
using synack::link::test::enter_netns;
using synack::link::test::must_run;
using synack::link::test::veth_pair;
using synack::wire::ipv4_addr;

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
      BOOST_TEST(std::string(e.what()).find("namespace") != std::string::npos);
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

BOOST_AUTO_TEST_SUITE_END()
