// Small helpers shared by the link layer's sources; not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace synack::link::detail {

inline std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// /proc/net/* and /proc/sys/net/* as the calling *thread* sees them. /proc/net is a link to
// /proc/self/net, which follows the thread-group leader's network namespace; a thread that did
// setns(CLONE_NEWNET) must read /proc/thread-self/net instead (Linux >= 3.17).
inline std::optional<std::string> read_proc_net(const std::string& name) {
  if (auto text = read_text_file("/proc/thread-self/net/" + name)) return text;
  return read_text_file("/proc/net/" + name);
}

// The synthetic Ethernet header an L3 link's packets carry through frame_io (zero addresses, the
// EtherType of the IP version nibble; 0 for anything else, which the parser refuses): written by
// packet_socket (options::l3) into ring headroom and by tun_device in front of each packet read.
inline constexpr std::size_t synthetic_header_len = 14;
inline void put_synthetic_header(std::byte* at, std::byte first_ip_byte) {
  std::memset(at, 0, synthetic_header_len);
  const unsigned version = std::to_integer<unsigned>(first_ip_byte) >> 4;
  const std::uint16_t type = version == 4 ? 0x0800 : version == 6 ? 0x86dd : 0;
  at[12] = std::byte(type >> 8);
  at[13] = std::byte(type & 0xff);
}

}  // namespace synack::link::detail
