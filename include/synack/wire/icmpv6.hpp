// ICMPv6 (RFC 4443) and the part of Neighbor Discovery (RFC 4861) synack needs.
// Errors that concern a TCP connection — destination unreachable, packet too big, time exceeded,
// parameter problem — parse to an icmpv6_error_repr whose quotation is the same icmp_quote ICMP
// for IPv4 fills, so the engine matches either to its connection the same way. Neighbour
// solicitations and advertisements (IPv6's ARP) parse to an ndp_repr. Everything else (echo,
// router solicitations and advertisements, redirects, MLD, ...) is well-formed but ignored
// (unsupported_icmp).
// Unlike ICMP for IPv4, the checksum covers the IPv6 pseudo-header (RFC 4443 §2.3), so parsing and
// emitting take the packet's source and destination.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/icmp.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

namespace icmpv6_type {
inline constexpr std::uint8_t dest_unreachable = 1;
inline constexpr std::uint8_t packet_too_big = 2;
inline constexpr std::uint8_t time_exceeded = 3;
inline constexpr std::uint8_t parameter_problem = 4;
inline constexpr std::uint8_t echo_request = 128;
inline constexpr std::uint8_t echo_reply = 129;
inline constexpr std::uint8_t router_solicitation = 133;   // RFC 4861 §4.1
inline constexpr std::uint8_t router_advertisement = 134;  // RFC 4861 §4.2
inline constexpr std::uint8_t neighbor_solicitation = 135;   // RFC 4861 §4.3
inline constexpr std::uint8_t neighbor_advertisement = 136;  // RFC 4861 §4.4
inline constexpr std::uint8_t redirect = 137;                // RFC 4861 §4.5
}  // namespace icmpv6_type

// Destination unreachable codes (RFC 4443 §3.1).
namespace icmpv6_unreach {
inline constexpr std::uint8_t no_route = 0;
inline constexpr std::uint8_t admin_prohibited = 1;
inline constexpr std::uint8_t beyond_scope = 2;  // beyond the scope of the source address
inline constexpr std::uint8_t address = 3;
inline constexpr std::uint8_t port = 4;
inline constexpr std::uint8_t source_policy = 5;  // source address failed ingress/egress policy
inline constexpr std::uint8_t reject_route = 6;
}  // namespace icmpv6_unreach

// Time exceeded codes (RFC 4443 §3.3).
namespace icmpv6_time_exceeded {
inline constexpr std::uint8_t hop_limit = 0;
inline constexpr std::uint8_t reassembly = 1;
}  // namespace icmpv6_time_exceeded

// Parameter problem codes (RFC 4443 §3.4).
namespace icmpv6_param_problem {
inline constexpr std::uint8_t header_field = 0;
inline constexpr std::uint8_t next_header = 1;
inline constexpr std::uint8_t option = 2;
}  // namespace icmpv6_param_problem

// Type, code, checksum and the 32 bits every message synack reads has next (MTU, pointer,
// unused, NDP flags).
inline constexpr std::size_t icmpv6_header_len = 8;

// A name for a type/code pair, e.g. "port unreachable", "packet too big", "no route to destination".
const char* icmpv6_describe(std::uint8_t type, std::uint8_t code);

// A non-owning view of one ICMPv6 message (the upper-layer bytes of the IPv6 packet).
class icmpv6_view {
public:
  // Fails with truncated_icmp (under 8 bytes: no message RFC 4443 or RFC 4861 defines is shorter).
  static parse_result<icmpv6_view> parse(bytes data);

  std::uint8_t type() const { return load_u8(msg_, field::type); }
  std::uint8_t code() const { return load_u8(msg_, field::code); }
  std::uint16_t checksum() const { return load_u16(msg_, field::checksum); }
  std::uint32_t mtu() const { return load_u32(msg_, field::mtu); }          // packet too big
  std::uint32_t pointer() const { return load_u32(msg_, field::pointer); }  // parameter problem
  bytes payload() const { return msg_.subspan(icmpv6_header_len); }  // errors: the quoted packet
  bytes raw() const { return msg_; }
  // Over the IPv6 pseudo-header for src -> dst (next header 58) and the whole message.
  bool checksum_ok(const ip_addr& src, const ip_addr& dst) const;

  // Field offsets (RFC 4443 §2.1, §3; RFC 4861 §4.3, §4.4).
  struct field {
    static constexpr std::size_t type = 0;
    static constexpr std::size_t code = 1;
    static constexpr std::size_t checksum = 2;
    static constexpr std::size_t mtu = 4;
    static constexpr std::size_t pointer = 4;
    static constexpr std::size_t ndp_flags = 4;  // R S O in the top bits of the reserved word
    static constexpr std::size_t ndp_target = 8;
    static constexpr std::size_t ndp_options = 24;
  };

private:
  explicit icmpv6_view(bytes msg) : msg_(msg) {}
  bytes msg_;
};

