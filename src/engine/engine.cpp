#include "synack/engine/engine.hpp"

#include <sys/random.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "synack/wire/arp.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/tcp.hpp"

namespace synack::engine {

namespace {

tcp::siphash_key random_key() {
  // RFC 6528's secret (and the SYN cookie secret): fresh random bytes per process.
  tcp::siphash_key key{};
  std::size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::getrandom(key.data() + got, key.size() - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  return key;
}

// A replayable secret for options::seed (splitmix64 over seed and salt), else random_key().
tcp::siphash_key key_for(const std::optional<std::uint64_t>& seed, std::uint64_t salt) {
  if (!seed) return random_key();
  std::uint64_t x = *seed ^ (salt * 0x9e3779b97f4a7c15ull);
  tcp::siphash_key key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (i % 8 == 0) {
      x += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      x = z ^ (z >> 31);
    }
    key[i] = static_cast<std::byte>(x >> (8 * (i % 8)));
  }
  return key;
}

// One iteration of a busy-wait loop: tells the CPU (and a hypervisor) that we are spinning.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

std::uint64_t random_seed(const std::optional<std::uint64_t>& seed) {
  if (seed) return *seed * 0x2545f4914f6cdd1dull + 3;
  std::uint64_t s = 0;
  if (::getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) s = 0x5eed;
  return s;
}

tcp::segment to_segment(const wire::tcp_repr& r) {
  tcp::segment s;
  s.seq_num = tcp::seq{r.seq};
  if (r.ack) s.ack_num = tcp::seq{*r.ack};
  s.syn = r.flags.syn;
  s.fin = r.flags.fin;
  s.rst = r.flags.rst;
  s.psh = r.flags.psh;
  s.window = r.window;
  s.options = r.options;
  s.payload = r.payload;
  return s;
}

wire::tcp_repr to_repr(const wire::four_tuple& t, const tcp::segment& s) {
  wire::tcp_repr r;
  r.src_port = t.local_port;
  r.dst_port = t.remote_port;
  r.seq = s.seq_num.value();
  if (s.ack_num) r.ack = s.ack_num->value();
  r.flags.syn = s.syn;
  r.flags.fin = s.fin;
  r.flags.rst = s.rst;
  r.flags.psh = s.psh;
  r.window = s.window;
  r.options = s.options;
  r.payload = s.payload;
  return r;
}

bool in_prefix(const wire::ipv6_addr& a, const wire::ipv6_addr& prefix, unsigned len) {
  for (unsigned i = 0; i < 16 && len > 0; ++i, len = len >= 8 ? len - 8 : 0) {
    const std::uint8_t mask = len >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - len));
    if ((a.octets[i] & mask) != (prefix.octets[i] & mask)) return false;
  }
  return true;
}

}  // namespace

// One connection and what the engine knows about it beyond the TCP core.
struct engine::entry {
  entry(const tcp::config& cfg, const tcp::isn_generator& isns, wire::four_tuple t, std::size_t& budget)
      : conn(cfg, isns, t), key(t), reserved(std::size_t{cfg.send_buffer} + cfg.recv_buffer), budget_used(&budget) {
    timer.owner = this;
    *budget_used += reserved;
  }
  ~entry() { *budget_used -= reserved; }
  entry(const entry&) = delete;
  entry& operator=(const entry&) = delete;
  tcp::connection conn;
  wire::four_tuple key;  // in conns_ (a child back in LISTEN has forgotten its remote end)
  wheel_hook timer;  // armed at conn.next_deadline(), re-armed by flush()
  wire::ip_addr next_hop;
  bool started = false;  // connect() called on the core (after the next hop resolved)
  bool dirty = false;
  // Passive opens: the child's place in its listener (the listener's port is the tuple's).
  // (Beside the flags: an idle connection's entry has no padding to spare.)
  enum class child_state : std::uint8_t { none, half_open, queued, accepted, dropped };
  child_state child = child_state::none;
  // instant::min() = not yet (8 bytes each instead of an optional's 16: entries are per connection).
  tcp::instant first_sent = tcp::instant::min();
  tcp::instant connected_at = tcp::instant::min();
  std::size_t reserved;      // its buffer caps, counted in the engine's budget while it lives
  std::size_t* budget_used;
};

// Frames queue while a hold is alive; the outermost hold sends them with one sendmmsg
// (options::tx_batching).
struct engine::tx_hold {
  engine& self;
  explicit tx_hold(engine& s) : self(s) { ++self.tx_hold_; }
  ~tx_hold() {
    if (--self.tx_hold_ == 0) self.kick();
  }
  tx_hold(const tx_hold&) = delete;
  tx_hold& operator=(const tx_hold&) = delete;
};

// A next hop we are resolving ourselves (the kernel's neighbour table had no entry).
struct engine::neighbour {
  std::optional<wire::mac_addr> mac;
  unsigned tries = 0;
  tcp::instant next_try{};
};

engine::engine(const options& opts, wire::ip_addr destination)
    : opts_(opts),
      netlink_(std::in_place),
      port_alloc_(link::port_range{1, 1}, 0, {}, false),
      isns_(key_for(opts.seed, 1)),
      tcp_cfg_(opts.tcp),
      tx_buf_(wire::ethernet_header_len + 60 + 65536),
      cookies_(key_for(opts.seed, 2)) {
  // This host: a destination the kernel owns (its route is type local) and no interface named, or
  // options::this_host. ::1 stays out of reach (the kernel drops it from any other device).
  if (opts_.own_address && opts_.this_host)
    throw link::setup_error(link::setup_errc::invalid_argument,
                            "--own-address (a host of its own on a link) and --this-host (a tun device for this host) "
                            "exclude each other");
  std::optional<link::route_info> route;
  bool own_destination = false;
  const bool unspecified = destination.is_v4() ? destination.v4().value == 0 : destination.v6().is_unspecified();
  try {
    // An unspecified hint (0.0.0.0 routes as local) names no destination: -I and --source say.
    if (unspecified && opts_.interface.empty() && !opts_.this_host)
      throw link::setup_error(link::setup_errc::no_route, "no destination to find the interface by: pass -I IFACE");
    if (!unspecified) route = netlink_->route_to(destination);
  } catch (const link::setup_error& e) {
    if (e.code() != link::setup_errc::own_address) throw;
    own_destination = true;
  }
  if (own_destination && opts_.own_address)
    throw link::setup_error(link::setup_errc::own_address,
                            destination.to_string() + " is an address of this host, which --own-address cannot reach "
                                                      "(a macvlan does not hear its parent's own host); leave out "
                                                      "--own-address: synack then reaches it through a tun device "
                                                      "of its own");
  if (opts_.this_host || (own_destination && opts_.interface.empty())) {
    open_this_host(destination);
    return;
  }
  if (own_destination)
    throw link::setup_error(link::setup_errc::own_address,
                            destination.to_string() + " is an address of this host: leave out -I " + opts_.interface +
                                " (synack then reaches it through a tun device of its own)");
  if (opts_.own_address) setup_own_address(destination);  // -> interface, source, no RST guard
  // Interface: the named one, else the one the route to the destination leaves by.
  if (!opts_.interface.empty()) {
    iface_ = netlink_->interface_by_name(opts_.interface);
  } else {
    if (!route)
      throw link::setup_error(link::setup_errc::no_route,
                              "no route to " + destination.to_string() + " (check `ip route`, or pass -I IFACE)");
    iface_ = netlink_->interface_by_index(route->ifindex);
  }
  check_link_type("");
  if (!iface_.up)
    throw link::setup_error(link::setup_errc::interface_down,
                            "interface '" + iface_.name + "' is down (ip link set " + iface_.name + " up)");
  if (iface_.mac) mac_ = *iface_.mac;

  // Source address of the destination's family: --source, else the route's preferred source,
  // else the interface's first. The other family: the interface's first usable address, if any.
  const bool v6 = destination.is_v6();
  if (opts_.source && opts_.source->is_v6() != v6)
    throw link::setup_error(link::setup_errc::no_route, "--source " + opts_.source->to_string() + " and " +
                                                            destination.to_string() + " are of different families");
  std::optional<wire::ip_addr> src;
  if (opts_.source)
    src = *opts_.source;
  else if (route && route->ifindex == iface_.index && route->source && route->source->is_v6() == v6)
    src = *route->source;
  if (!v6) {
    if (!src && !iface_.addresses.empty()) src = wire::ip_addr{iface_.addresses.front().addr};
    if (!src)
      throw link::setup_error(link::setup_errc::no_route, "interface '" + iface_.name +
                                                              "' has no IPv4 address (pass --source IP)");
    local4_ = src->v4();
    // The second family: the interface's first global IPv6 address, if any (no destination, so no
    // route to ask; a link-local one would not do for peers beyond the link).
    if (auto a = link::first_global_ipv6(iface_)) local6_ = *a;
  } else {
    if (!src)
      if (auto a = link::ipv6_source(iface_, route, destination.v6())) src = wire::ip_addr{*a};
    if (!src)
      throw link::setup_error(link::setup_errc::no_route,
                              "interface '" + iface_.name +
                                  "' has no usable IPv6 address (none, or still tentative: add it with `nodad`, "
                                  "or pass --source IPv6)");
    local6_ = src->v6();
    if (!iface_.addresses.empty()) local4_ = iface_.addresses.front().addr;
  }
  primary_ = *src;
  if (local4_)
    local_is_kernel_address_ = std::any_of(iface_.addresses.begin(), iface_.addresses.end(),
                                           [&](const link::ipv4_prefix& p) { return p.addr == *local4_; });
  if (local6_)
    local6_is_kernel_address_ = std::any_of(iface_.addresses6.begin(), iface_.addresses6.end(),
                                            [&](const link::ipv6_prefix& p) { return p.addr == *local6_; });

  configure_tcp();

  ports_ = opts_.ports ? *opts_.ports : link::default_port_range();
  // Its constructor reads the kernel's ports (each /proc/net/tcp read walks the whole
  // established hash, ~2 ms per read() here): no second refresh.
  port_alloc_ = link::port_allocator(ports_, random_seed(opts_.seed));

  // Order matters: the guard is in place before anything can make the kernel answer.
  if (opts_.rst_guard) {
    if (!local4_) {
      guard_.emplace(wire::ip_addr{*local6_}, ports_);
    } else if (!local6_ || destination.is_v6()) {
      guard_.emplace(*local4_, ports_, local6_);
    } else {
      // IPv6 is the second family here: without its rule (no ip6tables, no IPv6 netfilter) the
      // engine carries on with IPv4 only rather than refuse the IPv4 run it was asked for.
      try {
        guard_.emplace(*local4_, ports_, local6_);
      } catch (const link::setup_error& e) {
        const std::string why = e.what();
        guard_.emplace(*local4_, ports_);  // throws its own error if IPv4 fails too (no iptables)
        std::fprintf(stderr, "synack: IPv6 disabled for this run (its RST guard failed: %s)\n", why.c_str());
        local6_.reset();
      }
    }
  }
  link::packet_socket::options so;
  so.ifindex = iface_.index;
  if (local4_) so.local_addr = *local4_;
  so.local_addr6 = local6_;
  so.ports = ports_;
  so.qdisc_bypass = opts_.qdisc_bypass;
  so.rx_ring_bytes = opts_.rx_ring_bytes;
  so.rx_frame_size = opts_.rx_frame_size;
  so.tx_timestamps = opts_.tx_timestamps;
  so.tx_keep_going = true;  // one failed frame of a batch does not drop the others
  so.icmp_errors = opts_.icmp;
  so.l3 = l3_;
  io_ = std::make_unique<link::packet_socket>(so);
  sanitize_icmp_limits(opts_);
  icmp_tokens_ = opts_.icmp_burst;
  icmp_stamp_ = clock_now();
  if (macvlan_) own_address_ready();
}

