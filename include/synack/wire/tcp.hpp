// TCP segments (RFC 9293 §3.1) and their options (RFC 9293 §3.2, RFC 7323, RFC 2018).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/parse_error.hpp"
#include "synack/wire/tcp_options.hpp"

namespace synack::wire {

inline constexpr std::size_t tcp_min_header_len = 20;
inline constexpr std::size_t tcp_max_options_len = 40;  // data offset is at most 15 words

// The control bits (RFC 9293 §3.1; ECE and CWR from RFC 3168 §23.2).
struct tcp_flags {
  bool fin = false;
  bool syn = false;
  bool rst = false;
  bool psh = false;
  bool ack = false;
  bool urg = false;
  bool ece = false;
  bool cwr = false;

  static constexpr tcp_flags from_byte(std::uint8_t b) {
    return {(b & 0x01) != 0, (b & 0x02) != 0, (b & 0x04) != 0, (b & 0x08) != 0,
            (b & 0x10) != 0, (b & 0x20) != 0, (b & 0x40) != 0, (b & 0x80) != 0};
  }
  constexpr std::uint8_t to_byte() const {
    return static_cast<std::uint8_t>(fin | syn << 1 | rst << 2 | psh << 3 | ack << 4 | urg << 5 |
                                     ece << 6 | cwr << 7);
  }
  std::string to_string() const;  // tcpdump style: "S", "S.", "F.", "R", "P." ...

  friend constexpr bool operator==(const tcp_flags&, const tcp_flags&) = default;
};

// A non-owning view of one TCP segment: header, options and payload, exactly the bytes the IPv4
// total length (or the IPv6 payload length, less any extension headers) gives. parse() checks the data offset, so no accessor reads out of bounds.
class tcp_view {
public:
  // Fails with truncated_tcp, data_offset_too_small or data_offset_beyond_segment.
  static parse_result<tcp_view> parse(bytes segment);

  std::uint16_t src_port() const { return load_u16(segment_, field::src_port); }
  std::uint16_t dst_port() const { return load_u16(segment_, field::dst_port); }
  std::uint32_t seq_number() const { return load_u32(segment_, field::seq); }
  std::uint32_t ack_number() const { return load_u32(segment_, field::ack); }  // meaningful iff flags().ack
  std::uint8_t data_offset() const { return load_u8(segment_, field::data_offset) >> 4; }  // 32-bit words
  std::size_t header_len() const { return std::size_t{data_offset()} * 4; }
  tcp_flags flags() const { return tcp_flags::from_byte(load_u8(segment_, field::flags)); }
  std::uint16_t window() const { return load_u16(segment_, field::window); }
  std::uint16_t checksum() const { return load_u16(segment_, field::checksum); }
  std::uint16_t urgent_pointer() const { return load_u16(segment_, field::urgent); }
  bytes options() const { return segment_.subspan(tcp_min_header_len, header_len() - tcp_min_header_len); }
  bytes payload() const { return segment_.subspan(header_len()); }
  bytes raw() const { return segment_; }

  // The checksum over the pseudo-header (IPv4 when both addresses are, else IPv6) and the whole
  // segment is right.
  bool checksum_ok(const ip_addr& src, const ip_addr& dst) const;

  // Field offsets (RFC 9293 §3.1, Figure 1).
  struct field {
    static constexpr std::size_t src_port = 0;
    static constexpr std::size_t dst_port = 2;
    static constexpr std::size_t seq = 4;
    static constexpr std::size_t ack = 8;
    static constexpr std::size_t data_offset = 12;  // high nibble; low nibble reserved
    static constexpr std::size_t flags = 13;
    static constexpr std::size_t window = 14;
    static constexpr std::size_t checksum = 16;
    static constexpr std::size_t urgent = 18;
  };

private:
  explicit tcp_view(bytes segment) : segment_(segment) {}
  bytes segment_;
};

// Option kinds (IANA "TCP Option Kind Numbers").
namespace tcp_option_kind {
inline constexpr std::uint8_t eol = 0;
inline constexpr std::uint8_t nop = 1;
inline constexpr std::uint8_t mss = 2;             // RFC 9293 §3.2, length 4
inline constexpr std::uint8_t window_scale = 3;    // RFC 7323 §2.2, length 3
inline constexpr std::uint8_t sack_permitted = 4;  // RFC 2018 §2, length 2
inline constexpr std::uint8_t sack = 5;            // RFC 2018 §3, length 2 + 8n
inline constexpr std::uint8_t timestamps = 8;      // RFC 7323 §3.2, length 10
}  // namespace tcp_option_kind

// Parses an option area (the bytes between the fixed header and the data). EOL ends it; unknown
// kinds are skipped by their length; a repeated option overrides the earlier one. Every known
// option is taken whatever the SYN bit: which ones count is the connection's business.
// Fails with option_length_zero, option_length_one, option_past_header or bad_option_length.
parse_result<tcp_options> parse_tcp_options(bytes area);

// The padded length emit_tcp_options() writes: a multiple of 4, at most 40.
std::size_t tcp_options_len(const tcp_options& options);

// Writes the options in Linux's layout (net/ipv4/tcp_output.c, tcp_options_write):
//   MSS | SACK-permitted+TS (or NOP NOP TS) | NOP WS | NOP NOP SACK-permitted (when no TS) |
//   NOP NOP SACK blocks
// so a SYN with everything reads 02 04 mm mm 04 02 08 0a <tsval> <tsecr> 01 03 03 ws. SACK blocks
// that do not fit in 40 bytes are left out, last first. Returns the bytes written (tcp_options_len).
std::size_t emit_tcp_options(mutable_bytes out, const tcp_options& options);

// A TCP segment as plain values. The ACK and URG bits follow `ack` and `urgent`: on emit the
// flags' own ack/urg are ignored; on parse they agree.
struct tcp_repr {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::optional<std::uint32_t> ack;     // present iff the ACK bit is set
  tcp_flags flags;
  std::uint16_t window = 0;             // as on the wire, not scaled
  std::optional<std::uint16_t> urgent;  // present iff the URG bit is set
  tcp_options options;
  bytes payload;

  // Checks, in order: checksum (if verify_checksum: bad_tcp_checksum), SYN+FIN (syn_and_fin),
  // SYN+RST (syn_and_rst), then the options (see parse_tcp_options).
  // src and dst: the IP packet's, for the pseudo-header (see tcp_checksum for the family).
  static parse_result<tcp_repr> parse(const tcp_view& view, const ip_addr& src, const ip_addr& dst,
                                      bool verify_checksum);

  // `flags` with ack and urg taken from `ack` and `urgent`: the byte that goes on the wire.
  tcp_flags wire_flags() const {
    tcp_flags f = flags;
    f.ack = ack.has_value();
    f.urg = urgent.has_value();
    return f;
  }
  std::size_t header_len() const { return tcp_min_header_len + tcp_options_len(options); }
  std::size_t buffer_len() const { return header_len() + payload.size(); }
  // Writes header, options and payload at the start of `out` (at least buffer_len() bytes) and
  // fills in the checksum over the pseudo-header for src -> dst (IPv4 when both addresses are,
  // else IPv6). Returns buffer_len().
  std::size_t emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const;

  // Field-by-field, flags as wire_flags(); payloads compare by content.
  friend bool operator==(const tcp_repr& a, const tcp_repr& b);
};

}  // namespace synack::wire
