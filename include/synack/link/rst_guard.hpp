// Keeps the kernel from answering for synack's ports (trap 1).
//
// The kernel sees every segment synack receives and, knowing no socket for it, answers with a RST
// that would kill synack's connection. While an rst_guard lives, one iptables rule drops exactly
// those RSTs, and nothing else on the host:
//
//   iptables -w -I OUTPUT -p tcp -s LOCAL --sport LO:HI --tcp-flags RST RST
//            -m comment --comment "synack pid=PID start=START" -j DROP
//
// and for an IPv6 address the same rule with ip6tables (-s LOCAL6/128). An engine holding both
// families at once has one guard with both rules; each is removed with the guard, and when the
// second cannot be added the first is removed before the constructor throws.
//
// Kernel-made RSTs pass through OUTPUT (IPv4: ip_send_unicast_reply -> ip_local_out; IPv6:
// tcp_v6_send_reset -> ip6_xmit, which runs NF_INET_LOCAL_OUT); synack's own
// frames leave through the packet socket and never meet netfilter, so synack can still send RSTs.
// `--uid-owner` cannot be used: kernel RSTs have no owning socket. The comment names the owner;
// START (field 22 of /proc/PID/stat, start time in clock ticks since boot) tells a live owner from
// a reused pid. Rules of dead owners are removed by clean_stale_rules(), which the constructor
// calls first, so a SIGKILLed run is cleaned up by the next start.
//
// For TCP the kernel answers with a RST, never an ICMP(v6) port unreachable, so nothing else needs
// dropping; it answers neighbour solicitations for its own addresses itself, which is right (it
// owns them, and synack answers with the same MAC).
//
// iptables runs via posix_spawn (no shell) in the calling thread's network namespace. ip6tables is
// needed only when an IPv6 rule is: without it an IPv4-only guard, list_rules() and
// clean_stale_rules() work as before (they skip the IPv6 table).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synack/link/ports.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

// One synack rule found in `iptables-save -t filter` or `ip6tables-save -t filter`.
struct rule_record {
  int pid = 0;
  unsigned long long start = 0;  // the owner's start time, clock ticks since boot
  bool alive = false;            // pid exists and its start time is `start`
  std::string rule;              // the iptables-save line, "-A OUTPUT ... -j DROP"
  wire::ip_family family = wire::ip_family::v4;  // v4: iptables' table; v6: ip6tables'
};

class rst_guard {
 public:
  // Cleans stale rules, then inserts this process's IPv4 rule and, with local6, its IPv6 rule.
  // Throws setup_error: iptables_missing (iptables, or ip6tables when local6 is given),
  // iptables_failed (with iptables' own message), permission. Nothing is left behind on a throw.
  rst_guard(wire::ipv4_addr local, port_range ports, std::optional<wire::ipv6_addr> local6 = {});
  // One rule for one address of either family (ip6tables for an IPv6 address).
  rst_guard(wire::ip_addr local, port_range ports);
  ~rst_guard();  // release()
  rst_guard(rst_guard&& other) noexcept;
  rst_guard& operator=(rst_guard&& other) noexcept;
  rst_guard(const rst_guard&) = delete;
  rst_guard& operator=(const rst_guard&) = delete;

  // Deletes the rules now; idempotent. Only the process that installed it deletes it (a forked
  // child that unwinds does not). A failure is reported on stderr with the command to run.
  void release() noexcept;
  bool active() const noexcept { return !spec_.empty() || !spec6_.empty(); }
  // The IPv4 rule's match, as passed after "iptables -w -I OUTPUT" (empty: no IPv4 rule).
  const std::vector<std::string>& spec() const noexcept { return spec_; }
  // The IPv6 rule's match, as passed after "ip6tables -w -I OUTPUT" (empty: no IPv6 rule).
  const std::vector<std::string>& spec6() const noexcept { return spec6_; }

  // synack's rules of both families in the current network namespace, IPv4 first. Throws
  // setup_error if iptables-save fails, or ip6tables-save when it is installed and fails.
  static std::vector<rule_record> list_rules();
  // Deletes the rules (of both families) whose owner is gone; returns how many were deleted.
  static std::size_t clean_stale_rules();

  // Pure parts, exposed for tests.
  static std::string comment_for(int pid, unsigned long long start);
  // `family` says which command's output this is; every record gets it.
  static std::vector<rule_record> parse_rules(std::string_view iptables_save_output,
                                              wire::ip_family family = wire::ip_family::v4);
  // "-A OUTPUT ..." -> {"-D", "OUTPUT", ...}, splitting like a shell: iptables-save quotes
  // arguments containing spaces ("...") and escapes '"' and '\' inside them with '\'.
  static std::vector<std::string> delete_args(std::string_view rule);

 private:
  // Adds one rule for `source` ("ADDR/32" or "ADDR/128") with iptables or ip6tables; returns its spec.
  std::vector<std::string> install(wire::ip_family family, const std::string& source, port_range ports);

  std::vector<std::string> spec_;   // the IPv4 rule, if any
  std::vector<std::string> spec6_;  // the IPv6 rule, if any
  int owner_pid_ = 0;
};

// Start time of a process (field 22 of /proc/PID/stat), or 0 if there is no such process.
unsigned long long process_start_time(int pid);

}  // namespace synack::link