engine::engine(const options& opts, std::unique_ptr<link::frame_io> io, const link::link_facts& facts)
    : opts_(opts),
      gateway_(facts.gateway),
      port_alloc_(link::port_range{1, 1}, 0, {}, false),
      isns_(key_for(opts.seed, 1)),
      tcp_cfg_(opts.tcp),
      tx_buf_(wire::ethernet_header_len + 60 + 65536),
      cookies_(key_for(opts.seed, 2)) {
  if (!io) throw std::invalid_argument("engine: no frame_io");
  if (facts.prefix_len > 32) throw std::invalid_argument("engine: prefix length above 32");
  iface_.index = 0;
  iface_.name = opts_.interface.empty() ? "frame_io" : opts_.interface;
  iface_.mac = facts.mac;
  iface_.mtu = facts.mtu;
  iface_.up = iface_.running = true;
  iface_.link_type = 1;  // ARPHRD_ETHER
  iface_.addresses = {link::ipv4_prefix{facts.address, facts.prefix_len}};
  mac_ = facts.mac;
  local4_ = facts.address;
  primary_ = facts.address;
  local_is_kernel_address_ = false;  // no kernel behind this link: we answer ARP for it
  if (facts.address6) {
    if (facts.prefix6_len > 128) throw std::invalid_argument("engine: IPv6 prefix length above 128");
    local6_ = *facts.address6;
    prefix6_len_ = facts.prefix6_len;
    gateway6_ = facts.gateway6;
    local6_is_kernel_address_ = false;  // ... and neighbour solicitations
  }
  configure_tcp();
  ports_ = opts_.ports ? *opts_.ports : link::port_range{61000, 65535};
  port_alloc_ = link::port_allocator(ports_, random_seed(opts_.seed), {}, false);
  io_ = std::move(io);
  sanitize_icmp_limits(opts_);
  icmp_tokens_ = opts_.icmp_burst;
  icmp_stamp_ = clock_now();
}

void engine::check_link_type(const std::string&) {
  // ARPHRD_* (<linux/if_arp.h>): Ethernet and what stacks on it (VLAN, macvlan, veth, bridge, tap,
  // vxlan all report ARPHRD_ETHER: their frames arrive untagged); L3 links without a link-layer
  // header: ARPHRD_NONE (tun: WireGuard, OpenVPN, Tailscale), ARPHRD_RAWIP (cellular modems).
  switch (iface_.link_type) {
    case 1:  // ARPHRD_ETHER
      if (!iface_.mac)
        throw link::setup_error(link::setup_errc::unsupported_link,
                                "interface '" + iface_.name + "' is Ethernet but has no address");
      return;
    case 65534:  // ARPHRD_NONE
    case 519:    // ARPHRD_RAWIP
      l3_ = true;
      return;
    default: break;
  }
  std::string type;
  switch (iface_.link_type) {
    case 772: type = "ARPHRD_LOOPBACK (loopback: leave out -I to reach this host; synack then uses a tun device "
                     "of its own)"; break;
    case 768: type = "ARPHRD_TUNNEL (ipip)"; break;
    case 769: type = "ARPHRD_TUNNEL6 (ip6tnl)"; break;
    case 776: type = "ARPHRD_SIT (sit)"; break;
    case 778: type = "ARPHRD_IPGRE (gre)"; break;
    case 823: type = "ARPHRD_IP6GRE (ip6gre)"; break;
    case 512: type = "ARPHRD_PPP (ppp)"; break;
    case 824: type = "ARPHRD_NETLINK (nlmon)"; break;
    case 801: type = "ARPHRD_IEEE80211 (wireless monitor)"; break;
    case 803: type = "ARPHRD_IEEE80211_RADIOTAP (wireless monitor)"; break;
    case 32: type = "ARPHRD_INFINIBAND"; break;
    case 280: type = "ARPHRD_CAN"; break;
    default: type = "ARPHRD " + std::to_string(iface_.link_type); break;
  }
  throw link::setup_error(link::setup_errc::unsupported_link,
                          "interface '" + iface_.name + "' has link type " + type +
                              ", which synack cannot use: it speaks over Ethernet-like links and over L3 links "
                              "without a link-layer header (tun, WireGuard); pick another interface with -I");
}

void engine::open_this_host(wire::ip_addr destination) {
  if (destination.is_v6() && destination.v6().is_loopback())
    throw link::setup_error(link::setup_errc::own_address,
                            "::1 cannot be reached from synack's device: the kernel drops ::1 arriving on any device "
                            "but lo (RFC 4291); use one of this host's other IPv6 addresses, or 127.0.0.1");
  std::optional<wire::ip_addr> want = opts_.source;
  link::this_host_link th = link::open_this_host(*netlink_, want, opts_.this_host_mtu);
  iface_ = th.iface;
  l3_ = true;
  this_host_ = true;
  mac_ = wire::mac_addr{};
  local4_ = th.address;
  local6_ = th.address6;
  local_is_kernel_address_ = false;
  local6_is_kernel_address_ = false;
  if (destination.is_v6() && !local6_)
    throw link::setup_error(link::setup_errc::no_route,
                            "IPv6 is off in this network namespace: synack's tun device got no IPv6 address");
  primary_ = destination.is_v6() ? wire::ip_addr{*local6_} : wire::ip_addr{*local4_};
  configure_tcp();
  ports_ = opts_.ports ? *opts_.ports : link::default_port_range();
  // synack's address is its own: no kernel socket shares its ports, no RST guard is needed.
  port_alloc_ = link::port_allocator(ports_, random_seed(opts_.seed), {}, false);
  io_ = std::move(th.device);
  sanitize_icmp_limits(opts_);
  icmp_tokens_ = opts_.icmp_burst;
  icmp_stamp_ = clock_now();
}

void engine::configure_tcp() {
  // The MSS we offer follows the interface's MTU (IPv4 and TCP headers without options).
  if (iface_.mtu > 40)
    tcp_cfg_.mss = static_cast<std::uint16_t>(std::min<unsigned>(tcp_cfg_.mss, iface_.mtu - 40));
  // The receive window we offer stays within what the ring holds between two drains (slots x MSS):
  // a larger window only lets a fast peer overflow the ring (its frames are lost, it retransmits).
  // Connections given their own config (the Asio front end's connect) size it themselves.
  std::size_t slots = std::max<std::size_t>(opts_.rx_ring_bytes / std::max<std::size_t>(opts_.rx_frame_size, 2048), 8);
  tcp_cfg_.recv_buffer = static_cast<std::uint32_t>(std::min<std::size_t>(tcp_cfg_.recv_buffer, slots * tcp_cfg_.mss));
  tcp_cfg_.recv_buffer_initial = std::min(tcp_cfg_.recv_buffer_initial, tcp_cfg_.recv_buffer);
}

engine::~engine() = default;

bool engine::on_link(const wire::ip_addr& a) const {
  if (a.is_v4()) {
    for (const auto& p : iface_.addresses) {
      std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
      if ((p.addr.value & mask) == (a.v4().value & mask)) return true;
    }
    return false;
  }
  if (a.v6().is_link_local()) return true;  // fe80::/10 is on every link
  if (!netlink_) return local6_ && in_prefix(a.v6(), *local6_, prefix6_len_);
  for (const auto& p : iface_.addresses6)
    if (in_prefix(a.v6(), p.addr, p.len)) return true;
  return false;
}

std::uint16_t engine::mss_for(const wire::ip_addr& dst) const {
  // tcp_cfg_.mss is for IPv4 (MTU - 40); IPv6 headers take 20 bytes more.
  return dst.is_v6() ? std::min(tcp_cfg_.mss, tcp::mss_for_mtu(iface_.mtu, true)) : tcp_cfg_.mss;
}

wire::ip_addr engine::local_for(const wire::ip_addr& remote) const {
  if (remote.is_v4() && local4_) return *local4_;
  if (remote.is_v6() && local6_) return *local6_;
  throw link::setup_error(link::setup_errc::no_route,
                          "no " + std::string(remote.is_v4() ? "IPv4" : "usable IPv6") + " address on '" +
                              iface_.name + "' to reach " + remote.to_string());
}

wire::ip_addr engine::next_hop_for(const wire::ip_addr& dst) {
  if (auto it = next_hops_.find(dst); it != next_hops_.end()) return it->second;
  wire::ip_addr hop = dst;
  if (l3_) return hop;  // a point-to-point link: everything goes through it
  if (!on_link(dst)) {
    if (!netlink_) {
      // A link we were handed: its gateway, if it has one.
      const std::optional<wire::ip_addr> gw =
          dst.is_v4() ? (gateway_ ? std::optional<wire::ip_addr>{*gateway_} : std::nullopt)
                      : (gateway6_ ? std::optional<wire::ip_addr>{*gateway6_} : std::nullopt);
      if (!gw)
        throw link::setup_error(link::setup_errc::no_route, "no route to " + dst.to_string() +
                                                                " (off-link and the link has no gateway)");
      hop = *gw;
    } else {
      const auto route = netlink_->route_to(dst);
      if (!route)
        throw link::setup_error(link::setup_errc::no_route, "no route to " + dst.to_string() + " (check `ip route`)");
      if (own_parent_index_ != 0 && route->ifindex != own_parent_index_ && route->ifindex != iface_.index)
        throw link::setup_error(link::setup_errc::no_route,
                                dst.to_string() + " is not routed via the own address's link (check `ip route get " +
                                    dst.to_string() + "`, or pass -I IFACE)");
      if (route->next_hop) hop = *route->next_hop;  // off-link: the gateway's MAC, never the target's
    }
  }
  next_hops_.emplace(dst, hop);
  return hop;
}

