#include "synack/wire/ipv6.hpp"

namespace synack::wire {

ipv6_addr load_ipv6(bytes b, std::size_t at) {
  ipv6_addr a;
  for (std::size_t i = 0; i < a.octets.size(); ++i) a.octets[i] = load_u8(b, at + i);
  return a;
}

void store_ipv6(mutable_bytes b, std::size_t at, const ipv6_addr& a) {
  for (std::size_t i = 0; i < a.octets.size(); ++i) store_u8(b, at + i, a.octets[i]);
}

parse_result<ipv6_upper_layer> walk_ipv6_ext_headers(std::uint8_t next_header, bytes payload) {
  namespace nh = ipv6_next_header;
  std::size_t at = 0;
  for (std::size_t walked = 0;; ++walked) {
    if (next_header != nh::hop_by_hop && next_header != nh::routing && next_header != nh::destination_options)
      return ipv6_upper_layer{next_header, at, payload.subspan(at)};
    if (next_header == nh::hop_by_hop && walked != 0) return parse_error::ipv6_hop_by_hop_not_first;
    if (walked == ipv6_max_ext_headers) return parse_error::ipv6_too_many_ext_headers;
    // Every one of the three starts <next header, hdr ext len> and is (hdr ext len + 1) * 8 bytes.
    if (payload.size() - at < 2) return parse_error::ipv6_ext_header_past_payload;
    const std::size_t len = (std::size_t{load_u8(payload, at + 1)} + 1) * 8;
    if (len > payload.size() - at) return parse_error::ipv6_ext_header_past_payload;
    next_header = load_u8(payload, at);
    at += len;
  }
}

parse_result<ipv6_view> ipv6_view::parse(bytes data) {
  if (data.size() < ipv6_header_len) return parse_error::truncated_ipv6;
  if ((load_u8(data, field::ver_tc_flow) >> 4) != 6) return parse_error::bad_ip_version;
  const std::size_t total = ipv6_header_len + load_u16(data, field::payload_length);
  if (total > data.size()) return parse_error::payload_length_beyond_frame;
  return ipv6_view{data.first(total)};  // anything after the payload is link padding
}

parse_result<ipv6_repr> ipv6_repr::parse(const ipv6_view& view) {
  const ipv6_addr src = view.src(), dst = view.dst();
  if (src.is_v4_mapped() || dst.is_v4_mapped() || src.is_multicast()) return parse_error::ipv6_bad_address;
  const auto upper = view.upper_layer();
  if (!upper) return upper.error();
  if (upper->protocol == ipv6_next_header::fragment) return parse_error::ip_fragment;
  return ipv6_repr{
      .src = src,
      .dst = dst,
      .next_header = upper->protocol,
      .hop_limit = view.hop_limit(),
      .traffic_class = view.traffic_class(),
      .flow_label = view.flow_label(),
      .payload_len = static_cast<std::uint16_t>(upper->data.size()),
  };
}

void ipv6_repr::emit(mutable_bytes out) const {
  using field = ipv6_view::field;
  constexpr std::uint32_t version6 = 6;
  store_u32(out, field::ver_tc_flow,
            version6 << 28 | std::uint32_t{traffic_class} << 20 | (flow_label & ipv6_view::flow_label_mask));
  store_u16(out, field::payload_length, payload_len);
  store_u8(out, field::next_header, next_header);
  store_u8(out, field::hop_limit, hop_limit);
  store_ipv6(out, field::src, src);
  store_ipv6(out, field::dst, dst);
}

}  // namespace synack::wire
