#include "synack/link/tun.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/ip.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "detail.hpp"
#include "synack/link/error.hpp"

namespace synack::link {

namespace {

constexpr std::size_t eth_header = 14;


}  // namespace

tun_device::tun_device(const std::string& name) : buf_(eth_header + 65536) {
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT)
      throw setup_error(setup_errc::system, "no /dev/net/tun (load the tun module: modprobe tun)");
    throw_system(errno, "cannot open /dev/net/tun");
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_, TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw_system(err, "cannot create the tun device '" + name + "'");
  }
  name_ = ifr.ifr_name;
}

tun_device::~tun_device() {
  if (fd_ >= 0) ::close(fd_);  // not persistent: the kernel deletes the device, routes included
}

bool tun_device::read_one() const noexcept {
  if (pending_ != 0) return true;
  const ssize_t n = ::read(fd_, buf_.data() + eth_header, buf_.size() - eth_header);
  if (n <= 0) return false;
  detail::put_synthetic_header(buf_.data(), buf_[eth_header]);
  pending_ = static_cast<std::size_t>(n) + eth_header;
  return true;
}

bool tun_device::ready() const noexcept { return read_one(); }

std::size_t tun_device::receive(frame_handler on_frame, std::size_t max_frames) {
  std::size_t n = 0;
  while (n < max_frames && read_one()) {
    rx_frame f;
    f.data = {buf_.data(), pending_};
    f.original_length = pending_;
    pending_ = 0;  // handed out: released even when the handler throws
    ++n;
    ++stats_.received;
    on_frame(f);
  }
  return n;
}

bool tun_device::wait_readable(std::chrono::nanoseconds timeout) {
  if (pending_ != 0) return true;
  if (timeout < std::chrono::nanoseconds::zero()) timeout = {};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((timeout - secs).count())};
  pollfd pfd{fd_, POLLIN, 0};
  return ::ppoll(&pfd, 1, &ts, nullptr) > 0 && (pfd.revents & POLLIN) != 0;
}

std::error_code tun_device::send(std::span<const std::byte> frame) noexcept {
  if (frame.size() <= eth_header) return std::make_error_code(std::errc::invalid_argument);
  const ssize_t n = ::write(fd_, frame.data() + eth_header, frame.size() - eth_header);
  if (n < 0) return {errno, std::system_category()};
  return {};
}

namespace {

bool kernel_owns(netlink& nl, const wire::ip_addr& a) {
  try {
    (void)nl.route_to(a);
  } catch (const setup_error& e) {
    if (e.code() == setup_errc::own_address) return true;
    throw;
  }
  return false;
}

// Routes `addr` to the tun unless the kernel owns it or routes it on a link already.
int claim(netlink& nl, const wire::ip_addr& addr, int ifindex) {
  if (kernel_owns(nl, addr)) return EADDRINUSE;
  if (auto r = nl.route_to(addr); r && !r->next_hop) return EEXIST;  // on-link somewhere: taken
  return nl.add_route(addr, addr.is_v4() ? 32 : 128, ifindex);
}

}  // namespace

this_host_link open_this_host(netlink& nl, std::optional<wire::ip_addr> want, unsigned mtu) {
  this_host_link l;
  l.device = std::make_unique<tun_device>();
  auto iface = nl.find_interface(l.device->name());
  if (!iface) throw setup_error(setup_errc::system, "the tun device '" + l.device->name() + "' vanished");
  const int index = iface->index;
  if (int err = nl.set_link(index, mtu, true)) throw_system(err, "cannot bring up '" + l.device->name() + "'");
  // 127/8 to and from the tun (the kernel's loopback services answer synack's address), on this
  // device only; no link-local address, so no router solicitations.
  if (int err = nl.set_ipv4_devconf(index, IPV4_DEVCONF_ROUTE_LOCALNET, 1))
    throw_system(err, "cannot set route_localnet on '" + l.device->name() + "'");
  const bool ipv6 = nl.set_ipv6_addr_gen_none(index) == 0;

  const unsigned pid = static_cast<unsigned>(::getpid());
  // IPv4: --source, or 198.18.0.0/15 from the pid (host numbers 2 .. 131069), the next on a clash.
  if (want && want->is_v4()) {
    const int err = claim(nl, *want, index);
    if (err == EADDRINUSE)
      throw setup_error(setup_errc::invalid_argument,
                        want->to_string() + " is an address of this host; synack's own address on this host must be one the "
                            "kernel does not own (e.g. in 198.18.0.0/15)");
    if (err != 0)
      throw setup_error(setup_errc::invalid_argument, "cannot route " + want->to_string() + " to '" +
                                                          l.device->name() + "': " + std::strerror(err) +
                                                          " (is it on a link of this host?)");
    l.address = want->v4();
  } else {
    int err = EEXIST;
    for (unsigned i = 0; i < 64 && err != 0; ++i) {
      l.address = wire::ipv4_addr{0xc6120000u + 2 + (pid + i * 7919u) % 131068u};
      err = claim(nl, wire::ip_addr{l.address}, index);
    }
    if (err != 0)
      throw setup_error(setup_errc::system,
                        "found no free address in 198.18.0.0/15 for synack on this host (pass --source IP)");
  }
  if (ipv6) {
    if (want && want->is_v6()) {
      if (int err = claim(nl, *want, index))
        throw setup_error(setup_errc::invalid_argument,
                          want->to_string() + " cannot be synack's address on this host (" +
                              (err == EADDRINUSE ? std::string("the kernel owns it") : std::strerror(err)) +
                              "; use one in 2001:2::/48)");
      l.address6 = want->v6();
    } else {
      for (unsigned i = 0; i < 64 && !l.address6; ++i) {
        wire::ipv6_addr a{};
        const std::uint8_t prefix[6] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00};
        std::memcpy(a.octets.data(), prefix, sizeof prefix);
        const std::uint32_t host = pid + i * 7919u;
        a.octets[12] = static_cast<std::uint8_t>(host >> 24);
        a.octets[13] = static_cast<std::uint8_t>(host >> 16);
        a.octets[14] = static_cast<std::uint8_t>(host >> 8);
        a.octets[15] = static_cast<std::uint8_t>(host | 1);
        if (claim(nl, wire::ip_addr{a}, index) == 0) l.address6 = a;
      }
    }
  }
  l.iface = nl.interface_by_index(index);
  return l;
}

}  // namespace synack::link