// The route's MTU (`ip route ... mtu N`, or a path MTU the kernel learned) and advmss cap the MSS
// of connections to it, as Linux's dst metrics do (tcp_connect_init).
void engine::read_route_metrics(const wire::ip_addr& dst, tcp::instant t) {
  if (!netlink_ || this_host_) return;  // this host's routes lead to lo, not through synack's tun
  if (auto r = route_mss_.find(dst); r != route_mss_.end() && r->second.expires > t) return;
  std::uint32_t mss = 0;  // 0: the route sets neither
  try {
    if (const auto route = netlink_->route_to(dst); route && (route->mtu || route->advmss)) {
      mss = 0xffff;
      if (route->mtu) mss = std::min<std::uint32_t>(mss, tcp::mss_for_mtu(*route->mtu, dst.is_v6()));
      if (route->advmss && *route->advmss > 0) mss = std::min<std::uint32_t>(mss, *route->advmss);
      mss = std::max<std::uint32_t>(mss, 64);
    }
  } catch (const link::setup_error&) {
    // no route: next_hop_for says so to the caller
  }
  sweep_path_caches(t);
  route_mss_[dst] = {static_cast<std::uint16_t>(mss), t + std::chrono::minutes(1)};
}

// At the bound, expired entries go; if that is not a quarter, arbitrary ones follow until a quarter
// is free (so a full cache costs one pass per max_cached_paths / 4 insertions, not per insertion).
void engine::sweep_path_caches(tcp::instant t) {
  auto sweep = [t](auto& cache) {
    if (cache.size() < max_cached_paths) return;
    std::erase_if(cache, [t](const auto& kv) { return kv.second.expires <= t; });
    while (cache.size() > max_cached_paths * 3 / 4) cache.erase(cache.begin());
  };
  sweep(route_mss_);
  sweep(pmtu_cache_);
}

tcp::config engine::config_for(const tcp::config& base, wire::ip_addr dst, tcp::instant t) {
  tcp::config c = base;
  if (dst.is_v6()) c.mss = std::min(c.mss, tcp::mss_for_mtu(iface_.mtu, true));  // IPv6 headers: 20 more
  if (auto r = route_mss_.find(dst); r != route_mss_.end() && r->second.mss != 0 && r->second.expires > t)
    c.mss = std::min(c.mss, r->second.mss);
  if (auto p = pmtu_cache_.find(dst); p != pmtu_cache_.end()) {
    if (p->second.expires <= t)
      pmtu_cache_.erase(p);
    else
      c.mss = std::min(c.mss, tcp::mss_for_mtu(p->second.mtu, dst.is_v6()));
  }
  return c;
}

std::optional<std::uint16_t> engine::cached_path_mtu(wire::ip_addr dst) const {
  auto p = pmtu_cache_.find(dst);
  if (p == pmtu_cache_.end() || p->second.expires <= clock_now()) return std::nullopt;
  return p->second.mtu;
}

// Linux __ip_rt_update_pmtu: only ever lowered (a higher MTU waits for the entry to expire); the
// same MTU again refreshes the expiry once less than half of it is left.
void engine::learn_path_mtu(wire::ip_addr dst, std::uint16_t mtu, tcp::instant t) {
  if (mtu >= iface_.mtu) return;
  sweep_path_caches(t);
  auto [p, fresh] = pmtu_cache_.try_emplace(dst, pmtu_entry{mtu, t + opts_.pmtu_expires});
  if (fresh) return;
  pmtu_entry& e = p->second;
  if (e.expires <= t || mtu < e.mtu || (mtu == e.mtu && e.expires - t < opts_.pmtu_expires / 2))
    e = {mtu, t + opts_.pmtu_expires};
}

wire::four_tuple engine::connect(wire::ip_addr dst, std::uint16_t port) {
  return connect(dst, port, tcp_cfg_);
}

wire::four_tuple engine::connect(wire::ip_addr dst, std::uint16_t port, const tcp::config& cfg) {
  tcp::instant t = clock_now();
  const wire::ip_addr local = local_for(dst);  // throws before anything is taken
  if (table_full())
    throw std::runtime_error("connection table full (" + std::to_string(opts_.max_connections) +
                             " connections, the engine's max_connections)");
  auto granted = grant_buffers(cfg);
  if (!granted)
    throw std::runtime_error("buffer budget used up (" + std::to_string(opts_.max_buffered_bytes) +
                             " bytes, the engine's max_buffered_bytes)");
  auto lport = port_alloc_.acquire();
  if (!lport) throw std::runtime_error("no free local port in " + std::to_string(ports_.lo) + "-" +
                                       std::to_string(ports_.hi) + " (widen --ports)");
  wire::four_tuple tuple{local, *lport, dst, port};
  std::unique_ptr<entry> e;
  try {
    const wire::ip_addr hop = next_hop_for(dst);
    read_route_metrics(dst, t);
    e = std::make_unique<entry>(config_for(*granted, dst, t), isns_, tuple, buffer_reserved_);
    e->next_hop = hop;
  } catch (...) {
    port_alloc_.release(*lport);  // no route (or no memory): the port is not leaked
    throw;
  }
  entry& ref = *e;
  conns_.emplace(tuple, std::move(e));
  resolve(ref.next_hop, t);
  auto& n = neighbours_[ref.next_hop];
  if (n.mac) {
    ref.conn.connect(t);
    ref.started = true;
    mark_dirty(ref);
  }
  flush(t);
  return tuple;
}

tcp::connection* engine::find(const wire::four_tuple& t) {
  auto it = conns_.find(t);
  return it == conns_.end() ? nullptr : &it->second->conn;
}

std::optional<tcp::instant> engine::first_sent(const wire::four_tuple& t) const {
  auto it = conns_.find(t);
  if (it == conns_.end() || it->second->first_sent == tcp::instant::min()) return std::nullopt;
  return it->second->first_sent;
}

std::optional<tcp::instant> engine::connected_at(const wire::four_tuple& t) const {
  auto it = conns_.find(t);
  if (it == conns_.end() || it->second->connected_at == tcp::instant::min()) return std::nullopt;
  return it->second->connected_at;
}

void engine::close(const wire::four_tuple& t) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return;
  const tcp::instant now = clock_now();
  it->second->conn.close();
  it->second->conn.orphan(now);
  mark_dirty(*it->second);
  flush(now);
}

void engine::shutdown_send(const wire::four_tuple& t) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return;
  it->second->conn.close();
  mark_dirty(*it->second);
  flush(clock_now());
}

void engine::abort(const wire::four_tuple& t) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return;
  if (!it->second->started) {
    // Still resolving the next hop: nothing was sent, nothing to reset.
    events_.emplace_back(t, tcp::event{tcp::event::kind::closed, tcp::state::closed, tcp::state::closed, {}});
    it->second->started = true;  // so flush() retires it
  }
  it->second->conn.abort();
  mark_dirty(*it->second);
  flush(clock_now());
}

std::size_t engine::send(const wire::four_tuple& t, std::span<const std::byte> data) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return 0;
  std::size_t n = it->second->conn.send(data);
  mark_dirty(*it->second);
  flush(clock_now());
  return n;
}

void engine::modify(const wire::four_tuple& t, const std::function<void(tcp::connection&)>& f) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return;
  f(it->second->conn);
  mark_dirty(*it->second);
  flush(clock_now());
}

std::size_t engine::receive(const wire::four_tuple& t, std::span<std::byte> out) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return 0;
  std::size_t n = it->second->conn.receive(out);
  if (n > 0) {
    mark_dirty(*it->second);
    flush(clock_now());
  }
  return n;
}

// --- crafted segments ---------------------------------------------------------------------------

std::optional<std::uint16_t> engine::reserve_port() { return port_alloc_.acquire(); }

void engine::release_port(std::uint16_t port) { port_alloc_.release(port); }

std::error_code engine::send_segment(wire::ip_addr dst, const wire::tcp_repr& seg, const raw_ip_fields& f) {
  if (!ports_.contains(seg.src_port))
    throw std::invalid_argument("port " + std::to_string(seg.src_port) + " is outside synack's ports " +
                                std::to_string(ports_.lo) + "-" + std::to_string(ports_.hi));
  const tcp::instant t = clock_now();
  const wire::ip_addr local = local_for(dst);
  const wire::ip_addr hop = next_hop_for(dst);
  resolve(hop, t);
  auto n = neighbours_.find(hop);
  if (n == neighbours_.end() || !n->second.mac) return std::make_error_code(std::errc::operation_would_block);
  std::span<std::byte> out;
  if (dst.is_v4()) {
    wire::ipv4_repr ip;
    ip.src = local.v4();
    ip.dst = dst.v4();
    ip.protocol = wire::ip_protocol::tcp;
    ip.ttl = f.ttl;
    ip.dscp_ecn = f.dscp_ecn;
    ip.identification = f.identification;
    ip.dont_fragment = f.dont_fragment;
    ip.payload_len = static_cast<std::uint16_t>(seg.buffer_len());
    out = std::span<std::byte>{tx_buf_.data(), wire::ethernet_header_len + ip.buffer_len()};
    wire::emit_ethernet(out, *n->second.mac, mac_, wire::ethertype::ipv4);
    ip.emit(out.subspan(wire::ethernet_header_len));
    seg.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), local, dst);
  } else {
    wire::ipv6_repr ip;
    ip.src = local.v6();
    ip.dst = dst.v6();
    ip.next_header = wire::ip_protocol::tcp;
    ip.hop_limit = f.ttl;
    ip.traffic_class = f.dscp_ecn;
    ip.flow_label = f.flow_label & wire::ipv6_view::flow_label_mask;
    ip.payload_len = static_cast<std::uint16_t>(seg.buffer_len());
    out = std::span<std::byte>{tx_buf_.data(), wire::ethernet_header_len + ip.buffer_len()};
    wire::emit_ethernet(out, *n->second.mac, mac_, wire::ethertype::ipv6);
    ip.emit(out.subspan(wire::ethernet_header_len));
    seg.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), local, dst);
  }
  if (on_segment_)
    on_segment_(direction::out, t, wire::four_tuple{local, seg.src_port, dst, seg.dst_port}, to_segment(seg),
                tcp::state::closed);
  send_frame(out, t);
  return {};
}

