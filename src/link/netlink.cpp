#include "synack/link/netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "synack/link/error.hpp"

namespace synack::link {

namespace {

// Attributes of one message, indexed by type; types above N are ignored.
template <std::size_t N>
struct attr_table {
  std::array<const nlattr*, N + 1> at{};

  attr_table(const nlmsghdr& nlh, std::size_t header_size) {
    mnl_attr_parse(&nlh, static_cast<unsigned>(header_size), &attr_table::collect, this);
  }
  const nlattr* operator[](std::size_t type) const { return type <= N ? at[type] : nullptr; }

  static int collect(const nlattr* attr, void* self) {
    auto type = mnl_attr_get_type(attr);
    if (type <= N) static_cast<attr_table*>(self)->at[type] = attr;
    return MNL_CB_OK;
  }
};

std::optional<wire::ipv4_addr> ipv4_of(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != 4) return std::nullopt;
  std::uint32_t network_order;
  std::memcpy(&network_order, mnl_attr_get_payload(attr), 4);
  return wire::ipv4_addr{ntohl(network_order)};
}

std::optional<wire::ipv6_addr> ipv6_of(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != 16) return std::nullopt;
  wire::ipv6_addr a;
  std::memcpy(a.octets.data(), mnl_attr_get_payload(attr), 16);
  return a;
}

// An address attribute of either family (4 or 16 bytes).
std::optional<wire::ip_addr> ip_of(const nlattr* attr, unsigned char family) {
  if (family == AF_INET6) {
    if (auto a = ipv6_of(attr)) return wire::ip_addr(*a);
    return std::nullopt;
  }
  if (auto a = ipv4_of(attr)) return wire::ip_addr(*a);
  return std::nullopt;
}

// Appends `addr` in network order as attribute `type` (4 or 16 bytes by family).
void put_ip(nlmsghdr* nlh, std::uint16_t type, const wire::ip_addr& addr) {
  if (addr.is_v4())
    mnl_attr_put_u32(nlh, type, htonl(addr.v4().value));
  else
    mnl_attr_put(nlh, type, 16, addr.v6().octets.data());
}

std::optional<wire::mac_addr> mac_of(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) != 6) return std::nullopt;
  wire::mac_addr mac;
  std::memcpy(mac.octets.data(), mnl_attr_get_payload(attr), 6);
  return mac;
}

template <class T>
T* put_request(std::vector<char>& buffer, std::uint16_t type, std::uint16_t flags) {
  std::memset(buffer.data(), 0, MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buffer.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T)));
}

nlmsghdr* header_of(std::vector<char>& buffer) { return reinterpret_cast<nlmsghdr*>(buffer.data()); }

constexpr std::uint16_t get_one = NLM_F_REQUEST | NLM_F_ACK;
constexpr std::uint16_t get_all = NLM_F_REQUEST | NLM_F_DUMP;

}  // namespace

void netlink::closer::operator()(mnl_socket* s) const noexcept { mnl_socket_close(s); }

netlink::netlink() : buffer_(1 << 16) {
  socket_.reset(mnl_socket_open(NETLINK_ROUTE));
  if (!socket_) throw_system(errno, "cannot open a netlink socket");
  if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0) throw_system(errno, "cannot bind a netlink socket");
  portid_ = mnl_socket_get_portid(socket_.get());
  // A lost reply must not hang the caller forever.
  timeval timeout{2, 0};
  ::setsockopt(mnl_socket_get_fd(socket_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  seq_ = static_cast<unsigned>(std::time(nullptr));
}

netlink::~netlink() = default;
netlink::netlink(netlink&&) noexcept = default;
netlink& netlink::operator=(netlink&&) noexcept = default;

int netlink::transact(nlmsghdr* request, const callback& on_message) {
  if (!socket_) return EBADF;
  request->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(socket_.get(), request, request->nlmsg_len) < 0) return errno;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
    if (n < 0) return errno == EAGAIN ? ETIMEDOUT : errno;
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      // Skip anything that is not the answer to this request (e.g. the tail of an earlier one).
      if (nlh->nlmsg_seq != seq_ || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portid_)) continue;
      switch (nlh->nlmsg_type) {
        case NLMSG_ERROR: {  // error 0 is the ACK that ends a non-dump request
          if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return EPROTO;
          return -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        }
        case NLMSG_DONE: {  // ends a dump; may carry the dump's error
          if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
            int err;
            std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
            return -err;
          }
          return 0;
        }
        case NLMSG_NOOP:
        case NLMSG_OVERRUN:
          continue;
        default:
          on_message(*nlh);
      }
    }
  }
}

