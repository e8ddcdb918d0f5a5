// Why a received frame was not accepted, as one enum shared by every wire format, plus the
// small result type the parsers return and the per-reason drop counters the engine keeps.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace synack::wire {

// Every reason a frame can be refused. "Ignored" reasons describe well-formed traffic synack does
// not handle (see is_malformed); the others describe broken frames.
enum class parse_error : std::uint8_t {
  none,
  // Ethernet (IEEE 802.3)
  truncated_ethernet,
  vlan_tagged,            // ignored: 802.1Q / 802.1ad tags are not supported
  unsupported_ethertype,  // ignored: neither IPv4, IPv6 nor ARP
  // ARP (RFC 826)
  truncated_arp,
  unsupported_arp,     // ignored: not Ethernet/IPv4 ARP
  unsupported_arp_op,  // ignored: neither request nor reply
  // IPv4 (RFC 791)
  truncated_ipv4,
  bad_ip_version,  // IPv4 or IPv6: the version nibble disagrees with the EtherType
  ihl_too_small,
  total_length_too_small,
  total_length_beyond_frame,
  bad_ip_checksum,
  ip_fragment,  // ignored: synack does not reassemble (IPv4 fragments and IPv6 fragment headers)
  not_tcp,      // ignored: another IP protocol (neither TCP nor ICMP/ICMPv6), IPv6 ESP/AH/no next header
  // TCP (RFC 9293)
  truncated_tcp,
  data_offset_too_small,
  data_offset_beyond_segment,
  bad_tcp_checksum,
  syn_and_fin,
  syn_and_rst,
  option_length_zero,
  option_length_one,
  option_past_header,
  bad_option_length,
  // ICMP (RFC 792) errors about our TCP segments
  truncated_icmp,
  bad_icmp_checksum,
  unsupported_icmp,      // ignored: not destination unreachable, time exceeded or parameter problem
  icmp_quote_truncated,  // the quotation lacks an IP header (and extension headers) and 8 bytes of TCP
  icmp_quote_bad_header,
  icmp_quote_not_tcp,    // ignored: about another protocol
  // The reasons below were added with IPv6 (issue 14); appended so the existing values, and the
  // counters indexed by them, keep their numbers. ICMPv6 reuses the ICMP reasons above
  // (truncated_icmp, bad_icmp_checksum, unsupported_icmp, icmp_quote_*): the frame's family is in
  // parsed_frame::ip, and one counter per meaning is what an operator reads.
  // IPv6 (RFC 8200)
  truncated_ipv6,                // shorter than the 40-byte header
  payload_length_beyond_frame,   // the payload length claims more than the frame holds
  ipv6_bad_address,              // a v4-mapped source or destination, or a multicast source
  ipv6_ext_header_past_payload,  // an extension header runs past the payload
  ipv6_too_many_ext_headers,     // more than ipv6_max_ext_headers before the upper layer
  ipv6_hop_by_hop_not_first,     // RFC 8200 §4.1: hop-by-hop options only right after the header
  // Neighbour discovery (RFC 4861 §7.1.1, §7.1.2): solicitations and advertisements that fail
  // the validity checks; the RFC says "silently discard", we count them.
  truncated_ndp,             // ICMP length under 24
  ndp_bad_hop_limit,         // not 255: it crossed a router (or was forged off-link)
  ndp_bad_code,              // not 0
  ndp_multicast_target,
  ndp_bad_option_length,     // an option of length 0 or running past the message
  ndp_bad_source,            // a solicitation from :: not to a solicited-node group, or with a source lladdr
  ndp_solicited_multicast,   // an advertisement to a multicast group with the solicited flag set
};

inline constexpr std::size_t parse_error_count = static_cast<std::size_t>(parse_error::ndp_solicited_multicast) + 1;

// A short stable name, e.g. "bad_tcp_checksum", for logs and counters.
std::string_view to_string(parse_error e);

// True for broken frames, false for `none` and for well-formed frames synack merely ignores.
constexpr bool is_malformed(parse_error e) {
  switch (e) {
    case parse_error::none:
    case parse_error::vlan_tagged:
    case parse_error::unsupported_ethertype:
    case parse_error::unsupported_arp:
    case parse_error::unsupported_arp_op:
    case parse_error::ip_fragment:
    case parse_error::not_tcp:
    case parse_error::unsupported_icmp:
    case parse_error::icmp_quote_not_tcp:
      return false;
    default:
      return true;
  }
}

// Drop counters, one per reason. `none` is never counted.
struct parse_counters {
  std::array<std::uint64_t, parse_error_count> by_reason{};

  void count(parse_error e) {
    if (e != parse_error::none) ++by_reason[static_cast<std::size_t>(e)];
  }
  std::uint64_t operator[](parse_error e) const { return by_reason[static_cast<std::size_t>(e)]; }
  std::uint64_t total() const;
};

// What every parser returns: a value or the reason there is none (std::expected is C++23).
template <class T>
class parse_result {
public:
  parse_result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  parse_result(parse_error error) : error_(error) { assert(error != parse_error::none); }  // NOLINT

  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return has_value(); }
  parse_error error() const { return error_; }  // parse_error::none when there is a value

  const T& value() const { assert(has_value()); return *value_; }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }

private:
  std::optional<T> value_;
  parse_error error_ = parse_error::none;
};

}  // namespace synack::wire