// --- the loop --------------------------------------------------------------------------------

std::optional<tcp::instant> engine::next_deadline() const {
  // Connections: the wheel. Neighbours being resolved by our own ARP: few, scanned.
  std::optional<tcp::instant> d = wheel_.next_deadline();
  auto consider = [&](tcp::instant t) {
    if (!d || t < *d) d = t;
  };
  for (const auto& [a, n] : neighbours_)
    if (!n.mac && n.tries > 0) consider(n.next_try);
  if (link_down_) consider(next_link_check_);
  return d;
}

void engine::run_once(std::chrono::nanoseconds max_wait) {
  tcp::instant t = clock_now();
  {
    tx_hold held{*this};
    fire_timers(t);
    flush(t);
    dispatch();  // what earlier calls queued: delivered before the wait, not after it
  }

  if (!io_->ready()) {
    auto wait = max_wait;
    if (auto d = next_deadline()) wait = std::clamp(*d - t, std::chrono::nanoseconds{0}, max_wait);
    if (wait > std::chrono::nanoseconds{0} && opts_.busy_poll > std::chrono::nanoseconds{0}) {
      // Busy polling: watch the ring's status word (no system call) for up to the budget, then
      // sleep for what is left of the wait.
      const auto spin = std::min(wait, opts_.busy_poll);
      const auto start = clock::now();
      auto spun = std::chrono::nanoseconds{0};
      while (!io_->ready()) {
        for (int i = 0; i < 64 && !io_->ready(); ++i) cpu_relax();
        spun = clock::now() - start;
        if (spun >= spin) break;
      }
      wait = io_->ready() ? std::chrono::nanoseconds{0} : wait - std::min(wait, spun);
    }
    if (wait > std::chrono::nanoseconds{0}) io_->wait_readable(wait);
  }

  t = clock_now();
  tx_hold held{*this};
  io_->receive([&](const link::rx_frame& f) { handle_frame(f, t); }, 256);
  check_link(t, false);  // wait_readable() kept the socket's error
  drain_tx_timestamps();
  fire_timers(t);
  flush(t);
  dispatch();
}

std::optional<std::uint32_t> engine::next_tx_id() const {
  if (!io_->tx_timestamps()) return std::nullopt;
  // Frames queued for the next kick() take their ids first.
  return io_->next_tx_id() + static_cast<std::uint32_t>(io_->queued());
}

void engine::drain_tx_timestamps() {
  // Reports left queued keep the socket polling with POLLERR: read them after every wait.
  io_->read_tx_timestamps([&](std::uint32_t id, std::chrono::nanoseconds at) {
    if (on_tx_timestamp_) on_tx_timestamp_(id, at);
  });
}

void engine::process(tcp::instant t) {
  tx_hold held{*this};
  // Drain in batches until the ring is empty, so one wake-up never leaves frames behind.
  std::size_t frames = 0;
  for (std::size_t n; (n = io_->receive([&](const link::rx_frame& f) { handle_frame(f, t); }, 256)) > 0;) {
    frames += n;
    if (n < 256) break;
  }
  check_link(t, frames == 0);  // woken without a frame: maybe the socket's error (POLLERR)
  drain_tx_timestamps();
  fire_timers(t);
  flush(t);
  dispatch();
}

void engine::fire_timers(tcp::instant t) {
  due_.clear();
  wheel_.expire(t, due_);
  for (wheel_hook* h : due_) {
    entry& e = *static_cast<entry*>(h->owner);
    e.conn.on_timer(t);
    mark_dirty(e);  // flush() re-arms it from next_deadline()
  }
  std::vector<wire::ip_addr> failed;
  for (auto& [addr, n] : neighbours_) {
    if (n.mac || n.tries == 0 || n.next_try > t) continue;
    if (n.tries >= opts_.arp_tries) {
      failed.push_back(addr);
    } else {
      send_solicitation(addr);
      ++n.tries;
      n.next_try = t + opts_.arp_interval;
    }
  }
  for (auto hop : failed) neighbour_failed(hop);  // erases from neighbours_: not while iterating
}

void engine::mark_dirty(entry& e) {
  if (!e.dirty) {
    e.dirty = true;
    dirty_.push_back(&e);
  }
}

void engine::flush(tcp::instant t) {
  // Sends what the touched connections owe, collects their events, re-arms their timers. It never
  // delivers an event: that is dispatch()'s job (the re-entrancy rule in engine.hpp).
  tx_hold held{*this};
  for (std::size_t i = 0; i < dirty_.size(); ++i) {  // transmit() may not add entries; index anyway
    entry* e = dirty_[i];
    e->dirty = false;
    if (e->child != entry::child_state::none) update_child(*e);
    if (e->started) transmit(*e, t);
    bool overflow = false;
    while (auto ev = e->conn.poll_event()) {
      if (ev->what == tcp::event::kind::error && e->conn.error_from_icmp())
        if (auto o = icmp_origins_.find(e->key); o != icmp_origins_.end()) ev->icmp = o->second;
      if (ev->what == tcp::event::kind::state_changed) {
        if (ev->to == tcp::state::time_wait) {
          // Linux tcp_time_wait(): beyond tcp_max_tw_buckets the socket is destroyed instead
          // (its last ACK went out above, in transmit()). One with bytes its owner has not read
          // yet keeps its TIME_WAIT (retiring it would lose them; Linux's owner still holds them).
          if (time_wait_count_ >= opts_.max_time_wait && e->conn.available() == 0)
            overflow = true;
          else
            ++time_wait_count_;
        } else if (ev->from == tcp::state::time_wait && !overflow) {
          --time_wait_count_;
        }
      }
      events_.emplace_back(e->key, *ev);
    }
    if (overflow && e->conn.current_state() == tcp::state::time_wait) {
      ++stats_.time_wait_overflow;
      events_.emplace_back(e->key, tcp::event{tcp::event::kind::closed, tcp::state::time_wait, tcp::state::closed, {}});
      overflowed_.push_back(e->key);  // retired below: dirty_ is still being walked
      continue;
    }
    wheel_.schedule(e->timer, e->conn.next_deadline());
    if (e->reserved != 0 && e->conn.current_state() == tcp::state::time_wait) {
      // TIME_WAIT moves no data: its buffer caps go back to max_buffered_bytes' budget.
      *e->budget_used -= e->reserved;
      e->reserved = 0;
    }
  }
  dirty_.clear();
  for (const auto& key : overflowed_)
    if (auto it = conns_.find(key); it != conns_.end() && it->second->conn.current_state() == tcp::state::time_wait) {
      ++time_wait_count_;  // never counted: retire() takes it off again
      retire(it);
    }
  overflowed_.clear();
}

void engine::dispatch() {
  // One loop, never nested: a handler's engine calls queue events behind the current batch, and
  // this loop delivers them once the handler has returned.
  if (dispatching_) return;
  dispatching_ = true;
  struct reset {
    bool& flag;
    ~reset() { flag = false; }
  } reset_flag{dispatching_};
  tx_hold held{*this};
  std::vector<std::pair<wire::four_tuple, tcp::event>> batch;
  batch.swap(spare_batch_);
  while (!events_.empty() || !acceptable_.empty()) {
    batch.clear();
    batch.swap(events_);  // events_ keeps the last batch's capacity
    for (const auto& [tuple, ev] : batch) {
      if (ev.what == tcp::event::kind::error) {
        if (ev.ec == std::errc::connection_reset)
          ++stats_.connections_reset;
        else if (ev.ec == std::errc::timed_out)
          ++stats_.connections_timed_out;
        else if (ev.ec == std::errc::connection_refused)
          ++stats_.connections_refused;
        else
          ++stats_.connections_failed_other;
      }
      if (on_event_) on_event_(tuple, ev);
    }
    // Retire the connections that reached CLOSED, now that their owners have seen it.
    for (const auto& [tuple, ev] : batch) {
      if (ev.what != tcp::event::kind::closed && ev.what != tcp::event::kind::error) continue;
      auto it = conns_.find(tuple);
      if (it == conns_.end() || it->second->dirty) continue;
      if (it->second->conn.current_state() != tcp::state::closed) continue;
      retire(it);
    }
    if (!acceptable_.empty()) {
      accepting_.clear();
      accepting_.swap(acceptable_);
      for (std::uint16_t p : accepting_)
        if (on_acceptable_) on_acceptable_(p);
    }
  }
  batch.clear();
  spare_batch_.swap(batch);  // keep the capacity: no allocation per round
}

void engine::retire(decltype(conns_)::iterator it) {
  const wire::four_tuple tuple = it->first;
  entry& e = *it->second;
  if (e.conn.current_state() == tcp::state::time_wait) --time_wait_count_;  // counted by flush()
  if (e.child == entry::child_state::none) {
    port_alloc_.release(tuple.local_port);
  } else if (e.child == entry::child_state::queued) {
    // Reset or timed out before accept(): it leaves the accept queue (Linux would still
    // hand it out, with the error on the first read; nothing is lost by skipping it).
    if (auto l = listeners_.find(tuple.local_port); l != listeners_.end()) {
      auto& q = l->second.accept_queue;
      q.erase(std::remove(q.begin(), q.end(), tuple), q.end());
      l->second.stats.accept_queue = q.size();
    }
  }
  if (e.child != entry::child_state::none) {
    if (auto l = listeners_.find(tuple.local_port); l != listeners_.end() && l->second.last_cookie) {
      const tcp::instant now = clock_now();
      const auto lifetime = tcp::syn_cookie::period * tcp::syn_cookie::max_age;
      if (now - *l->second.last_cookie < lifetime) remember_closed(tuple, now + lifetime);
    }
  }
  if (e.dirty) dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &e), dirty_.end());
  wheel_.cancel(e.timer);
  retired_tcp_.add(e.conn.stats());
  if (!icmp_origins_.empty()) icmp_origins_.erase(tuple);
  conns_.erase(it);
}