std::optional<interface_info> netlink::get_link(int index, std::string_view name) {
  if (name.size() >= IFNAMSIZ) return std::nullopt;
  auto* ifi = put_request<ifinfomsg>(buffer_, RTM_GETLINK, get_one);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  nlmsghdr* request = header_of(buffer_);
  if (!name.empty()) mnl_attr_put_strz(request, IFLA_IFNAME, std::string(name).c_str());
  mnl_attr_put_u32(request, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);  // the stats are most of the reply

  std::optional<interface_info> info;
  int err = transact(request, [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type != RTM_NEWLINK) return;
    const auto* msg = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&nlh));
    attr_table<IFLA_MAX> attrs(nlh, sizeof(ifinfomsg));
    interface_info i;
    i.index = msg->ifi_index;
    i.link_type = msg->ifi_type;
    i.up = (msg->ifi_flags & IFF_UP) != 0;
    i.running = (msg->ifi_flags & IFF_RUNNING) != 0;
    if (attrs[IFLA_IFNAME]) i.name = mnl_attr_get_str(attrs[IFLA_IFNAME]);
    if (attrs[IFLA_MTU]) i.mtu = mnl_attr_get_u32(attrs[IFLA_MTU]);
    // Only Ethernet-like links have a usable MAC; lo reports 00:00:00:00:00:00, tun none at all.
    if (msg->ifi_type == ARPHRD_ETHER) i.mac = mac_of(attrs[IFLA_ADDRESS]);
    info = std::move(i);
  });
  if (err == ENODEV) return std::nullopt;
  if (err != 0) throw_system(err, "netlink RTM_GETLINK failed");
  if (!info) return std::nullopt;

  // Addresses of both families, one dump each (a dump is per family or of all; asking per family
  // keeps the reply small on hosts with many interfaces).
  for (unsigned char family : {static_cast<unsigned char>(AF_INET), static_cast<unsigned char>(AF_INET6)}) {
    auto* ifa = put_request<ifaddrmsg>(buffer_, RTM_GETADDR, get_all);
    ifa->ifa_family = family;
    ifa->ifa_index = static_cast<unsigned>(info->index);  // a hint; older kernels dump every interface
    err = transact(header_of(buffer_), [&](const nlmsghdr& nlh) {
      if (nlh.nlmsg_type != RTM_NEWADDR) return;
      const auto* msg = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(&nlh));
      if (msg->ifa_family != family || static_cast<int>(msg->ifa_index) != info->index) return;
      attr_table<IFA_MAX> attrs(nlh, sizeof(ifaddrmsg));
      if (family == AF_INET) {
        // IFA_LOCAL is our address; IFA_ADDRESS is the peer's on point-to-point links.
        auto addr = ipv4_of(attrs[IFA_LOCAL]);
        if (!addr) addr = ipv4_of(attrs[IFA_ADDRESS]);
        if (addr) info->addresses.push_back({*addr, msg->ifa_prefixlen});
        return;
      }
      // IFA_FLAGS (32 bits, Linux 3.14+) supersedes the 8-bit ifa_flags, which cannot hold the
      // newer flags; the three that matter here fit in both.
      std::uint32_t flags = msg->ifa_flags;
      if (attrs[IFA_FLAGS] && mnl_attr_get_payload_len(attrs[IFA_FLAGS]) == 4)
        flags = mnl_attr_get_u32(attrs[IFA_FLAGS]);
      // Tentative: DAD still running (or the link is down, so it never ran), the kernel drops
      // packets to it and will not send from it. Deprecated: not to be used for new connections.
      // DAD-failed: another host owns it.
      if ((flags & (IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED)) != 0) return;
      // For IPv6 IFA_ADDRESS is our address; IFA_LOCAL appears only with a peer (point-to-point).
      auto addr = ipv6_of(attrs[IFA_LOCAL]);
      if (!addr) addr = ipv6_of(attrs[IFA_ADDRESS]);
      if (!addr) return;
      info->addresses6.push_back({*addr, msg->ifa_prefixlen, msg->ifa_scope == RT_SCOPE_LINK || addr->is_link_local()});
    });
    if (err != 0) throw_system(err, "netlink RTM_GETADDR failed");
  }
  return info;
}

