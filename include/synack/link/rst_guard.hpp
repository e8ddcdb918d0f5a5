// Keeps the kernel from answering for synack's ports (trap 1).
//
// The kernel sees every segment synack receives and, knowing no socket for it, answers with a RST
// that would kill synack's connection. While an rst_guard lives, one iptables rule drops exactly
// those RSTs, and nothing else on the host:
//
//   iptables -w -I OUTPUT -p tcp -s LOCAL --sport LO:HI --tcp-flags RST RST
//            -m comment --comment "synack pid=PID start=START" -j DROP
//
// Kernel-made RSTs pass through OUTPUT (ip_send_unicast_reply -> ip_local_out); synack's own
// frames leave through the packet socket and never meet netfilter, so synack can still send RSTs.
// `--uid-owner` cannot be used: kernel RSTs have no owning socket. The comment names the owner;
// START (field 22 of /proc/PID/stat, start time in clock ticks since boot) tells a live owner from
// a reused pid. Rules of dead owners are removed by clean_stale_rules(), which the constructor
// calls first, so a SIGKILLed run is cleaned up by the next start.
//
// iptables runs via fork/exec (no shell) in the calling thread's network namespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "synack/link/ports.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

// One synack rule found in `iptables-save -t filter`.
struct rule_record {
  int pid = 0;
  unsigned long long start = 0;  // the owner's start time, clock ticks since boot
  bool alive = false;            // pid exists and its start time is `start`
  std::string rule;              // the iptables-save line, "-A OUTPUT ... -j DROP"
};

class rst_guard {
 public:
  // Cleans stale rules, then inserts this process's rule. Throws setup_error: iptables_missing,
  // iptables_failed (with iptables' own message), permission.
  rst_guard(wire::ipv4_addr local, port_range ports);
  ~rst_guard();  // release()
  rst_guard(rst_guard&& other) noexcept;
  rst_guard& operator=(rst_guard&& other) noexcept;
  rst_guard(const rst_guard&) = delete;
  rst_guard& operator=(const rst_guard&) = delete;

  // Deletes the rule now; idempotent. Only the process that installed it deletes it (a forked
  // child that unwinds does not). A failure is reported on stderr with the command to run.
  void release() noexcept;
  bool active() const noexcept { return !spec_.empty(); }
  // The rule's match, as passed after "iptables -w -I OUTPUT".
  const std::vector<std::string>& spec() const noexcept { return spec_; }

  // synack's rules in the current network namespace. Throws setup_error if iptables-save fails.
  static std::vector<rule_record> list_rules();
  // Deletes the rules whose owner is gone; returns how many were deleted.
  static std::size_t clean_stale_rules();

  // Pure parts, exposed for tests.
  static std::string comment_for(int pid, unsigned long long start);
  static std::vector<rule_record> parse_rules(std::string_view iptables_save_output);
  // "-A OUTPUT ..." -> {"-D", "OUTPUT", ...}, splitting like a shell: iptables-save quotes
  // arguments containing spaces ("...") and escapes '"' and '\' inside them with '\'.
  static std::vector<std::string> delete_args(std::string_view rule);

 private:
  std::vector<std::string> spec_;
  int owner_pid_ = 0;
};

// Start time of a process (field 22 of /proc/PID/stat), or 0 if there is no such process.
unsigned long long process_start_time(int pid);

}  // namespace synack::link