void engine::remember_closed(const wire::four_tuple& t, tcp::instant until) {
  const tcp::instant now = clock_now();
  while (!recently_closed_order_.empty() &&
         (recently_closed_order_.size() >= max_recently_closed || recently_closed_order_.front().second <= now)) {
    const auto& [old, when] = recently_closed_order_.front();
    if (auto it = recently_closed_.find(old); it != recently_closed_.end() && it->second == when)
      recently_closed_.erase(it);
    recently_closed_order_.pop_front();
  }
  recently_closed_[t] = until;
  recently_closed_order_.emplace_back(t, until);
}

void engine::transmit(entry& e, tcp::instant t) {
  auto& n = neighbours_[e.next_hop];
  if (!n.mac) return;
  while (auto seg = e.conn.poll_transmit(t)) {
    if (e.first_sent == tcp::instant::min()) e.first_sent = clock_now();
    emit_segment(e.conn.tuple(), *n.mac, *seg, e.conn.current_state(), t);
  }
}

void engine::emit_segment(const wire::four_tuple& t, const wire::mac_addr& dst_mac, const tcp::segment& seg,
                          tcp::state st, tcp::instant now_) {
  wire::tcp_repr tcp = to_repr(t, seg);
  std::span<std::byte> out;
  if (t.remote_addr.is_v4()) {
    wire::ipv4_repr ip;
    ip.src = t.local_addr.v4();
    ip.dst = t.remote_addr.v4();
    ip.protocol = wire::ip_protocol::tcp;
    ip.identification = ip_id_++;
    ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
    out = std::span<std::byte>{tx_buf_.data(), wire::ethernet_header_len + ip.buffer_len()};
    wire::emit_ethernet(out, dst_mac, mac_, wire::ethertype::ipv4);
    ip.emit(out.subspan(wire::ethernet_header_len));
    tcp.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), t.local_addr, t.remote_addr);
  } else {
    // IPv6 (RFC 8200): hop limit 64 as Linux's default, flow label 0 (Linux hashes the flow into
    // one with auto_flowlabels; 0 means "not labelled" and every router accepts it).
    wire::ipv6_repr ip;
    ip.src = t.local_addr.v6();
    ip.dst = t.remote_addr.v6();
    ip.next_header = wire::ip_protocol::tcp;
    ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
    out = std::span<std::byte>{tx_buf_.data(), wire::ethernet_header_len + ip.buffer_len()};
    wire::emit_ethernet(out, dst_mac, mac_, wire::ethertype::ipv6);
    ip.emit(out.subspan(wire::ethernet_header_len));
    tcp.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), t.local_addr, t.remote_addr);
  }
  if (on_segment_) on_segment_(direction::out, now_, t, seg, st);
  send_frame(out, now_);
}

void engine::send_frame(std::span<const std::byte> frame, tcp::instant t) {
  if (on_frame_) on_frame_(direction::out, t, frame);
  if (opts_.tx_batching && tx_hold_ > 0) {
    if (io_->queued() >= 32) kick();
    if (!io_->queue(frame)) return;
  }
  if (auto ec = io_->send(frame)) {
    ++stats_.send_errors;  // dropped like a lost frame: retransmission recovers
    if (ec.value() == ENETDOWN || ec.value() == ENXIO || ec.value() == ENODEV) link_send_error_ = true;
  } else {
    ++stats_.frames_sent;
  }
}

void engine::kick() {
  const std::size_t n = io_->queued();
  if (n == 0) return;
  std::size_t sent = 0;
  const std::error_code ec = io_->flush(&sent);
  stats_.frames_sent += sent;
  if (sent < n) {
    stats_.send_errors += n - sent;  // dropped like lost frames: retransmission recovers
    if (ec.value() == ENETDOWN || ec.value() == ENXIO || ec.value() == ENODEV) link_send_error_ = true;
  }
}

void tcp_totals::add(const tcp::connection_stats& s) {
  ++connections;
  retransmits += s.retransmits;
  syn_retransmits += s.syn_retransmits;
  rto_expirations += s.rto_expirations;
  fast_retransmits += s.fast_retransmits;
  challenge_acks += s.challenge_acks;
  challenge_acks_limited += s.challenge_acks_limited;
  invalid_acks_limited += s.invalid_acks_limited;
  rst_out_of_window += s.rst_out_of_window;
  rst_in_window += s.rst_in_window;
  syn_challenged += s.syn_challenged;
  out_of_window += s.out_of_window;
  bad_acks += s.bad_acks;
  no_ack_dropped += s.no_ack_dropped;
  paws_rejected += s.paws_rejected;
  ooo_segments += s.ooo_segments;
  ooo_dropped += s.ooo_dropped;
  dup_acks += s.dup_acks;
  bytes_beyond_window += s.bytes_beyond_window;
  zero_window_probes += s.zero_window_probes;
  keepalive_probes += s.keepalive_probes;
  events_dropped += s.events_dropped;
  bytes_sent += s.bytes_sent;
  bytes_received += s.bytes_received;
  mtu_probes_sent += s.mtu_probes_sent;
  mtu_probes_succeeded += s.mtu_probes_succeeded;
  mtu_probes_failed += s.mtu_probes_failed;
  blackholes_detected += s.blackholes_detected;
}

std::size_t engine::buffer_memory() const {
  std::size_t total = 0;
  for (const auto& [tuple, e] : conns_) total += e->conn.buffer_memory();
  return total;
}

tcp_totals engine::tcp_statistics() const {
  tcp_totals t = retired_tcp_;
  for (const auto& [tuple, e] : conns_) t.add(e->conn.stats());
  return t;
}

// --- resource limits and the link -----------------------------------------------------------

std::optional<tcp::config> engine::grant_buffers(const tcp::config& want) {
  const std::size_t budget = opts_.max_buffered_bytes;
  if (budget == 0) return want;
  const std::size_t used = buffer_reserved_;
  const std::size_t full = std::size_t{want.send_buffer} + want.recv_buffer;
  // Full buffers while the total stays within half the budget; then the minimum (4 x MSS each
  // way, a small window) while that fits; then nothing (the SYN is dropped).
  if (used + full <= budget / 2) return want;
  const std::size_t floor = std::size_t{4} * std::max<std::size_t>(want.mss, 536);
  tcp::config small = want;
  small.send_buffer = static_cast<std::uint32_t>(std::min<std::size_t>(want.send_buffer, floor));
  small.recv_buffer = static_cast<std::uint32_t>(std::min<std::size_t>(want.recv_buffer, floor));
  if (used + small.send_buffer + small.recv_buffer > budget) return std::nullopt;
  if (small.send_buffer < want.send_buffer || small.recv_buffer < want.recv_buffer) ++stats_.buffers_shrunk;
  return small;
}

