#include "synack/engine/engine.hpp"

#include <sys/random.h>

#include <algorithm>
#include <stdexcept>

#include "synack/wire/arp.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/tcp.hpp"

namespace synack::engine {

namespace {

tcp::isn_generator make_isn_generator() {
  // RFC 6528's secret: fresh random bytes per process.
  tcp::siphash_key key{};
  std::size_t got = 0;
  while (got < key.size()) {
    ssize_t n = ::getrandom(key.data() + got, key.size() - got, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  return tcp::isn_generator{key};
}

std::uint64_t random_seed() {
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

bool on_link(const link::interface_info& iface, wire::ipv4_addr a) {
  for (const auto& p : iface.addresses) {
    std::uint32_t mask = p.len == 0 ? 0 : ~std::uint32_t{0} << (32 - p.len);
    if ((p.addr.value & mask) == (a.value & mask)) return true;
  }
  return false;
}

}  // namespace

// One connection and what the engine knows about it beyond the TCP core.
struct engine::entry {
  entry(const tcp::config& cfg, const tcp::isn_generator& isns, wire::four_tuple t)
      : conn(cfg, isns, t) {}
  tcp::connection conn;
  wire::ipv4_addr next_hop;
  bool started = false;  // connect() called on the core (after the next hop resolved)
  bool dirty = false;
  std::optional<tcp::instant> first_sent;
  std::optional<tcp::instant> connected_at;
};

// A next hop we are resolving ourselves (the kernel's neighbour table had no entry).
struct engine::neighbour {
  std::optional<wire::mac_addr> mac;
  unsigned tries = 0;
  tcp::instant next_try{};
};

engine::engine(const options& opts, wire::ipv4_addr destination)
    : opts_(opts),
      port_alloc_(link::port_range{1, 1}),
      isns_(make_isn_generator()),
      tcp_cfg_(opts.tcp),
      tx_buf_(wire::ethernet_header_len + 60 + 65536) {
  // Interface: the named one, else the one the route to the destination leaves by.
  std::optional<link::route_info> route = netlink_.route_to(destination);
  if (!opts_.interface.empty()) {
    iface_ = netlink_.interface_by_name(opts_.interface);
  } else {
    if (!route)
      throw link::setup_error(link::setup_errc::no_route,
                              "no route to " + destination.to_string() + " (check `ip route`, or pass -I IFACE)");
    iface_ = netlink_.interface_by_index(route->ifindex);
  }
  if (!iface_.mac)
    throw link::setup_error(link::setup_errc::unknown_interface,
                            "interface '" + iface_.name +
                                "' has no Ethernet address (tun/wireguard/loopback are not supported; pick an "
                                "Ethernet interface with -I)");
  if (!iface_.up)
    throw link::setup_error(link::setup_errc::interface_down,
                            "interface '" + iface_.name + "' is down (ip link set " + iface_.name + " up)");
  mac_ = *iface_.mac;

  // Source address: --source, else the route's preferred source, else the interface's first.
  if (opts_.source) {
    local_ = *opts_.source;
  } else if (route && route->ifindex == iface_.index && route->prefsrc) {
    local_ = *route->prefsrc;
  } else if (!iface_.addresses.empty()) {
    local_ = iface_.addresses.front().addr;
  } else {
    throw link::setup_error(link::setup_errc::no_route, "interface '" + iface_.name +
                                                            "' has no IPv4 address (pass --source IP)");
  }
  local_is_kernel_address_ = std::any_of(iface_.addresses.begin(), iface_.addresses.end(),
                                         [&](const link::ipv4_prefix& p) { return p.addr == local_; });

  // The MSS we offer follows the interface's MTU (IPv4 and TCP headers without options).
  if (iface_.mtu > 40)
    tcp_cfg_.mss = static_cast<std::uint16_t>(std::min<unsigned>(tcp_cfg_.mss, iface_.mtu - 40));

  ports_ = opts_.ports ? *opts_.ports : link::default_port_range();
  port_alloc_ = link::port_allocator(ports_, random_seed());
  port_alloc_.refresh_kernel_ports();

  // Order matters: the guard is in place before anything can make the kernel answer.
  if (opts_.rst_guard) guard_.emplace(local_, ports_);
  link::packet_socket::options so;
  so.ifindex = iface_.index;
  so.local_addr = local_;
  so.ports = ports_;
  so.qdisc_bypass = opts_.qdisc_bypass;
  socket_.emplace(so);
}

engine::~engine() = default;

wire::ipv4_addr engine::next_hop_for(wire::ipv4_addr dst) {
  if (auto it = next_hops_.find(dst.value); it != next_hops_.end()) return it->second;
  wire::ipv4_addr hop = dst;
  if (!on_link(iface_, dst)) {
    auto route = netlink_.route_to(dst);
    if (!route)
      throw link::setup_error(link::setup_errc::no_route, "no route to " + dst.to_string() + " (check `ip route`)");
    if (route->gateway) hop = *route->gateway;  // off-link: the gateway's MAC, never the target's
  }
  next_hops_.emplace(dst.value, hop);
  return hop;
}

wire::four_tuple engine::connect(wire::ipv4_addr dst, std::uint16_t port) {
  tcp::instant t = now();
  auto lport = port_alloc_.acquire();
  if (!lport) throw std::runtime_error("no free local port in " + std::to_string(ports_.lo) + "-" +
                                       std::to_string(ports_.hi) + " (widen --ports)");
  wire::four_tuple tuple{local_, *lport, dst, port};
  auto e = std::make_unique<entry>(tcp_cfg_, isns_, tuple);
  e->next_hop = next_hop_for(dst);
  entry& ref = *e;
  conns_.emplace(tuple, std::move(e));
  resolve(ref.next_hop, t);
  auto& n = neighbours_[ref.next_hop.value];
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
  return it == conns_.end() ? std::nullopt : it->second->first_sent;
}

std::optional<tcp::instant> engine::connected_at(const wire::four_tuple& t) const {
  auto it = conns_.find(t);
  return it == conns_.end() ? std::nullopt : it->second->connected_at;
}

void engine::close(const wire::four_tuple& t) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return;
  it->second->conn.close();
  mark_dirty(*it->second);
  flush(now());
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
  flush(now());
}

std::size_t engine::send(const wire::four_tuple& t, std::span<const std::byte> data) {
  auto it = conns_.find(t);
  if (it == conns_.end()) return 0;
  std::size_t n = it->second->conn.send(data);
  mark_dirty(*it->second);
  flush(now());
  return n;
}

// --- the loop --------------------------------------------------------------------------------

std::optional<tcp::instant> engine::next_deadline() const {
  // A linear scan: fine for the tools' connection counts; the performance issue brings a wheel.
  std::optional<tcp::instant> d;
  auto consider = [&](tcp::instant t) {
    if (!d || t < *d) d = t;
  };
  for (const auto& [t, e] : conns_)
    if (auto x = e->conn.next_deadline()) consider(*x);
  for (const auto& [a, n] : neighbours_)
    if (!n.mac && n.tries > 0) consider(n.next_try);
  return d;
}

void engine::run_once(std::chrono::nanoseconds max_wait) {
  tcp::instant t = now();
  fire_timers(t);
  flush(t);

  if (!socket_->ready()) {
    auto wait = max_wait;
    if (auto d = next_deadline()) wait = std::clamp(*d - t, std::chrono::nanoseconds{0}, max_wait);
    if (wait > std::chrono::nanoseconds{0}) socket_->wait_readable(wait);
  }

  t = now();
  socket_->drain([&](const link::rx_frame& f) { handle_frame(f, t); }, 256);
  fire_timers(t);
  flush(t);
}

void engine::fire_timers(tcp::instant t) {
  for (auto& [tuple, e] : conns_) {
    auto d = e->conn.next_deadline();
    if (d && *d <= t) {
      e->conn.on_timer(t);
      mark_dirty(*e);
    }
  }
  std::vector<wire::ipv4_addr> failed;
  for (auto& [addr, n] : neighbours_) {
    if (n.mac || n.tries == 0 || n.next_try > t) continue;
    if (n.tries >= opts_.arp_tries) {
      failed.push_back(wire::ipv4_addr{addr});
    } else {
      send_arp_request(wire::ipv4_addr{addr});
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
  for (entry* e : dirty_) {
    e->dirty = false;
    if (e->started) transmit(*e, t);
    while (auto ev = e->conn.poll_event()) events_.emplace_back(e->conn.tuple(), *ev);
  }
  dirty_.clear();
  if (events_.empty()) return;

  // Deliver after processing, then retire connections that reached CLOSED. Handlers may call
  // back into the engine (close, abort, connect): those calls flush on their own.
  std::vector<std::pair<wire::four_tuple, tcp::event>> batch;
  batch.swap(events_);
  for (const auto& [tuple, ev] : batch)
    if (on_event_) on_event_(tuple, ev);
  for (const auto& [tuple, ev] : batch) {
    if (ev.what != tcp::event::kind::closed && ev.what != tcp::event::kind::error) continue;
    auto it = conns_.find(tuple);
    if (it == conns_.end() || it->second->dirty) continue;
    if (it->second->conn.current_state() != tcp::state::closed) continue;
    port_alloc_.release(tuple.local_port);
    conns_.erase(it);
  }
}

void engine::transmit(entry& e, tcp::instant t) {
  auto& n = neighbours_[e.next_hop.value];
  if (!n.mac) return;
  while (auto seg = e.conn.poll_transmit(t)) {
    if (!e.first_sent) e.first_sent = now();
    emit_segment(e.conn.tuple(), *n.mac, *seg, e.conn.current_state(), t);
  }
}

void engine::emit_segment(const wire::four_tuple& t, const wire::mac_addr& dst_mac, const tcp::segment& seg,
                          tcp::state st, tcp::instant now_) {
  wire::tcp_repr tcp = to_repr(t, seg);
  wire::ipv4_repr ip;
  ip.src = t.local_addr;
  ip.dst = t.remote_addr;
  ip.protocol = wire::ip_protocol::tcp;
  ip.identification = ip_id_++;
  ip.payload_len = static_cast<std::uint16_t>(tcp.buffer_len());
  std::size_t len = wire::ethernet_header_len + ip.buffer_len();
  std::span<std::byte> out{tx_buf_.data(), len};
  wire::emit_ethernet(out, dst_mac, mac_, wire::ethertype::ipv4);
  ip.emit(out.subspan(wire::ethernet_header_len));
  tcp.emit(out.subspan(wire::ethernet_header_len + ip.header_len()), ip.src, ip.dst);
  if (on_segment_) on_segment_(direction::out, now_, t, seg, st);
  send_frame(out, now_);
}

void engine::send_frame(std::span<const std::byte> frame, tcp::instant t) {
  if (on_frame_) on_frame_(direction::out, t, frame);
  if (socket_->send(frame)) {
    ++stats_.send_errors;  // dropped like a lost frame: retransmission recovers
  } else {
    ++stats_.frames_sent;
  }
}

// --- receive path ----------------------------------------------------------------------------

void engine::handle_frame(const link::rx_frame& f, tcp::instant t) {
  ++stats_.frames_received;
  if (on_frame_) on_frame_(direction::in, t, f.data);
  wire::parse_options po;
  // veth hands over partial checksums (trap 3); a device-verified checksum needs no second look.
  po.verify_checksums = !f.checksum_unverified && !f.checksum_valid;
  wire::parsed_frame p = wire::parse_frame(f.data, po);
  switch (p.kind) {
    case wire::frame_kind::arp: handle_arp(*p.arp); break;
    case wire::frame_kind::tcp: handle_tcp(*p.ipv4, *p.tcp, t); break;
    default: stats_.dropped.count(p.error); break;
  }
}

void engine::handle_tcp(const wire::ipv4_repr& ip, const wire::tcp_repr& seg, tcp::instant t) {
  if (ip.dst != local_ || !ports_.contains(seg.dst_port)) return;  // the filter's job; be safe
  wire::four_tuple tuple{local_, seg.dst_port, ip.src, seg.src_port};
  auto it = conns_.find(tuple);
  if (it == conns_.end() || !it->second->started) {
    reply_rst(ip, seg, t);
    return;
  }
  entry& e = *it->second;
  tcp::segment s = to_segment(seg);
  tcp::state before = e.conn.current_state();
  e.conn.on_segment(t, s);
  if (!e.connected_at && before != tcp::state::established &&
      e.conn.current_state() == tcp::state::established)
    e.connected_at = t;
  if (on_segment_) on_segment_(direction::in, t, tuple, s, e.conn.current_state());
  mark_dirty(e);
}

// RFC 9293 §3.10.7.1: what a CLOSED port answers. The kernel's own RST is silenced by the guard,
// so for synack's ports this is our job (a late SYN-ACK for a probe we gave up on, say).
void engine::reply_rst(const wire::ipv4_repr& ip, const wire::tcp_repr& seg, tcp::instant t) {
  ++stats_.segments_no_connection;
  if (seg.flags.rst) return;
  wire::four_tuple tuple{local_, seg.dst_port, ip.src, seg.src_port};
  tcp::segment rst;
  rst.rst = true;
  if (seg.ack) {
    rst.seq_num = tcp::seq{*seg.ack};
  } else {
    tcp::segment in = to_segment(seg);
    rst.seq_num = tcp::seq{0};
    rst.ack_num = in.seq_num + in.len();
  }
  auto hop = next_hops_.find(ip.src.value);
  if (hop == next_hops_.end()) return;  // never talked to it: stay silent rather than ARP for it
  auto n = neighbours_.find(hop->second.value);
  if (n == neighbours_.end() || !n->second.mac) return;
  emit_segment(tuple, *n->second.mac, rst, tcp::state::closed, t);
}

void engine::handle_arp(const wire::arp_repr& arp) {
  // Anyone we are resolving who speaks up (reply, or a request of their own) is resolved.
  if (auto it = neighbours_.find(arp.sender_ip.value); it != neighbours_.end() && !it->second.mac)
    neighbour_resolved(arp.sender_ip, arp.sender_mac, now());
  // The kernel answers for its own addresses; a --source it does not own is ours to answer.
  if (arp.op == wire::arp_op::request && arp.target_ip == local_ && !local_is_kernel_address_) {
    wire::arp_repr reply{wire::arp_op::reply, mac_, local_, arp.sender_mac, arp.sender_ip};
    std::array<std::byte, wire::ethernet_header_len + wire::arp_packet_len> frame{};
    wire::emit_ethernet(frame, arp.sender_mac, mac_, wire::ethertype::arp);
    reply.emit(std::span{frame}.subspan(wire::ethernet_header_len));
    ++stats_.arp_replies_sent;
    send_frame(frame, now());
  }
}

// --- neighbours ------------------------------------------------------------------------------

void engine::resolve(wire::ipv4_addr hop, tcp::instant t) {
  auto& n = neighbours_[hop.value];
  if (n.mac || n.tries > 0) return;
  if (auto mac = netlink_.neighbour(iface_.index, hop)) {
    n.mac = *mac;
    return;
  }
  send_arp_request(hop);
  n.tries = 1;
  n.next_try = t + opts_.arp_interval;
}

void engine::send_arp_request(wire::ipv4_addr target) {
  wire::arp_repr req{wire::arp_op::request, mac_, local_, wire::mac_addr{}, target};
  std::array<std::byte, wire::ethernet_header_len + wire::arp_packet_len> frame{};
  wire::emit_ethernet(frame, wire::mac_addr::broadcast(), mac_, wire::ethertype::arp);
  req.emit(std::span{frame}.subspan(wire::ethernet_header_len));
  ++stats_.arp_requests_sent;
  send_frame(frame, now());
}

void engine::neighbour_resolved(wire::ipv4_addr hop, wire::mac_addr mac, tcp::instant t) {
  auto& n = neighbours_[hop.value];
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

void engine::neighbour_failed(wire::ipv4_addr hop) {
  // Nobody answered: every connection waiting on this next hop fails as the kernel's would.
  neighbours_.erase(hop.value);
  for (auto& [tuple, e] : conns_) {
    if (e->next_hop != hop || e->started) continue;
    e->started = true;  // nothing to send; lets flush() retire it
    events_.emplace_back(tuple, tcp::event{tcp::event::kind::error, tcp::state::closed, tcp::state::closed,
                                           std::make_error_code(std::errc::host_unreachable)});
    mark_dirty(*e);
  }
}

}  // namespace synack::engine
