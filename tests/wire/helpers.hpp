// Small helpers shared by the wire tests: hex <-> bytes and frame builders.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "synack/wire/bytes.hpp"
#include "synack/wire/arp.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/ipv6.hpp"
#include "synack/wire/tcp.hpp"

// Printers so BOOST_TEST can show values on failure (found by ADL).
namespace synack::wire {
inline std::ostream& operator<<(std::ostream& os, parse_error e) { return os << to_string(e); }
inline std::ostream& operator<<(std::ostream& os, frame_kind k) {
  constexpr const char* names[] = {"arp", "tcp", "icmp", "ignored", "malformed", "ndp"};
  return os << names[static_cast<int>(k)];
}
inline std::ostream& operator<<(std::ostream& os, mac_addr m) { return os << m.to_string(); }
inline std::ostream& operator<<(std::ostream& os, ipv4_addr a) { return os << a.to_string(); }
inline std::ostream& operator<<(std::ostream& os, const ipv6_addr& a) { return os << a.to_string(); }
inline std::ostream& operator<<(std::ostream& os, const ip_addr& a) { return os << a.to_string(); }
inline std::ostream& operator<<(std::ostream& os, tcp_flags f) { return os << f.to_string(); }
inline std::ostream& operator<<(std::ostream& os, arp_op op) { return os << (op == arp_op::request ? "request" : "reply"); }
}  // namespace synack::wire

namespace wire_test {

using byte_vec = std::vector<std::byte>;

// "45 00 00 3c" (whitespace ignored) -> bytes. Throws on a stray character.
byte_vec from_hex(std::string_view hex);
// bytes -> "45 00 00 3c"
std::string to_hex(synack::wire::bytes b);

// Ethernet + IPv4 (payload_len filled in) + TCP, emitted with synack's own emitters.
byte_vec build_tcp_frame(synack::wire::mac_addr dst, synack::wire::mac_addr src, synack::wire::ipv4_repr ip,
                         const synack::wire::tcp_repr& tcp);

// Ethernet + IPv6 + `ext` (raw extension headers: ip.next_header names the first, the last names
// the upper layer) + `upper`; payload_len is filled in.
byte_vec build_ipv6_frame(synack::wire::ipv6_repr ip, const byte_vec& ext, synack::wire::bytes upper);
// The same with `tcp` emitted (checksum over the IPv6 pseudo-header) as the upper layer.
byte_vec build_tcp6_frame(const synack::wire::ipv6_repr& ip, const byte_vec& ext, const synack::wire::tcp_repr& tcp);
// One extension header of (len8 + 1) * 8 bytes: <next, len8> and zeros (Pad1 options in a
// hop-by-hop or destination options header; a routing header with no segments left). The walk
// reads only the first two bytes.
byte_vec ext_header(std::uint8_t next, std::uint8_t len8 = 0);

}  // namespace wire_test

namespace wire_test {

// The TCP part of valid_syn_frame(): SYN 3337 -> 7788, seq 3626544836, window 64240, MSS `mss`,
// SACK-permitted, TS 1000/0, WS 7, payload "hi!" (static storage).
synack::wire::tcp_repr valid_syn_segment(std::uint16_t mss = 1460);

// A valid SYN (MSS, SACK-permitted, TS, WS) with a 3-byte payload, 192.168.1.116:3337 ->
// 192.168.1.123:7788; the base that the malformed-input tables and the fuzzer mutate.
byte_vec valid_syn_frame();

// Offsets into valid_syn_frame().
inline constexpr std::size_t ip_at = 14;
inline constexpr std::size_t tcp_at = 34;
inline constexpr std::size_t options_at = 54;

// Recomputes the IPv4 header and TCP checksums of an Ethernet/IPv4/TCP frame in place, as far as
// its (possibly mutated) lengths allow, so tests can reach checks that come after the checksums.
void refresh_checksums(byte_vec& frame);

}  // namespace wire_test
