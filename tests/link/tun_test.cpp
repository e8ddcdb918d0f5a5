// synack's own tun device for "this host" (root only, inside a throw-away namespace pair): what
// open_this_host() sets up, a kernel listener on 127.0.0.1 answering a SYN written to the tun, and
// the device with its routes gone once the descriptor closes.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "link/netns.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/tun.hpp"

using namespace synack::link;
using synack::link::test::in_netns;
using synack::link::test::veth_pair;
using synack::wire::ipv4_addr;

namespace {

std::string read_sysctl(const std::string& path) {
  std::ifstream f(path);
  std::string v;
  f >> v;
  return v;
}

// Ethernet (synthetic) + IPv4 + TCP SYN from src:sport to dst:dport, checksums filled in.
std::vector<std::byte> syn_frame(ipv4_addr src, std::uint16_t sport, ipv4_addr dst, std::uint16_t dport) {
  std::vector<std::uint8_t> f(14 + 20 + 20, 0);
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 40;
  f[22] = 64;
  f[23] = 6;
  auto put16 = [&](std::size_t at, unsigned v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v & 0xff);
  };
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) f[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
  };
  put32(26, src.value);
  put32(30, dst.value);
  std::uint32_t sum = 0;
  for (std::size_t i = 14; i < 34; i += 2) sum += static_cast<std::uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(24, ~sum & 0xffff);
  put16(34, sport);
  put16(36, dport);
  put32(38, 12345);
  f[46] = 0x50;  // data offset 5
  f[47] = 0x02;  // SYN
  f[48] = 0xff;
  f[49] = 0xff;
  // TCP checksum over the pseudo-header.
  sum = 0;
  for (std::size_t i = 26; i < 34; i += 2) sum += static_cast<std::uint32_t>(f[i] << 8 | f[i + 1]);
  sum += 6 + 20;
  for (std::size_t i = 34; i < 54; i += 2) sum += static_cast<std::uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(50, ~sum & 0xffff);
  std::vector<std::byte> out(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) out[i] = std::byte{f[i]};
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(this_host_tun, *boost::unit_test::precondition(test::root_available))

BOOST_AUTO_TEST_CASE(open_this_host_routes_our_address_and_a_kernel_listener_on_127_answers) {
  veth_pair ns;
  in_netns(ns.a, [&] {
    netlink nl;
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0);
    BOOST_REQUIRE(::listen(listener, 8) == 0);

    std::string name;
    {
      this_host_link l = open_this_host(nl);
      name = l.device->name();
      BOOST_TEST(name.rfind("synack", 0) == 0u);
      BOOST_TEST(l.iface.up);
      BOOST_TEST(l.iface.mtu == 65535u);
      BOOST_TEST(l.iface.link_type == 65534);  // ARPHRD_NONE
      BOOST_TEST((l.address.value >> 17) == (0xc6120000u >> 17));  // in 198.18.0.0/15
      BOOST_TEST(read_sysctl("/proc/sys/net/ipv4/conf/" + name + "/route_localnet") == "1");
      BOOST_TEST(read_sysctl("/proc/sys/net/ipv4/conf/lo/route_localnet") == "0");  // only the tun's
      auto r = nl.route_to(synack::wire::ip_addr{l.address});
      BOOST_REQUIRE(r.has_value());
      BOOST_TEST(r->ifindex == l.iface.index);
      // A second one gets another address (the first is routed already).
      this_host_link l2 = open_this_host(nl);
      BOOST_TEST(l2.address.value != l.address.value);
      // The kernel's address is refused as ours.
      BOOST_CHECK_THROW(open_this_host(nl, synack::wire::ip_addr{ipv4_addr::from_octets(127, 0, 0, 1)}), setup_error);

      // A SYN from our address to 127.0.0.1:8080 gets the kernel's SYN-ACK back through the tun.
      const auto syn = syn_frame(l.address, 40000, ipv4_addr::from_octets(127, 0, 0, 1), 8080);
      BOOST_REQUIRE(!l.device->send(syn));
      bool synack_seen = false;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!synack_seen && std::chrono::steady_clock::now() < deadline) {
        l.device->wait_readable(std::chrono::milliseconds(200));
        l.device->receive(
            [&](const rx_frame& f) {
              const auto* d = reinterpret_cast<const std::uint8_t*>(f.data.data());
              if (f.data.size() >= 54 && d[12] == 0x08 && d[13] == 0x00 && d[14 + 9] == 6 &&
                  (d[14 + 20 + 13] & 0x12) == 0x12)
                synack_seen = true;
            },
            16);
      }
      BOOST_TEST(synack_seen);
    }
    // Closed: the device (and its route) is gone.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      gone = ::if_nametoindex(name.c_str()) == 0;
      if (!gone) ::usleep(20000);
    }
    BOOST_TEST(gone);
    ::close(listener);
    return 0;
  });
}

BOOST_AUTO_TEST_SUITE_END()
