// The packet socket against the kernel in a peer namespace (root only).
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <vector>
#include <thread>

#include "link/frames.hpp"
#include "link/netns.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/packet_socket.hpp"

using namespace synack::link;
using namespace std::chrono_literals;
using synack::link::test::enter_netns;
using synack::link::test::veth_pair;
using synack::wire::ipv4_addr;

namespace {

constexpr port_range our_ports{61000, 61009};

sockaddr_in endpoint(ipv4_addr addr, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr.value);
  return sin;
}

// A kernel connect() attempt (non-blocking: only the SYN matters).
void kernel_connect(ipv4_addr addr, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto sin = endpoint(addr, port);
  ::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  std::this_thread::sleep_for(20ms);
  ::close(fd);
}

void kernel_udp(ipv4_addr addr, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto sin = endpoint(addr, port);
  ::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  ::close(fd);
}

int kernel_listener(ipv4_addr addr, std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto sin = endpoint(addr, port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd, 16) != 0) return -1;
  return fd;
}

packet_socket::options options_for(int ifindex) {
  packet_socket::options o;
  o.ifindex = ifindex;
  o.local_addr = veth_pair::addr_a;
  o.ports = our_ports;
  return o;
}

// Drains frames until `done` says so or the deadline passes.
template <class F>
void drain_until(packet_socket& sock, std::chrono::milliseconds limit, F&& done) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool finished = false;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    if (!sock.wait_readable(10ms)) continue;
    sock.drain([&](const rx_frame& f) { finished = done(f) || finished; });
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(packet_socket_io, *boost::unit_test::precondition(test::root_available))

BOOST_AUTO_TEST_CASE(receives_kernel_syn_to_our_ports_and_nothing_else) {
  veth_pair net;
  enter_netns in(net.a);
  int ifindex = netlink().interface_by_name(veth_pair::if_a).index;
  packet_socket sock(options_for(ifindex));

  // From the peer: a SYN to a port outside the range, UDP inside it, then a SYN inside it.
  std::jthread peer([&] {
    enter_netns peer_ns(net.b);
    kernel_connect(veth_pair::addr_a, 5000);
    kernel_udp(veth_pair::addr_a, 61005);
    kernel_connect(veth_pair::addr_a, 61005);
  });
  bool saw_syn = false, saw_other = false, saw_arp = false, saw_own = false;
  auto classify = [&](const rx_frame& f) {
    BOOST_TEST(!f.truncated);
    BOOST_TEST(f.data.size() == f.original_length);
    BOOST_TEST(f.kernel_timestamp.count() > 0);
    if (synack::wire::load_u16(f.data, 12) == 0x0806) {
      saw_arp = true;
      return false;
    }
    auto tcp = test::parse_tcp(f.data);
    if (tcp && tcp->eth_src == veth_pair::mac_a) saw_own = true;  // trap 5: our own RSTs
    if (tcp && tcp->dport == 61005 && tcp->flags == test::tcp_syn) {
      saw_syn = true;
      BOOST_TEST_MESSAGE("SYN status: checksum_unverified=" << f.checksum_unverified
                                                             << " checksum_valid=" << f.checksum_valid);
      return true;
    }
    saw_other = true;
    return false;
  };
  drain_until(sock, 3000ms, classify);
  peer.join();
  drain_until(sock, 100ms, classify);  // anything that trails behind

  BOOST_TEST(saw_syn);
  BOOST_TEST(saw_arp);  // the peer's ARP request for our address
  BOOST_TEST(!saw_other);
  BOOST_TEST(!saw_own);
  auto st = sock.stats();
  BOOST_TEST(st.dropped == 0u);
}

BOOST_AUTO_TEST_CASE(sent_syn_gets_the_kernel_syn_ack_back) {
  veth_pair net;
  int listener = test::in_netns(net.b, [] { return kernel_listener(veth_pair::addr_b, 8080); });
  BOOST_REQUIRE(listener >= 0);
  enter_netns in(net.a);
  int ifindex = netlink().interface_by_name(veth_pair::if_a).index;
  packet_socket sock(options_for(ifindex));

  // One SYN through send(), one through queue() + flush().
  auto syn1 = test::make_syn(veth_pair::mac_a, veth_pair::mac_b, veth_pair::addr_a, veth_pair::addr_b, 61003,
                             8080, 1000);
  auto syn2 = test::make_syn(veth_pair::mac_a, veth_pair::mac_b, veth_pair::addr_a, veth_pair::addr_b, 61004,
                             8080, 2000);
  BOOST_TEST(!sock.send(syn1));
  BOOST_TEST(!sock.queue(syn2));
  BOOST_TEST(sock.queued() == 1u);
  BOOST_TEST(!sock.flush());
  BOOST_TEST(sock.queued() == 0u);

  bool got1 = false, got2 = false;
  drain_until(sock, 3000ms, [&](const rx_frame& f) {
    auto tcp = test::parse_tcp(f.data);
    if (!tcp || tcp->flags != (test::tcp_syn | test::tcp_ack) || tcp->sport != 8080) return false;
    if (tcp->dport == 61003 && tcp->ack == 1001) got1 = true;
    if (tcp->dport == 61004 && tcp->ack == 2001) got2 = true;
    return got1 && got2;
  });
  ::close(listener);
  BOOST_TEST(got1);
  BOOST_TEST(got2);
  BOOST_TEST(sock.send(std::span<const std::byte>{}).value() == EINVAL);
}

