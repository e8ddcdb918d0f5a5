// Whether this process may open packet sockets and change the firewall.
#pragma once

namespace synack::link {

// True when CAP_NET_RAW and CAP_NET_ADMIN are both in the effective set (capget(2)), which is
// what AF_PACKET sockets, PACKET_QDISC_BYPASS and iptables need.
bool have_net_raw_and_admin() noexcept;

// Throws setup_error(setup_errc::permission, permission_message) unless have_net_raw_and_admin().
void require_net_raw_and_admin();

}  // namespace synack::link
