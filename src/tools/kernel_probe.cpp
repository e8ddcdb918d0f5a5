#include "kernel_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "common.hpp"

namespace synack::tools {

namespace {
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

socklen_t to_sockaddr(const wire::ip_addr& addr, std::uint16_t port, sockaddr_storage& out) {
  out = {};
  if (addr.is_v4()) {
    auto& sa = reinterpret_cast<sockaddr_in&>(out);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(addr.v4().value);
    return sizeof(sockaddr_in);
  }
  auto& sa = reinterpret_cast<sockaddr_in6&>(out);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  std::memcpy(sa.sin6_addr.s6_addr, addr.v6().octets.data(), 16);
  return sizeof(sockaddr_in6);
}

std::string sockaddr_text(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& sa = reinterpret_cast<const sockaddr_in&>(ss);
    return wire::ip_addr{wire::ipv4_addr{ntohl(sa.sin_addr.s_addr)}}.to_string(ntohs(sa.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& sa = reinterpret_cast<const sockaddr_in6&>(ss);
    wire::ipv6_addr a;
    std::memcpy(a.octets.data(), sa.sin6_addr.s6_addr, 16);
    return wire::ip_addr{a}.to_string(ntohs(sa.sin6_port));
  }
  return "?";
}

kernel_probe_result kernel_probe(const kernel_probe_options& o) {
  using clock = std::chrono::steady_clock;
  kernel_probe_result r;
  fd_guard s{::socket(o.dst.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) {
    r.error = error_name({errno, std::system_category()});
    return r;
  }
  if (!o.interface.empty())
    ::setsockopt(s.fd, SOL_SOCKET, SO_BINDTODEVICE, o.interface.c_str(),
                 static_cast<socklen_t>(o.interface.size()));
  sockaddr_storage sa;
  const socklen_t sa_len = to_sockaddr(o.dst, o.port, sa);

  auto start = clock::now();
  int rc = ::connect(s.fd, reinterpret_cast<const sockaddr*>(&sa), sa_len);
  int err = rc == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.timeout_s));
    err = ETIMEDOUT;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - clock::now());
      if (left.count() <= 0) break;
      timespec ts{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
      pollfd pfd{s.fd, POLLOUT, 0};
      int n = ::ppoll(&pfd, 1, &ts, nullptr);
      if (n < 0 && errno == EINTR) {
        if (stop_requested) {
          r.interrupted = true;
          return r;
        }
        continue;
      }
      if (n <= 0) continue;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      break;
    }
  }
  auto done = clock::now();
  tcp_info ti{};
  socklen_t tl = sizeof ti;
  bool have_info = ::getsockopt(s.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0;
  if (have_info) r.syn_retransmits = ti.tcpi_total_retrans;
  r.elapsed_us = std::chrono::duration<double, std::micro>(done - start).count();
  if (err != 0) {
    r.error = error_name({err, std::system_category()});
    linger l{1, 0};  // nothing half-open left behind on a timeout
    ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    return r;
  }
  r.ok = true;
  r.handshake_us = std::chrono::duration<double, std::micro>(done - start).count();
  if (have_info && ti.tcpi_rtt > 0) r.kernel_rtt_us = static_cast<double>(ti.tcpi_rtt);
  sockaddr_storage local{};
  socklen_t ll = sizeof local;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&local), &ll) == 0) r.local = sockaddr_text(local);
  if (o.rst_close) {
    linger l{1, 0};
    ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  return r;  // fd_guard closes: FIN (orderly) or RST (linger 0)
}

}  // namespace synack::tools
