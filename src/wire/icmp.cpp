#include "synack/wire/icmp.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "synack/wire/checksum.hpp"
#include "synack/wire/ipv4.hpp"

namespace synack::wire {

const char* icmp_describe(std::uint8_t type, std::uint8_t code) {
  switch (type) {
    case icmp_type::dest_unreachable:
      switch (code) {
        case icmp_unreach::net: return "net unreachable";
        case icmp_unreach::host: return "host unreachable";
        case icmp_unreach::protocol: return "protocol unreachable";
        case icmp_unreach::port: return "port unreachable";
        case icmp_unreach::frag_needed: return "fragmentation needed";
        case icmp_unreach::source_route_failed: return "source route failed";
        case icmp_unreach::net_unknown: return "net unknown";
        case icmp_unreach::host_unknown: return "host unknown";
        case icmp_unreach::host_isolated: return "host isolated";
        case icmp_unreach::net_prohibited: return "net prohibited";
        case icmp_unreach::host_prohibited: return "host prohibited";
        case icmp_unreach::net_tos: return "net unreachable for TOS";
        case icmp_unreach::host_tos: return "host unreachable for TOS";
        case icmp_unreach::admin_prohibited: return "administratively prohibited";
        case icmp_unreach::host_precedence: return "host precedence violation";
        case icmp_unreach::precedence_cutoff: return "precedence cutoff";
        default: return "destination unreachable";
      }
    case icmp_type::time_exceeded:
      return code == icmp_time_exceeded::reassembly ? "fragment reassembly time exceeded" : "time exceeded";
    case icmp_type::parameter_problem: return "parameter problem";
    case icmp_type::source_quench: return "source quench";
    case icmp_type::redirect: return "redirect";
    case icmp_type::echo_request: return "echo request";
    case icmp_type::echo_reply: return "echo reply";
    default: return "unknown ICMP type";
  }
}

parse_result<icmp_view> icmp_view::parse(bytes data) {
  if (data.size() < icmp_header_len) return parse_error::truncated_icmp;
  return icmp_view{data};
}

bool icmp_view::checksum_ok() const { return internet_checksum(msg_) == 0; }

parse_result<icmp_error_repr> icmp_error_repr::parse(const icmp_view& view, bool verify_checksum) {
  if (verify_checksum && !view.checksum_ok()) return parse_error::bad_icmp_checksum;
  const std::uint8_t type = view.type();
  if (type != icmp_type::dest_unreachable && type != icmp_type::time_exceeded &&
      type != icmp_type::parameter_problem)
    return parse_error::unsupported_icmp;
  // The quoted datagram: its header may claim more than was quoted (total_length is the
  // original's), so it is read by hand rather than through ipv4_view::parse.
  const bytes q = view.payload();
  if (q.size() < ipv4_min_header_len) return parse_error::icmp_quote_truncated;
  using f = ipv4_view::field;
  const std::uint8_t ver_ihl = load_u8(q, f::ver_ihl);
  const std::size_t ihl = std::size_t{ver_ihl & 0x0fu} * 4;
  if ((ver_ihl >> 4) != 4 || ihl < ipv4_min_header_len) return parse_error::icmp_quote_bad_header;
  if (q.size() < ihl + icmp_min_quote_transport) return parse_error::icmp_quote_truncated;
  if (load_u8(q, f::protocol) != ip_protocol::tcp) return parse_error::icmp_quote_not_tcp;
  icmp_error_repr r;
  r.type = type;
  r.code = view.code();
  if (type == icmp_type::dest_unreachable && r.code == icmp_unreach::frag_needed) r.next_hop_mtu = view.next_hop_mtu();
  if (type == icmp_type::parameter_problem) r.pointer = view.pointer();
  icmp_quote& o = r.quote;
  o.src = ipv4_addr{load_u32(q, f::src)};
  o.dst = ipv4_addr{load_u32(q, f::dst)};
  o.protocol = ip_protocol::tcp;
  o.ttl = load_u8(q, f::ttl);
  o.dscp_ecn = load_u8(q, f::tos);
  o.identification = load_u16(q, f::ident);
  o.total_length = load_u16(q, f::total_length);
  o.dont_fragment = (load_u16(q, f::flags_frag) & ipv4_view::flag_df) != 0;
  o.transport = q.subspan(ihl);
  // Never read past the original datagram, should a router pad its quotation.
  if (o.total_length >= ihl + icmp_min_quote_transport && o.transport.size() > o.total_length - ihl)
    o.transport = o.transport.first(o.total_length - ihl);
  o.src_port = load_u16(o.transport, 0);
  o.dst_port = load_u16(o.transport, 2);
  o.seq = load_u32(o.transport, 4);
  return r;
}

void icmp_error_repr::emit(mutable_bytes out) const {
  store_u8(out, icmp_view::field::type, type);
  store_u8(out, icmp_view::field::code, code);
  store_u16(out, icmp_view::field::checksum, 0);
  store_u32(out, 4, 0);
  if (type == icmp_type::dest_unreachable && code == icmp_unreach::frag_needed)
    store_u16(out, icmp_view::field::mtu, next_hop_mtu);
  if (type == icmp_type::parameter_problem) store_u8(out, icmp_view::field::pointer, pointer);
  ipv4_repr ip{.src = quote.src.v4(),
               .dst = quote.dst.v4(),
               .protocol = quote.protocol,
               .ttl = quote.ttl,
               .dscp_ecn = quote.dscp_ecn,
               .identification = quote.identification,
               .dont_fragment = quote.dont_fragment,
               .payload_len = static_cast<std::uint16_t>(
                   quote.total_length > ipv4_min_header_len ? quote.total_length - ipv4_min_header_len
                                                            : quote.transport.size())};
  const auto ip_out = out.subspan(icmp_header_len);
  ip.emit(ip_out);
  std::memcpy(ip_out.data() + ipv4_min_header_len, quote.transport.data(), quote.transport.size());
  const auto msg = out.first(buffer_len());
  store_u16(out, icmp_view::field::checksum, internet_checksum(msg));
}

std::uint16_t icmp_plateau_below(std::uint16_t datagram_len) {
  static constexpr std::array<std::uint16_t, 11> plateaus{65535, 32000, 17914, 8166, 4352, 2002,
                                                          1492,  1006,  508,   296,  68};
  for (std::uint16_t p : plateaus)
    if (p < datagram_len) return p;
  return 68;
}

}  // namespace synack::wire
