#include "synack/wire/arp.hpp"

#include "synack/wire/ethernet.hpp"

namespace synack::wire {

namespace {
constexpr std::uint16_t htype_ethernet = 1;
constexpr std::uint8_t hlen_ethernet = 6;
constexpr std::uint8_t plen_ipv4 = 4;
}  // namespace

parse_result<arp_view> arp_view::parse(bytes packet) {
  // Ethernet padding after the 28 bytes is allowed and ignored.
  if (packet.size() < arp_packet_len) return parse_error::truncated_arp;
  arp_view v{packet.first(arp_packet_len)};
  if (v.hardware_type() != htype_ethernet || v.protocol_type() != ethertype::ipv4 ||
      v.hardware_len() != hlen_ethernet || v.protocol_len() != plen_ipv4)
    return parse_error::unsupported_arp;
  return v;
}

mac_addr arp_view::sender_mac() const { return load_mac(packet_, field::sha); }
mac_addr arp_view::target_mac() const { return load_mac(packet_, field::tha); }

parse_result<arp_repr> arp_repr::parse(const arp_view& view) {
  const std::uint16_t op = view.operation();
  if (op != static_cast<std::uint16_t>(arp_op::request) && op != static_cast<std::uint16_t>(arp_op::reply))
    return parse_error::unsupported_arp_op;
  return arp_repr{static_cast<arp_op>(op), view.sender_mac(), view.sender_ip(), view.target_mac(),
                  view.target_ip()};
}

void arp_repr::emit(mutable_bytes out) const {
  using field = arp_view::field;
  store_u16(out, field::htype, htype_ethernet);
  store_u16(out, field::ptype, ethertype::ipv4);
  store_u8(out, field::hlen, hlen_ethernet);
  store_u8(out, field::plen, plen_ipv4);
  store_u16(out, field::oper, static_cast<std::uint16_t>(op));
  store_mac(out, field::sha, sender_mac);
  store_u32(out, field::spa, sender_ip.value);
  store_mac(out, field::tha, target_mac);
  store_u32(out, field::tpa, target_ip.value);
}

}  // namespace synack::wire

