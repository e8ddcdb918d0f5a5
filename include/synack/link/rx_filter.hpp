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
// Everything else (other ports, other addresses, UDP, ICMP, IPv6, IP fragments) is dropped.
// Fragments are dropped because synack does not reassemble and a non-first fragment has no ports.
// The IPv4 header length comes from IHL (`ldxb 4*([14]&0xf)`), so options are handled. Frames
// are seen from the Ethernet header on; a VLAN tag is normally stripped into metadata before
// the filter runs.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "synack/link/ports.hpp"
#include "synack/wire/address.hpp"

namespace synack::link {

std::vector<sock_filter> rx_filter_program(wire::ipv4_addr local, port_range ports, bool icmp_errors = false);

}  // namespace synack::link