std::optional<interface_info> netlink::find_interface(std::string_view name) {
  if (name.empty()) return std::nullopt;
  return get_link(0, name);
}

std::optional<interface_info> netlink::find_interface(int index) {
  if (index <= 0) return std::nullopt;
  return get_link(index, {});
}

interface_info netlink::interface_by_name(std::string_view name) {
  if (auto info = find_interface(name)) return std::move(*info);
  throw setup_error(setup_errc::unknown_interface,
                    "unknown interface '" + std::string(name) + "' (list them with `ip link`)");
}

interface_info netlink::interface_by_index(int index) {
  if (auto info = find_interface(index)) return std::move(*info);
  throw setup_error(setup_errc::unknown_interface,
                    "unknown interface index " + std::to_string(index) + " (list them with `ip link`)");
}

std::optional<route_info> netlink::route_to(wire::ip_addr dst, int oif) {
  const unsigned char family = dst.is_v4() ? AF_INET : AF_INET6;
  auto* rtm = put_request<rtmsg>(buffer_, RTM_GETROUTE, get_one);
  rtm->rtm_family = family;
  rtm->rtm_dst_len = dst.is_v4() ? 32 : 128;
  put_ip(header_of(buffer_), RTA_DST, dst);
  if (oif > 0) mnl_attr_put_u32(header_of(buffer_), RTA_OIF, static_cast<std::uint32_t>(oif));

  std::optional<route_info> route;
  unsigned char type = RTN_UNSPEC;
  int err = transact(header_of(buffer_), [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type != RTM_NEWROUTE) return;
    type = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(&nlh))->rtm_type;
    attr_table<RTA_MAX> attrs(nlh, sizeof(rtmsg));
    route_info r;
    if (attrs[RTA_OIF]) r.ifindex = static_cast<int>(mnl_attr_get_u32(attrs[RTA_OIF]));
    r.next_hop = ip_of(attrs[RTA_GATEWAY], family);
    r.source = ip_of(attrs[RTA_PREFSRC], family);
    if (family == AF_INET) {
      if (r.next_hop) r.gateway = r.next_hop->v4();
      if (r.source) r.prefsrc = r.source->v4();
    }
    if (const nlattr* metrics = attrs[RTA_METRICS]) {
      struct nested {
        route_info* r;
        static int collect(const nlattr* a, void* self) {
          auto* n = static_cast<nested*>(self);
          if (mnl_attr_get_payload_len(a) != 4) return MNL_CB_OK;
          if (mnl_attr_get_type(a) == RTAX_MTU) n->r->mtu = mnl_attr_get_u32(a);
          if (mnl_attr_get_type(a) == RTAX_ADVMSS) n->r->advmss = mnl_attr_get_u32(a);
          return MNL_CB_OK;
        }
      } n{&r};
      mnl_attr_parse_nested(metrics, &nested::collect, &n);
    }
    route = r;
  });
  // The kernel answers "no route" with an error rather than a route: ENETUNREACH for no match or an
  // unreachable route, EHOSTUNREACH, EINVAL for blackhole, EACCES for prohibit (IPv6 the same; it
  // may also return the route itself with its type, checked below).
  if (err == ENETUNREACH || err == EHOSTUNREACH || err == EINVAL || err == EACCES) return std::nullopt;
  if (err != 0) throw_system(err, "netlink RTM_GETROUTE failed");
  // IPv6 reports a route to one of our addresses as type local with `lo` as the output interface.
  if (type == RTN_LOCAL)
    throw setup_error(setup_errc::own_address,
                      dst.to_string() + " is an address of this host, which a packet socket on an interface "
                                        "cannot reach (without -I, synack reaches it through a tun device of its own)");
  if (type != RTN_UNICAST && type != RTN_BROADCAST && type != RTN_MULTICAST) return std::nullopt;
  if (route && route->ifindex == 0) return std::nullopt;
  return route;
}

