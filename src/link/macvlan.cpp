#include "synack/link/macvlan.hpp"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <utility>

#include "synack/link/error.hpp"
#include "synack/link/rst_guard.hpp"

namespace synack::link {

namespace {

// A NETLINK_ROUTE socket of our own (netlink's transact is private to it): one synchronous request
// at a time, replies of other sequence numbers skipped, as netlink.cpp does.
class rtnl {
 public:
  rtnl() : buffer_(1 << 16), request_(MNL_SOCKET_BUFFER_SIZE) {
    socket_.reset(mnl_socket_open(NETLINK_ROUTE));
    if (!socket_) throw_system(errno, "cannot open a netlink socket");
    if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0) throw_system(errno, "cannot bind a netlink socket");
    portid_ = mnl_socket_get_portid(socket_.get());
    timeval timeout{2, 0};
    ::setsockopt(mnl_socket_get_fd(socket_.get()), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    seq_ = static_cast<unsigned>(std::time(nullptr));
  }

  // A fresh request of `type` with an ifinfomsg for `index`; attributes go after it.
  nlmsghdr* link_request(std::uint16_t type, std::uint16_t flags, int index) {
    std::memset(request_.data(), 0, request_.size());
    nlmsghdr* nlh = mnl_nlmsg_put_header(request_.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    return nlh;
  }

  // 0 or the kernel's errno.
  int transact(nlmsghdr* request, const std::function<void(const nlmsghdr&)>& on_message = {}) {
    request->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(socket_.get(), request, request->nlmsg_len) < 0) return errno;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
      if (n < 0) return errno == EAGAIN ? ETIMEDOUT : errno;
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_seq != seq_ || (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != portid_)) continue;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) return EPROTO;
          return -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        }
        if (nlh->nlmsg_type == NLMSG_DONE) {
          if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
            int err;
            std::memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof err);
            return -err;
          }
          return 0;
        }
        if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_OVERRUN) continue;
        if (on_message) on_message(*nlh);
      }
    }
  }

 private:
  struct closer {
    void operator()(mnl_socket* s) const noexcept { mnl_socket_close(s); }
  };
  std::unique_ptr<mnl_socket, closer> socket_;
  std::vector<char> buffer_;
  std::vector<char> request_;
  unsigned portid_ = 0;
  unsigned seq_ = 0;
};

constexpr std::uint16_t request_ack = NLM_F_REQUEST | NLM_F_ACK;

// What one RTM_NEWLINK message says about a link.
struct link_facts_msg {
  int index = 0;
  std::string name;
  std::string alias;
  std::string kind;
  int lower = 0;
};

link_facts_msg parse_link(const nlmsghdr& nlh) {
  link_facts_msg f;
  f.index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(&nlh))->ifi_index;
  struct walker {
    link_facts_msg* f;
    static int top(const nlattr* a, void* self) {
      auto* w = static_cast<walker*>(self);
      switch (mnl_attr_get_type(a)) {
        case IFLA_IFNAME: w->f->name = mnl_attr_get_str(a); break;
        case IFLA_IFALIAS: w->f->alias = mnl_attr_get_str(a); break;
        case IFLA_LINK:
          if (mnl_attr_get_payload_len(a) == 4) w->f->lower = static_cast<int>(mnl_attr_get_u32(a));
          break;
        case IFLA_LINKINFO: mnl_attr_parse_nested(a, &walker::info, self); break;
        default: break;
      }
      return MNL_CB_OK;
    }
    static int info(const nlattr* a, void* self) {
      if (mnl_attr_get_type(a) == IFLA_INFO_KIND) static_cast<walker*>(self)->f->kind = mnl_attr_get_str(a);
      return MNL_CB_OK;
    }
  } w{&f};
  mnl_attr_parse(&nlh, sizeof(ifinfomsg), &walker::top, &w);
  return f;
}

std::vector<link_facts_msg> dump_links(rtnl& nl) {
  nlmsghdr* req = nl.link_request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0);
  mnl_attr_put_u32(req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<link_facts_msg> links;
  int err = nl.transact(req, [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type == RTM_NEWLINK) links.push_back(parse_link(nlh));
  });
  if (err != 0) throw_system(err, "netlink RTM_GETLINK dump failed");
  return links;
}

