// IPv6 (RFC 8200). Extension headers are walked to the upper-layer header, never interpreted:
// hop-by-hop, routing and destination options are skipped by their length; a fragment header is
// refused (no reassembly, as for IPv4); ESP, AH and "no next header" end the walk as "not TCP".
#pragma once

#include <cstddef>
#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/ipv4.hpp"  // ip_protocol: IPv6's next header shares IPv4's protocol numbers
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

inline constexpr std::size_t ipv6_header_len = 40;

// Reads / writes an IPv6 address at `at`.
ipv6_addr load_ipv6(bytes b, std::size_t at);
void store_ipv6(mutable_bytes b, std::size_t at, const ipv6_addr& a);

// Next-header values that are not upper-layer protocols (RFC 8200 §4, IANA "IPv6 Extension
// Header Types").
namespace ipv6_next_header {
inline constexpr std::uint8_t hop_by_hop = 0;
inline constexpr std::uint8_t routing = 43;
inline constexpr std::uint8_t fragment = 44;
inline constexpr std::uint8_t esp = 50;  // RFC 4303: the rest is encrypted
inline constexpr std::uint8_t ah = 51;   // RFC 4302
inline constexpr std::uint8_t no_next_header = 59;
inline constexpr std::uint8_t destination_options = 60;
}  // namespace ipv6_next_header

// How many extension headers the walk skips before it gives up. RFC 8200 §4.1 recommends at most
// one of each (two destination options): 6; a longer chain is an attack on whoever walks it
// (RFC 7112, RFC 9098), not a sender we want to talk to.
inline constexpr std::size_t ipv6_max_ext_headers = 8;

// Where an extension-header walk stopped: the first next-header value that is not hop-by-hop,
// routing or destination options (the fragment header, ESP, AH and 59 included: the caller decides
// what they mean), and the bytes from that header to the end of what was walked.
struct ipv6_upper_layer {
  std::uint8_t protocol = 0;
  std::size_t offset = 0;  // from the start of the walked bytes: the extension headers' length
  bytes data;
};

// Walks the chain that starts with `next_header` over `payload` (the bytes after the fixed header).
// Each skipped header is <next header, length in 8-octet units not counting the first 8, ...>
// (RFC 8200 §4.3-§4.6). Fails with ipv6_ext_header_past_payload (a header, or its length byte,
// runs past `payload`), ipv6_hop_by_hop_not_first or ipv6_too_many_ext_headers.
// Allocation-free and bounded: at most ipv6_max_ext_headers steps.
parse_result<ipv6_upper_layer> walk_ipv6_ext_headers(std::uint8_t next_header, bytes payload);

// A non-owning view of one IPv6 packet, cut to 40 + payload length (trailing link padding
// dropped). parse() checks the version and the payload length, so no accessor reads out of bounds.
// A jumbogram (RFC 2675: payload length 0 and a hop-by-hop jumbo option) reads as an empty payload
// and fails the extension-header walk: Ethernet never carries one.
class ipv6_view {
public:
  // Fails with truncated_ipv6, bad_ip_version or payload_length_beyond_frame. Does not walk the
  // extension headers (upper_layer() does).
  static parse_result<ipv6_view> parse(bytes data);

  std::uint8_t version() const { return load_u8(packet_, field::ver_tc_flow) >> 4; }
  std::uint8_t traffic_class() const {
    return static_cast<std::uint8_t>((load_u32(packet_, field::ver_tc_flow) >> 20) & 0xff);
  }
  std::uint32_t flow_label() const { return load_u32(packet_, field::ver_tc_flow) & flow_label_mask; }
  std::uint16_t payload_length() const { return load_u16(packet_, field::payload_length); }
  std::uint8_t next_header() const { return load_u8(packet_, field::next_header); }
  std::uint8_t hop_limit() const { return load_u8(packet_, field::hop_limit); }
  ipv6_addr src() const { return load_ipv6(packet_, field::src); }
  ipv6_addr dst() const { return load_ipv6(packet_, field::dst); }
  bytes payload() const { return packet_.subspan(ipv6_header_len); }  // extension headers included
  bytes raw() const { return packet_; }  // header and payload, 40 + payload_length() bytes

  // The walk over this packet's extension headers (see walk_ipv6_ext_headers).
  parse_result<ipv6_upper_layer> upper_layer() const { return walk_ipv6_ext_headers(next_header(), payload()); }

  // Field offsets (RFC 8200 §3).
  struct field {
    static constexpr std::size_t ver_tc_flow = 0;  // version 4 bits, traffic class 8, flow label 20
    static constexpr std::size_t payload_length = 4;
    static constexpr std::size_t next_header = 6;
    static constexpr std::size_t hop_limit = 7;
    static constexpr std::size_t src = 8;
    static constexpr std::size_t dst = 24;
  };
  static constexpr std::uint32_t flow_label_mask = 0x000fffff;

private:
  explicit ipv6_view(bytes packet) : packet_(packet) {}
  bytes packet_;
};

// The fields synack reads and writes. Emitted headers are always the plain 40 bytes, no
// extension headers: next_header is the upper-layer protocol and payload_len its length.
struct ipv6_repr {
  ipv6_addr src;
  ipv6_addr dst;
  std::uint8_t next_header = ip_protocol::tcp;  // the upper-layer protocol, after any extension headers
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;  // DSCP and ECN, as IPv4's TOS byte
  std::uint32_t flow_label = 0;    // 20 bits
  std::uint16_t payload_len = 0;   // upper-layer bytes: the last payload_len bytes of the payload

  // Walks the extension headers (the walk's reasons), refuses a fragment header (ip_fragment,
  // ignored: counted with IPv4's fragments) and addresses no IPv6 packet carries
  // (ipv6_bad_address: v4-mapped, RFC 4291 §2.5.5.2, which would read as IPv4 in an ip_addr and
  // so get the IPv4 checksum and tuple; or a multicast source, RFC 4291 §2.7; Linux drops both in
  // ip6_rcv_core). ESP, AH, 59 and any other protocol parse: the caller ignores them as not_tcp.
  static parse_result<ipv6_repr> parse(const ipv6_view& view);
  static constexpr std::size_t header_len() { return ipv6_header_len; }
  std::size_t buffer_len() const { return header_len() + payload_len; }
  // Writes the 40-byte header at the start of `out`. The payload is the caller's.
  void emit(mutable_bytes out) const;

  friend constexpr bool operator==(const ipv6_repr&, const ipv6_repr&) = default;
};

}  // namespace synack::wire
