#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <set>

#include "synack/link/error.hpp"
#include "synack/link/ports.hpp"

using namespace synack::link;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(ports)

BOOST_AUTO_TEST_CASE(parse_port_range_accepts_dash_colon_and_single_port) {
  BOOST_TEST((parse_port_range("61000-65535") == port_range{61000, 65535}));
  BOOST_TEST((parse_port_range("1:2") == port_range{1, 2}));
  BOOST_TEST((parse_port_range("8080") == port_range{8080, 8080}));
  BOOST_TEST(parse_port_range("61000-65535").size() == 4536u);
}

BOOST_AUTO_TEST_CASE(parse_port_range_rejects_malformed_text_with_one_line_message) {
  for (const char* bad : {"", "-", "0-10", "10-5", "1-65536", "a-b", "61000-", "-5", "1 - 2", "1-2-3", "70000"}) {
    try {
      parse_port_range(bad);
      BOOST_ERROR("accepted '" << bad << "'");
    } catch (const setup_error& e) {
      BOOST_TEST((e.code() == setup_errc::invalid_argument));
      std::string what = e.what();
      BOOST_TEST(what.find('\n') == std::string::npos);
      BOOST_TEST(what.find("e.g. 61000-65535") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(default_port_range_prefers_above_the_ephemeral_range_unless_it_is_too_small) {
  BOOST_TEST((default_port_range(port_range{32768, 60999}) == port_range{61000, 65535}));
  BOOST_TEST((default_port_range(port_range{32768, 65535}) == port_range{1024, 32767}));
  BOOST_TEST((default_port_range(port_range{2000, 3000}) == port_range{3001, 65535}));
  BOOST_TEST((default_port_range(port_range{50000, 50010}) == port_range{50011, 65535}));
  BOOST_TEST((default_port_range(port_range{32768, 65530}) == port_range{1024, 32767}));
  BOOST_TEST((default_port_range(port_range{1100, 65530}) == port_range{1024, 1099}));
  BOOST_TEST((default_port_range(port_range{1026, 65530}) == port_range{65531, 65535}));
  BOOST_CHECK_THROW(default_port_range(port_range{1024, 65535}), setup_error);
}

BOOST_AUTO_TEST_CASE(kernel_ephemeral_range_reads_a_sane_range) {
  auto r = kernel_ephemeral_range();
  BOOST_TEST(r.lo >= 1);
  BOOST_TEST(r.lo <= r.hi);
}

BOOST_AUTO_TEST_CASE(parse_proc_net_tcp_reads_local_ports_of_v4_and_v6_lines) {
  const char* v4 =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n"
      "   1: 0200C80A:EE48 0100C80A:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n";
  const char* v6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0\n";
  BOOST_TEST((parse_proc_net_tcp(v4) == std::vector<std::uint16_t>{8080, 61000}));
  BOOST_TEST((parse_proc_net_tcp(v6) == std::vector<std::uint16_t>{22}));
  BOOST_TEST(parse_proc_net_tcp("garbage\n  0: nocolon x\n").empty());
}

BOOST_AUTO_TEST_CASE(allocator_hands_out_every_port_once_then_nothing) {
  port_allocator alloc({61000, 61099}, 42);
  alloc.set_kernel_ports({});
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto p = alloc.acquire();
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST((*p >= 61000 && *p <= 61099));
    BOOST_TEST(seen.insert(*p).second);
  }
  BOOST_TEST(!alloc.acquire().has_value());
  BOOST_TEST(alloc.held() == 100u);
}

BOOST_AUTO_TEST_CASE(allocator_order_is_shuffled_and_reproducible_by_seed) {
  auto first_ten = [](std::uint64_t seed) {
    port_allocator alloc({61000, 65535}, seed);
    alloc.set_kernel_ports({});
    std::vector<std::uint16_t> v;
    for (int i = 0; i < 10; ++i) v.push_back(*alloc.acquire());
    return v;
  };
  auto a = first_ten(1);
  BOOST_TEST(a == first_ten(1));
  BOOST_TEST(a != first_ten(2));
  std::vector<std::uint16_t> sequential;
  for (std::uint16_t p = 61000; p < 61010; ++p) sequential.push_back(p);
  BOOST_TEST(a != sequential);
}

BOOST_AUTO_TEST_CASE(allocator_skips_ports_the_kernel_uses) {
  port_allocator alloc({61000, 61003}, 7);
  alloc.set_kernel_ports({61001, 61003, 80});
  std::set<std::uint16_t> got{*alloc.acquire(), *alloc.acquire()};
  BOOST_TEST((got == std::set<std::uint16_t>{61000, 61002}));
  BOOST_TEST(!alloc.acquire().has_value());
}

BOOST_AUTO_TEST_CASE(allocator_reuses_a_released_port_only_after_quarantine) {
  port_allocator alloc({61000, 61000}, 7, 2s);
  alloc.set_kernel_ports({});
  auto t0 = port_allocator::clock::time_point{} + 100s;
  BOOST_TEST(alloc.acquire(t0).value() == 61000);
  BOOST_TEST(!alloc.acquire(t0).has_value());
  alloc.release(61000, t0);
  alloc.release(61000, t0);  // double release is ignored
  alloc.release(80, t0);     // out of range is ignored
  BOOST_TEST(alloc.held() == 0u);
  BOOST_TEST(!alloc.acquire(t0 + 1s).has_value());
  BOOST_TEST(alloc.acquire(t0 + 2s).value() == 61000);
}

BOOST_AUTO_TEST_SUITE_END()

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "link/netns.hpp"

BOOST_AUTO_TEST_SUITE(ports_in_netns, *boost::unit_test::precondition(synack::link::test::root_available))

// /proc/net follows the thread-group leader's namespace; the allocator must read the calling
// thread's (/proc/thread-self/net), or a setns'd engine thread would see the wrong sockets.
BOOST_AUTO_TEST_CASE(allocator_sees_kernel_listeners_of_the_calling_threads_namespace) {
  synack::link::test::veth_pair net;
  struct seen {
    bool listed = false;
    std::optional<std::uint16_t> first, second, after_close;
  };
  // A second thread (not the thread-group leader) inside the namespace, like an engine thread.
  auto s = synack::link::test::in_netns(net.a, [] {
    seen out;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(61005);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd, 1) != 0) return out;
    auto used = kernel_tcp_ports();
    out.listed = std::find(used.begin(), used.end(), 61005) != used.end();
    port_allocator alloc({61004, 61005}, 3);
    out.first = alloc.acquire();
    out.second = alloc.acquire();
    ::close(fd);
    alloc.refresh_kernel_ports();
    out.after_close = alloc.acquire();
    return out;
  });
  BOOST_TEST(s.listed);
  BOOST_TEST((s.first == std::optional<std::uint16_t>(61004)));
  BOOST_TEST(!s.second.has_value());
  BOOST_TEST((s.after_close == std::optional<std::uint16_t>(61005)));
}

// An IPV6_V6ONLY listener is listed in /proc/net/tcp6 only: the allocator must skip its port too.
BOOST_AUTO_TEST_CASE(allocator_skips_ports_of_ipv6_only_kernel_listeners) {
  synack::link::test::veth_pair net;
  auto s = synack::link::test::in_netns(net.a, [] {
    std::pair<bool, std::optional<std::uint16_t>> out{false, std::nullopt};
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 sin{};
    sin.sin6_family = AF_INET6;
    sin.sin6_port = htons(61007);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 || ::listen(fd, 1) != 0) return out;
    std::ifstream in("/proc/thread-self/net/tcp");  // this thread's namespace
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto v4_only = parse_proc_net_tcp(text);
    out.first = std::find(v4_only.begin(), v4_only.end(), 61007) == v4_only.end();  // not in /proc/net/tcp
    port_allocator alloc({61006, 61007}, 3);
    alloc.acquire();
    out.second = alloc.acquire();  // 61007 is the kernel's
    ::close(fd);
    return out;
  });
  BOOST_TEST(s.first);
  BOOST_TEST(!s.second.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
