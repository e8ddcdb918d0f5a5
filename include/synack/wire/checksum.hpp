// The Internet checksum (RFC 1071): the 16-bit one's-complement of the one's-complement sum of
// the data taken as big-endian 16-bit words, an odd final byte padded with zero.
#pragma once

#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"

namespace synack::wire {

// Accumulates a one's-complement sum over any number of pieces. Pieces may have odd lengths: a
// piece that starts at an odd offset of the whole is summed byte-swapped (RFC 1071 §2(B)), so the
// result equals summing the concatenation in one go.
class checksum_accumulator {
public:
  checksum_accumulator& add(bytes data);
  checksum_accumulator& add_u16(std::uint16_t v);  // as two bytes, big-endian
  checksum_accumulator& add_u32(std::uint32_t v);  // as four bytes, big-endian

  // The folded 16-bit one's-complement sum (not yet complemented).
  std::uint16_t fold() const;
  // The checksum to store: ~fold(). Over data that already contains a correct checksum this is 0.
  std::uint16_t finish() const { return static_cast<std::uint16_t>(~fold()); }

private:
  std::uint64_t sum_ = 0;  // 16-bit words in the even-offset byte order, folded lazily
  bool odd_ = false;       // the bytes added so far have an odd total length
};

// The checksum of `data` alone.
inline std::uint16_t internet_checksum(bytes data) { return checksum_accumulator{}.add(data).finish(); }

// RFC 791 §3.1: over the IPv4 header as given. With the checksum field zeroed this is the value to
// store; over a received header it is 0 exactly when the stored checksum is right.
inline std::uint16_t ipv4_header_checksum(bytes header) { return internet_checksum(header); }

// RFC 9293 §3.1: over the IPv4 pseudo-header (src, dst, zero, protocol 6, TCP length) and the
// segment as given. Same convention: zeroed field -> value to store; received segment -> 0 if right.
std::uint16_t tcp_checksum(ipv4_addr src, ipv4_addr dst, bytes segment);

// RFC 8200 §8.1: over the IPv6 pseudo-header (src, dst, 32-bit upper-layer length, three zero
// bytes, next header) and `data` as given. The addresses are the packet's own: no routing header
// is ever emitted, and a received one's final destination is the dst we were handed.
std::uint16_t ipv6_pseudo_checksum(const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t next_header, bytes data);

// TCP over IPv6: the pseudo-header above with next header 6.
std::uint16_t tcp_checksum_v6(const ipv6_addr& src, const ipv6_addr& dst, bytes segment);

// Either family: the IPv4 pseudo-header when both addresses are IPv4 (v4-mapped in the ip_addr),
// else the IPv6 one. Inline so an IPv4 caller pays two compares for the choice; a caller holding
// ipv4_addr values binds to the overload above directly.
inline std::uint16_t tcp_checksum(const ip_addr& src, const ip_addr& dst, bytes segment) {
  return src.is_v4() && dst.is_v4() ? tcp_checksum(src.v4(), dst.v4(), segment)
                                    : tcp_checksum_v6(src.v6(), dst.v6(), segment);
}

// RFC 4443 §2.3: ICMPv6 is checksummed over the IPv6 pseudo-header with next header 58 (unlike
// ICMP for IPv4, which covers the message alone).
std::uint16_t icmpv6_checksum(const ipv6_addr& src, const ipv6_addr& dst, bytes message);

}  // namespace synack::wire
