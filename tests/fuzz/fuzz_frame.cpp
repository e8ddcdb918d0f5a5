// libFuzzer target: the frame parser (Ethernet -> ARP | IPv4 -> TCP + options).
// Invariants: parse_frame never reads out of bounds (ASan), never loops, and returns a reason for
// everything it does not accept; a TCP segment it accepts re-emits to bytes that parse back to the
// same repr (options in our canonical layout).
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
    bool accepted = p.kind == frame_kind::arp || p.kind == frame_kind::tcp;
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
  }
  return 0;
}
