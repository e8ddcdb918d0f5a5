// libFuzzer target: the frame parser (Ethernet -> ARP | IPv4 -> TCP + options | IPv4 -> ICMP error).
// Invariants: parse_frame never reads out of bounds (ASan), never loops, and returns a reason for
// everything it does not accept; a TCP segment it accepts re-emits to bytes that parse back to the
// same repr (options in our canonical layout); an ICMP error it accepts quotes at least 8 bytes of
// TCP inside the frame and re-emits to bytes that parse back to the same quotation.
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
    bool accepted = p.kind == frame_kind::arp || p.kind == frame_kind::tcp || p.kind == frame_kind::icmp;
    if (accepted != (p.error == parse_error::none)) std::abort();
    if (p.kind == frame_kind::tcp) {
      const tcp_repr& r = *p.tcp;
      std::vector<std::byte> out(r.buffer_len());
      std::size_t n = r.emit(out, p.ipv4->src, p.ipv4->dst);
      if (n != out.size()) std::abort();
      auto view = tcp_view::parse(out);
      if (!view) std::abort();
      auto back = tcp_repr::parse(*view, p.ipv4->src, p.ipv4->dst, true);
      if (!back) std::abort();
      // SACK blocks beyond what fits beside timestamps are dropped on emit; compare the rest.
      tcp_repr a = r, b = *back;
      a.options.sack_count = b.options.sack_count = 0;
      a.options.sack = b.options.sack = {};
      if (!(a == b)) std::abort();
    }
    if (p.kind == frame_kind::icmp) {
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
