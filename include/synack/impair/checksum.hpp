// Completing checksums the kernel left partial. Over a veth the sender's TCP/UDP checksum field
// holds only the pseudo-header sum (CHECKSUM_PARTIAL, trap 3); a frame re-sent through a packet
// socket loses that mark, and the receiver would verify and drop it. The box fills in the full
// checksum for unfragmented IPv4 TCP and UDP (UDP: 0 becomes 0xffff, RFC 768) and for IPv6 TCP and
// UDP directly after the fixed header (no extension headers).
#pragma once

#include <span>

namespace synack::impair {

// Returns true when it rewrote the checksum (false: not IPv4/IPv6 TCP/UDP, a fragment, an IPv6
// extension header, or malformed).
// `frame` starts at the Ethernet header; one 802.1Q/802.1ad tag is skipped.
bool complete_l4_checksum(std::span<std::byte> frame) noexcept;

}  // namespace synack::impair
