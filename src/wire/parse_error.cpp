#include "synack/wire/parse_error.hpp"

#include <numeric>

namespace synack::wire {

std::string_view to_string(parse_error e) {
  switch (e) {
    case parse_error::none: return "none";
    case parse_error::truncated_ethernet: return "truncated_ethernet";
    case parse_error::vlan_tagged: return "vlan_tagged";
    case parse_error::unsupported_ethertype: return "unsupported_ethertype";
    case parse_error::truncated_arp: return "truncated_arp";
    case parse_error::unsupported_arp: return "unsupported_arp";
    case parse_error::unsupported_arp_op: return "unsupported_arp_op";
    case parse_error::truncated_ipv4: return "truncated_ipv4";
    case parse_error::bad_ip_version: return "bad_ip_version";
    case parse_error::ihl_too_small: return "ihl_too_small";
    case parse_error::total_length_too_small: return "total_length_too_small";
    case parse_error::total_length_beyond_frame: return "total_length_beyond_frame";
    case parse_error::bad_ip_checksum: return "bad_ip_checksum";
    case parse_error::ip_fragment: return "ip_fragment";
    case parse_error::not_tcp: return "not_tcp";
    case parse_error::truncated_tcp: return "truncated_tcp";
    case parse_error::data_offset_too_small: return "data_offset_too_small";
    case parse_error::data_offset_beyond_segment: return "data_offset_beyond_segment";
    case parse_error::bad_tcp_checksum: return "bad_tcp_checksum";
    case parse_error::syn_and_fin: return "syn_and_fin";
    case parse_error::syn_and_rst: return "syn_and_rst";
    case parse_error::option_length_zero: return "option_length_zero";
    case parse_error::option_length_one: return "option_length_one";
    case parse_error::option_past_header: return "option_past_header";
    case parse_error::bad_option_length: return "bad_option_length";
    case parse_error::truncated_icmp: return "truncated_icmp";
    case parse_error::bad_icmp_checksum: return "bad_icmp_checksum";
    case parse_error::unsupported_icmp: return "unsupported_icmp";
    case parse_error::icmp_quote_truncated: return "icmp_quote_truncated";
    case parse_error::icmp_quote_bad_header: return "icmp_quote_bad_header";
    case parse_error::icmp_quote_not_tcp: return "icmp_quote_not_tcp";
    case parse_error::truncated_ipv6: return "truncated_ipv6";
    case parse_error::payload_length_beyond_frame: return "payload_length_beyond_frame";
    case parse_error::ipv6_bad_address: return "ipv6_bad_address";
    case parse_error::ipv6_ext_header_past_payload: return "ipv6_ext_header_past_payload";
    case parse_error::ipv6_too_many_ext_headers: return "ipv6_too_many_ext_headers";
    case parse_error::ipv6_hop_by_hop_not_first: return "ipv6_hop_by_hop_not_first";
    case parse_error::truncated_ndp: return "truncated_ndp";
    case parse_error::ndp_bad_hop_limit: return "ndp_bad_hop_limit";
    case parse_error::ndp_bad_code: return "ndp_bad_code";
    case parse_error::ndp_multicast_target: return "ndp_multicast_target";
    case parse_error::ndp_bad_option_length: return "ndp_bad_option_length";
    case parse_error::ndp_bad_source: return "ndp_bad_source";
    case parse_error::ndp_solicited_multicast: return "ndp_solicited_multicast";
  }
  return "unknown";
}

std::uint64_t parse_counters::total() const {
  return std::accumulate(by_reason.begin(), by_reason.end(), std::uint64_t{0});
}

}  // namespace synack::wire
