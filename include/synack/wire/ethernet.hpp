// Ethernet II frames (IEEE 802.3 with an EtherType): destination, source, type, payload. No
// 802.1Q: tagged frames are refused as unsupported. The FCS is not part of what the socket gives us.
#pragma once

#include <cstddef>
#include <cstdint>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"
#include "synack/wire/parse_error.hpp"

namespace synack::wire {

namespace ethertype {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t ipv6 = 0x86dd;  // RFC 2464 §3
inline constexpr std::uint16_t vlan = 0x8100;  // IEEE 802.1Q
inline constexpr std::uint16_t qinq = 0x88a8;  // IEEE 802.1ad
}  // namespace ethertype

inline constexpr std::size_t ethernet_header_len = 14;

// A non-owning view of one Ethernet frame. Once parse() succeeds no accessor reads out of bounds.
class ethernet_view {
public:
  // Fails with truncated_ethernet (shorter than the header) or vlan_tagged.
  static parse_result<ethernet_view> parse(bytes frame);

  mac_addr dst() const;
  mac_addr src() const;
  std::uint16_t ethertype() const { return load_u16(frame_, field::ethertype); }
  bytes payload() const { return frame_.subspan(ethernet_header_len); }  // may include padding
  bytes raw() const { return frame_; }

  // Field offsets (IEEE 802.3 §3.1.1).
  struct field {
    static constexpr std::size_t dst = 0;
    static constexpr std::size_t src = 6;
    static constexpr std::size_t ethertype = 12;
  };

private:
  explicit ethernet_view(bytes frame) : frame_(frame) {}
  bytes frame_;
};

// Writes the 14-byte header at the start of `out` (which must hold at least that much).
void emit_ethernet(mutable_bytes out, mac_addr dst, mac_addr src, std::uint16_t ethertype);

// Reads / writes a MAC address at `at`; shared by Ethernet and ARP.
mac_addr load_mac(bytes b, std::size_t at);
void store_mac(mutable_bytes b, std::size_t at, mac_addr m);

}  // namespace synack::wire
