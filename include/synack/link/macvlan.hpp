// The own-address mode's device (issue 15): a macvlan on an Ethernet parent through which synack
// is a host of its own on the link, with an address the kernel never owns.
//
// The kernel never owns synack's address, so it never answers for synack's connections with a RST
// and no firewall rule is needed; synack answers ARP and neighbour solicitations for the address
// itself. The device, made over rtnetlink (libmnl, its own socket):
//   - type macvlan, mode bridge, on the parent; named synackm<PID> (fits IFNAMSIZ);
//   - a stable MAC derived from the address (mac_for: 02:53:a:b:c:d for IPv4, 02:56 + the last
//     four bytes for IPv6): with a random one, a re-run would find the peer's neighbour entry still
//     pointing at the last run's MAC;
//   - no kernel address; IPv4 forwarding off on it (IFLA_AF_SPEC/AF_INET/IFLA_INET_CONF, so a
//     router host with ip_forward=1 does not forward the frames addressed to synack); IPv6 off on
//     it (addr_gen_mode none over netlink: no link-local address, no DAD, no router solicitations;
//     then /proc/sys/net/ipv6/conf/DEV/disable_ipv6=1, as IPv6 forwarding cannot be turned off
//     per device);
//   - alias "synack pid=PID start=TICKS" (the owner's start time tells a live owner from a reused
//     pid, as the RST guard's rule comment does), then set up.
// Deleted by the destructor (every normal exit, SIGINT/SIGTERM included: the tools unwind); after
// a SIGKILL, by the next own-address start or `synack rules clean` (list_stale/clean_stale).
//
// A user's existing macvlan (`-I mv0 --own-address ...` where mv0 is a macvlan) is used as it is
// and never deleted (adopt()).
//
// The host itself cannot reach the address: macvlan does not hand the parent's own traffic to its
// upper devices (kernel clients on this host need the tun-based this-host mode).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synack/link/netlink.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

// One synackm<PID> macvlan found in the current network namespace.
struct macvlan_record {
  std::string name;
  int index = 0;
  std::string parent;            // the lower device's name ("" if unknown)
  int pid = 0;
  unsigned long long start = 0;  // from the alias; 0 when the alias is missing
  bool alive = false;            // the owner runs (pid exists with that start time)
};

// What an interface is: IFLA_INFO_KIND ("macvlan", "veth", "vlan", ""), and its lower device
// (IFLA_LINK) if it has one. nullopt when there is no such interface.
struct link_kind_info {
  std::string kind;
  int lower_index = 0;
};
std::optional<link_kind_info> link_kind(int index);

class macvlan {
 public:
  static constexpr std::string_view name_prefix = "synackm";

  // Cleans stale synackm devices (best effort), then makes synackm<PID> on `parent` with `mac`,
  // configured as above and up. Throws setup_error with a one-line fix: parent not Ethernet or
  // down, permission, name or MAC in use, no macvlan support in the kernel. Nothing is left
  // behind on a throw.
  macvlan(const interface_info& parent, wire::mac_addr mac);
  // A device the user made: used as it is, never deleted.
  static macvlan adopt(int index, std::string name);
  ~macvlan();  // release()
  macvlan(macvlan&& other) noexcept;
  macvlan& operator=(macvlan&& other) noexcept;
  macvlan(const macvlan&) = delete;
  macvlan& operator=(const macvlan&) = delete;

  int index() const noexcept { return index_; }
  const std::string& name() const noexcept { return name_; }
  bool owned() const noexcept { return owner_pid_ != 0; }
  // Deletes the device now if this process made it; idempotent. A failure is reported on stderr
  // with the command to run.
  void release() noexcept;

  // Every synackm<PID> macvlan in this network namespace / delete those whose owner is gone.
  static std::vector<macvlan_record> list();
  static std::size_t clean_stale();

  // Pure parts, exposed for tests.
  static std::string name_for(int pid);
  static std::optional<int> pid_from_name(std::string_view name);  // "synackm123" -> 123
  static wire::mac_addr mac_for(const wire::ip_addr& addr);
  static std::string alias_for(int pid, unsigned long long start);
  static std::optional<unsigned long long> start_from_alias(std::string_view alias, int pid);

 private:
  macvlan() = default;
  int index_ = 0;
  std::string name_;
  int owner_pid_ = 0;  // 0: adopted (or moved from / released)
};

}  // namespace synack::link
