// Building and reading the few frames the root tests need (test-only; the real wire formats are
// src/wire's job).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "synack/wire/address.hpp"
#include "synack/wire/bytes.hpp"

namespace synack::link::test {

struct tcp_summary {
  wire::mac_addr eth_src;
  wire::ipv4_addr src, dst;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
};

inline constexpr std::uint8_t tcp_syn = 0x02, tcp_rst = 0x04, tcp_ack = 0x10;

inline std::uint16_t inet_checksum(std::span<const std::byte> data, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < data.size(); i += 2) sum += wire::load_u16(data, i);
  if (data.size() % 2) sum += std::uint32_t{wire::load_u8(data, data.size() - 1)} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Ethernet + IPv4 (20) + TCP (20 + MSS option) SYN with both checksums computed (trap 3).
inline std::vector<std::byte> make_syn(wire::mac_addr src_mac, wire::mac_addr dst_mac, wire::ipv4_addr src,
                                       wire::ipv4_addr dst, std::uint16_t sport, std::uint16_t dport,
                                       std::uint32_t seq) {
  std::vector<std::byte> f(14 + 20 + 24);
  wire::mutable_bytes b(f);
  for (int i = 0; i < 6; ++i) {
    b[i] = std::byte{dst_mac.octets[i]};
    b[6 + i] = std::byte{src_mac.octets[i]};
  }
  wire::store_u16(b, 12, 0x0800);
  auto ip = b.subspan(14, 20);
  wire::store_u8(ip, 0, 0x45);
  wire::store_u16(ip, 2, 44);
  wire::store_u16(ip, 6, 0x4000);
  wire::store_u8(ip, 8, 64);
  wire::store_u8(ip, 9, 6);
  wire::store_u32(ip, 12, src.value);
  wire::store_u32(ip, 16, dst.value);
  wire::store_u16(ip, 10, inet_checksum(ip));
  auto tcp = b.subspan(34, 24);
  wire::store_u16(tcp, 0, sport);
  wire::store_u16(tcp, 2, dport);
  wire::store_u32(tcp, 4, seq);
  wire::store_u8(tcp, 12, 6 << 4);
  wire::store_u8(tcp, 13, tcp_syn);
  wire::store_u16(tcp, 14, 64240);
  wire::store_u32(tcp, 20, 0x020405b4);  // MSS 1460
  std::uint32_t pseudo = (src.value >> 16) + (src.value & 0xffff) + (dst.value >> 16) + (dst.value & 0xffff) + 6 + 24;
  wire::store_u16(tcp, 16, inet_checksum(tcp, pseudo));
  return f;
}

// Ethernet + IPv6 (40) + TCP (20 + MSS option) SYN with its checksum computed.
inline std::vector<std::byte> make_syn6(wire::mac_addr src_mac, wire::mac_addr dst_mac, const wire::ipv6_addr& src,
                                        const wire::ipv6_addr& dst, std::uint16_t sport, std::uint16_t dport,
                                        std::uint32_t seq) {
  std::vector<std::byte> f(14 + 40 + 24);
  wire::mutable_bytes b(f);
  for (int i = 0; i < 6; ++i) {
    b[i] = std::byte{dst_mac.octets[i]};
    b[6 + i] = std::byte{src_mac.octets[i]};
  }
  wire::store_u16(b, 12, 0x86dd);
  auto ip = b.subspan(14, 40);
  wire::store_u8(ip, 0, 0x60);
  wire::store_u16(ip, 4, 24);  // payload length
  wire::store_u8(ip, 6, 6);    // next header: TCP
  wire::store_u8(ip, 7, 64);
  for (int i = 0; i < 16; ++i) {
    ip[8 + i] = std::byte{src.octets[i]};
    ip[24 + i] = std::byte{dst.octets[i]};
  }
  auto tcp = b.subspan(54, 24);
  wire::store_u16(tcp, 0, sport);
  wire::store_u16(tcp, 2, dport);
  wire::store_u32(tcp, 4, seq);
  wire::store_u8(tcp, 12, 6 << 4);
  wire::store_u8(tcp, 13, tcp_syn);
  wire::store_u16(tcp, 14, 64240);
  wire::store_u32(tcp, 20, 0x020405a0);  // MSS 1440
  std::uint32_t pseudo = 6 + 24;         // RFC 8200 §8.1: addresses, length, next header
  for (int i = 0; i < 16; i += 2)
    pseudo += (std::uint32_t{src.octets[i]} << 8 | src.octets[i + 1]) +
              (std::uint32_t{dst.octets[i]} << 8 | dst.octets[i + 1]);
  wire::store_u16(tcp, 16, inet_checksum(tcp, pseudo));
  return f;
}

inline std::optional<tcp_summary> parse_tcp(std::span<const std::byte> f) {
  if (f.size() < 14 + 20 || wire::load_u16(f, 12) != 0x0800 || wire::load_u8(f, 23) != 6) return std::nullopt;
  std::size_t ihl = (wire::load_u8(f, 14) & 0xf) * 4u;
  if (f.size() < 14 + ihl + 20) return std::nullopt;
  auto tcp = f.subspan(14 + ihl);
  tcp_summary s;
  for (int i = 0; i < 6; ++i) s.eth_src.octets[i] = wire::load_u8(f, 6 + i);
  s.src = {wire::load_u32(f, 26)};
  s.dst = {wire::load_u32(f, 30)};
  s.sport = wire::load_u16(tcp, 0);
  s.dport = wire::load_u16(tcp, 2);
  s.seq = wire::load_u32(tcp, 4);
  s.ack = wire::load_u32(tcp, 8);
  s.flags = wire::load_u8(tcp, 13);
  return s;
}

}  // namespace synack::link::test
