// Frames for the micro-benchmarks, built with the wire layer's own emitters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "synack/wire/ethernet.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/tcp.hpp"

namespace synack::bench {

inline constexpr wire::ipv4_addr frame_src = wire::ipv4_addr::from_octets(10, 0, 0, 2);
inline constexpr wire::ipv4_addr frame_dst = wire::ipv4_addr::from_octets(10, 0, 0, 1);

// Ethernet + IPv4 + TCP with `tcp`'s options and payload, checksums filled in.
inline std::vector<std::byte> make_frame(const wire::tcp_repr& tcp) {
  wire::ipv4_repr ip;
  ip.src = frame_src;
  ip.dst = frame_dst;
  ip.protocol = wire::ip_protocol::tcp;
  ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
  std::vector<std::byte> f(wire::ethernet_header_len + ip.buffer_len());
  const wire::mac_addr a{{2, 0, 0, 0, 0, 1}}, b{{2, 0, 0, 0, 0, 2}};
  wire::emit_ethernet(f, a, b, wire::ethertype::ipv4);
  ip.emit(std::span(f).subspan(wire::ethernet_header_len));
  tcp.emit(std::span(f).subspan(wire::ethernet_header_len + ip.header_len()), ip.src, ip.dst);
  return f;
}

// A SYN-ACK as Linux sends it: MSS, SACK-permitted, timestamps, window scale.
inline wire::tcp_repr syn_ack_repr() {
  wire::tcp_repr t;
  t.src_port = 80;
  t.dst_port = 40000;
  t.seq = 0x10000000;
  t.ack = 0x20000001;
  t.flags.syn = true;
  t.window = 65160;
  t.options.mss = 1460;
  t.options.sack_permitted = true;
  t.options.timestamps = wire::tcp_timestamps{1000, 2000};
  t.options.window_scale = 7;
  return t;
}

// An established-phase segment with timestamps and `payload` bytes (and SACK blocks if asked).
inline wire::tcp_repr data_repr(const std::vector<std::byte>& payload, std::uint8_t sack_blocks = 0) {
  wire::tcp_repr t;
  t.src_port = 80;
  t.dst_port = 40000;
  t.seq = 0x10000001;
  t.ack = 0x20000001;
  t.flags.psh = !payload.empty();
  t.window = 509;
  t.options.timestamps = wire::tcp_timestamps{1001, 2001};
  for (std::uint8_t i = 0; i < sack_blocks; ++i)
    t.options.sack[i] = {0x20001000u + i * 0x1000u, 0x20001800u + i * 0x1000u};
  t.options.sack_count = sack_blocks;
  t.payload = payload;
  return t;
}

}  // namespace synack::bench
