// rst_guard against the real iptables, inside a throw-away namespace (root only). Never the host's.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "link/frames.hpp"
#include "link/netns.hpp"
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

// Packets counted by our rule, from `iptables-save -c` ("[packets:bytes] -A OUTPUT ...").
long rule_packets(const std::string& ns) {
  auto r = test::run_command({"ip", "netns", "exec", ns, "iptables-save", "-c", "-t", "filter"});
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
