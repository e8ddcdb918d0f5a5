// IPv4 (RFC 791). Options are skipped, never interpreted; fragments are refused (no reassembly).
#pragma once

#include <cstddef>
#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

// IANA "Assigned Internet Protocol Numbers": the IPv4 protocol field and the IPv6 next header.
namespace ip_protocol {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;  // RFC 4443
}  // namespace ip_protocol

inline constexpr std::size_t ipv4_min_header_len = 20;

// A non-owning view of one IPv4 packet, cut to its total length (trailing link padding dropped).
// parse() checks version, IHL and total length, so no accessor reads out of bounds.
class ipv4_view {
public:
  // Fails with truncated_ipv4, bad_ip_version, ihl_too_small, total_length_too_small or
  // total_length_beyond_frame. Does not look at the checksum or the fragment fields.
  static parse_result<ipv4_view> parse(bytes data);

  std::uint8_t version() const { return load_u8(packet_, field::ver_ihl) >> 4; }
  std::size_t header_len() const { return std::size_t{load_u8(packet_, field::ver_ihl) & 0x0fu} * 4; }
  std::uint8_t dscp_ecn() const { return load_u8(packet_, field::tos); }
  std::uint16_t total_length() const { return load_u16(packet_, field::total_length); }
  std::uint16_t identification() const { return load_u16(packet_, field::ident); }
  bool dont_fragment() const { return (load_u16(packet_, field::flags_frag) & flag_df) != 0; }
  bool more_fragments() const { return (load_u16(packet_, field::flags_frag) & flag_mf) != 0; }
  std::uint16_t fragment_offset() const { return load_u16(packet_, field::flags_frag) & frag_offset_mask; }  // 8-byte units
  std::uint8_t ttl() const { return load_u8(packet_, field::ttl); }
  std::uint8_t protocol() const { return load_u8(packet_, field::protocol); }
  std::uint16_t header_checksum() const { return load_u16(packet_, field::checksum); }
  ipv4_addr src() const { return {load_u32(packet_, field::src)}; }
  ipv4_addr dst() const { return {load_u32(packet_, field::dst)}; }
  bytes options() const { return packet_.subspan(ipv4_min_header_len, header_len() - ipv4_min_header_len); }
  bytes payload() const { return packet_.subspan(header_len()); }
  bytes raw() const { return packet_; }  // header and payload, total_length() bytes

  bool checksum_ok() const;
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }

  // Field offsets and flag bits (RFC 791 §3.1).
  struct field {
    static constexpr std::size_t ver_ihl = 0;
    static constexpr std::size_t tos = 1;
    static constexpr std::size_t total_length = 2;
    static constexpr std::size_t ident = 4;
    static constexpr std::size_t flags_frag = 6;
    static constexpr std::size_t ttl = 8;
    static constexpr std::size_t protocol = 9;
    static constexpr std::size_t checksum = 10;
    static constexpr std::size_t src = 12;
    static constexpr std::size_t dst = 16;
  };
  static constexpr std::uint16_t flag_df = 0x4000;
  static constexpr std::uint16_t flag_mf = 0x2000;
  static constexpr std::uint16_t frag_offset_mask = 0x1fff;

private:
  explicit ipv4_view(bytes packet) : packet_(packet) {}
  bytes packet_;
};

// The fields synack reads and writes. Emitted headers are always 20 bytes, never fragmented.
struct ipv4_repr {
  ipv4_addr src;
  ipv4_addr dst;
  std::uint8_t protocol = ip_protocol::tcp;
  std::uint8_t ttl = 64;
  std::uint8_t dscp_ecn = 0;
  std::uint16_t identification = 0;
  bool dont_fragment = true;
  std::uint16_t payload_len = 0;  // bytes after the header

  // Fails with bad_ip_checksum (only if verify_checksum) or ip_fragment, in that order.
  static parse_result<ipv4_repr> parse(const ipv4_view& view, bool verify_checksum);
  static constexpr std::size_t header_len() { return ipv4_min_header_len; }
  std::size_t buffer_len() const { return header_len() + payload_len; }
  // Writes the 20-byte header, checksum included, at the start of `out`. The payload is the caller's.
  void emit(mutable_bytes out) const;

  friend constexpr bool operator==(const ipv4_repr&, const ipv4_repr&) = default;
};

}  // namespace synack::wire
