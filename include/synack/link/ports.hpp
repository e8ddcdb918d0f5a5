// Local port ranges and the allocator that hands synack's ports out.
//
// Trap 2: the kernel picks ports for its own connect() calls from net.ipv4.ip_local_port_range
// (default 32768-60999). synack's ports must stay outside it, or the kernel may pick the same
// 4-tuple and the two stacks fight over the replies. ip_local_reserved_ports is NOT required:
// staying outside the ephemeral range and skipping ports the kernel already uses is enough.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

namespace synack::link {

// An inclusive range of local ports, lo <= hi, lo >= 1.
struct port_range {
  std::uint16_t lo = 0;
  std::uint16_t hi = 0;

  constexpr std::size_t size() const { return std::size_t{hi} - lo + 1; }
  constexpr bool contains(std::uint16_t p) const { return lo <= p && p <= hi; }
  friend constexpr bool operator==(const port_range&, const port_range&) = default;
};

// "61000-65535", "61000:65535" or a single "61000". Throws setup_error (invalid_argument) with a
// one-line message naming the bad text and the expected form.
port_range parse_port_range(std::string_view text);

// net.ipv4.ip_local_port_range of the calling thread's network namespace; the Linux default
// 32768-60999 when it cannot be read.
port_range kernel_ephemeral_range();

// A range outside `ephemeral`: above it up to 65535 (61000-65535 with the Linux default) when that
// holds at least 1000 ports, else the larger of that and the one below it down to 1024.
// Throws setup_error if neither side has room (ephemeral covers 1024-65535).
port_range default_port_range(port_range ephemeral);
inline port_range default_port_range() { return default_port_range(kernel_ephemeral_range()); }

// Local ports of every TCP socket in a /proc/net/tcp or /proc/net/tcp6 text (any state:
// listeners, established, TIME_WAIT). Unparsable lines are skipped.
std::vector<std::uint16_t> parse_proc_net_tcp(std::string_view text);

// Local TCP ports the kernel uses in the calling thread's network namespace (IPv4 and IPv6).
std::vector<std::uint16_t> kernel_tcp_ports();

// Hands out ports of a range in a seeded pseudo-random order (so consecutive runs and probes do
// not reuse 4-tuples, trap 11), skipping ports the kernel uses and ports synack still holds.
// A released port stays unavailable for `quarantine` (default 0) so late segments of an old
// connection cannot be matched to a new one. Not thread-safe.
class port_allocator {
 public:
  using clock = std::chrono::steady_clock;

  // read_kernel_ports = false skips /proc/net/tcp (a stack on a link the kernel does not share,
  // such as a memory_link: the kernel's ports are no concern of it).
  explicit port_allocator(port_range range, std::uint64_t seed = std::random_device{}(),
                          clock::duration quarantine = {}, bool read_kernel_ports = true);

  // A free port, or nullopt when every port is held, quarantined or used by the kernel.
  std::optional<std::uint16_t> acquire(clock::time_point now = clock::now());
  // Gives a port back; ports outside the range or not held are ignored.
  void release(std::uint16_t port, clock::time_point now = clock::now());

  // Re-reads the kernel's ports (kernel_tcp_ports()); the constructor does it once.
  void refresh_kernel_ports();
  // Replaces the kernel's port set (for tests, or a caller that has its own source).
  void set_kernel_ports(const std::vector<std::uint16_t>& ports);

  port_range range() const { return range_; }
  std::size_t held() const { return held_count_; }

 private:
  bool usable(std::size_t index, clock::time_point now) const;

  port_range range_;
  clock::duration quarantine_;
  std::vector<std::uint16_t> order_;  // the range, shuffled once
  std::size_t cursor_ = 0;            // next position in order_ to try
  std::vector<bool> held_;            // by port - lo
  std::vector<bool> kernel_;          // by port - lo
  std::vector<clock::time_point> free_at_;  // by port - lo: end of quarantine
  std::size_t held_count_ = 0;
};

}  // namespace synack::link