std::optional<wire::mac_addr> netlink::neighbour(int ifindex, wire::ip_addr addr) {
  const unsigned char family = addr.is_v4() ? AF_INET : AF_INET6;
  constexpr std::uint16_t usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
  std::optional<wire::mac_addr> mac;
  auto on_message = [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type != RTM_NEWNEIGH) return;
    const auto* msg = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(&nlh));
    if (msg->ndm_family != family || msg->ndm_ifindex != ifindex || (msg->ndm_state & usable) == 0) return;
    attr_table<NDA_MAX> attrs(nlh, sizeof(ndmsg));
    if (ip_of(attrs[NDA_DST], family) != addr) return;
    if (auto m = mac_of(attrs[NDA_LLADDR]); m && !m->is_zero()) mac = m;
  };

  // A single-entry get (Linux >= 4.20); older kernels reject it, then dump the table.
  auto* ndm = put_request<ndmsg>(buffer_, RTM_GETNEIGH, get_one);
  ndm->ndm_family = family;
  ndm->ndm_ifindex = ifindex;
  put_ip(header_of(buffer_), NDA_DST, addr);
  int err = transact(header_of(buffer_), on_message);
  if (err == EINVAL || err == EOPNOTSUPP) {
    ndm = put_request<ndmsg>(buffer_, RTM_GETNEIGH, get_all);
    ndm->ndm_family = family;
    err = transact(header_of(buffer_), on_message);
  }
  if (err == ENOENT || err == ENODEV) return std::nullopt;
  if (err != 0) throw_system(err, "netlink RTM_GETNEIGH failed");
  return mac;
}

int netlink::set_link(int ifindex, std::optional<unsigned> mtu, bool up) {
  auto* ifi = put_request<ifinfomsg>(buffer_, RTM_NEWLINK, get_one);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = up ? IFF_UP : 0;
  if (mtu) mnl_attr_put_u32(header_of(buffer_), IFLA_MTU, *mtu);
  return transact(header_of(buffer_), [](const nlmsghdr&) {});
}

int netlink::set_ipv4_devconf(int ifindex, int devconf_id, std::uint32_t value) {
  auto* ifi = put_request<ifinfomsg>(buffer_, RTM_NEWLINK, get_one);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  nlmsghdr* nlh = header_of(buffer_);
  nlattr* spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
  nlattr* inet = mnl_attr_nest_start(nlh, AF_INET);
  nlattr* conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);
  mnl_attr_put_u32(nlh, static_cast<std::uint16_t>(devconf_id), value);
  mnl_attr_nest_end(nlh, conf);
  mnl_attr_nest_end(nlh, inet);
  mnl_attr_nest_end(nlh, spec);
  return transact(nlh, [](const nlmsghdr&) {});
}

int netlink::set_ipv6_addr_gen_none(int ifindex) {
  auto* ifi = put_request<ifinfomsg>(buffer_, RTM_NEWLINK, get_one);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  nlmsghdr* nlh = header_of(buffer_);
  nlattr* spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
  nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
  mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(nlh, inet6);
  mnl_attr_nest_end(nlh, spec);
  return transact(nlh, [](const nlmsghdr&) {});
}

int netlink::add_route(wire::ip_addr dst, std::uint8_t prefix_len, int ifindex) {
  auto* rtm = put_request<rtmsg>(buffer_, RTM_NEWROUTE, get_one | NLM_F_CREATE | NLM_F_EXCL);
  rtm->rtm_family = dst.is_v4() ? AF_INET : AF_INET6;
  rtm->rtm_dst_len = prefix_len;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  put_ip(header_of(buffer_), RTA_DST, dst);
  mnl_attr_put_u32(header_of(buffer_), RTA_OIF, static_cast<std::uint32_t>(ifindex));
  return transact(header_of(buffer_), [](const nlmsghdr&) {});
}

std::optional<wire::ipv6_addr> first_global_ipv6(const interface_info& iface) {
  for (const auto& p : iface.addresses6)
    if (!p.link_local && !p.addr.is_loopback()) return p.addr;
  return std::nullopt;
}

std::optional<wire::ipv6_addr> ipv6_source(const interface_info& out, const std::optional<route_info>& route,
                                           wire::ipv6_addr dst) {
  if (route && route->ifindex == out.index && route->source && route->source->is_v6()) return route->source->v6();
  if (auto a = first_global_ipv6(out)) return a;
  // Only a link-local destination may be answered to a link-local source (RFC 4291 §2.5.6).
  if (dst.is_link_local())
    for (const auto& p : out.addresses6)
      if (p.link_local) return p.addr;
  return std::nullopt;
}

}  // namespace synack::link
