// rst_guard against the real iptables, inside a throw-away namespace (root only). Never the host's.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "link/frames.hpp"
#include "link/netns.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/packet_socket.hpp"
#include "synack/link/rst_guard.hpp"

using namespace synack::link;
using namespace std::chrono_literals;
using synack::link::test::enter_netns;
using synack::link::test::veth_pair;

namespace {

constexpr port_range our_ports{61000, 61009};
constexpr int impossible_pid = (1 << 22) + 7;

boost::test_tools::assertion_result iptables_available(boost::unit_test::test_unit_id id) {
  auto root = test::root_available(id);
  if (!root) return root;
  boost::test_tools::assertion_result ok(test::run_command({"iptables", "--version"}).status == 0);
  if (!ok) ok.message() << "skipped: iptables not installed";
  return ok;
}

// Adds a synack-tagged rule by hand, as a crashed run would have left it.
void add_tagged_rule(const std::string& ns, int pid, unsigned long long start) {
  test::must_run({"ip", "netns", "exec", ns, "iptables", "-w", "-A", "OUTPUT", "-p", "tcp", "-s", "10.200.0.1/32",
                  "--sport", "61000:61009", "--tcp-flags", "RST", "RST", "-m", "comment", "--comment",
                  rst_guard::comment_for(pid, start), "-j", "DROP"});
}

boost::test_tools::assertion_result ip6tables_available(boost::unit_test::test_unit_id id) {
  auto ok = iptables_available(id);
  if (!ok) return ok;
  boost::test_tools::assertion_result six(test::run_command({"ip6tables", "--version"}).status == 0);
  if (!six) six.message() << "skipped: ip6tables not installed";
  return six;
}

void add_tagged_rule6(const std::string& ns, int pid, unsigned long long start) {
  test::must_run({"ip", "netns", "exec", ns, "ip6tables", "-w", "-A", "OUTPUT", "-p", "tcp", "-s", "fd00:200::1/128",
                  "--sport", "61000:61009", "--tcp-flags", "RST", "RST", "-m", "comment", "--comment",
                  rst_guard::comment_for(pid, start), "-j", "DROP"});
}

std::size_t count_family(const std::vector<rule_record>& rules, synack::wire::ip_family family) {
  return static_cast<std::size_t>(
      std::count_if(rules.begin(), rules.end(), [&](const rule_record& r) { return r.family == family; }));
}

// Puts a directory holding only a failing `ip6tables` first on PATH while it lives (iptables and
// ip6tables-save are still found further on), so the second rule of a guard cannot be added.
struct failing_ip6tables {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("snk-fake-" + std::to_string(::getpid()));
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  failing_ip6tables() {
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "ip6tables") << "#!/bin/sh\necho 'ip6tables: fake failure' >&2\nexit 4\n";
    std::filesystem::permissions(dir / "ip6tables", std::filesystem::perms::owner_all);
    ::setenv("PATH", (dir.string() + ":" + saved).c_str(), 1);
  }
  ~failing_ip6tables() {
    ::setenv("PATH", saved.c_str(), 1);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Packets counted by our rule, from `iptables-save -c` ("[packets:bytes] -A OUTPUT ...").
long rule_packets(const std::string& ns, const char* save = "iptables-save") {
  auto r = test::run_command({"ip", "netns", "exec", ns, save, "-c", "-t", "filter"});
  auto pos = r.out.find("synack pid=" + std::to_string(::getpid()));
  if (pos == std::string::npos) return -1;
  auto line_start = r.out.rfind('\n', pos) + 1;
  return std::stol(r.out.substr(line_start + 1));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rst_guard_rules, *boost::unit_test::precondition(iptables_available))

BOOST_AUTO_TEST_CASE(guard_installs_exactly_one_tagged_rule_and_the_destructor_removes_it) {
  veth_pair net;
  enter_netns in(net.a);
  BOOST_TEST(rst_guard::list_rules().empty());
  {
    rst_guard guard(veth_pair::addr_a, our_ports);
    BOOST_TEST(guard.active());
    auto rules = rst_guard::list_rules();
    BOOST_REQUIRE(rules.size() == 1u);
    BOOST_TEST(rules[0].pid == ::getpid());
    BOOST_TEST(rules[0].alive);
    BOOST_TEST(rules[0].rule.find("-s 10.200.0.1/32") != std::string::npos);
    BOOST_TEST(rules[0].rule.find("--sport 61000:61009") != std::string::npos);
    BOOST_TEST(rules[0].rule.find("--tcp-flags RST RST") != std::string::npos);
    BOOST_TEST(rules[0].rule.find("-j DROP") != std::string::npos);
    BOOST_TEST(rst_guard::clean_stale_rules() == 0u);  // a live owner's rule stays
    BOOST_TEST(rst_guard::list_rules().size() == 1u);
  }
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(release_is_idempotent_and_a_moved_guard_owns_the_rule) {
  veth_pair net;
  enter_netns in(net.a);
  rst_guard first(veth_pair::addr_a, {61000, 61000});
  rst_guard guard = std::move(first);
  BOOST_TEST(!first.active());
  first.release();
  BOOST_TEST(rst_guard::list_rules().size() == 1u);
  guard.release();
  guard.release();
  BOOST_TEST(!guard.active());
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(stale_rules_of_dead_or_reused_pids_are_cleaned) {
  veth_pair net;
  add_tagged_rule(net.a, impossible_pid, 12345);                         // owner gone
  add_tagged_rule(net.a, ::getpid(), process_start_time(::getpid()) + 1);  // pid reused by us
  enter_netns in(net.a);
  auto rules = rst_guard::list_rules();
  BOOST_REQUIRE(rules.size() == 2u);
  BOOST_TEST(!rules[0].alive);
  BOOST_TEST(!rules[1].alive);
  BOOST_TEST(rst_guard::clean_stale_rules() == 2u);
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(constructor_cleans_stale_rules_first) {
  veth_pair net;
  add_tagged_rule(net.a, impossible_pid, 1);
  enter_netns in(net.a);
  rst_guard guard(veth_pair::addr_a, our_ports);
  auto rules = rst_guard::list_rules();
  BOOST_REQUIRE(rules.size() == 1u);
  BOOST_TEST(rules[0].pid == ::getpid());
}

BOOST_AUTO_TEST_CASE(the_kernel_rst_to_a_syn_ack_for_our_port_is_dropped) {
  veth_pair net;
  int listener = test::in_netns(net.b, [] {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(8080);
    ::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    ::listen(fd, 4);
    return fd;
  });
  enter_netns in(net.a);
  rst_guard guard(veth_pair::addr_a, our_ports);
  BOOST_TEST(rule_packets(net.a) == 0);
  packet_socket::options o;
  o.ifindex = netlink().interface_by_name(veth_pair::if_a).index;
  o.local_addr = veth_pair::addr_a;
  o.ports = our_ports;
  packet_socket sock(o);
  BOOST_TEST(!sock.send(test::make_syn(veth_pair::mac_a, veth_pair::mac_b, veth_pair::addr_a, veth_pair::addr_b,
                                       61002, 8080, 77)));
  // The SYN-ACK reaches both synack and the kernel; the kernel knows no socket and answers RST,
  // which the rule must eat.
  long dropped = 0;
  for (int i = 0; i < 300 && dropped < 1; ++i) {
    std::this_thread::sleep_for(10ms);
    dropped = rule_packets(net.a);
  }
  ::close(listener);
  BOOST_TEST(dropped >= 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rst_guard_rules6, *boost::unit_test::precondition(ip6tables_available))

using synack::wire::ip_family;

BOOST_AUTO_TEST_CASE(guard_with_both_families_installs_two_tagged_rules_and_removes_both) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  BOOST_TEST(rst_guard::list_rules().empty());
  {
    rst_guard guard(veth_pair::addr_a, our_ports, veth_pair::addr6_a);
    BOOST_TEST(guard.active());
    BOOST_TEST(!guard.spec().empty());
    BOOST_TEST(!guard.spec6().empty());
    auto rules = rst_guard::list_rules();
    BOOST_REQUIRE(rules.size() == 2u);
    BOOST_TEST((rules[0].family == ip_family::v4));
    BOOST_TEST((rules[1].family == ip_family::v6));
    BOOST_TEST(rules[1].pid == ::getpid());
    BOOST_TEST(rules[1].alive);
    BOOST_TEST(rules[1].rule.find("-s fd00:200::1/128") != std::string::npos, rules[1].rule);
    BOOST_TEST(rules[1].rule.find("--sport 61000:61009") != std::string::npos);
    BOOST_TEST(rules[1].rule.find("--tcp-flags RST RST") != std::string::npos);
    BOOST_TEST(rst_guard::clean_stale_rules() == 0u);
  }
  BOOST_TEST(rst_guard::list_rules().empty());
  auto left = test::run_command({"ip6tables-save", "-t", "filter"});
  BOOST_TEST(left.out.find("synack") == std::string::npos, left.out);
}

BOOST_AUTO_TEST_CASE(guard_for_one_ipv6_address_installs_only_the_ipv6_rule) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  rst_guard guard(synack::wire::ip_addr(veth_pair::addr6_a), our_ports);
  BOOST_TEST(guard.spec().empty());
  auto rules = rst_guard::list_rules();
  BOOST_REQUIRE(rules.size() == 1u);
  BOOST_TEST((rules[0].family == ip_family::v6));
  rst_guard moved = std::move(guard);
  BOOST_TEST(!guard.active());
  moved.release();
  BOOST_TEST(!moved.active());
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(stale_ipv6_rules_are_cleaned_with_ip6tables) {
  veth_pair net;
  add_tagged_rule6(net.a, impossible_pid, 12345);
  add_tagged_rule(net.a, impossible_pid, 12345);
  enter_netns in(net.a);
  auto rules = rst_guard::list_rules();
  BOOST_REQUIRE(rules.size() == 2u);
  BOOST_TEST(count_family(rules, ip_family::v6) == 1u);
  BOOST_TEST(rst_guard::clean_stale_rules() == 2u);
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(a_failing_second_rule_leaves_nothing_behind) {
  veth_pair net;
  net.add_ipv6();
  enter_netns in(net.a);
  {
    failing_ip6tables fake;
    try {
      rst_guard guard(veth_pair::addr_a, our_ports, veth_pair::addr6_a);
      BOOST_ERROR("no exception");
    } catch (const setup_error& e) {
      BOOST_TEST((e.code() == setup_errc::iptables_failed));
      BOOST_TEST(std::string(e.what()).find("ip6tables") != std::string::npos, e.what());
      BOOST_TEST(std::string(e.what()).find("fake failure") != std::string::npos, e.what());
    }
  }
  BOOST_TEST(rst_guard::list_rules().empty());
}

BOOST_AUTO_TEST_CASE(the_kernel_ipv6_rst_to_a_syn_ack_for_our_port_is_dropped) {
  veth_pair net;
  net.add_ipv6();
  int listener = test::in_netns(net.b, [] {
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 sin{};
    sin.sin6_family = AF_INET6;
    sin.sin6_port = htons(8080);
    ::bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    ::listen(fd, 4);
    return fd;
  });
  enter_netns in(net.a);
  rst_guard guard(veth_pair::addr_a, our_ports, veth_pair::addr6_a);
  BOOST_TEST(rule_packets(net.a, "ip6tables-save") == 0);
  packet_socket::options o;
  o.ifindex = netlink().interface_by_name(veth_pair::if_a).index;
  o.local_addr = veth_pair::addr_a;
  o.local_addr6 = veth_pair::addr6_a;
  o.ports = our_ports;
  packet_socket sock(o);
  BOOST_TEST(!sock.send(test::make_syn6(veth_pair::mac_a, veth_pair::mac_b, veth_pair::addr6_a, veth_pair::addr6_b,
                                        61002, 8080, 77)));
  // The SYN-ACK reaches both synack and the kernel; the kernel's RST (tcp_v6_send_reset ->
  // ip6_xmit -> NF_INET_LOCAL_OUT) must meet the ip6tables rule and be eaten.
  long dropped = 0;
  bool synack_seen = false;
  for (int i = 0; i < 300 && (dropped < 1 || !synack_seen); ++i) {
    std::this_thread::sleep_for(10ms);
    dropped = rule_packets(net.a, "ip6tables-save");
    sock.drain([&](const rx_frame& f) {
      if (f.data.size() >= 14 + 40 + 20 && std::to_integer<int>(f.data[12]) == 0x86 &&
          std::to_integer<int>(f.data[14 + 40 + 13]) == (test::tcp_syn | test::tcp_ack))
        synack_seen = true;
    });
  }
  ::close(listener);
  BOOST_TEST(synack_seen);  // the filter let the IPv6 SYN-ACK to our port through
  BOOST_TEST(dropped >= 1);
}

BOOST_AUTO_TEST_SUITE_END()
