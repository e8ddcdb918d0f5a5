// The same handshake through the kernel's TCP: a non-blocking connect() waited for with poll(),
// for `ping --kernel` (side-by-side comparison with synack's own TCP).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <sys/socket.h>

#include "synack/wire/address.hpp"

namespace synack::tools {

struct kernel_probe_options {
  wire::ip_addr dst;  // IPv4 or IPv6
  std::uint16_t port = 80;
  std::string interface;  // SO_BINDTODEVICE when set
  double timeout_s = 3.0;
  bool rst_close = false;  // SO_LINGER 0: the kernel aborts with a RST; else an orderly close()
};

struct kernel_probe_result {
  bool ok = false;
  bool interrupted = false;  // a signal arrived while waiting (not counted)
  std::string error;         // as error_name(): "connection_refused", "timed_out", ...
  std::string local;         // "IP:PORT" the kernel chose
  double handshake_us = 0;   // connect() called -> poll() says connected (steady clock)
  double elapsed_us = 0;     // connect() called -> the outcome, success or failure
  std::optional<double> kernel_rtt_us;  // TCP_INFO tcpi_rtt: the kernel's own SYN -> SYN-ACK sample
  std::uint32_t syn_retransmits = 0;    // TCP_INFO tcpi_total_retrans
};

// A kernel socket address for addr:port (AF_INET, or AF_INET6 for an IPv6 address); returns its length.
socklen_t to_sockaddr(const wire::ip_addr& addr, std::uint16_t port, sockaddr_storage& out);
// "IP:PORT" or "[IPv6]:PORT" of a kernel socket address (getsockname).
std::string sockaddr_text(const sockaddr_storage& sa);

// One probe; blocks for at most the timeout (less if a signal arrives).
kernel_probe_result kernel_probe(const kernel_probe_options& o);

}  // namespace synack::tools
