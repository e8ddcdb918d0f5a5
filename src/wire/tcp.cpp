#include "synack/wire/tcp.hpp"

#include <algorithm>

#include "synack/wire/checksum.hpp"

namespace synack::wire {

std::string tcp_flags::to_string() const {
  std::string s;
  if (fin) s += 'F';
  if (syn) s += 'S';
  if (rst) s += 'R';
  if (psh) s += 'P';
  if (ack) s += '.';
  if (urg) s += 'U';
  if (ece) s += 'E';
  if (cwr) s += 'W';
  return s.empty() ? "none" : s;
}

parse_result<tcp_view> tcp_view::parse(bytes segment) {
  if (segment.size() < tcp_min_header_len) return parse_error::truncated_tcp;
  const std::size_t doff = load_u8(segment, field::data_offset) >> 4;
  if (doff < 5) return parse_error::data_offset_too_small;
  if (doff * 4 > segment.size()) return parse_error::data_offset_beyond_segment;
  return tcp_view{segment};
}

bool tcp_view::checksum_ok(const ip_addr& src, const ip_addr& dst) const { return tcp_checksum(src, dst, segment_) == 0; }

parse_result<tcp_repr> tcp_repr::parse(const tcp_view& view, const ip_addr& src, const ip_addr& dst,
                                       bool verify_checksum) {
  if (verify_checksum && !view.checksum_ok(src, dst)) return parse_error::bad_tcp_checksum;
  const tcp_flags flags = view.flags();
  // RFC 9293 leaves these combinations meaningless; Linux drops SYN+FIN and SYN+RST as well.
  if (flags.syn && flags.fin) return parse_error::syn_and_fin;
  if (flags.syn && flags.rst) return parse_error::syn_and_rst;
  auto options = parse_tcp_options(view.options());
  if (!options) return options.error();
  tcp_repr r;
  r.src_port = view.src_port();
  r.dst_port = view.dst_port();
  r.seq = view.seq_number();
  if (flags.ack) r.ack = view.ack_number();
  r.flags = flags;
  r.window = view.window();
  if (flags.urg) r.urgent = view.urgent_pointer();
  r.options = *options;
  r.payload = view.payload();
  return r;
}

std::size_t tcp_repr::emit(mutable_bytes out, const ip_addr& src, const ip_addr& dst) const {
  using field = tcp_view::field;
  const std::size_t hlen = header_len();

  store_u16(out, field::src_port, src_port);
  store_u16(out, field::dst_port, dst_port);
  store_u32(out, field::seq, seq);
  store_u32(out, field::ack, ack.value_or(0));
  store_u8(out, field::data_offset, static_cast<std::uint8_t>((hlen / 4) << 4));
  store_u8(out, field::flags, wire_flags().to_byte());
  store_u16(out, field::window, window);
  store_u16(out, field::checksum, 0);
  store_u16(out, field::urgent, urgent.value_or(0));
  emit_tcp_options(out.subspan(tcp_min_header_len), options);
  std::ranges::copy(payload, out.begin() + static_cast<std::ptrdiff_t>(hlen));

  const std::size_t total = hlen + payload.size();
  store_u16(out, field::checksum, tcp_checksum(src, dst, out.first(total)));
  return total;
}

bool operator==(const tcp_repr& a, const tcp_repr& b) {
  return a.src_port == b.src_port && a.dst_port == b.dst_port && a.seq == b.seq && a.ack == b.ack &&
         a.wire_flags() == b.wire_flags() && a.window == b.window && a.urgent == b.urgent && a.options == b.options &&
         std::ranges::equal(a.payload, b.payload);
}

}  // namespace synack::wire
