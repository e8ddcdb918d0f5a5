// libFuzzer target: the frame parser (Ethernet -> ARP | IPv4 -> TCP + options | IPv4 -> ICMP error |
// IPv6 -> extension headers -> TCP | ICMPv6 error | neighbour solicitation/advertisement).
// Invariants: parse_frame never reads out of bounds (ASan), never loops, and returns a reason for
// everything it does not accept; every IP frame it accepts has `ip`; a TCP segment it accepts
// re-emits (with the family's pseudo-header) to bytes that parse back to the same repr (options in
// our canonical layout); an ICMP or ICMPv6 error it accepts quotes at least 8 bytes of TCP inside
// the frame and re-emits to bytes that parse back to the same quotation; an NDP message it accepts
// re-emits to bytes that parse back to the same repr.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "synack/wire/frame.hpp"

using namespace synack::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bytes frame{reinterpret_cast<const std::byte*>(data), size};
  for (bool verify : {false, true}) {
    parsed_frame p = parse_frame(frame, parse_options{verify});
    bool accepted = p.kind == frame_kind::arp || p.kind == frame_kind::tcp || p.kind == frame_kind::icmp ||
                    p.kind == frame_kind::ndp;
    if (accepted != (p.error == parse_error::none)) std::abort();
    if (accepted && p.kind != frame_kind::arp && !p.ip) std::abort();
    if (p.ipv4 && p.ipv6) std::abort();
    if (p.kind == frame_kind::tcp) {
      const tcp_repr& r = *p.tcp;
      std::vector<std::byte> out(r.buffer_len());
      std::size_t n = r.emit(out, p.ip->src, p.ip->dst);
      if (n != out.size()) std::abort();
      auto view = tcp_view::parse(out);
      if (!view) std::abort();
      auto back = tcp_repr::parse(*view, p.ip->src, p.ip->dst, true);
      if (!back) std::abort();
      // SACK blocks beyond what fits beside timestamps are dropped on emit; compare the rest.
      tcp_repr a = r, b = *back;
      a.options.sack_count = b.options.sack_count = 0;
      a.options.sack = b.options.sack = {};
      if (!(a == b)) std::abort();
    }
    if (p.kind == frame_kind::icmp && p.icmpv6) {
      if (p.icmp || !p.ipv6) std::abort();
      const icmpv6_error_repr& r = *p.icmpv6;
      const bytes q = r.quote.transport;
      if (q.size() < icmp_min_quote_transport || q.data() < frame.data() ||
          q.data() + q.size() > frame.data() + frame.size())
        std::abort();
      std::vector<std::byte> out(r.buffer_len());
      r.emit(out, p.ip->src, p.ip->dst);
      auto view = icmpv6_view::parse(out);
      if (!view) std::abort();
      auto back = icmpv6_error_repr::parse(*view, p.ip->src, p.ip->dst, true);
      if (!back) std::abort();
      // Everything but total_length, which re-emits the same only when the quotation had no
      // extension headers (emit writes a plain header; parse counts them in).
      icmpv6_error_repr a = r, b = *back;
      a.quote.total_length = b.quote.total_length = 0;
      if (!(a == b)) std::abort();
    }
    if (p.kind == frame_kind::ndp) {
      if (!p.ipv6 || p.ipv6->hop_limit != ndp_hop_limit) std::abort();
      const ndp_repr& r = *p.ndp;
      std::vector<std::byte> out(r.buffer_len());
      r.emit(out, p.ip->src, p.ip->dst);
      auto view = icmpv6_view::parse(out);
      if (!view) std::abort();
      auto back = ndp_repr::parse(*view, p.ip->src, p.ip->dst, ndp_hop_limit, true);
      if (!back || !(*back == r)) std::abort();
    }
    if (p.kind == frame_kind::icmp && !p.icmpv6) {
      const icmp_error_repr& r = *p.icmp;
      const bytes q = r.quote.transport;
      if (q.size() < icmp_min_quote_transport || q.data() < frame.data() ||
          q.data() + q.size() > frame.data() + frame.size())
        std::abort();
      std::vector<std::byte> out(r.buffer_len());
      r.emit(out);
      auto view = icmp_view::parse(out);
      if (!view) std::abort();
      auto back = icmp_error_repr::parse(*view, true);
      if (!back) std::abort();
      if (back->type != r.type || back->code != r.code || back->next_hop_mtu != r.next_hop_mtu ||
          back->quote.src != r.quote.src || back->quote.dst != r.quote.dst ||
          back->quote.seq != r.quote.seq || back->quote.src_port != r.quote.src_port ||
          back->quote.dst_port != r.quote.dst_port)
        std::abort();
    }
  }
  return 0;
}
