// One entry point for received frames: Ethernet -> ARP, Ethernet -> IPv4 | IPv6 -> TCP,
// Ethernet -> IPv4 -> ICMP error quoting a TCP segment, Ethernet -> IPv6 -> ICMPv6 error quoting a
// TCP segment, or Ethernet -> IPv6 -> neighbour solicitation / advertisement.
// Nothing here allocates; the result's views and payload point into the caller's frame.
#pragma once

#include <optional>

#include "synack/wire/arp.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/icmp.hpp"
#include "synack/wire/icmpv6.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/ipv6.hpp"
#include "synack/wire/parse_error.hpp"
#include "synack/wire/tcp.hpp"

namespace synack::wire {

struct parse_options {
  // False when the packet socket vouches for the checksums (TP_STATUS_CSUM_VALID) or they are not
  // filled in yet (TP_STATUS_CSUMNOTREADY, e.g. locally generated or GRO frames).
  bool verify_checksums = true;
};

// What is set for each kind. Every IP frame (IPv4 or IPv6, whatever its kind) also has `ip`; the
// family's own members are `ipv4`/`ipv4_header` or `ipv6`/`ipv6_header`.
enum class frame_kind {
  arp,        // `arp` is set
  tcp,        // `ip`, `tcp` and `tcp_segment` are set
  icmp,       // `ip` and, for IPv4, `icmp_message` and `icmp`, for IPv6, `icmpv6_message` and
              // `icmpv6` (an error quoting TCP; quotation() gives either's)
  ignored,    // well-formed but not for synack; `error` says why (e.g. not_tcp)
  malformed,  // broken; `error` says how
  ndp,        // `ip`, `ipv6`, `icmpv6_message` and `ndp` are set (neighbour solicitation/advertisement)
};

// The IP header's fields the engine needs, the same for both families.
struct ip_info {
  ip_addr src;
  ip_addr dst;
  std::uint8_t ttl = 0;               // IPv6: the hop limit
  std::uint8_t dscp_ecn = 0;          // IPv6: the traffic class
  std::uint16_t identification = 0;   // IPv6: 0
  bool dont_fragment = true;          // IPv6: true (routers never fragment)
  std::uint32_t flow_label = 0;       // IPv4: 0

  friend constexpr bool operator==(const ip_info&, const ip_info&) = default;
};

struct parsed_frame {
  frame_kind kind = frame_kind::malformed;
  parse_error error = parse_error::none;  // none iff kind is arp, tcp, icmp or ndp

  // Whatever layers parsed before the frame was accepted or refused.
  std::optional<ethernet_view> ethernet;
  std::optional<arp_repr> arp;
  // Either family, once its header (IPv6: and its extension headers) passed: the engine's view.
  std::optional<ip_info> ip;
  std::optional<ipv4_view> ipv4_header;
  std::optional<ipv4_repr> ipv4;
  std::optional<ipv6_view> ipv6_header;
  std::optional<ipv6_repr> ipv6;  // next_header is the upper layer's, after the extension headers
  std::optional<tcp_view> tcp_segment;
  std::optional<tcp_repr> tcp;  // payload points into the frame
  std::optional<icmp_view> icmp_message;
  std::optional<icmp_error_repr> icmp;  // its quotation points into the frame
  // ICMPv6 keeps its own repr rather than a family-agnostic one: its types, codes and MTU width
  // differ from ICMP's, and the engine classifies them per family anyway; the quotation is the
  // same icmp_quote.
  std::optional<icmpv6_view> icmpv6_message;
  std::optional<icmpv6_error_repr> icmpv6;  // its quotation points into the frame
  std::optional<ndp_repr> ndp;

  // The quotation of an ICMP or ICMPv6 error, or nullptr.
  const icmp_quote* quotation() const { return icmp ? &icmp->quote : icmpv6 ? &icmpv6->quote : nullptr; }
};

// Decodes one received frame. Frames may be any size (GRO delivers up to 64 KiB); only the header
// fields bound what is read. The result's views and payload point into `frame`, so `frame` must
// outlive it (a temporary buffer here leaves them dangling). Steps, each stopping at its first error:
//   Ethernet -> ARP: arp_view::parse, arp_repr::parse
//   Ethernet -> IPv4: ipv4_view::parse, ipv4_repr::parse (checksum, fragment), protocol TCP or ICMP
//   Ethernet -> IPv6: ipv6_view::parse, ipv6_repr::parse (addresses, extension headers, fragment),
//     upper layer TCP or ICMPv6
//   -> TCP: tcp_view::parse, tcp_repr::parse (checksum with the family's pseudo-header, SYN+FIN,
//      SYN+RST, options)
//   -> ICMP: icmp_view::parse, icmp_error_repr::parse (checksum, type, quotation)
//   -> ICMPv6: icmpv6_view::parse; types 135/136 ndp_repr::parse (checksum, RFC 4861 validity),
//      others icmpv6_error_repr::parse (checksum, type, quotation)
parsed_frame parse_frame(bytes frame, const parse_options& options);

}  // namespace synack::wire
