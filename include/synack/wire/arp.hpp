// ARP (RFC 826) for Ethernet hardware and IPv4 protocol addresses only: a fixed 28-byte packet.
#pragma once

#include <cstddef>
#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

inline constexpr std::size_t arp_packet_len = 28;

enum class arp_op : std::uint16_t { request = 1, reply = 2 };

// A non-owning view of one ARP packet. parse() checks the length and that the hardware/protocol
// types and lengths are Ethernet/IPv4 (so the fixed offsets below are right).
class arp_view {
public:
  // Fails with truncated_arp or unsupported_arp.
  static parse_result<arp_view> parse(bytes packet);

  std::uint16_t hardware_type() const { return load_u16(packet_, field::htype); }
  std::uint16_t protocol_type() const { return load_u16(packet_, field::ptype); }
  std::uint8_t hardware_len() const { return load_u8(packet_, field::hlen); }
  std::uint8_t protocol_len() const { return load_u8(packet_, field::plen); }
  std::uint16_t operation() const { return load_u16(packet_, field::oper); }
  mac_addr sender_mac() const;
  ipv4_addr sender_ip() const { return {load_u32(packet_, field::spa)}; }
  mac_addr target_mac() const;
  ipv4_addr target_ip() const { return {load_u32(packet_, field::tpa)}; }

  // Field offsets for Ethernet/IPv4 ARP (RFC 826, "Packet format").
  struct field {
    static constexpr std::size_t htype = 0;
    static constexpr std::size_t ptype = 2;
    static constexpr std::size_t hlen = 4;
    static constexpr std::size_t plen = 5;
    static constexpr std::size_t oper = 6;
    static constexpr std::size_t sha = 8;
    static constexpr std::size_t spa = 14;
    static constexpr std::size_t tha = 18;
    static constexpr std::size_t tpa = 24;
  };

private:
  explicit arp_view(bytes packet) : packet_(packet) {}
  bytes packet_;
};

struct arp_repr {
  arp_op op = arp_op::request;
  mac_addr sender_mac;
  ipv4_addr sender_ip;
  mac_addr target_mac;  // zero in a request
  ipv4_addr target_ip;

  // Fails with unsupported_arp_op for operations other than request and reply.
  static parse_result<arp_repr> parse(const arp_view& view);
  static constexpr std::size_t buffer_len() { return arp_packet_len; }
  // Writes the 28-byte packet at the start of `out`.
  void emit(mutable_bytes out) const;

  friend constexpr bool operator==(const arp_repr&, const arp_repr&) = default;
};

}  // namespace synack::wire