void engine::check_link(tcp::instant t, bool read_socket_error) {
  int err = io_->take_error().value();
  if (err == 0 && read_socket_error) {
    // The packet socket reports ENETDOWN (interface down or deleted) as a socket error: POLLERR
    // until read, which would wake an external event loop over and over.
    socklen_t len = sizeof err;
    if (io_->fd() < 0 || ::getsockopt(io_->fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = 0;
  }
  if (err == ENETDOWN || err == ENODEV || err == ENXIO || link_send_error_) {
    if (!link_down_) ++stats_.link_down;
    link_down_ = true;
    link_send_error_ = false;
    next_link_check_ = t;
  }
  if (!link_down_ || t < next_link_check_) return;
  // Down, or gone? The socket says ENETDOWN for both; the interface's index tells them apart.
  if (!netlink_) {
    link_down_ = false;  // a link we were handed has no interface to look up: try again
    return;
  }
  std::optional<link::interface_info> info;
  try {
    info = netlink_->interface_by_index(iface_.index);
  } catch (const link::setup_error&) {
  }
  if (!info)
    throw link::setup_error(link::setup_errc::unknown_interface,
                            "interface '" + iface_.name + "' disappeared while synack was running (deleted?)");
  if (info->up) {
    link_down_ = false;  // the packet socket re-attaches by itself; retransmission recovers
  } else {
    next_link_check_ = t + std::chrono::milliseconds{200};
  }
}

// --- receive path ----------------------------------------------------------------------------

void engine::handle_frame(const link::rx_frame& f, tcp::instant t) {
  ++stats_.frames_received;
  if (f.losing) stats_.rx_ring_drops += io_->stats().dropped;  // reading resets the flag
  rx_frame_ = &f;  // current_rx_frame() for the observers, cleared however this returns
  struct clear_current {
    const link::rx_frame*& slot;
    ~clear_current() { slot = nullptr; }
  } clear{rx_frame_};
  if (on_frame_) on_frame_(direction::in, t, f.data);
  wire::parse_options po;
  // veth hands over partial checksums (trap 3); a device-verified checksum needs no second look.
  po.verify_checksums = !f.checksum_unverified && !f.checksum_valid;
  wire::parsed_frame p = wire::parse_frame(f.data, po);
  switch (p.kind) {
    case wire::frame_kind::arp: handle_arp(*p.arp); break;
    case wire::frame_kind::tcp: handle_tcp(*p.ip, *p.tcp, t); break;
    case wire::frame_kind::icmp:
      if (p.icmp) {
        handle_icmp(*p.ip, icmp_in{false, p.icmp->type, p.icmp->code, p.icmp->next_hop_mtu, &p.icmp->quote}, t);
      } else if (p.icmpv6) {
        handle_icmp(*p.ip, icmp_in{true, p.icmpv6->type, p.icmpv6->code, p.icmpv6->mtu, &p.icmpv6->quote}, t);
      }
      break;
    case wire::frame_kind::ndp: handle_ndp(*p.ip, *p.ndp); break;
    default: stats_.dropped.count(p.error); break;
  }
}

void engine::handle_tcp(const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant t) {
  if (!is_local(ip.dst) || !ports_.contains(seg.dst_port)) return;  // the filter's job; be safe
  wire::four_tuple tuple{ip.dst, seg.dst_port, ip.src, seg.src_port};
  auto it = conns_.find(tuple);
  if (it != conns_.end() && seg.flags.syn && !seg.ack && !seg.flags.rst && !it->second->dirty &&
      it->second->conn.current_state() == tcp::state::time_wait && listeners_.count(seg.dst_port) &&
      tcp::seq{seg.seq} > it->second->conn.tcb().rcv_nxt) {
    // Linux (tcp_timewait_state_process, TCP_TW_SYN): a new SYN above the old incarnation's
    // sequence space ends TIME_WAIT and opens a new connection on the same four-tuple. The old
    // incarnation's owner hears `closed` first (queued before anything of the new one), so it
    // can forget whatever it kept under this tuple before the tuple comes back.
    events_.emplace_back(tuple, tcp::event{tcp::event::kind::closed, tcp::state::time_wait, tcp::state::closed, {}});
    retire(it);
    it = conns_.end();
  }
  if (it == conns_.end() || !it->second->started) {
    if (it == conns_.end()) {
      if (auto l = listeners_.find(seg.dst_port); l != listeners_.end()) {
        handle_listen(l->second, ip, seg, t);
        return;
      }
    }
    reply_rst(ip, seg, t);
    return;
  }
  entry& e = *it->second;
  tcp::segment s = to_segment(seg);
  tcp::state before = e.conn.current_state();
  if (e.child == entry::child_state::half_open && before == tcp::state::syn_received && s.ack_num && !s.rst &&
      !s.syn) {
    // Linux (tcp_check_req, tcp_abort_on_overflow=0): with the accept queue full the final ACK is
    // dropped; the child stays in SYN_RCVD and its SYN-ACK retransmission retries later.
    if (auto l = listeners_.find(tuple.local_port);
        l != listeners_.end() && l->second.accept_queue.size() >= l->second.opts.backlog) {
      ++l->second.stats.accept_queue_overflows;
      return;
    }
  }
  e.conn.on_segment(t, s);
  if (e.connected_at == tcp::instant::min() && before != tcp::state::established &&
      e.conn.current_state() == tcp::state::established)
    e.connected_at = t;
  if (on_segment_) on_segment_(direction::in, t, tuple, s, e.conn.current_state());
  mark_dirty(e);
}

// --- ICMP ------------------------------------------------------------------------------------

namespace {

// What an ICMP error means to TCP: Linux tcp_v4_err (net/ipv4/tcp_ipv4.c) with icmp_err_convert
// (net/ipv4/icmp.c) for destination unreachable, EHOSTUNREACH for time exceeded, EPROTO for a
// parameter problem. (EHOSTDOWN and ENONET have no std::errc name; the errno values are used.)
struct icmp_meaning {
  enum class what : std::uint8_t { error, frag_needed, ignore } action = what::ignore;
  tcp::icmp_report report;
};

// ICMPv6 (Linux tcp_v6_err with icmpv6_err_convert, net/ipv6/icmp.c): destination unreachable
// by tab_unreach (an unknown code: EPROTO, fatal), time exceeded EHOSTUNREACH (not fatal),
// parameter problem EPROTO (fatal), packet too big the path MTU.
icmp_meaning classify_v6(std::uint8_t type, std::uint8_t code, std::uint32_t quoted_seq) {
  using std::errc;
  struct entry {
    errc error;
    bool fatal;
  };
  static constexpr entry unreach[7] = {
      {errc::network_unreachable, false},  // 0 no route to destination
      {errc::permission_denied, true},     // 1 administratively prohibited (EACCES)
      {errc::host_unreachable, false},     // 2 beyond scope of source address
      {errc::host_unreachable, false},     // 3 address unreachable
      {errc::connection_refused, true},    // 4 port unreachable
      {errc::permission_denied, true},     // 5 source address failed ingress/egress policy
      {errc::permission_denied, true},     // 6 reject route to destination
  };
  icmp_meaning r;
  r.report.quoted = tcp::seq{quoted_seq};
  switch (type) {
    case wire::icmpv6_type::dest_unreachable:
      r.report.error = code < 7 ? unreach[code].error : static_cast<errc>(EPROTO);  // unknown: EPROTO, fatal
      r.report.fatal = code < 7 ? unreach[code].fatal : true;
      break;
    case wire::icmpv6_type::packet_too_big:
      r.action = icmp_meaning::what::frag_needed;
      return r;
    case wire::icmpv6_type::time_exceeded:  // both codes reach TCP (icmpv6_notify)
      r.report.error = errc::host_unreachable;
      break;
    case wire::icmpv6_type::parameter_problem:
      r.report.error = static_cast<errc>(EPROTO);
      r.report.fatal = true;
      break;
    default:
      return r;
  }
  // tcp_v6_err hands a request socket tcp_req_err(..., fatal): unlike IPv4, only fatal errors
  // drop a half-open connection.
  r.report.drops_request = r.report.fatal;
  r.action = icmp_meaning::what::error;
  return r;
}

icmp_meaning classify(std::uint8_t type, std::uint8_t code, std::uint32_t quoted_seq) {
  using std::errc;
  struct entry {
    errc error;
    bool fatal;
  };
  // icmp_err_convert[code], code 0..15 (NR_ICMP_UNREACH); 4 (fragmentation needed) is PMTU only.
  static constexpr entry unreach[16] = {
      {errc::network_unreachable, false},       // 0 net unreachable
      {errc::host_unreachable, false},          // 1 host unreachable
      {errc::no_protocol_option, true},         // 2 protocol unreachable (ENOPROTOOPT)
      {errc::connection_refused, true},         // 3 port unreachable
      {errc::message_size, false},              // 4 fragmentation needed (EMSGSIZE)
      {errc::operation_not_supported, false},   // 5 source route failed (EOPNOTSUPP)
      {errc::network_unreachable, true},        // 6 net unknown
      {static_cast<errc>(EHOSTDOWN), true},     // 7 host unknown
      {static_cast<errc>(ENONET), true},        // 8 host isolated
      {errc::network_unreachable, true},        // 9 net administratively prohibited
      {errc::host_unreachable, true},           // 10 host administratively prohibited
      {errc::network_unreachable, false},       // 11 net unreachable for TOS
      {errc::host_unreachable, false},          // 12 host unreachable for TOS
      {errc::host_unreachable, true},           // 13 communication administratively prohibited
      {errc::host_unreachable, true},           // 14 host precedence violation
      {errc::host_unreachable, true},           // 15 precedence cutoff in effect
  };
  icmp_meaning r;
  r.report.quoted = tcp::seq{quoted_seq};
  switch (type) {
    case wire::icmp_type::dest_unreachable:
      if (code >= 16) return r;  // Linux: code > NR_ICMP_UNREACH is ignored
      if (code == wire::icmp_unreach::frag_needed) {
        r.action = icmp_meaning::what::frag_needed;
        return r;
      }
      r.report.error = unreach[code].error;
      r.report.fatal = unreach[code].fatal;
      // tcp_req_err's `abort`: net or host unreachable (not the fatal ones).
      r.report.drops_request = code == wire::icmp_unreach::net || code == wire::icmp_unreach::host;
      break;
    case wire::icmp_type::time_exceeded:
      // icmp_unreach drops "fragment reassembly time exceeded" before any protocol sees it.
      if (code == wire::icmp_time_exceeded::reassembly) return r;
      r.report.error = errc::host_unreachable;
      r.report.drops_request = true;
      break;
    case wire::icmp_type::parameter_problem:
      r.report.error = static_cast<errc>(EPROTO);
      r.report.drops_request = true;
      break;
    default:
      return r;
  }
  r.action = icmp_meaning::what::error;
  return r;
}

}  // namespace

// A bucket that holds no token, or a rate finer than the nanosecond clock (no token ever earned),
// would drop every ICMP error: the burst is at least 1, and a rate above 1e9/s is unlimited.
void engine::sanitize_icmp_limits(options& o) {
  if (o.icmp_burst == 0) o.icmp_burst = 1;
  if (o.icmp_rate > 1'000'000'000u) o.icmp_rate = 0;
}

// A token bucket (Linux's icmp_global_allow, for what it sends): icmp_rate tokens a second, at
// most icmp_burst kept.
bool engine::icmp_allowed(tcp::instant t) {
  if (opts_.icmp_rate == 0) return true;
  const auto per_token = std::chrono::nanoseconds{std::chrono::seconds{1}} / opts_.icmp_rate;
  if (t > icmp_stamp_ && per_token.count() > 0) {
    const auto earned = static_cast<std::uint64_t>((t - icmp_stamp_) / per_token);
    if (icmp_tokens_ + earned >= opts_.icmp_burst) {
      icmp_tokens_ = opts_.icmp_burst;
      icmp_stamp_ = t;
    } else {
      icmp_tokens_ += earned;
      icmp_stamp_ += per_token * static_cast<std::int64_t>(earned);  // keep the fraction
    }
  }
  if (icmp_tokens_ == 0) return false;
  --icmp_tokens_;
  return true;
}

// The ICMP path of one frame (docs/architecture.md): the quotation names the connection (our
// address and port, the far end's address and port), the connection checks the quoted sequence
// number and decides (RFC 5927, Linux tcp_v4_err), the engine keeps the path MTU and who answered.
void engine::handle_icmp(const wire::ip_info& ip, const icmp_in& m, tcp::instant t) {
  ++stats_.icmp_received;
  const wire::icmp_quote& q = *m.quote;
  if (!is_local(ip.dst) || q.src != ip.dst || !ports_.contains(q.src_port)) {  // the filter's job too
    ++stats_.icmp_no_connection;
    return;
  }
  const icmp_meaning meaning = m.v6 ? classify_v6(m.type, m.code, q.seq) : classify(m.type, m.code, q.seq);
  if (meaning.action == icmp_meaning::what::ignore) {
    ++stats_.icmp_ignored;
    return;
  }
  const wire::four_tuple tuple{q.src, q.src_port, q.dst, q.dst_port};
  auto it = conns_.find(tuple);
  if (it == conns_.end() || !it->second->started) {
    ++stats_.icmp_no_connection;
    return;
  }
  entry& e = *it->second;
  // The RFC 5927 check (O(1)) before the rate limit: messages we would not act on (an off-path
  // forger's guesses, a TIME_WAIT tuple's) are counted but spend no token, so they cannot starve
  // the genuine errors of every connection.
  switch (e.conn.icmp_check(tcp::seq{q.seq})) {
    case tcp::icmp_verdict::out_of_window: ++stats_.icmp_out_of_window; return;
    case tcp::icmp_verdict::ignored: ++stats_.icmp_ignored; return;
    case tcp::icmp_verdict::taken: break;
  }
  if (!icmp_allowed(t)) {
    ++stats_.icmp_rate_limited;
    return;
  }
  const tcp::icmp_origin origin{ip.src, m.type, m.code};
  tcp::icmp_verdict v;
  if (meaning.action == icmp_meaning::what::frag_needed && m.v6 && m.mtu < 1280) {
    // Packet too big below IPv6's minimum MTU: Linux tcp_v6_err ignores it (RFC 8201 §4 lets a
    // node drop it: every IPv6 link carries 1280).
    ++stats_.icmp_ignored;
    return;
  }
  if (meaning.action == icmp_meaning::what::frag_needed) {
    // RFC 1191: the next-hop MTU, or from an older router (0) the plateau below the datagram's
    // size (§7; Linux dropped its table and takes 0 as below min_pmtu). Below the floor: the floor
    // (Linux __ip_rt_update_pmtu: min(old MTU, min_pmtu)). IPv6 (RFC 8201): the MTU the packet
    // too big says (at least 1280, checked above), capped at 65535 (no jumbograms here).
    std::uint16_t mtu = m.mtu != 0 ? static_cast<std::uint16_t>(std::min<std::uint32_t>(m.mtu, 0xffff))
                                   : wire::icmp_plateau_below(q.total_length);
    const bool below_floor = mtu < opts_.min_pmtu;
    if (below_floor) mtu = std::min(opts_.min_pmtu, e.conn.path_mtu());
    v = e.conn.on_path_mtu(t, tcp::seq{q.seq}, mtu, below_floor);
    // Only here, past icmp_check (a live connection's quoted sequence number was outstanding), does
    // the MTU go into the per-destination cache: a forged or TIME_WAIT one never does.
    if (v != tcp::icmp_verdict::out_of_window) {
      learn_path_mtu(q.dst, mtu, t);
      if (below_floor) {
        ++stats_.pmtu_clamped;
        icmp_origins_[tuple] = origin;  // EMSGSIZE remembered for a timeout
      }
    }
    if (v == tcp::icmp_verdict::taken) ++stats_.pmtu_lowered;
  } else {
    v = e.conn.on_icmp_error(t, meaning.report);
    if (v == tcp::icmp_verdict::taken) {
      icmp_origins_[tuple] = origin;
    }
  }
  switch (v) {
    case tcp::icmp_verdict::taken: ++stats_.icmp_matched; break;
    case tcp::icmp_verdict::out_of_window: ++stats_.icmp_out_of_window; break;
    case tcp::icmp_verdict::ignored: ++stats_.icmp_ignored; break;
  }
  mark_dirty(e);
}

// RFC 9293 §3.10.7.1: what a CLOSED port answers. The kernel's own RST is silenced by the guard,
// so for synack's ports this is our job (a late SYN-ACK for a probe we gave up on, say).
void engine::reply_rst(const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant t) {
  ++stats_.segments_no_connection;
  if (seg.flags.rst) return;
  wire::four_tuple tuple{ip.dst, seg.dst_port, ip.src, seg.src_port};
  tcp::segment rst;
  rst.rst = true;
  if (seg.ack) {
    rst.seq_num = tcp::seq{*seg.ack};
  } else {
    tcp::segment in = to_segment(seg);
    rst.seq_num = tcp::seq{0};
    rst.ack_num = in.seq_num + in.len();
  }
  auto hop = next_hops_.find(ip.src);
  if (hop == next_hops_.end()) {
    // Never talked to it: answer as a closed port does (RFC 9293 §3.10.7.1), whether or not
    // anything listens, through the frame's own source MAC (the last hop) rather than an ARP.
    if (auto mac = frame_source_mac()) emit_segment(tuple, *mac, rst, tcp::state::closed, t);
    return;
  }
  auto n = neighbours_.find(hop->second);
  if (n == neighbours_.end() || !n->second.mac) return;
  emit_segment(tuple, *n->second.mac, rst, tcp::state::closed, t);
}

void engine::handle_arp(const wire::arp_repr& arp) {
  if (l3_) return;  // an L3 link has no ARP
  // Anyone we are resolving who speaks up (reply, or a request of their own) is resolved.
  if (auto it = neighbours_.find(arp.sender_ip); it != neighbours_.end() && !it->second.mac)
    neighbour_resolved(arp.sender_ip, arp.sender_mac, clock_now());
  // The kernel answers for its own addresses; a --source it does not own is ours to answer.
  if (arp.op == wire::arp_op::request && local4_ && arp.target_ip == *local4_ && !local_is_kernel_address_) {
    wire::arp_repr reply{wire::arp_op::reply, mac_, *local4_, arp.sender_mac, arp.sender_ip};
    std::array<std::byte, wire::ethernet_header_len + wire::arp_packet_len> frame{};
    wire::emit_ethernet(frame, arp.sender_mac, mac_, wire::ethertype::arp);
    reply.emit(std::span{frame}.subspan(wire::ethernet_header_len));
    ++stats_.arp_replies_sent;
    send_frame(frame, clock_now());
  }
}

// --- neighbours ------------------------------------------------------------------------------

void engine::handle_ndp(const wire::ip_info& ip, const wire::ndp_repr& nd) {
  if (l3_) return;  // nor neighbour discovery
  const tcp::instant t = clock_now();
  if (nd.type == wire::icmpv6_type::neighbor_advertisement) {
    // An advertisement for a target we are resolving (RFC 4861 §7.2.5): its link-layer address
    // option, else (a solicited NA on Ethernet always carries it) the frame's source.
    auto it = neighbours_.find(wire::ip_addr{nd.target});
    if (it == neighbours_.end() || it->second.mac) return;
    auto mac = nd.target_lladdr ? nd.target_lladdr : frame_source_mac();
    if (mac) neighbour_resolved(wire::ip_addr{nd.target}, *mac, t);
    return;
  }
  // A solicitation: its sender, if we are resolving it and it says its address, is resolved.
  if (nd.source_lladdr && !ip.src.is_unspecified())
    if (auto it = neighbours_.find(ip.src); it != neighbours_.end() && !it->second.mac)
      neighbour_resolved(ip.src, *nd.source_lladdr, t);
  // The kernel answers for its own addresses; an address it does not own is ours to answer
  // (RFC 4861 §7.2.4: solicited, override, our MAC as the target link-layer address).
  if (!local6_ || nd.target != *local6_ || local6_is_kernel_address_) return;
  const bool dad = ip.src.is_unspecified();  // a duplicate address probe: answer to all-nodes
  const wire::ipv6_addr to = dad ? wire::ipv6_addr{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}} : ip.src.v6();
  const auto to_mac = dad ? std::optional<wire::mac_addr>{to.multicast_mac()}
                          : (nd.source_lladdr ? nd.source_lladdr : frame_source_mac());
  if (!to_mac) return;
  wire::ndp_repr na;
  na.type = wire::icmpv6_type::neighbor_advertisement;
  na.target = *local6_;
  na.solicited = !dad;
  na.override = true;
  na.target_lladdr = mac_;
  send_ndp(na, to, *to_mac);
  ++stats_.ndp_advertisements_sent;
}

void engine::send_ndp(const wire::ndp_repr& nd, const wire::ipv6_addr& dst, const wire::mac_addr& dst_mac) {
  std::array<std::byte, wire::ethernet_header_len + 40 + 32> frame{};
  wire::ipv6_repr ip;
  ip.src = *local6_;
  ip.dst = dst;
  ip.next_header = wire::ip_protocol::icmpv6;
  ip.hop_limit = 255;  // RFC 4861 §7.1: a receiver drops NDP that crossed a router
  ip.payload_len = static_cast<std::uint16_t>(nd.buffer_len());
  const std::size_t len = wire::ethernet_header_len + ip.buffer_len();
  std::span<std::byte> out{frame.data(), len};
  wire::emit_ethernet(out, dst_mac, mac_, wire::ethertype::ipv6);
  ip.emit(out.subspan(wire::ethernet_header_len));
  nd.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), ip.src, ip.dst);
  send_frame(out, clock_now());
}

