#include "synack/wire/frame.hpp"

namespace synack::wire {

namespace {

// Each step fills in what it parsed and returns none, or the first reason it found.

parse_error parse_arp(parsed_frame& f, bytes packet) {
  const auto view = arp_view::parse(packet);
  if (!view) return view.error();
  const auto repr = arp_repr::parse(*view);
  if (!repr) return repr.error();
  f.arp = *repr;
  return parse_error::none;
}

parse_error parse_tcp(parsed_frame& f, bytes segment, const parse_options& options) {
  const auto view = tcp_view::parse(segment);
  if (!view) return view.error();
  f.tcp_segment = *view;
  const auto repr = tcp_repr::parse(*view, f.ip->src, f.ip->dst, options.verify_checksums);
  if (!repr) return repr.error();
  f.tcp = *repr;
  return parse_error::none;
}

parse_error parse_icmp(parsed_frame& f, bytes message, const parse_options& options) {
  const auto view = icmp_view::parse(message);
  if (!view) return view.error();
  f.icmp_message = *view;
  const auto repr = icmp_error_repr::parse(*view, options.verify_checksums);
  if (!repr) return repr.error();
  f.icmp = *repr;
  return parse_error::none;
}

parse_error parse_ipv4(parsed_frame& f, bytes packet, const parse_options& options) {
  const auto view = ipv4_view::parse(packet);
  if (!view) return view.error();
  f.ipv4_header = *view;
  const auto repr = ipv4_repr::parse(*view, options.verify_checksums);
  if (!repr) return repr.error();
  f.ipv4 = *repr;
  f.ip = ip_info{.src = repr->src,
                 .dst = repr->dst,
                 .ttl = repr->ttl,
                 .dscp_ecn = repr->dscp_ecn,
                 .identification = repr->identification,
                 .dont_fragment = repr->dont_fragment,
                 .flow_label = 0};
  if (repr->protocol == ip_protocol::icmp) return parse_icmp(f, view->payload(), options);
  if (repr->protocol != ip_protocol::tcp) return parse_error::not_tcp;
  return parse_tcp(f, view->payload(), options);
}

parse_error parse_icmpv6(parsed_frame& f, bytes message, const parse_options& options) {
  const auto view = icmpv6_view::parse(message);
  if (!view) return view.error();
  f.icmpv6_message = *view;
  const std::uint8_t type = view->type();
  if (type == icmpv6_type::neighbor_solicitation || type == icmpv6_type::neighbor_advertisement) {
    const auto repr = ndp_repr::parse(*view, f.ip->src, f.ip->dst, f.ipv6->hop_limit, options.verify_checksums);
    if (!repr) return repr.error();
    f.ndp = *repr;
    return parse_error::none;
  }
  const auto repr = icmpv6_error_repr::parse(*view, f.ip->src, f.ip->dst, options.verify_checksums);
  if (!repr) return repr.error();
  f.icmpv6 = *repr;
  return parse_error::none;
}

parse_error parse_ipv6(parsed_frame& f, bytes packet, const parse_options& options) {
  const auto view = ipv6_view::parse(packet);
  if (!view) return view.error();
  f.ipv6_header = *view;
  const auto repr = ipv6_repr::parse(*view);
  if (!repr) return repr.error();
  f.ipv6 = *repr;
  f.ip = ip_info{.src = repr->src,
                 .dst = repr->dst,
                 .ttl = repr->hop_limit,
                 .dscp_ecn = repr->traffic_class,
                 .identification = 0,
                 .dont_fragment = true,
                 .flow_label = repr->flow_label};
  // The upper layer runs to the end of the payload, past whatever extension headers were skipped.
  const bytes upper = view->payload().last(repr->payload_len);
  if (repr->next_header == ip_protocol::icmpv6) return parse_icmpv6(f, upper, options);
  if (repr->next_header != ip_protocol::tcp) return parse_error::not_tcp;  // ESP, AH, 59, UDP, ...
  return parse_tcp(f, upper, options);
}

parse_error parse_ethernet(parsed_frame& f, bytes frame, const parse_options& options) {
  const auto view = ethernet_view::parse(frame);
  if (!view) return view.error();
  f.ethernet = *view;
  switch (view->ethertype()) {
    case ethertype::arp: return parse_arp(f, view->payload());
    case ethertype::ipv4: return parse_ipv4(f, view->payload(), options);
    case ethertype::ipv6: return parse_ipv6(f, view->payload(), options);
    default: return parse_error::unsupported_ethertype;
  }
}

}  // namespace

parsed_frame parse_frame(bytes frame, const parse_options& options) {
  parsed_frame f;
  f.error = parse_ethernet(f, frame, options);
  if (f.error == parse_error::none)
    f.kind = f.arp ? frame_kind::arp : f.ndp ? frame_kind::ndp : (f.icmp || f.icmpv6) ? frame_kind::icmp : frame_kind::tcp;
  else f.kind = is_malformed(f.error) ? frame_kind::malformed : frame_kind::ignored;
  return f;
}

}  // namespace synack::wire
