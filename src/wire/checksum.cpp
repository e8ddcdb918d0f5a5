#include "synack/wire/checksum.hpp"

#include <array>

namespace synack::wire {

namespace {

// Folds a wide one's-complement sum to 16 bits. Works because 2^16 == 1 (mod 0xffff).
std::uint16_t fold16(std::uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// One's-complement sum of `data` as if it started at an even offset, unfolded. Reads four bytes
// per step into a 64-bit sum; 2^32 steps cannot overflow it and a frame is at most 64 KiB.
std::uint64_t raw_sum(bytes data) {
  std::uint64_t s = 0;
  std::size_t i = 0;
  const std::size_t n = data.size();
  for (; i + 8 <= n; i += 8) s += std::uint64_t{load_u32(data, i)} + load_u32(data, i + 4);
  for (; i + 2 <= n; i += 2) s += load_u16(data, i);
  if (i < n) s += std::uint64_t{load_u8(data, i)} << 8;  // odd final byte, padded with zero
  return s;
}

}  // namespace

checksum_accumulator& checksum_accumulator::add(bytes data) {
  const std::uint64_t s = raw_sum(data);
  if (odd_) {
    // This piece starts at an odd offset of the whole: its bytes pair the other way round.
    const std::uint16_t f = fold16(s);
    sum_ += static_cast<std::uint16_t>((f << 8) | (f >> 8));
  } else {
    sum_ += s;
  }
  if (sum_ >> 48) sum_ = fold16(sum_);  // keep headroom across very many pieces
  odd_ ^= (data.size() & 1) != 0;
  return *this;
}

checksum_accumulator& checksum_accumulator::add_u16(std::uint16_t v) {
  std::array<std::byte, 2> b{};
  store_u16(b, 0, v);
  return add(b);
}

checksum_accumulator& checksum_accumulator::add_u32(std::uint32_t v) {
  std::array<std::byte, 4> b{};
  store_u32(b, 0, v);
  return add(b);
}

std::uint16_t checksum_accumulator::fold() const { return fold16(sum_); }

std::uint16_t tcp_checksum(ipv4_addr src, ipv4_addr dst, bytes segment) {
  constexpr std::uint16_t protocol_tcp = 6;
  return checksum_accumulator{}
      .add_u32(src.value)
      .add_u32(dst.value)
      .add_u16(protocol_tcp)  // a zero byte, then the protocol
      .add_u16(static_cast<std::uint16_t>(segment.size()))
      .add(segment)
      .finish();
}

std::uint16_t ipv6_pseudo_checksum(const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t next_header,
                                   bytes data) {
  return checksum_accumulator{}
      .add(std::as_bytes(std::span{src.octets}))
      .add(std::as_bytes(std::span{dst.octets}))
      .add_u32(static_cast<std::uint32_t>(data.size()))
      .add_u32(next_header)  // three zero bytes, then the next header
      .add(data)
      .finish();
}

std::uint16_t tcp_checksum_v6(const ipv6_addr& src, const ipv6_addr& dst, bytes segment) {
  constexpr std::uint8_t protocol_tcp = 6;
  return ipv6_pseudo_checksum(src, dst, protocol_tcp, segment);
}

std::uint16_t icmpv6_checksum(const ipv6_addr& src, const ipv6_addr& dst, bytes message) {
  constexpr std::uint8_t protocol_icmpv6 = 58;
  return ipv6_pseudo_checksum(src, dst, protocol_icmpv6, message);
}

}  // namespace synack::wire