void engine::resolve(const wire::ip_addr& hop, tcp::instant t) {
  auto& n = neighbours_[hop];
  if (n.mac || n.tries > 0) return;
  if (l3_) {  // no link-layer addresses: the synthetic header's zero address
    n.mac = wire::mac_addr{};
    return;
  }
  if (netlink_) {
    // Own-address mode: the kernel's neighbours live on the macvlan's parent (same link).
    if (auto mac = netlink_->neighbour(own_parent_index_ != 0 ? own_parent_index_ : iface_.index, hop)) {
      n.mac = *mac;
      return;
    }
  }
  send_solicitation(hop);
  n.tries = 1;
  n.next_try = t + opts_.arp_interval;
}

void engine::send_solicitation(const wire::ip_addr& target) {
  if (target.is_v4())
    send_arp_request(target.v4());
  else
    send_neighbour_solicitation(target.v6());
}

// RFC 4861 §7.2.2: to the target's solicited-node group (its multicast MAC), from our address,
// with our link-layer address so the target can answer without resolving us first.
void engine::send_neighbour_solicitation(const wire::ipv6_addr& target) {
  if (!local6_) return;
  wire::ndp_repr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = target;
  ns.source_lladdr = mac_;
  const wire::ipv6_addr group = target.solicited_node();
  send_ndp(ns, group, group.multicast_mac());
  ++stats_.ndp_solicitations_sent;
}

void engine::send_arp_request(wire::ipv4_addr target) {
  if (!local4_) return;
  wire::arp_repr req{wire::arp_op::request, mac_, *local4_, wire::mac_addr{}, target};
  std::array<std::byte, wire::ethernet_header_len + wire::arp_packet_len> frame{};
  wire::emit_ethernet(frame, wire::mac_addr::broadcast(), mac_, wire::ethertype::arp);
  req.emit(std::span{frame}.subspan(wire::ethernet_header_len));
  ++stats_.arp_requests_sent;
  send_frame(frame, clock_now());
}

void engine::neighbour_resolved(const wire::ip_addr& hop, wire::mac_addr mac, tcp::instant t) {
  auto& n = neighbours_[hop];
  n.mac = mac;
  n.tries = 0;
  for (auto& [tuple, e] : conns_) {
    if (e->next_hop != hop) continue;
    if (!e->started) {
      e->conn.connect(t);
      e->started = true;
    }
    mark_dirty(*e);
  }
}

void engine::neighbour_failed(const wire::ip_addr& hop_in) {
  const wire::ip_addr hop = hop_in;  // hop_in may be the key erased below
  // Nobody answered: every connection waiting on this next hop fails as the kernel's would.
  neighbours_.erase(hop);
  for (auto& [tuple, e] : conns_) {
    if (e->next_hop != hop || e->started) continue;
    e->started = true;  // nothing to send; lets flush() retire it
    events_.emplace_back(tuple, tcp::event{tcp::event::kind::error, tcp::state::closed, tcp::state::closed,
                                           std::make_error_code(std::errc::host_unreachable)});
    mark_dirty(*e);
  }
}