BOOST_AUTO_TEST_CASE(a_small_ring_with_2k_frames_works_and_is_movable) {
  veth_pair net;
  enter_netns in(net.a);
  int ifindex = netlink().interface_by_name(veth_pair::if_a).index;
  auto o = options_for(ifindex);
  o.rx_frame_size = 2048;
  o.rx_ring_bytes = 64 << 10;
  o.qdisc_bypass = true;
  packet_socket first(o);
  packet_socket sock = std::move(first);
  BOOST_TEST(first.fd() == -1);
  BOOST_TEST(!sock.ready());
  BOOST_TEST(!sock.wait_readable(1ms));
  std::jthread peer([&] {
    enter_netns peer_ns(net.b);
    kernel_connect(veth_pair::addr_a, 61000);
  });
  bool saw = false;
  drain_until(sock, 3000ms, [&](const rx_frame& f) {
    auto tcp = test::parse_tcp(f.data);
    saw = saw || (tcp && tcp->dport == 61000);
    return saw;
  });
  peer.join();
  BOOST_TEST(saw);
}

// Trap 4: over a veth the peer's TSO super-segments arrive unsplit (up to 64 KiB). A kernel bulk
// sender's largest frame as received with the given ring slot size and copy_oversized setting.
namespace {
struct bulk_result {
  std::size_t largest = 0;
  bool any_truncated = false;
  bool any_gso = false;
  bool data_matches_length = true;  // every frame's data holds original_length bytes unless truncated
};

bulk_result receive_a_bulk_transfer(std::size_t frame_size, bool copy_oversized, std::uint16_t port) {
  veth_pair net;
  enter_netns in(net.a);
  auto o = options_for(netlink().interface_by_name(veth_pair::if_a).index);
  o.rx_frame_size = frame_size;
  o.copy_oversized = copy_oversized;
  packet_socket sock(o);
  int listener = kernel_listener(veth_pair::addr_a, port);  // a kernel socket inside our range
  BOOST_REQUIRE(listener >= 0);
  std::jthread receiver([&] {
    enter_netns ns(net.a);
    int fd = ::accept(listener, nullptr, nullptr);
    char buf[65536];
    while (fd >= 0 && ::read(fd, buf, sizeof buf) > 0) {
    }
    if (fd >= 0) ::close(fd);
  });
  std::jthread sender([&] {
    enter_netns ns(net.b);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto sin = endpoint(veth_pair::addr_a, port);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0) {
      std::vector<char> data(4 << 20, 'x');
      for (std::size_t off = 0; off < data.size();) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
    }
    ::close(fd);
  });
  bulk_result r;
  drain_until(sock, 3000ms, [&](const rx_frame& f) {
    r.largest = std::max(r.largest, f.original_length);
    r.any_truncated = r.any_truncated || f.truncated;
    r.any_gso = r.any_gso || f.gso_tcp;
    if (!f.truncated && f.data.size() != f.original_length) r.data_matches_length = false;
    return r.largest > 16384;
  });
  sender.join();
  receiver.join();
  ::close(listener);
  BOOST_TEST_MESSAGE("slots of " << frame_size << " bytes, copy " << copy_oversized << ": largest frame "
                                 << r.largest << " bytes, gso_tcp seen: " << r.any_gso);
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(giant_tcp_frames_from_a_bulk_transfer_arrive_whole) {
  auto r = receive_a_bulk_transfer(packet_socket::options{}.rx_frame_size, true, 61007);
  BOOST_TEST(r.largest > 1514u);
  BOOST_TEST(!r.any_truncated);
  BOOST_TEST(r.data_matches_length);
}

BOOST_AUTO_TEST_CASE(giant_frames_arrive_whole_through_2k_slots_via_the_receive_queue) {
  auto r = receive_a_bulk_transfer(2048, true, 61008);
  BOOST_TEST(r.largest > 2048u);
  BOOST_TEST(!r.any_truncated);
  BOOST_TEST(r.data_matches_length);
}

BOOST_AUTO_TEST_CASE(without_copy_oversized_giant_frames_in_2k_slots_are_truncated) {
  auto r = receive_a_bulk_transfer(2048, false, 61009);
  BOOST_TEST(r.largest > 2048u);
  BOOST_TEST(r.any_truncated);
}

BOOST_AUTO_TEST_CASE(icmp_port_unreachable_arrives_when_icmp_errors_are_asked_for) {
  veth_pair net;
  // The peer's firewall rejects TCP to port 9 with port unreachable, quoting our SYN.
  synack::link::test::must_run({"ip", "netns", "exec", net.b, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "REJECT"});
  enter_netns in(net.a);
  auto o = options_for(netlink().interface_by_name(veth_pair::if_a).index);
  o.icmp_errors = true;
  packet_socket sock(o);
  auto from_port = [](std::uint16_t port) {
    // A kernel SYN from `port` to the peer's port 9 (non-blocking: the answer is what counts).
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto local = endpoint(veth_pair::addr_a, port);
    ::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
    auto peer = endpoint(veth_pair::addr_b, 9);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
    return fd;
  };
  // Outside our range (the kernel's own connection): its ICMP is not for us. Inside: it is.
  int outside = from_port(40123), inside = from_port(our_ports.lo + 3);
  kernel_udp(veth_pair::addr_b, 9);  // UDP port unreachable: not about TCP, not for us
  int icmp_seen = 0;  // others (the kernel may get its answer twice: the SYN is resent when the first
                      // ICMP found the socket locked by connect(), tcp_v4_err's sk_err_soft case)
  bool saw_ours = false;
  drain_until(sock, 3000ms, [&](const rx_frame& f) {
    using synack::wire::load_u8;
    using synack::wire::load_u16;
    if (f.data.size() >= 36 && load_u16(f.data, 12) == 0x0800 && load_u8(f.data, 23) == 1) {
      // type 3 code 3, quoting TCP (offset 14 + 20 + 8 + 9) from our port (14 + 20 + 8 + 20)
      const bool ours = load_u8(f.data, 34) == 3 && load_u8(f.data, 35) == 3 && load_u8(f.data, 51) == 6 &&
                        load_u16(f.data, 62) == our_ports.lo + 3;
      saw_ours = saw_ours || ours;
      if (!ours) ++icmp_seen;
    }
    return false;  // wait the whole time: the others must not come
  });
  ::close(outside);
  ::close(inside);
  BOOST_TEST(saw_ours);
  BOOST_TEST(icmp_seen == 0);
}

BOOST_AUTO_TEST_CASE(unknown_or_down_interface_is_a_setup_error) {
  veth_pair net;
  enter_netns in(net.a);
  try {
    packet_socket sock(options_for(4242));
    BOOST_ERROR("no exception");
  } catch (const setup_error& e) {
    BOOST_TEST((e.code() == setup_errc::unknown_interface));
  }
  test::must_run({"ip", "-n", net.a, "link", "set", veth_pair::if_a, "down"});
  try {
    packet_socket sock(options_for(netlink().interface_by_name(veth_pair::if_a).index));
    BOOST_ERROR("no exception");
  } catch (const setup_error& e) {
    BOOST_TEST((e.code() == setup_errc::interface_down));
    BOOST_TEST(std::string(e.what()) == "interface 'snk0' is down (bring it up with `ip link set snk0 up`)");
  }
}

BOOST_AUTO_TEST_CASE(an_ipv6_address_joins_its_solicited_node_group_while_the_socket_lives) {
  veth_pair net;
  // An address the kernel does not hold, so the kernel has not joined its group itself.
  const auto addr = *synack::wire::ipv6_addr::parse("fd00:200::77");
  const std::string group = "33:33:ff:00:00:77";
  auto joined = [&] {
    return test::run_command({"ip", "-n", net.a, "maddr", "show", "dev", veth_pair::if_a}).out.find(group) !=
           std::string::npos;
  };
  BOOST_TEST(!joined());
  {
    enter_netns in(net.a);
    packet_socket::options o;
    o.ifindex = netlink().interface_by_name(veth_pair::if_a).index;
    o.local_addr = veth_pair::addr_a;
    o.local_addr6 = addr;
    o.ports = our_ports;
    packet_socket sock(o);
    BOOST_TEST(joined());
  }
  BOOST_TEST(!joined());  // the membership ends with the socket
}

BOOST_AUTO_TEST_SUITE_END()
