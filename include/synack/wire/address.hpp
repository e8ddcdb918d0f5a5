// Link and network addresses as small value types.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace synack::wire {

// An Ethernet MAC address, in wire order.
struct mac_addr {
  std::array<std::uint8_t, 6> octets{};

  static constexpr mac_addr broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  constexpr bool is_zero() const { return octets == std::array<std::uint8_t, 6>{}; }
  std::string to_string() const;  // "aa:bb:cc:dd:ee:ff"
  static std::optional<mac_addr> parse(std::string_view text);
  friend constexpr auto operator<=>(const mac_addr&, const mac_addr&) = default;
};

// An IPv4 address, held in host byte order so comparisons and masks read naturally.
struct ipv4_addr {
  std::uint32_t value = 0;

  static constexpr ipv4_addr from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return {(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
  }
  constexpr bool is_unspecified() const { return value == 0; }
  std::string to_string() const;  // dotted quad
  static std::optional<ipv4_addr> parse(std::string_view text);
  friend constexpr auto operator<=>(const ipv4_addr&, const ipv4_addr&) = default;
};

// A TCP connection's identity, from synack's point of view.
struct four_tuple {
  ipv4_addr local_addr;
  std::uint16_t local_port = 0;
  ipv4_addr remote_addr;
  std::uint16_t remote_port = 0;
  friend constexpr auto operator<=>(const four_tuple&, const four_tuple&) = default;
};

struct four_tuple_hash {
  std::size_t operator()(const four_tuple& t) const noexcept {
    std::uint64_t h = (std::uint64_t{t.local_addr.value} << 32) ^ t.remote_addr.value;
    h ^= (std::uint64_t{t.local_port} << 16 | t.remote_port) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    return static_cast<std::size_t>(h * 0xbf58476d1ce4e5b9ULL);
  }
};

}  // namespace synack::wire
