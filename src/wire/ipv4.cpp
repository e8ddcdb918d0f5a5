#include "synack/wire/ipv4.hpp"

#include "synack/wire/checksum.hpp"

namespace synack::wire {

parse_result<ipv4_view> ipv4_view::parse(bytes data) {
  if (data.size() < ipv4_min_header_len) return parse_error::truncated_ipv4;
  const std::uint8_t ver_ihl = load_u8(data, field::ver_ihl);
  if ((ver_ihl >> 4) != 4) return parse_error::bad_ip_version;
  const std::size_t ihl = std::size_t{ver_ihl & 0x0fu} * 4;
  if (ihl < ipv4_min_header_len) return parse_error::ihl_too_small;
  if (ihl > data.size()) return parse_error::truncated_ipv4;
  const std::size_t total = load_u16(data, field::total_length);
  if (total < ihl) return parse_error::total_length_too_small;
  if (total > data.size()) return parse_error::total_length_beyond_frame;
  return ipv4_view{data.first(total)};  // anything after total length is link padding
}

bool ipv4_view::checksum_ok() const { return ipv4_header_checksum(packet_.first(header_len())) == 0; }

parse_result<ipv4_repr> ipv4_repr::parse(const ipv4_view& view, bool verify_checksum) {
  if (verify_checksum && !view.checksum_ok()) return parse_error::bad_ip_checksum;
  if (view.is_fragment()) return parse_error::ip_fragment;
  return ipv4_repr{
      .src = view.src(),
      .dst = view.dst(),
      .protocol = view.protocol(),
      .ttl = view.ttl(),
      .dscp_ecn = view.dscp_ecn(),
      .identification = view.identification(),
      .dont_fragment = view.dont_fragment(),
      .payload_len = static_cast<std::uint16_t>(view.payload().size()),
  };
}

void ipv4_repr::emit(mutable_bytes out) const {
  using field = ipv4_view::field;
  constexpr std::uint8_t version4_ihl5 = 0x45;
  store_u8(out, field::ver_ihl, version4_ihl5);
  store_u8(out, field::tos, dscp_ecn);
  store_u16(out, field::total_length, static_cast<std::uint16_t>(buffer_len()));
  store_u16(out, field::ident, identification);
  store_u16(out, field::flags_frag, dont_fragment ? ipv4_view::flag_df : std::uint16_t{0});
  store_u8(out, field::ttl, ttl);
  store_u8(out, field::protocol, protocol);
  store_u16(out, field::checksum, 0);
  store_u32(out, field::src, src.value);
  store_u32(out, field::dst, dst.value);
  store_u16(out, field::checksum, ipv4_header_checksum(out.first(header_len())));
}

}  // namespace synack::wire
