#include "wire/helpers.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "synack/wire/checksum.hpp"

namespace wire_test {

using namespace synack::wire;

byte_vec from_hex(std::string_view hex) {
  byte_vec out;
  int high = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) throw std::invalid_argument("bad hex");
    const int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd hex digit count");
  return out;
}

std::string to_hex(bytes b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i) s += ' ';
    const auto v = static_cast<unsigned>(b[i]);
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

byte_vec build_tcp_frame(mac_addr dst, mac_addr src, ipv4_repr ip, const tcp_repr& tcp) {
  ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
  byte_vec frame(ethernet_header_len + ip.buffer_len());
  const mutable_bytes out{frame};
  emit_ethernet(out, dst, src, ethertype::ipv4);
  ip.emit(out.subspan(ethernet_header_len));
  tcp.emit(out.subspan(ethernet_header_len + ipv4_repr::header_len()), ip.src, ip.dst);
  return frame;
}

byte_vec build_ipv6_frame(ipv6_repr ip, const byte_vec& ext, bytes upper) {
  ip.payload_len = static_cast<std::uint16_t>(ext.size() + upper.size());
  byte_vec frame(ethernet_header_len + ip.buffer_len());
  const mutable_bytes out{frame};
  emit_ethernet(out, mac_addr{{2, 0, 0, 0, 1, 0x7b}}, mac_addr{{2, 0, 0, 0, 1, 0x74}}, ethertype::ipv6);
  ip.emit(out.subspan(ethernet_header_len));
  std::ranges::copy(ext, frame.begin() + ethernet_header_len + ipv6_header_len);
  std::ranges::copy(upper, frame.begin() + static_cast<std::ptrdiff_t>(ethernet_header_len + ipv6_header_len + ext.size()));
  return frame;
}

byte_vec build_tcp6_frame(const ipv6_repr& ip, const byte_vec& ext, const tcp_repr& tcp) {
  byte_vec seg(tcp.buffer_len());
  tcp.emit(seg, ip.src, ip.dst);
  return build_ipv6_frame(ip, ext, seg);
}

byte_vec ext_header(std::uint8_t next, std::uint8_t len8) {
  byte_vec h((std::size_t{len8} + 1) * 8);
  h[0] = std::byte{next};
  h[1] = std::byte{len8};
  return h;
}

}  // namespace wire_test

namespace wire_test {

tcp_repr valid_syn_segment(std::uint16_t mss) {
  static const std::byte payload[] = {std::byte{'h'}, std::byte{'i'}, std::byte{'!'}};
  tcp_repr t;
  t.src_port = 3337;
  t.dst_port = 7788;
  t.seq = 3626544836;
  t.flags.syn = true;
  t.window = 64240;
  t.options.mss = mss;
  t.options.sack_permitted = true;
  t.options.timestamps = tcp_timestamps{1000, 0};
  t.options.window_scale = 7;
  t.payload = payload;
  return t;
}

byte_vec valid_syn_frame() {
  const tcp_repr t = valid_syn_segment();
  const ipv4_repr ip{.src = ipv4_addr::from_octets(192, 168, 1, 116), .dst = ipv4_addr::from_octets(192, 168, 1, 123)};
  return build_tcp_frame(mac_addr{{2, 0, 0, 0, 1, 0x7b}}, mac_addr{{2, 0, 0, 0, 1, 0x74}}, ip, t);
}

void refresh_checksums(byte_vec& frame) {
  if (frame.size() < ip_at + ipv4_min_header_len) return;
  const mutable_bytes ip = mutable_bytes{frame}.subspan(ip_at);
  const std::size_t ihl = std::size_t{load_u8(ip, 0) & 0x0fu} * 4;
  const std::size_t total = load_u16(ip, 2);
  if (ihl < ipv4_min_header_len || ihl > ip.size()) return;
  store_u16(ip, 10, 0);
  store_u16(ip, 10, ipv4_header_checksum(ip.first(ihl)));
  if (total < ihl + tcp_min_header_len || total > ip.size()) return;
  const mutable_bytes tcp = ip.subspan(ihl, total - ihl);
  store_u16(tcp, 16, 0);
  store_u16(tcp, 16, tcp_checksum(ipv4_addr{load_u32(ip, 12)}, ipv4_addr{load_u32(ip, 16)}, tcp));
}

}  // namespace wire_test
