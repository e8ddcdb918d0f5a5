// ICMP for IPv4 (RFC 792): the error messages that concern a TCP connection — destination
// unreachable (fragmentation needed with the next-hop MTU of RFC 1191 included), time exceeded and
// parameter problem — and the datagram they quote (RFC 792: the IP header and at least the first
// 8 bytes of its payload; RFC 1812 §4.3.2.3 routers quote as much as fits in 576 bytes).
// Other ICMP types (echo, redirect, source quench, ...) are well-formed but ignored.
#pragma once

#include <cstddef>
#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

namespace icmp_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t dest_unreachable = 3;
inline constexpr std::uint8_t source_quench = 4;  // deprecated (RFC 6633): ignored
inline constexpr std::uint8_t redirect = 5;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t time_exceeded = 11;
inline constexpr std::uint8_t parameter_problem = 12;
}  // namespace icmp_type

// Destination unreachable codes (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
namespace icmp_unreach {
inline constexpr std::uint8_t net = 0;
inline constexpr std::uint8_t host = 1;
inline constexpr std::uint8_t protocol = 2;
inline constexpr std::uint8_t port = 3;
inline constexpr std::uint8_t frag_needed = 4;
inline constexpr std::uint8_t source_route_failed = 5;
inline constexpr std::uint8_t net_unknown = 6;
inline constexpr std::uint8_t host_unknown = 7;
inline constexpr std::uint8_t host_isolated = 8;
inline constexpr std::uint8_t net_prohibited = 9;    // "net administratively prohibited"
inline constexpr std::uint8_t host_prohibited = 10;  // "host administratively prohibited"
inline constexpr std::uint8_t net_tos = 11;
inline constexpr std::uint8_t host_tos = 12;
inline constexpr std::uint8_t admin_prohibited = 13;  // "communication administratively prohibited"
inline constexpr std::uint8_t host_precedence = 14;
inline constexpr std::uint8_t precedence_cutoff = 15;
}  // namespace icmp_unreach

// Time exceeded codes.
namespace icmp_time_exceeded {
inline constexpr std::uint8_t ttl = 0;         // in transit (what traceroute reads)
inline constexpr std::uint8_t reassembly = 1;  // fragment reassembly time exceeded
}  // namespace icmp_time_exceeded

inline constexpr std::size_t icmp_header_len = 8;
// The least an error must quote to be matched to a TCP connection: a 20-byte IP header and the
// first 8 bytes of TCP (ports and sequence number).
inline constexpr std::size_t icmp_min_quote_transport = 8;

// A name for a type/code pair, e.g. "port unreachable", "fragmentation needed", "time exceeded".
const char* icmp_describe(std::uint8_t type, std::uint8_t code);

// A non-owning view of one ICMP message (the IPv4 payload, total-length cut).
class icmp_view {
public:
  // Fails with truncated_icmp (under 8 bytes).
  static parse_result<icmp_view> parse(bytes data);

  std::uint8_t type() const { return load_u8(msg_, field::type); }
  std::uint8_t code() const { return load_u8(msg_, field::code); }
  std::uint16_t checksum() const { return load_u16(msg_, field::checksum); }
  // Fragmentation needed (RFC 1191): the next-hop MTU in the low 16 bits of the rest of the
  // header; 0 from a router older than RFC 1191.
  std::uint16_t next_hop_mtu() const { return load_u16(msg_, field::mtu); }
  // Parameter problem: the octet the problem was found at.
  std::uint8_t pointer() const { return load_u8(msg_, field::pointer); }
  bytes payload() const { return msg_.subspan(icmp_header_len); }  // the quoted datagram
  bytes raw() const { return msg_; }
  bool checksum_ok() const;

  struct field {
    static constexpr std::size_t type = 0;
    static constexpr std::size_t code = 1;
    static constexpr std::size_t checksum = 2;
    static constexpr std::size_t pointer = 4;
    static constexpr std::size_t mtu = 6;
  };

private:
  explicit icmp_view(bytes msg) : msg_(msg) {}
  bytes msg_;
};

// The datagram an ICMP or ICMPv6 error quotes, as we sent it (so src is us and dst the far end),
// read only as far as it is there: routers may quote just the 8 bytes of TCP RFC 792 requires.
// One struct for both families, so the engine matches a quotation to its connection once; for an
// IPv6 quotation (icmpv6.hpp) the IPv4-only fields take what IPv6 implies (see each field).
struct icmp_quote {
  ip_addr src;
  ip_addr dst;
  std::uint8_t protocol = 0;  // IPv6: the upper-layer protocol, after the quoted extension headers
  std::uint8_t ttl = 0;       // as the reporting router saw it (RFC 1812: decremented); IPv6: hop limit
  std::uint8_t dscp_ecn = 0;  // IPv6: traffic class
  std::uint16_t identification = 0;  // IPv6: 0 (only a fragment header has one)
  // Of the original datagram: what did not fit the next hop. IPv6: 40 + payload length, at most
  // 65535 (a payload of 65496 bytes or more is held at that).
  std::uint16_t total_length = 0;
  bool dont_fragment = false;  // IPv6: true (routers never fragment, RFC 8200 §5)
  std::uint16_t src_port = 0;  // the first 8 bytes of TCP
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  // Every quoted byte from the TCP header on (at least 8; a whole header with options when the
  // router quoted that much, as RFC 1812 routers do): for comparing with what was sent.
  bytes transport;

  friend bool operator==(const icmp_quote& a, const icmp_quote& b) {
    return a.src == b.src && a.dst == b.dst && a.protocol == b.protocol && a.ttl == b.ttl &&
           a.dscp_ecn == b.dscp_ecn && a.identification == b.identification &&
           a.total_length == b.total_length && a.dont_fragment == b.dont_fragment &&
           a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq == b.seq;
  }
};

// One ICMP error about a TCP segment.
struct icmp_error_repr {
  std::uint8_t type = icmp_type::dest_unreachable;
  std::uint8_t code = 0;
  std::uint16_t next_hop_mtu = 0;  // fragmentation needed only, else 0
  std::uint8_t pointer = 0;        // parameter problem only, else 0
  icmp_quote quote;

  // Checks the checksum (if verify_checksum), the type (only dest_unreachable, time_exceeded and
  // parameter_problem: others fail with unsupported_icmp, an "ignored" reason) and the quotation:
  // icmp_quote_truncated (less than an IPv4 header and 8 bytes of its payload),
  // icmp_quote_bad_header (not IPv4, IHL under 5), icmp_quote_not_tcp (ignored: another protocol).
  static parse_result<icmp_error_repr> parse(const icmp_view& view, bool verify_checksum);

  // Bytes emit() writes: the 8-byte header, the 20-byte quoted IP header and the quoted TCP bytes.
  std::size_t buffer_len() const { return icmp_header_len + 20 + quote.transport.size(); }
  // Writes the message (checksum included) at the start of `out` (buffer_len() bytes). The quoted
  // IP header is a 20-byte one made from `quote`; its payload is quote.transport. For tests and
  // tools that forge errors.
  void emit(mutable_bytes out) const;
};

// RFC 1191 §7: the plateau table, for a fragmentation-needed from a router that does not say the
// next-hop MTU: the largest plateau below the size of the datagram that did not fit
// (68 for anything at or under 68).
std::uint16_t icmp_plateau_below(std::uint16_t datagram_len);

}  // namespace synack::wire
