#include "synack/impair/checksum.hpp"

#include "synack/wire/bytes.hpp"
#include "synack/wire/checksum.hpp"

namespace synack::impair {

bool complete_l4_checksum(std::span<std::byte> frame) noexcept {
  using namespace synack::wire;
  std::size_t off = 14;
  if (frame.size() < off) return false;
  std::uint16_t type = load_u16(frame, 12);
  if ((type == 0x8100 || type == 0x88a8) && frame.size() >= 18) {
    type = load_u16(frame, 16);
    off = 18;
  }
  if (type == 0x86dd) {  // IPv6: TCP or UDP right after the fixed header (no extension headers)
    if (frame.size() < off + 40) return false;
    std::span<std::byte> ip = frame.subspan(off);
    if ((load_u8(ip, 0) >> 4) != 6) return false;
    std::size_t payload = load_u16(ip, 4);
    std::uint8_t next = load_u8(ip, 6);
    if (payload > ip.size() - 40) return false;
    std::span<std::byte> l4 = ip.subspan(40, payload);
    std::size_t field;
    if (next == 6 && l4.size() >= 20) {
      field = 16;
    } else if (next == 17 && l4.size() >= 8) {
      field = 6;
    } else {
      return false;
    }
    store_u16(l4, field, 0);
    checksum_accumulator acc;  // RFC 8200 §8.1 pseudo-header: addresses, length, next header
    acc.add(ip.subspan(8, 32)).add_u16(next).add_u16(static_cast<std::uint16_t>(l4.size())).add(l4);
    std::uint16_t sum = acc.finish();
    if (sum == 0) sum = 0xffff;  // UDP over IPv6 may not send 0; for TCP 0 and 0xffff verify alike
    store_u16(l4, field, sum);
    return true;
  }
  if (type != 0x0800 || frame.size() < off + 20) return false;
  std::span<std::byte> ip = frame.subspan(off);
  std::uint8_t vihl = load_u8(ip, 0);
  std::size_t ihl = std::size_t{vihl & 0x0fu} * 4;
  std::size_t total = load_u16(ip, 2);
  if ((vihl >> 4) != 4 || ihl < 20 || total < ihl || total > ip.size()) return false;
  if ((load_u16(ip, 6) & 0x3fff) != 0) return false;  // a fragment
  std::uint8_t proto = load_u8(ip, 9);
  std::span<std::byte> l4 = ip.subspan(ihl, total - ihl);
  std::size_t field;
  if (proto == 6 && l4.size() >= 20) {
    field = 16;
  } else if (proto == 17 && l4.size() >= 8) {
    field = 6;
  } else {
    return false;
  }
  store_u16(l4, field, 0);
  checksum_accumulator acc;
  acc.add(ip.subspan(12, 8)).add_u16(proto).add_u16(static_cast<std::uint16_t>(l4.size())).add(l4);
  std::uint16_t sum = acc.finish();
  if (proto == 17 && sum == 0) sum = 0xffff;
  store_u16(l4, field, sum);
  return true;
}

}  // namespace synack::impair
