#include "synack/wire/ethernet.hpp"

namespace synack::wire {

mac_addr load_mac(bytes b, std::size_t at) {
  mac_addr m;
  for (std::size_t i = 0; i < m.octets.size(); ++i) m.octets[i] = load_u8(b, at + i);
  return m;
}

void store_mac(mutable_bytes b, std::size_t at, mac_addr m) {
  for (std::size_t i = 0; i < m.octets.size(); ++i) store_u8(b, at + i, m.octets[i]);
}

parse_result<ethernet_view> ethernet_view::parse(bytes frame) {
  if (frame.size() < ethernet_header_len) return parse_error::truncated_ethernet;
  const std::uint16_t type = load_u16(frame, field::ethertype);
  if (type == ethertype::vlan || type == ethertype::qinq) return parse_error::vlan_tagged;
  return ethernet_view{frame};
}

mac_addr ethernet_view::dst() const { return load_mac(frame_, field::dst); }
mac_addr ethernet_view::src() const { return load_mac(frame_, field::src); }

void emit_ethernet(mutable_bytes out, mac_addr dst, mac_addr src, std::uint16_t type) {
  using field = ethernet_view::field;
  store_mac(out, field::dst, dst);
  store_mac(out, field::src, src);
  store_u16(out, field::ethertype, type);
}

}  // namespace synack::wire