// --- passive opens -------------------------------------------------------------------------------

void engine::listen(std::uint16_t port, const listen_options& lo) {
  if (!ports_.contains(port))
    throw std::invalid_argument("port " + std::to_string(port) + " is outside synack's ports " +
                                std::to_string(ports_.lo) + "-" + std::to_string(ports_.hi) +
                                " (the packet filter and RST guard cover only those)");
  listener& l = listeners_[port];
  l.opts = lo;
  l.opts.backlog = std::max<std::size_t>(lo.backlog, 1);
}

void engine::stop_listening(std::uint16_t port) {
  auto l = listeners_.find(port);
  if (l == listeners_.end()) return;
  std::vector<wire::four_tuple> doomed;
  for (const auto& [t, e] : conns_)
    if (t.local_port == port &&
        (e->child == entry::child_state::half_open || e->child == entry::child_state::queued))
      doomed.push_back(t);
  listeners_.erase(l);
  for (const auto& t : doomed) abort(t);  // RST: each of them is synchronized
}

std::optional<wire::four_tuple> engine::accept(std::uint16_t port) {
  auto l = listeners_.find(port);
  if (l == listeners_.end()) return std::nullopt;
  auto& q = l->second.accept_queue;
  while (!q.empty()) {
    const wire::four_tuple t = q.front();
    q.pop_front();
    l->second.stats.accept_queue = q.size();
    auto it = conns_.find(t);
    if (it == conns_.end() || it->second->child != entry::child_state::queued) continue;
    it->second->child = entry::child_state::accepted;
    ++l->second.stats.accepted;
    return t;
  }
  return std::nullopt;
}

const listener_stats* engine::listener_statistics(std::uint16_t port) const {
  auto l = listeners_.find(port);
  return l == listeners_.end() ? nullptr : &l->second.stats;
}

void engine::for_each_connection(const std::function<void(const tcp::connection&)>& f) const {
  for (const auto& [t, e] : conns_) f(e->conn);
}

std::optional<wire::mac_addr> engine::frame_source_mac() const {
  if (!rx_frame_ || rx_frame_->data.size() < wire::ethernet_header_len) return std::nullopt;
  wire::mac_addr m;
  for (std::size_t i = 0; i < m.octets.size(); ++i) m.octets[i] = static_cast<std::uint8_t>(rx_frame_->data[6 + i]);
  return m;
}

// A segment for a listening port and no connection: RFC 9293 §3.10.7.2 (LISTEN), plus cookies.
void engine::handle_listen(listener& l, const wire::ip_info& ip, const wire::tcp_repr& seg, tcp::instant t) {
  const wire::four_tuple tuple{ip.dst, seg.dst_port, ip.src, seg.src_port};
  const tcp::segment s = to_segment(seg);
  if (on_segment_) on_segment_(direction::in, t, tuple, s, tcp::state::listen);
  if (s.rst) return;  // first: a RST is ignored
  if (s.ack_num) {    // second: an ACK, unless it carries one of our cookies, gets a RST
    const bool cookies_out =
        l.last_cookie && t - *l.last_cookie < tcp::syn_cookie::period * tcp::syn_cookie::max_age;
    if (cookies_out && !s.syn) {
      // While cookies are out (Linux: tcp_synq_no_recent_overflow), an ACK with a bad cookie is
      // dropped rather than reset, so a flood of forged ACKs does not become a flood of RSTs.
      listener_cookie_ack(l, tuple, s, t);
    } else {
      reply_rst(ip, seg, t);
    }
    return;
  }
  if (!s.syn) return;  // fourth: anything else is dropped
  listener_syn(l, tuple, s, t);  // third: a SYN
}

namespace {
std::uint32_t ms_clock(tcp::instant t) {  // the connection's TSval clock
  return static_cast<std::uint32_t>(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count()));
}
}  // namespace

void engine::listener_syn(listener& l, const wire::four_tuple& tuple, const tcp::segment& syn, tcp::instant t) {
  ++l.stats.syn_received;
  if (!recently_closed_.empty()) recently_closed_.erase(tuple);  // a new incarnation: its cookie counts
  if (table_full()) {
    // No room for another connection (options::max_connections): no child and no cookie (its ACK
    // would need a table entry too). The peer retransmits its SYN and gets in once one closes.
    ++stats_.syn_dropped_table_full;
    ++l.stats.syn_dropped;
    return;
  }
  if (l.accept_queue.size() >= l.opts.backlog) {
    ++l.stats.syn_dropped;  // Linux tcp_conn_request: accept queue full, the SYN is dropped
    return;
  }
  if (l.stats.half_open < l.opts.max_half_open) {
    entry* e = make_child(l, tuple, t);
    if (!e) return;
    ++l.stats.half_open_created;
    e->conn.on_segment(t, syn);  // LISTEN -> SYN_RCVD; the SYN-ACK comes out of flush()
    mark_dirty(*e);
    return;
  }
  if (!l.opts.syn_cookies) {
    ++l.stats.syn_dropped;
    return;
  }
  // The half-open queue is full: a stateless SYN-ACK whose ISS is the cookie.
  auto mac = frame_source_mac();
  if (!mac) return;
  const tcp::config& cfg = tcp_cfg_;
  const auto& o = syn.options;
  tcp::segment out;
  out.seq_num = cookies_.make(tuple, syn.seq_num, o.mss.value_or(536), t);
  out.ack_num = syn.seq_num + 1;
  out.syn = true;
  out.window = static_cast<std::uint16_t>(std::min<std::size_t>(cfg.recv_buffer, 0xffff));
  out.options.mss = mss_for(tuple.remote_addr);
  if (o.timestamps && cfg.timestamps) {
    // Window scale and SACK-permitted ride in the TSval's low bits. Without timestamps the cookie
    // cannot remember them, so (as Linux) neither is offered.
    const bool ws = cfg.window_scale.has_value() && o.window_scale.has_value();
    const bool sack = cfg.sack_permitted && o.sack_permitted;
    if (ws) out.options.window_scale = cfg.window_scale;
    out.options.sack_permitted = sack;
    out.options.timestamps = wire::tcp_timestamps{
        tcp::syn_cookie::make_tsval(ms_clock(t), ws ? o.window_scale : std::nullopt, sack), o.timestamps->tsval};
  }
  l.last_cookie = t;
  ++l.stats.cookies_sent;
  emit_segment(tuple, *mac, out, tcp::state::listen, t);
}

void engine::listener_cookie_ack(listener& l, const wire::four_tuple& tuple, const tcp::segment& ack,
                                 tcp::instant t) {
  if (auto rc = recently_closed_.find(tuple); rc != recently_closed_.end() && rc->second > t) {
    ++l.stats.cookies_rejected;  // a late segment of a connection that ended: not a handshake
    return;
  }
  const auto d = cookies_.validate(tuple, ack, t);
  if (!d) {
    ++l.stats.cookies_rejected;
    return;
  }
  if (l.accept_queue.size() >= l.opts.backlog) {
    ++l.stats.accept_queue_overflows;  // as for a half-open child: the ACK is dropped
    return;
  }
  if (table_full()) {
    ++stats_.syn_dropped_table_full;  // the ACK is dropped: the peer's retransmission retries
    return;
  }
  entry* e = make_child(l, tuple, t);
  if (!e) return;
  // The SYN as the cookie remembers it.
  tcp::segment syn;
  syn.seq_num = d->peer_isn;
  syn.syn = true;
  syn.window = ack.window;
  syn.options.mss = d->mss;
  syn.options.window_scale = d->window_scale;
  syn.options.sack_permitted = d->sack_permitted;
  if (d->timestamps) syn.options.timestamps = wire::tcp_timestamps{ack.options.timestamps->tsval, 0};
  e->conn.accept_cookie(t, syn, d->iss, ack);
  ++l.stats.cookies_validated;
  if (tcp::is_synchronized(e->conn.current_state())) e->connected_at = t;
  mark_dirty(*e);
}

// A child in LISTEN for one remote end (it never talks to anyone else).
engine::entry* engine::make_child(listener& l, const wire::four_tuple& tuple, tcp::instant t) {
  wire::ip_addr hop;
  try {
    hop = next_hop_for(tuple.remote_addr);
  } catch (const std::exception&) {
    return nullptr;  // no route back
  }
  // Learn the next hop's MAC from the segment's own frame rather than ARP for it.
  auto& n = neighbours_[hop];
  if (!n.mac) {
    if (auto mac = frame_source_mac()) {
      if (n.tries > 0)
        neighbour_resolved(hop, *mac, t);
      else
        n.mac = *mac;
    } else {
      resolve(hop, t);
    }
  }
  auto granted = grant_buffers(tcp_cfg_);
  if (!granted) {
    ++stats_.syn_dropped_buffers_full;
    ++l.stats.syn_dropped;
    return nullptr;
  }
  auto e = std::make_unique<entry>(config_for(*granted, tuple.remote_addr, t), isns_, tuple, buffer_reserved_);
  e->next_hop = hop;
  e->started = true;
  e->child = entry::child_state::half_open;
  e->conn.listen();
  ++l.stats.half_open;
  entry& ref = *e;
  conns_.insert_or_assign(tuple, std::move(e));
  return &ref;
}

// After a child's segments and timers: out of the half-open queue when it got ESTABLISHED
// (into the accept queue) or fell back to LISTEN (reset, SYN-ACK retries exhausted).
void engine::update_child(entry& e) {
  using cs = entry::child_state;
  if (e.child != cs::half_open) return;
  const tcp::state st = e.conn.current_state();
  if (st == tcp::state::syn_received) return;
  auto l = listeners_.find(e.key.local_port);
  if (l != listeners_.end()) --l->second.stats.half_open;
  if (st == tcp::state::listen || st == tcp::state::closed || l == listeners_.end()) {
    if (l != listeners_.end()) ++l->second.stats.half_open_dropped;
    e.child = cs::dropped;
    e.conn.abort();  // LISTEN -> CLOSED without a segment; flush() retires it
    return;
  }
  // ESTABLISHED (or CLOSE_WAIT when the final ACK carried a FIN): ready for accept().
  e.child = cs::queued;
  l->second.accept_queue.push_back(e.key);
  l->second.stats.accept_queue = l->second.accept_queue.size();
  acceptable_.push_back(e.key.local_port);
}

}  // namespace synack::engine