// By index, or by name when the index is not known (0).
// The owner runs: its pid exists with that start time and is not a zombie (a SIGKILLed process
// keeps its /proc entry until its parent reaps it, but holds nothing any more).
bool owner_alive(int pid, std::optional<unsigned long long> start) {
  const unsigned long long now = process_start_time(pid);
  if (now == 0 || (start && *start != now)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

int delete_link(rtnl& nl, int index, const std::string& name = {}) {
  nlmsghdr* req = nl.link_request(RTM_DELLINK, request_ack, index);
  if (index <= 0) mnl_attr_put_strz(req, IFLA_IFNAME, name.c_str());
  return nl.transact(req);
}

}  // namespace

std::optional<link_kind_info> link_kind(int index) {
  if (index <= 0) return std::nullopt;
  rtnl nl;
  nlmsghdr* req = nl.link_request(RTM_GETLINK, request_ack, index);
  mnl_attr_put_u32(req, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::optional<link_kind_info> info;
  int err = nl.transact(req, [&](const nlmsghdr& nlh) {
    if (nlh.nlmsg_type != RTM_NEWLINK) return;
    auto f = parse_link(nlh);
    info = link_kind_info{f.kind, f.lower};
  });
  if (err == ENODEV) return std::nullopt;
  if (err != 0) throw_system(err, "netlink RTM_GETLINK failed");
  return info;
}

std::string macvlan::name_for(int pid) { return std::string(name_prefix) + std::to_string(pid); }

std::optional<int> macvlan::pid_from_name(std::string_view name) {
  if (!name.starts_with(name_prefix)) return std::nullopt;
  auto digits = name.substr(name_prefix.size());
  int pid = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size() || pid <= 0) return std::nullopt;
  return pid;
}

wire::mac_addr macvlan::mac_for(const wire::ip_addr& addr) {
  // Locally administered (bit 1 of the first octet), unicast (bit 0 clear).
  if (addr.is_v4()) {
    const std::uint32_t v = addr.v4().value;
    return {{0x02, 0x53, static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
             static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}};
  }
  const auto& o = addr.v6().octets;
  return {{0x02, 0x56, o[12], o[13], o[14], o[15]}};
}

std::string macvlan::alias_for(int pid, unsigned long long start) {
  return rst_guard::comment_for(pid, start);  // "synack pid=PID start=TICKS", like the rule's comment
}

std::optional<unsigned long long> macvlan::start_from_alias(std::string_view alias, int pid) {
  int p = 0;
  unsigned long long start = 0;
  char extra = 0;
  if (std::sscanf(std::string(alias).c_str(), "synack pid=%d start=%llu%c", &p, &start, &extra) != 2 || p != pid)
    return std::nullopt;
  return start;
}

std::vector<macvlan_record> macvlan::list() {
  rtnl nl;
  auto links = dump_links(nl);
  std::map<int, std::string> names;
  for (const auto& l : links) names[l.index] = l.name;
  std::vector<macvlan_record> out;
  for (const auto& l : links) {
    auto pid = pid_from_name(l.name);
    if (!pid || l.kind != "macvlan") continue;
    macvlan_record r;
    r.name = l.name;
    r.index = l.index;
    if (auto it = names.find(l.lower); it != names.end()) r.parent = it->second;
    r.pid = *pid;
    // Without an alias (made by hand?) it counts as alive while the pid runs.
    const auto start = start_from_alias(l.alias, *pid);
    if (start) r.start = *start;
    r.alive = (!start || *start != 0) && owner_alive(*pid, start);
    out.push_back(std::move(r));
  }
  return out;
}

std::size_t macvlan::clean_stale() {
  std::size_t removed = 0;
  auto records = list();
  rtnl nl;
  for (const auto& r : records) {
    if (r.alive) continue;
    int err = delete_link(nl, r.index);
    if (err == 0 || err == ENODEV) ++removed;
    else if (err == EPERM || err == EACCES) throw setup_error(setup_errc::permission, permission_message);
  }
  return removed;
}

macvlan::macvlan(const interface_info& parent, wire::mac_addr mac) {
  if (parent.link_type != ARPHRD_ETHER || !parent.mac)
    throw setup_error(setup_errc::unknown_interface,
                      "--own-address needs an Ethernet interface to put a macvlan on, and '" + parent.name +
                          "' is not one (pick one with -I)");
  if (!parent.up)
    throw setup_error(setup_errc::interface_down,
                      "interface '" + parent.name + "' is down (ip link set " + parent.name + " up)");
  try {
    clean_stale();  // best effort: a SIGKILLed run's device, whose MAC may be ours
  } catch (const setup_error&) {
  }
  const int pid = static_cast<int>(::getpid());
  const std::string name = name_for(pid);
  rtnl nl;

  nlmsghdr* req = nl.link_request(RTM_NEWLINK, request_ack | NLM_F_CREATE | NLM_F_EXCL, 0);
  mnl_attr_put_strz(req, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(req, IFLA_LINK, static_cast<std::uint32_t>(parent.index));
  mnl_attr_put(req, IFLA_ADDRESS, mac.octets.size(), mac.octets.data());
  nlattr* info = mnl_attr_nest_start(req, IFLA_LINKINFO);
  mnl_attr_put_strz(req, IFLA_INFO_KIND, "macvlan");
  nlattr* data = mnl_attr_nest_start(req, IFLA_INFO_DATA);
  mnl_attr_put_u32(req, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
  mnl_attr_nest_end(req, data);
  mnl_attr_nest_end(req, info);
  const std::string what = "cannot create macvlan " + name + " on '" + parent.name + "'";
  switch (int err = nl.transact(req)) {
    case 0: break;
    case EPERM:
    case EACCES: throw setup_error(setup_errc::permission, permission_message);
    case EEXIST:
      throw setup_error(setup_errc::system, what + ": the name is in use (ip link del " + name + ")");
    case EADDRINUSE:
    case EBUSY:
      throw setup_error(setup_errc::system,
                        what + ": a device on that link already has MAC " + mac.to_string() +
                            ", which --own-address derives from the address: is another synack using it? "
                            "(synack rules show; or pick another address)");
    case EOPNOTSUPP:
      throw setup_error(setup_errc::system,
                        what + ": this kernel has no macvlan support (modprobe macvlan; CONFIG_MACVLAN)");
    default: throw_system(err, what);
  }
  name_ = name;
  owner_pid_ = pid;
  try {
    auto made = netlink().find_interface(name);
    if (!made) throw setup_error(setup_errc::system, what + ": it vanished right after it was made");
    index_ = made->index;

    // The owner's tag and IPv4 forwarding off on the device.
    req = nl.link_request(RTM_NEWLINK, request_ack, index_);
    const std::string alias = alias_for(pid, process_start_time(pid));
    mnl_attr_put_strz(req, IFLA_IFALIAS, alias.c_str());
    nlattr* af = mnl_attr_nest_start(req, IFLA_AF_SPEC);
    nlattr* inet = mnl_attr_nest_start(req, AF_INET);
    nlattr* conf = mnl_attr_nest_start(req, IFLA_INET_CONF);
    mnl_attr_put_u32(req, IPV4_DEVCONF_FORWARDING, 0);
    mnl_attr_nest_end(req, conf);
    mnl_attr_nest_end(req, inet);
    mnl_attr_nest_end(req, af);
    if (int err = nl.transact(req); err != 0) throw_system(err, "cannot configure " + name + " (alias, forwarding=0)");

    // IPv6: no addresses of its own (addr_gen_mode none: no link-local, no DAD, no router
    // solicitations), then off altogether. A kernel without IPv6 has neither (EAFNOSUPPORT).
    req = nl.link_request(RTM_NEWLINK, request_ack, index_);
    af = mnl_attr_nest_start(req, IFLA_AF_SPEC);
    nlattr* inet6 = mnl_attr_nest_start(req, AF_INET6);
    mnl_attr_put_u8(req, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    mnl_attr_nest_end(req, inet6);
    mnl_attr_nest_end(req, af);
    int err6 = nl.transact(req);
    if (err6 != 0 && err6 != EAFNOSUPPORT && err6 != EOPNOTSUPP)
      throw_system(err6, "cannot configure " + name + " (IPv6 addr_gen_mode none)");
    const std::string sysctl = "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6";
    if (::access(("/proc/sys/net/ipv6/conf/" + name).c_str(), F_OK) == 0) {
      std::ofstream out(sysctl);
      out << "1\n";
      out.flush();
      if (!out)
        throw setup_error(setup_errc::system,
                          "cannot write " + sysctl + " (IPv6 must be off on synack's macvlan: run as root)");
    }

    // Up.
    req = nl.link_request(RTM_NEWLINK, request_ack, index_);
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_get_payload(req));
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = IFF_UP;
    if (int err = nl.transact(req); err != 0) throw_system(err, "cannot set " + name + " up");
  } catch (...) {
    release();
    throw;
  }
}

macvlan macvlan::adopt(int index, std::string name) {
  macvlan m;
  m.index_ = index;
  m.name_ = std::move(name);
  return m;
}

macvlan::~macvlan() { release(); }

macvlan::macvlan(macvlan&& other) noexcept
    : index_(std::exchange(other.index_, 0)),
      name_(std::move(other.name_)),
      owner_pid_(std::exchange(other.owner_pid_, 0)) {}

macvlan& macvlan::operator=(macvlan&& other) noexcept {
  if (this != &other) {
    release();
    index_ = std::exchange(other.index_, 0);
    name_ = std::move(other.name_);
    owner_pid_ = std::exchange(other.owner_pid_, 0);
  }
  return *this;
}

void macvlan::release() noexcept {
  const int owner = std::exchange(owner_pid_, 0);
  if (owner == 0 || owner != static_cast<int>(::getpid())) return;  // adopted, or a forked child unwinding
  int err = 0;
  try {
    rtnl nl;
    err = delete_link(nl, index_, name_);
    if (err == ENODEV) err = 0;  // gone already
  } catch (const std::exception&) {
    err = EIO;
  }
  if (err != 0)
    std::fprintf(stderr, "synack: could not delete macvlan %s (%s); remove it with `synack rules clean` or `ip link del %s`\n",
                 name_.c_str(), std::strerror(err), name_.c_str());
}

}  // namespace synack::link
