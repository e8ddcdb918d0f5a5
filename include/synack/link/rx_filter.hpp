// The classic BPF program attached to synack's packet socket (trap 7: attached before bind()).
//
// It runs on every frame of the interface in the kernel, so it keeps only what synack needs:
//   * ARP frames whose target protocol address is the local address (requests for us, replies to
//     our requests, probes for our address);
//   * unfragmented IPv4 TCP frames to the local address with a destination port in the range;
//   * with icmp_errors, ICMP destination-unreachable, time-exceeded and parameter-problem
//     messages to the local address quoting a TCP segment from the local address whose source
//     port is in the range (the quoted header names the connection; the engine checks the rest).
//     A quotation cut before the source port is dropped.
// With a local IPv6 address (local6), also:
//   * IPv6 TCP frames to local6 (next header 6 right after the fixed header) with a destination
//     port in the range;
//   * ICMPv6 neighbour solicitations and advertisements (135, 136) to local6 or to its
//     solicited-node group ff02::1:ffXX:XXXX, always: the engine does its own neighbour discovery;
//   * with icmp_errors, ICMPv6 destination-unreachable, packet-too-big, time-exceeded and
//     parameter-problem (1-4) to local6 quoting a TCP segment from local6 (quoted next header 6,
//     no extension headers) whose source port is in the range; a quote cut before the port is
//     dropped;
//   * IPv6 frames to local6 whose first next header is hop-by-hop options (0), routing (43) or
//     destination options (60): passed whole, without a port check, since classic BPF cannot walk
//     a chain of extension headers (it has no loops); the engine's parser walks it and drops what
//     is not synack's. Such packets are rare, so the cost is nil. A fragment header (44) is dropped,
//     as IPv4 fragments are.
// Everything else (other ports, other addresses, UDP, ICMP echo and the rest, IP fragments, IPv6
// when local6 is not given) is dropped.
// Fragments are dropped because synack does not reassemble and a non-first fragment has no ports.
// The IPv4 header length comes from IHL (`ldxb 4*([14]&0xf)`), so options are handled. Frames
// are seen from the Ethernet header on; a VLAN tag is normally stripped into metadata before
// the filter runs.
#pragma once

#include <linux/filter.h>

#include <optional>
#include <vector>

#include "synack/link/ports.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

// Without local6 the program is exactly the IPv4-only one. `link_header_len` is where the IP
// header starts: 14 after an Ethernet header, 0 on an L3 link (ARPHRD_NONE: tun, WireGuard), where
// the version nibble stands in for the EtherType and there is no ARP.
std::vector<sock_filter> rx_filter_program(wire::ipv4_addr local, port_range ports, bool icmp_errors = false,
                                           std::optional<wire::ipv6_addr> local6 = {},
                                           std::uint32_t link_header_len = 14);

}  // namespace synack::link