// One ICMPv6 error about a TCP segment. The quotation is filled as for IPv4 (icmp_quote), with
// protocol the quoted packet's upper-layer protocol after its extension headers, ttl its hop limit,
// dscp_ecn its traffic class, total_length 40 + its payload length, dont_fragment true and
// identification 0.
struct icmpv6_error_repr {
  std::uint8_t type = icmpv6_type::dest_unreachable;
  std::uint8_t code = 0;
  std::uint32_t mtu = 0;      // packet too big only (RFC 8201: the next hop's), else 0
  std::uint32_t pointer = 0;  // parameter problem only: the offending octet's offset, else 0
  icmp_quote quote;

  // src and dst: the ICMPv6 packet's own (the reporting router -> us), for the checksum.
  // Checks the checksum (if verify_checksum), the type (only the four errors: others fail with
  // unsupported_icmp, an "ignored" reason) and the quotation: icmp_quote_truncated (less than a
  // 40-byte IPv6 header, its extension headers and 8 bytes of TCP), icmp_quote_bad_header (not
  // version 6, a v4-mapped address, an extension-header chain too long or out of order),
  // icmp_quote_not_tcp (ignored: another protocol, a fragment among them).
  static parse_result<icmpv6_error_repr> parse(const icmpv6_view& view, const ip_addr& src, const ip_addr& dst,
                                               bool verify_checksum);

  // Bytes emit() writes: the 8-byte header, the 40-byte quoted IPv6 header and the quoted TCP bytes.
  std::size_t buffer_len() const;
  // Writes the message (checksum for src -> dst included) at the start of `out` (buffer_len()
  // bytes). The quoted header is a plain 40-byte one made from `quote` (flow label 0); its payload
  // is quote.transport. For tests and tools that forge errors.
  void emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const;

  friend bool operator==(const icmpv6_error_repr&, const icmpv6_error_repr&) = default;
};

// NDP option types (RFC 4861 §4.6).
namespace ndp_option {
inline constexpr std::uint8_t source_lladdr = 1;
inline constexpr std::uint8_t target_lladdr = 2;
inline constexpr std::uint8_t prefix_information = 3;
inline constexpr std::uint8_t redirected_header = 4;
inline constexpr std::uint8_t mtu = 5;
}  // namespace ndp_option

// The fixed part of a solicitation or advertisement: the ICMPv6 header, the flags word, the target.
inline constexpr std::size_t ndp_min_len = 24;
// The hop limit NDP is sent with and must arrive with (RFC 4861 §7.1): 255 proves the sender is
// on-link, as a router would have decremented it.
inline constexpr std::uint8_t ndp_hop_limit = 255;
// An Ethernet link-layer address option: type, length 1 (in 8-octet units), 6 bytes (RFC 2464 §6).
inline constexpr std::size_t ndp_lladdr_option_len = 8;

// A neighbour solicitation (135) or advertisement (136).
struct ndp_repr {
  std::uint8_t type = icmpv6_type::neighbor_solicitation;
  ipv6_addr target{};
  bool router = false;     // advertisement only: the sender is a router
  bool solicited = false;  // advertisement only: an answer to a solicitation
  bool override = false;   // advertisement only: replace a cached link-layer address
  // Option 1 and option 2, whichever message they come in (RFC 4861 puts the source's in a
  // solicitation and the target's in an advertisement). An address option whose length is not
  // 1 (not Ethernet's) is skipped, as Linux's ndisc_opt_addr_data does; unknown options are
  // skipped by their length (§4.6); of a repeated option the last counts.
  std::optional<mac_addr> source_lladdr{};
  std::optional<mac_addr> target_lladdr{};

  // src, dst and hop_limit: the IPv6 packet's. `view` must be a type 135 or 136 message (the
  // caller dispatches on type; another type fails with unsupported_icmp). The validity checks
  // of RFC 4861 §7.1.1 and §7.1.2, in order: checksum (if verify_checksum, bad_icmp_checksum),
  // hop limit 255 (ndp_bad_hop_limit), code 0 (ndp_bad_code), at least 24 bytes (truncated_ndp),
  // target not multicast (ndp_multicast_target), every option's length non-zero and within the
  // message (ndp_bad_option_length); a solicitation from the unspecified address must go to a
  // solicited-node group and carry no source lladdr (ndp_bad_source); an advertisement to a
  // multicast group must not be solicited (ndp_solicited_multicast).
  static parse_result<ndp_repr> parse(const icmpv6_view& view, const ip_addr& src, const ip_addr& dst,
                                      std::uint8_t hop_limit, bool verify_checksum);

  // 24 bytes, and 8 for each link-layer address present.
  std::size_t buffer_len() const;
  // Writes the message at the start of `out` (buffer_len() bytes): flags (advertisement only),
  // target, the source lladdr option then the target lladdr option, and the checksum for
  // src -> dst. The IPv6 header, hop limit ndp_hop_limit, is the caller's.
  void emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const;

  friend constexpr bool operator==(const ndp_repr&, const ndp_repr&) = default;
};

}  // namespace synack::wire
