#include "synack/wire/address.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>

#include <arpa/inet.h>

namespace synack::wire {

std::string mac_addr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
  return buf;
}

std::optional<mac_addr> mac_addr::parse(std::string_view text) {
  mac_addr m;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (std::size_t i = 0; i < 6; ++i) {
    unsigned v = 0;
    auto [next, ec] = std::from_chars(p, end, v, 16);
    if (ec != std::errc{} || next - p != 2 || v > 0xff) return std::nullopt;
    m.octets[i] = static_cast<std::uint8_t>(v);
    p = next;
    if (i < 5) {
      if (p == end || *p != ':') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return m;
}

std::string ipv4_addr::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                value & 0xff);
  return buf;
}

std::optional<ipv4_addr> ipv4_addr::parse(std::string_view text) {
  std::uint32_t v = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet, 10);
    if (ec != std::errc{} || octet > 255 || next - p > 3) return std::nullopt;
    v = (v << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return ipv4_addr{v};
}

std::string ipv6_addr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, octets.data(), buf, sizeof buf);  // RFC 5952 form in glibc
  return buf;
}

std::optional<ipv6_addr> ipv6_addr::parse(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ipv6_addr a;
  if (inet_pton(AF_INET6, buf, a.octets.data()) != 1) return std::nullopt;
  return a;
}

std::string ip_addr::to_string() const { return is_v4() ? v4().to_string() : raw.to_string(); }

std::string ip_addr::to_string(std::uint16_t port) const {
  // Formatted in a buffer: GCC 12 at -O3 reports a false -Wrestrict overlap for std::string
  // concatenation and assignment from a literal here (GCC bug 105329), which -Werror turns fatal.
  char buf[INET6_ADDRSTRLEN + 8];  // brackets, colon, five digits, NUL
  std::snprintf(buf, sizeof buf, is_v4() ? "%s:%u" : "[%s]:%u", to_string().c_str(), unsigned{port});
  return buf;
}

std::optional<ip_addr> ip_addr::parse(std::string_view text) {
  if (auto a = ipv4_addr::parse(text)) return ip_addr{*a};
  if (auto a = ipv6_addr::parse(text)) return ip_addr{*a};
  return std::nullopt;
}

}  // namespace synack::wire
