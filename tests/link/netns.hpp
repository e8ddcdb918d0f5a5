// Test helpers for the root-only tests: throw-away network namespaces joined by a veth pair.
// Nothing here touches the host's own interfaces or firewall: every command names a namespace
// this process created, and each namespace is deleted on every exit path (RAII; namespaces left by
// a killed run are removed by the next run).
#pragma once

#include <boost/test/unit_test.hpp>

#include <future>
#include <string>
#include <utility>
#include <vector>

#include "synack/wire/address.hpp"

namespace synack::link::test {

// Runs a program (PATH lookup, no shell); returns its exit status, or -1. Output is captured.
struct command_result {
  int status = -1;
  std::string out;
};
command_result run_command(const std::vector<std::string>& argv);
void must_run(const std::vector<std::string>& argv);  // throws std::runtime_error naming the command

// Boost.Test precondition: skips a test (with the reason) unless we are root and have `ip`.
boost::test_tools::assertion_result root_available(boost::unit_test::test_unit_id);

// Moves the calling thread into namespace `name` (setns affects only this thread) and back.
class enter_netns {
 public:
  explicit enter_netns(const std::string& name);
  ~enter_netns();
  enter_netns(const enter_netns&) = delete;
  enter_netns& operator=(const enter_netns&) = delete;

 private:
  int saved_ = -1;
};

// Runs f() on a new thread inside namespace `name`; returns its result or rethrows.
template <class F>
auto in_netns(const std::string& name, F f) {
  return std::async(std::launch::async, [&name, f = std::move(f)]() mutable {
           enter_netns in(name);
           return f();
         })
      .get();
}

// Namespaces "snk-lt-PID-N-a" and "-b", each with lo up, joined by veth snk0 <-> snk1.
struct veth_pair {
  static constexpr wire::ipv4_addr addr_a = wire::ipv4_addr::from_octets(10, 200, 0, 1);
  static constexpr wire::ipv4_addr addr_b = wire::ipv4_addr::from_octets(10, 200, 0, 2);
  static constexpr wire::mac_addr mac_a{{0x02, 0, 0, 0, 0, 0x01}};
  static constexpr wire::mac_addr mac_b{{0x02, 0, 0, 0, 0, 0x02}};
  // IPv6 addresses, added only by tests that call add_ipv6() (with nodad: usable at once).
  static constexpr wire::ipv6_addr addr6_a{{0xfd, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};  // fd00:200::1
  static constexpr wire::ipv6_addr addr6_b{{0xfd, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}};  // fd00:200::2
  static constexpr const char* if_a = "snk0";
  static constexpr const char* if_b = "snk1";

  veth_pair();
  ~veth_pair();
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;

  // Adds addr6_a/64 and addr6_b/64 (nodad) to the two ends.
  void add_ipv6() const;

  std::string a, b;  // namespace names
};

}  // namespace synack::link::test
