#include "synack/link/ports.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include "detail.hpp"
#include "synack/link/error.hpp"

namespace synack::link {

namespace {

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

port_range parse_port_range(std::string_view text) {
  auto bad = [&](const char* why) {
    return setup_error(setup_errc::invalid_argument, "invalid port range '" + std::string(text) + "': " + why +
                                                         " (expected LO-HI with 1 <= LO <= HI <= 65535, e.g. 61000-65535)");
  };
  auto sep = text.find_first_of("-:");
  auto lo = parse_port(text.substr(0, sep));
  auto hi = sep == std::string_view::npos ? lo : parse_port(text.substr(sep + 1));
  if (!lo || !hi) throw bad("not a port number");
  if (*lo > *hi) throw bad("LO is above HI");
  return {*lo, *hi};
}

port_range kernel_ephemeral_range() {
  constexpr port_range linux_default{32768, 60999};
  auto text = detail::read_text_file("/proc/sys/net/ipv4/ip_local_port_range");
  if (!text) return linux_default;
  unsigned lo = 0, hi = 0;
  std::istringstream in(*text);
  if (!(in >> lo >> hi) || lo == 0 || lo > hi || hi > 65535) return linux_default;
  return {static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
}

port_range default_port_range(port_range ephemeral) {
  constexpr std::uint16_t lowest = 1024;  // below are the privileged, well-known ports
  std::optional<port_range> above, below;
  if (ephemeral.hi < 65535) above = port_range{static_cast<std::uint16_t>(ephemeral.hi + 1), 65535};
  if (ephemeral.lo > lowest) below = port_range{lowest, static_cast<std::uint16_t>(ephemeral.lo - 1)};
  // Above is preferred: ports below the ephemeral range are where services listen.
  constexpr std::size_t enough = 1000;
  if (above && (above->size() >= enough || !below || above->size() >= below->size())) return *above;
  if (below) return *below;
  throw setup_error(setup_errc::invalid_argument,
                    "net.ipv4.ip_local_port_range covers every unprivileged port (narrow it, or pass --ports LO-HI)");
}

std::vector<std::uint16_t> parse_proc_net_tcp(std::string_view text) {
  // "  sl  local_address rem_address   st ..." then "   0: 0100007F:1F90 00000000:0000 0A ...";
  // the local port is the hex after the ':' of the second column (IPv6 addresses are longer).
  std::vector<std::uint16_t> ports;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local;
    if (!(fields >> slot >> local) || slot.empty() || slot.back() != ':') continue;
    auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    unsigned port = 0;
    const char* first = local.data() + colon + 1;
    const char* last = local.data() + local.size();
    auto [end, ec] = std::from_chars(first, last, port, 16);
    if (ec != std::errc{} || end != last || port > 65535) continue;
    ports.push_back(static_cast<std::uint16_t>(port));
  }
  return ports;
}

std::vector<std::uint16_t> kernel_tcp_ports() {
  std::vector<std::uint16_t> ports;
  for (const char* name : {"tcp", "tcp6"}) {
    if (auto text = detail::read_proc_net(name)) {
      auto more = parse_proc_net_tcp(*text);
      ports.insert(ports.end(), more.begin(), more.end());
    }
  }
  return ports;
}

port_allocator::port_allocator(port_range range, std::uint64_t seed, clock::duration quarantine,
                               bool read_kernel_ports)
    : range_(range),
      quarantine_(quarantine),
      held_(range.size()),
      kernel_(range.size()),
      free_at_(range.size()) {
  if (range.lo == 0 || range.lo > range.hi) throw setup_error(setup_errc::invalid_argument, "invalid port range");
  order_.resize(range.size());
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::uint16_t>(range.lo + i);
  std::mt19937_64 rng(seed);
  std::shuffle(order_.begin(), order_.end(), rng);
  if (read_kernel_ports) refresh_kernel_ports();
}

bool port_allocator::usable(std::size_t index, clock::time_point now) const {
  return !held_[index] && !kernel_[index] && free_at_[index] <= now;
}

std::optional<std::uint16_t> port_allocator::acquire(clock::time_point now) {
  // Walk the shuffled order from where the last search stopped, so ports are used round-robin
  // in that order and a released port is not handed out again soon.
  for (std::size_t tried = 0; tried < order_.size(); ++tried) {
    std::uint16_t port = order_[cursor_];
    cursor_ = (cursor_ + 1) % order_.size();
    std::size_t index = port - range_.lo;
    if (!usable(index, now)) continue;
    held_[index] = true;
    ++held_count_;
    return port;
  }
  return std::nullopt;
}

void port_allocator::release(std::uint16_t port, clock::time_point now) {
  if (!range_.contains(port)) return;
  std::size_t index = port - range_.lo;
  if (!held_[index]) return;
  held_[index] = false;
  --held_count_;
  free_at_[index] = now + quarantine_;
}

void port_allocator::refresh_kernel_ports() { set_kernel_ports(kernel_tcp_ports()); }

void port_allocator::set_kernel_ports(const std::vector<std::uint16_t>& ports) {
  std::fill(kernel_.begin(), kernel_.end(), false);
  for (auto p : ports)
    if (range_.contains(p)) kernel_[p - range_.lo] = true;
}

}  // namespace synack::link
