// synack trace: what a middlebox changed in a probe, read from the quotation in an ICMP error.
//
// A router that drops a probe for its TTL quotes the probe's IP header and as much of its TCP
// header as it likes (RFC 792: 8 bytes; RFC 1812 §4.3.2.3 routers, Linux among them, fill up to
// 576 bytes, so the whole SYN with its options). An IPv6 router's ICMPv6 time exceeded quotes as
// much of the packet as fits in 1280 bytes (RFC 4443 §2.4(c)): the whole SYN. The quotation shows
// the probe as it arrived at that router, so comparing it with what was sent shows what the path
// changed before it (the tracebox idea): MSS clamping, options stripped, TOS/ECN (IPv6: traffic
// class) rewritten, the IPv6 flow label rewritten, NAT of the source address, port or sequence
// number. Pure functions, no I/O, tested in tests/tools/trace_diff_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/icmp.hpp"

namespace synack::tools {

// What one probe looked like when it left: the IP fields and the TCP header bytes as emitted
// (options included). The family is dst's; for IPv6 ttl is the hop limit, dscp_ecn the traffic
// class, total_length 40 + the payload length, and identification and dont_fragment do not apply.
struct sent_probe {
  wire::ip_addr src;
  wire::ip_addr dst;
  std::uint8_t ttl = 0;
  std::uint8_t dscp_ecn = 0;
  std::uint16_t identification = 0;  // IPv4 only
  bool dont_fragment = true;         // IPv4 only
  std::uint32_t flow_label = 0;      // IPv6 only (20 bits)
  std::uint16_t total_length = 0;
  std::vector<std::byte> tcp;  // the TCP header, at least 20 bytes
};

// One difference between what was sent and what a router quoted.
struct header_change {
  std::string field;   // mss, wscale, sack_permitted, timestamps, options, tos, ecn, src, dst,
                       // src_port, dst_port, seq, ack, ip_id, df, length, window, tcp_flags,
                       // quoted_ttl; IPv6: traffic_class (for tos), flow_label and
                       // quoted_hop_limit (for quoted_ttl), never ip_id or df
  std::string sent;    // the value sent, as text ("" when there was none: an option added)
  std::string quoted;  // the value quoted ("" when it is gone: an option stripped)
  std::string text;    // one short phrase for the hop line: "MSS 1460->1200", "sackOK stripped"
  // Names the change independently of the probe it was seen on (a rewritten sequence number is
  // keyed by its offset, not its value), so the same change at the next hop is recognized.
  std::string key;
  friend bool operator==(const header_change&, const header_change&) = default;
};

// One TCP option as it is on the wire (NOP and EOL included; data without kind and length).
struct raw_tcp_option {
  std::uint8_t kind = 0;
  std::vector<std::byte> data;
  friend bool operator==(const raw_tcp_option&, const raw_tcp_option&) = default;
};
// The options area of a TCP header, option by option; nullopt when an option's length is
// broken (under 2, or running past the area). Stops at EOL (which is included).
std::optional<std::vector<raw_tcp_option>> parse_raw_tcp_options(wire::bytes area);

// The quoted TTL (IPv6: hop limit) a router normally reports: the probe arrived with 1 and expired
// there.
inline constexpr std::uint8_t expected_quoted_ttl = 1;

// Every difference between `sent` and `quote`, as far as the quotation goes (with only 8 bytes of
// TCP, the ports and the sequence number). Expected differences are not reported: the IP checksum
// and TTL (except a quoted TTL other than 1, field quoted_ttl; IPv6: quoted_hop_limit), the TCP
// checksum (it changes with any rewrite; reported through the change itself). The family is
// sent.dst's. IPv6: the traffic class is compared as IPv4's TOS byte (DSCP: field traffic_class,
// ECN: ecn), the flow label when quoted_flow_label is given (wire::icmp_quote has none: read it
// with quoted_flow_label() below), the payload length (field length); IPv4's IP ID and DF do not
// exist there and are never reported.
std::vector<header_change> diff_quote(const sent_probe& sent, const wire::icmp_quote& quote,
                                      std::optional<std::uint32_t> quoted_flow_label = std::nullopt);

// The flow label of the IPv6 header an ICMPv6 error quotes (`quoted`: the error's payload, from
// the quoted IPv6 header on); nullopt when it is shorter than 4 bytes or not version 6.
std::optional<std::uint32_t> quoted_flow_label(wire::bytes quoted);

// The TSval of the timestamps option in a quoted TCP header (the whole header quoted and the
// option there), else nullopt. synack trace puts a per-probe value there, so a probe is still
// told apart when its sequence number was rewritten and IPv6 has no IP ID to fall back on.
std::optional<std::uint32_t> quoted_tsval(const wire::icmp_quote& quote);

// How many bytes of the TCP header the quotation holds, and whether that is all of it (options
// included), so a report can say why it could not compare the options.
struct quote_coverage {
  std::size_t tcp_bytes = 0;
  bool full_header = false;
};
quote_coverage coverage(const wire::icmp_quote& quote);

// Reports each change once, at the first hop that shows it: a hop's changes minus those already
// reported by an earlier hop (by key).
class change_tracker {
public:
  std::vector<header_change> first_seen(const std::vector<header_change>& at_hop);

private:
  std::set<std::string> seen_;
};

}  // namespace synack::tools
