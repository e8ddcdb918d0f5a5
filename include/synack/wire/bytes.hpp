// Big-endian loads and stores on byte spans. Every multi-byte field of every header goes through
// these, so no received frame is ever cast to a packed struct or byte-swapped in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synack::wire {

using bytes = std::span<const std::byte>;
using mutable_bytes = std::span<std::byte>;

inline std::uint8_t load_u8(bytes b, std::size_t at) { return static_cast<std::uint8_t>(b[at]); }

inline std::uint16_t load_u16(bytes b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(b[at]) << 8) | static_cast<unsigned>(b[at + 1]));
}

inline std::uint32_t load_u32(bytes b, std::size_t at) {
  return (std::uint32_t{static_cast<std::uint8_t>(b[at])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(b[at + 1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(b[at + 2])} << 8) |
         std::uint32_t{static_cast<std::uint8_t>(b[at + 3])};
}

inline void store_u8(mutable_bytes b, std::size_t at, std::uint8_t v) { b[at] = std::byte{v}; }

inline void store_u16(mutable_bytes b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

inline void store_u32(mutable_bytes b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::byte>(v >> 24);
  b[at + 1] = static_cast<std::byte>((v >> 16) & 0xff);
  b[at + 2] = static_cast<std::byte>((v >> 8) & 0xff);
  b[at + 3] = static_cast<std::byte>(v & 0xff);
}

}  // namespace synack::wire
