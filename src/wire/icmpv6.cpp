#include "synack/wire/icmpv6.hpp"

#include <algorithm>
#include <utility>

#include "synack/wire/checksum.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/ipv6.hpp"

namespace synack::wire {

namespace {

constexpr std::uint8_t ndp_flag_router = 0x80;
constexpr std::uint8_t ndp_flag_solicited = 0x40;
constexpr std::uint8_t ndp_flag_override = 0x20;

}  // namespace

const char* icmpv6_describe(std::uint8_t type, std::uint8_t code) {
  switch (type) {
    case icmpv6_type::dest_unreachable:
      switch (code) {
        case icmpv6_unreach::no_route: return "no route to destination";
        case icmpv6_unreach::admin_prohibited: return "administratively prohibited";
        case icmpv6_unreach::beyond_scope: return "beyond scope of source address";
        case icmpv6_unreach::address: return "address unreachable";
        case icmpv6_unreach::port: return "port unreachable";
        case icmpv6_unreach::source_policy: return "source address failed policy";
        case icmpv6_unreach::reject_route: return "reject route to destination";
        default: return "destination unreachable";
      }
    case icmpv6_type::packet_too_big: return "packet too big";
    case icmpv6_type::time_exceeded:
      return code == icmpv6_time_exceeded::reassembly ? "fragment reassembly time exceeded" : "hop limit exceeded";
    case icmpv6_type::parameter_problem:
      switch (code) {
        case icmpv6_param_problem::header_field: return "erroneous header field";
        case icmpv6_param_problem::next_header: return "unrecognized next header";
        case icmpv6_param_problem::option: return "unrecognized IPv6 option";
        default: return "parameter problem";
      }
    case icmpv6_type::echo_request: return "echo request";
    case icmpv6_type::echo_reply: return "echo reply";
    case icmpv6_type::router_solicitation: return "router solicitation";
    case icmpv6_type::router_advertisement: return "router advertisement";
    case icmpv6_type::neighbor_solicitation: return "neighbour solicitation";
    case icmpv6_type::neighbor_advertisement: return "neighbour advertisement";
    case icmpv6_type::redirect: return "redirect";
    default: return "unknown ICMPv6 type";
  }
}

parse_result<icmpv6_view> icmpv6_view::parse(bytes data) {
  if (data.size() < icmpv6_header_len) return parse_error::truncated_icmp;
  return icmpv6_view{data};
}

bool icmpv6_view::checksum_ok(const ip_addr& src, const ip_addr& dst) const {
  return icmpv6_checksum(src.v6(), dst.v6(), msg_) == 0;
}

parse_result<icmpv6_error_repr> icmpv6_error_repr::parse(const icmpv6_view& view, const ip_addr& src,
                                                         const ip_addr& dst, bool verify_checksum) {
  if (verify_checksum && !view.checksum_ok(src, dst)) return parse_error::bad_icmp_checksum;
  const std::uint8_t type = view.type();
  if (type != icmpv6_type::dest_unreachable && type != icmpv6_type::packet_too_big &&
      type != icmpv6_type::time_exceeded && type != icmpv6_type::parameter_problem)
    return parse_error::unsupported_icmp;
  // The quoted packet: RFC 4443 §2.4(c) has the error carry "as much of invoking packet as
  // possible" within 1280 bytes, so its payload length (the original's) may claim more than was
  // quoted; it is read by hand rather than through ipv6_view::parse, and its extension headers are
  // walked over what is there.
  const bytes q = view.payload();
  if (q.size() < ipv6_header_len) return parse_error::icmp_quote_truncated;
  using f = ipv6_view::field;
  if ((load_u8(q, f::ver_tc_flow) >> 4) != 6) return parse_error::icmp_quote_bad_header;
  const ipv6_addr qsrc = load_ipv6(q, f::src), qdst = load_ipv6(q, f::dst);
  if (qsrc.is_v4_mapped() || qdst.is_v4_mapped()) return parse_error::icmp_quote_bad_header;
  const auto upper = walk_ipv6_ext_headers(load_u8(q, f::next_header), q.subspan(ipv6_header_len));
  if (!upper) {
    // A chain cut by the end of the quotation is a short quotation; one too long or out of order
    // is a header we never sent.
    return upper.error() == parse_error::ipv6_ext_header_past_payload ? parse_error::icmp_quote_truncated
                                                                      : parse_error::icmp_quote_bad_header;
  }
  // Before the length check: a quoted fragment or UDP datagram is not ours, however short.
  if (upper->protocol != ip_protocol::tcp) return parse_error::icmp_quote_not_tcp;
  if (upper->data.size() < icmp_min_quote_transport) return parse_error::icmp_quote_truncated;

  icmpv6_error_repr r;
  r.type = type;
  r.code = view.code();
  if (type == icmpv6_type::packet_too_big) r.mtu = view.mtu();
  if (type == icmpv6_type::parameter_problem) r.pointer = view.pointer();
  icmp_quote& o = r.quote;
  const std::size_t payload_length = load_u16(q, f::payload_length);
  o.src = qsrc;
  o.dst = qdst;
  o.protocol = ip_protocol::tcp;
  o.ttl = load_u8(q, f::hop_limit);
  o.dscp_ecn = static_cast<std::uint8_t>((load_u32(q, f::ver_tc_flow) >> 20) & 0xff);
  o.identification = 0;
  o.total_length = static_cast<std::uint16_t>(std::min<std::size_t>(ipv6_header_len + payload_length, 0xffff));
  o.dont_fragment = true;  // RFC 8200 §5: only the source fragments
  o.transport = upper->data;
  // Never read past the original packet, should a router pad its quotation.
  if (payload_length >= upper->offset + icmp_min_quote_transport &&
      o.transport.size() > payload_length - upper->offset)
    o.transport = o.transport.first(payload_length - upper->offset);
  o.src_port = load_u16(o.transport, 0);
  o.dst_port = load_u16(o.transport, 2);
  o.seq = load_u32(o.transport, 4);
  return r;
}

std::size_t icmpv6_error_repr::buffer_len() const {
  return icmpv6_header_len + ipv6_header_len + quote.transport.size();
}

void icmpv6_error_repr::emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const {
  using field = icmpv6_view::field;
  store_u8(out, field::type, type);
  store_u8(out, field::code, code);
  store_u16(out, field::checksum, 0);
  store_u32(out, 4, 0);
  if (type == icmpv6_type::packet_too_big) store_u32(out, field::mtu, mtu);
  if (type == icmpv6_type::parameter_problem) store_u32(out, field::pointer, pointer);
  const ipv6_repr ip{.src = quote.src.v6(),
                     .dst = quote.dst.v6(),
                     .next_header = quote.protocol,
                     .hop_limit = quote.ttl,
                     .traffic_class = quote.dscp_ecn,
                     .payload_len = static_cast<std::uint16_t>(quote.total_length > ipv6_header_len
                                                                   ? quote.total_length - ipv6_header_len
                                                                   : quote.transport.size())};
  const auto ip_out = out.subspan(icmpv6_header_len);
  ip.emit(ip_out);
  std::ranges::copy(quote.transport, ip_out.begin() + static_cast<std::ptrdiff_t>(ipv6_header_len));
  const auto msg = out.first(buffer_len());
  store_u16(out, field::checksum, icmpv6_checksum(src.v6(), dst.v6(), msg));
}

parse_result<ndp_repr> ndp_repr::parse(const icmpv6_view& view, const ip_addr& src, const ip_addr& dst,
                                       std::uint8_t hop_limit, bool verify_checksum) {
  const std::uint8_t type = view.type();
  if (type != icmpv6_type::neighbor_solicitation && type != icmpv6_type::neighbor_advertisement)
    return parse_error::unsupported_icmp;
  if (verify_checksum && !view.checksum_ok(src, dst)) return parse_error::bad_icmp_checksum;
  if (hop_limit != ndp_hop_limit) return parse_error::ndp_bad_hop_limit;
  if (view.code() != 0) return parse_error::ndp_bad_code;
  const bytes msg = view.raw();
  if (msg.size() < ndp_min_len) return parse_error::truncated_ndp;
  using field = icmpv6_view::field;
  ndp_repr r;
  r.type = type;
  r.target = load_ipv6(msg, field::ndp_target);
  if (r.target.is_multicast()) return parse_error::ndp_multicast_target;
  if (type == icmpv6_type::neighbor_advertisement) {
    // In a solicitation these bits are reserved: "MUST be ignored by the receiver" (§4.3).
    const std::uint8_t flags = load_u8(msg, field::ndp_flags);
    r.router = (flags & ndp_flag_router) != 0;
    r.solicited = (flags & ndp_flag_solicited) != 0;
    r.override = (flags & ndp_flag_override) != 0;
  }
  // Options: <type, length in 8-octet units, ...>; the loop advances at least 8 bytes a step.
  for (std::size_t at = field::ndp_options; at < msg.size();) {
    if (msg.size() - at < 2) return parse_error::ndp_bad_option_length;
    const std::uint8_t kind = load_u8(msg, at);
    const std::size_t len = std::size_t{load_u8(msg, at + 1)} * 8;
    if (len == 0 || len > msg.size() - at) return parse_error::ndp_bad_option_length;
    if (len == ndp_lladdr_option_len) {
      if (kind == ndp_option::source_lladdr) r.source_lladdr = load_mac(msg, at + 2);
      if (kind == ndp_option::target_lladdr) r.target_lladdr = load_mac(msg, at + 2);
    }
    at += len;
  }
  const ipv6_addr& d = dst.v6();
  if (type == icmpv6_type::neighbor_solicitation && src.v6().is_unspecified()) {
    // Duplicate address detection (RFC 4862 §5.4.2): only to the target's solicited-node group, and
    // with nobody to name as the source.
    if (d != r.target.solicited_node() || r.source_lladdr) return parse_error::ndp_bad_source;
  }
  if (type == icmpv6_type::neighbor_advertisement && d.is_multicast() && r.solicited)
    return parse_error::ndp_solicited_multicast;
  return r;
}

std::size_t ndp_repr::buffer_len() const {
  return ndp_min_len + (source_lladdr ? ndp_lladdr_option_len : 0) + (target_lladdr ? ndp_lladdr_option_len : 0);
}

void ndp_repr::emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const {
  using field = icmpv6_view::field;
  store_u8(out, field::type, type);
  store_u8(out, field::code, 0);
  store_u16(out, field::checksum, 0);
  const bool advert = type == icmpv6_type::neighbor_advertisement;
  store_u32(out, field::ndp_flags, 0);
  if (advert) {
    store_u8(out, field::ndp_flags,
             static_cast<std::uint8_t>((router ? ndp_flag_router : 0) | (solicited ? ndp_flag_solicited : 0) |
                                       (override ? ndp_flag_override : 0)));
  }
  store_ipv6(out, field::ndp_target, target);
  std::size_t at = field::ndp_options;
  for (const auto& [kind, mac] : {std::pair{ndp_option::source_lladdr, source_lladdr},
                                  std::pair{ndp_option::target_lladdr, target_lladdr}}) {
    if (!mac) continue;
    store_u8(out, at, kind);
    store_u8(out, at + 1, 1);  // 8 bytes
    store_mac(out, at + 2, *mac);
    at += ndp_lladdr_option_len;
  }
  store_u16(out, field::checksum, icmpv6_checksum(src.v6(), dst.v6(), out.first(at)));
}

}  // namespace synack::wire
