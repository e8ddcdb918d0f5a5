// Link and network addresses as small value types.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iosfwd>
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

// An IPv6 address, in wire order (RFC 4291).
struct ipv6_addr {
  std::array<std::uint8_t, 16> octets{};

  constexpr bool is_unspecified() const { return octets == std::array<std::uint8_t, 16>{}; }
  constexpr bool is_multicast() const { return octets[0] == 0xff; }
  constexpr bool is_link_local() const { return octets[0] == 0xfe && (octets[1] & 0xc0) == 0x80; }
  constexpr bool is_loopback() const {
    for (std::size_t i = 0; i < 15; ++i)
      if (octets[i] != 0) return false;
    return octets[15] == 1;
  }
  // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): an IPv4 address in IPv6 clothing, never on the wire.
  constexpr bool is_v4_mapped() const {
    for (std::size_t i = 0; i < 10; ++i)
      if (octets[i] != 0) return false;
    return octets[10] == 0xff && octets[11] == 0xff;
  }
  // ff02::1:ffXX:XXXX, where neighbour solicitations for this address go (RFC 4291 §2.7.1).
  constexpr ipv6_addr solicited_node() const {
    return {{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, octets[13], octets[14], octets[15]}};
  }
  // 33:33 followed by the low 32 bits: the Ethernet address of a multicast group (RFC 2464 §7).
  constexpr mac_addr multicast_mac() const {
    return {{0x33, 0x33, octets[12], octets[13], octets[14], octets[15]}};
  }
  std::string to_string() const;  // RFC 5952 text ("fd00::2")
  static std::optional<ipv6_addr> parse(std::string_view text);
  friend constexpr auto operator<=>(const ipv6_addr&, const ipv6_addr&) = default;
};

enum class ip_family : std::uint8_t { v4, v6 };

// Either family, held as 16 bytes: an IPv4 address is stored v4-mapped (::ffff:a.b.c.d), as a Linux
// AF_INET6 socket treats such an address as IPv4. So one type keys every table, compares and
// hashes without branching, and `ip_addr{}` is IPv4's 0.0.0.0 as before.
struct ip_addr {
  ipv6_addr raw{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}};

  constexpr ip_addr() = default;
  constexpr ip_addr(ipv4_addr a)  // NOLINT: implicit, every IPv4 address is an address
      : raw{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, static_cast<std::uint8_t>(a.value >> 24),
             static_cast<std::uint8_t>(a.value >> 16), static_cast<std::uint8_t>(a.value >> 8),
             static_cast<std::uint8_t>(a.value)}} {}
  constexpr ip_addr(ipv6_addr a) : raw(a) {}  // NOLINT: implicit; a v4-mapped address is IPv4

  constexpr bool is_v4() const { return raw.is_v4_mapped(); }
  constexpr bool is_v6() const { return !is_v4(); }
  constexpr ip_family family() const { return is_v4() ? ip_family::v4 : ip_family::v6; }
  // The IPv4 address (only meaningful when is_v4()).
  constexpr ipv4_addr v4() const {
    return {std::uint32_t{raw.octets[12]} << 24 | std::uint32_t{raw.octets[13]} << 16 |
            std::uint32_t{raw.octets[14]} << 8 | raw.octets[15]};
  }
  constexpr const ipv6_addr& v6() const { return raw; }
  constexpr bool is_unspecified() const { return is_v4() ? v4().is_unspecified() : raw.is_unspecified(); }
  std::string to_string() const;  // dotted quad or RFC 5952
  // "1.2.3.4:80" or "[fd00::2]:80".
  std::string to_string(std::uint16_t port) const;
  // An IPv4 or IPv6 literal (no brackets, no zone).
  static std::optional<ip_addr> parse(std::string_view text);
  friend constexpr auto operator<=>(const ip_addr&, const ip_addr&) = default;
};

// Text forms for logs and test failure messages.
std::ostream& operator<<(std::ostream& os, const ipv6_addr& a);
std::ostream& operator<<(std::ostream& os, const ip_addr& a);

namespace detail {

// The address's 16 bytes as two 64-bit words, in host order (memcpy: no alignment or aliasing
// assumption; compiles to two loads). Only for hashing: the values differ between byte orders.
struct addr_words {
  std::uint64_t hi, lo;
};
inline addr_words words_of(const ip_addr& a) noexcept {
  addr_words w;
  std::memcpy(&w.hi, a.raw.octets.data(), 8);
  std::memcpy(&w.lo, a.raw.octets.data() + 8, 8);
  return w;
}
// The high word folded into the low one: a multiply (odd: a bijection of hi) and a xor, so
// for a fixed prefix distinct low halves stay distinct, and the reverse.
inline std::uint64_t fold(addr_words w) noexcept { return w.hi * 0x9e3779b97f4a7c15ULL ^ w.lo; }
// SplitMix64's finalizer (Stafford's mix 13): a bijection in which every input bit reaches every
// output bit. An IPv4 address sits in the top half of `lo` on a little-endian host; the
// xor-shifts bring it down to the bits a bucket index takes.
inline std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace detail

struct ip_addr_hash {
  std::size_t operator()(const ip_addr& a) const noexcept {
    return static_cast<std::size_t>(detail::mix64(detail::fold(detail::words_of(a))));
  }
};

// A TCP connection's identity, from synack's point of view. Both addresses are of one family.
struct four_tuple {
  ip_addr local_addr;
  std::uint16_t local_port = 0;
  ip_addr remote_addr;
  std::uint16_t remote_port = 0;
  friend constexpr auto operator<=>(const four_tuple&, const four_tuple&) = default;
};

// Per received segment (the engine's connection table): both addresses folded, the local one
// multiplied so the two do not commute (a tuple and its mirror image hash apart), the ports in,
// then one finalizer. The ports go into the half of `lo` that holds a v4-mapped address's constant
// ::ffff, so for IPv4 tuples to one local address and port (a server's table) distinct remote
// addresses and ports give distinct 64-bit values, and so distinct hashes (the finalizer is a
// bijection).
struct four_tuple_hash {
  std::size_t operator()(const four_tuple& t) const noexcept {
    constexpr int ports_shift = std::endian::native == std::endian::little ? 0 : 32;
    std::uint64_t h = detail::fold(detail::words_of(t.local_addr)) * 0xff51afd7ed558ccdULL ^
                      detail::fold(detail::words_of(t.remote_addr));
    h ^= (std::uint64_t{t.local_port} << 16 | t.remote_port) << ports_shift;
    return static_cast<std::size_t>(detail::mix64(h));
  }
};

}  // namespace synack::wire
