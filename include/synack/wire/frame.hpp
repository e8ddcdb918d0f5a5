// One entry point for received frames: Ethernet -> ARP, Ethernet -> IPv4 -> TCP, or
// Ethernet -> IPv4 -> ICMP error quoting a TCP segment.
// Nothing here allocates; the result's views and payload point into the caller's frame.
#pragma once

#include <optional>

#include "synack/wire/arp.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/icmp.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/parse_error.hpp"
#include "synack/wire/tcp.hpp"

namespace synack::wire {

struct parse_options {
  // False when the packet socket vouches for the checksums (TP_STATUS_CSUM_VALID) or they are not
  // filled in yet (TP_STATUS_CSUMNOTREADY, e.g. locally generated or GRO frames).
  bool verify_checksums = true;
};

enum class frame_kind {
  arp,       // `arp` is set
  tcp,       // `ipv4`, `ipv4_header`, `tcp` and `tcp_segment` are set
  icmp,      // `ipv4`, `ipv4_header`, `icmp_message` and `icmp` are set (an error quoting TCP)
  ignored,   // well-formed but not for synack; `error` says why (e.g. not_tcp)
  malformed  // broken; `error` says how
};

struct parsed_frame {
  frame_kind kind = frame_kind::malformed;
  parse_error error = parse_error::none;  // none iff kind is arp or tcp

  // Whatever layers parsed before the frame was accepted or refused.
  std::optional<ethernet_view> ethernet;
  std::optional<arp_repr> arp;
  std::optional<ipv4_view> ipv4_header;
  std::optional<ipv4_repr> ipv4;
  std::optional<tcp_view> tcp_segment;
  std::optional<tcp_repr> tcp;  // payload points into the frame
  std::optional<icmp_view> icmp_message;
  std::optional<icmp_error_repr> icmp;  // its quotation points into the frame
};

// Decodes one received frame. Frames may be any size (GRO delivers up to 64 KiB); only the header
// fields bound what is read. The result's views and payload point into `frame`, so `frame` must
// outlive it (a temporary buffer here leaves them dangling). Steps, each stopping at its first error:
//   Ethernet -> ARP: arp_view::parse, arp_repr::parse
//   Ethernet -> IPv4: ipv4_view::parse, ipv4_repr::parse (checksum, fragment), protocol TCP or ICMP
//   -> TCP: tcp_view::parse, tcp_repr::parse (checksum, SYN+FIN, SYN+RST, options)
//   -> ICMP: icmp_view::parse, icmp_error_repr::parse (checksum, type, quotation)
parsed_frame parse_frame(bytes frame, const parse_options& options);

}  // namespace synack::wire
