// The harness of the ICMP tests (icmp_test.cpp for IPv4, icmp6_test.cpp for IPv6): two
// dual-stack engines on memory links with a "router" in between that moves the frames (1 ms each
// way, virtual clock) and may drop them, answer them with an ICMP error from the router's
// address, or forge one.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "synack/engine/engine.hpp"
#include "synack/link/memory_link.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/icmp.hpp"

namespace icmp_path {

using namespace synack;
using namespace std::chrono_literals;

constexpr std::uint16_t server_port = 7000;
const wire::ipv4_addr addr_a = wire::ipv4_addr::from_octets(10, 99, 0, 1);
const wire::ipv4_addr addr_b = wire::ipv4_addr::from_octets(10, 99, 0, 2);
const wire::ipv4_addr router = wire::ipv4_addr::from_octets(10, 99, 0, 254);
const wire::mac_addr mac_a{{0x02, 0, 0, 0, 0, 0x0a}};
const wire::mac_addr mac_b{{0x02, 0, 0, 0, 0, 0x0b}};
const wire::mac_addr mac_router{{0x02, 0, 0, 0, 0, 0xfe}};
const wire::ipv6_addr addr6_a = *wire::ipv6_addr::parse("fd00:99::1");
const wire::ipv6_addr addr6_b = *wire::ipv6_addr::parse("fd00:99::2");
const wire::ipv6_addr router6 = *wire::ipv6_addr::parse("fd00:99::fe");

// The parts of a frame the router looks at, IPv4 or IPv6 (an IPv6 packet without extension
// headers, as the engines send them).
struct frame_info {
  bool ipv6 = false;
  bool tcp = false;
  std::size_t ip_len = 0;  // IPv4 total length; IPv6 40 + payload length (what an MTU limits)
  std::size_t tcp_at = 0;  // offset of the TCP header in the frame
  bool syn = false, ack = false, rst = false;
  std::size_t payload = 0;
  wire::ip_addr src, dst;
  std::uint8_t next_header = 0;  // IPv6: 6 TCP, 58 ICMPv6
};

inline frame_info inspect(std::span<const std::byte> f) {
  frame_info i;
  auto u8 = [&](std::size_t at) { return std::to_integer<std::size_t>(f[at]); };
  std::size_t ip_header = 0;
  if (f.size() >= 54 && u8(12) == 0x86 && u8(13) == 0xdd) {
    i.ipv6 = true;
    i.ip_len = 40 + (u8(18) << 8 | u8(19));
    wire::ipv6_addr s, d;
    for (std::size_t k = 0; k < 16; ++k) {
      s.octets[k] = static_cast<std::uint8_t>(u8(22 + k));
      d.octets[k] = static_cast<std::uint8_t>(u8(38 + k));
    }
    i.src = s;
    i.dst = d;
    i.next_header = static_cast<std::uint8_t>(u8(20));
    ip_header = 40;
  } else if (f.size() >= 34 && u8(12) == 0x08 && u8(13) == 0x00) {
    ip_header = (u8(14) & 0xf) * 4;
    i.ip_len = u8(16) << 8 | u8(17);
    auto addr = [&](std::size_t at) {
      return wire::ipv4_addr{static_cast<std::uint32_t>(u8(at) << 24 | u8(at + 1) << 16 | u8(at + 2) << 8 | u8(at + 3))};
    };
    i.src = addr(26);
    i.dst = addr(30);
    i.next_header = static_cast<std::uint8_t>(u8(23));
  } else {
    return i;
  }
  if (i.next_header != 6 || f.size() < 14 + ip_header + 20) return i;
  i.tcp = true;
  const std::size_t t = i.tcp_at = 14 + ip_header;
  const auto flags = u8(t + 13);
  i.syn = flags & 0x02;
  i.rst = flags & 0x04;
  i.ack = flags & 0x10;
  const std::size_t doff = (u8(t + 12) >> 4) * 4;
  i.payload = i.ip_len - ip_header - doff;
  return i;
}

// The MSS option of a SYN, if any.
inline std::optional<std::uint16_t> syn_mss(std::span<const std::byte> f) {
  const std::size_t t = inspect(f).tcp_at;
  const std::size_t doff = (std::to_integer<std::size_t>(f[t + 12]) >> 4) * 4;
  for (std::size_t o = t + 20; o + 1 < t + doff;) {
    const auto kind = std::to_integer<unsigned>(f[o]);
    if (kind == 0) break;
    if (kind == 1) {
      ++o;
      continue;
    }
    if (kind == 2) return static_cast<std::uint16_t>(std::to_integer<unsigned>(f[o + 2]) << 8 | std::to_integer<unsigned>(f[o + 3]));
    o += std::max<std::size_t>(std::to_integer<std::size_t>(f[o + 1]), 2);
  }
  return std::nullopt;
}

// What a router quotes of `offending`'s TCP segment (an Ethernet + IP + TCP frame): its first
// `max_bytes` at most, with the sequence number moved by `seq_offset` (a forger's guess).
inline std::vector<std::byte> quoted_tcp(std::span<const std::byte> offending, std::size_t max_bytes,
                                         std::uint32_t seq_offset) {
  const frame_info i = inspect(offending);
  const std::size_t segment = i.ip_len - (i.tcp_at - wire::ethernet_header_len);
  const auto at = offending.begin() + static_cast<std::ptrdiff_t>(i.tcp_at);
  std::vector<std::byte> tcp(at, at + static_cast<std::ptrdiff_t>(std::min(max_bytes, segment)));
  std::uint32_t seq = std::to_integer<std::uint32_t>(tcp[4]) << 24 | std::to_integer<std::uint32_t>(tcp[5]) << 16 |
                      std::to_integer<std::uint32_t>(tcp[6]) << 8 | std::to_integer<std::uint32_t>(tcp[7]);
  seq += seq_offset;
  for (int k = 0; k < 4; ++k) tcp[4 + static_cast<std::size_t>(k)] = static_cast<std::byte>(seq >> (24 - 8 * k));
  return tcp;
}

// The quotation of an ICMP or ICMPv6 error about the frame `i` describes: its addresses, TCP, the
// hop limit a router one hop on saw, `tcp` (from quoted_tcp) and the original datagram's size.
inline wire::icmp_quote quote_of(const frame_info& i, std::span<const std::byte> tcp, std::uint16_t total_length) {
  wire::icmp_quote q;
  q.src = i.src;
  q.dst = i.dst;
  q.protocol = wire::ip_protocol::tcp;
  q.ttl = 63;
  q.total_length = total_length;
  q.dont_fragment = true;
  q.transport = tcp;
  return q;
}

// The Ethernet source of a frame: where the router's answer goes.
inline wire::mac_addr source_mac(std::span<const std::byte> f) {
  wire::mac_addr m;
  for (std::size_t k = 0; k < 6; ++k) m.octets[k] = std::to_integer<std::uint8_t>(f[6 + k]);
  return m;
}

// What the router does with a frame: pass it, drop it, and/or send something back to its sender.
struct verdict {
  bool pass = true;
  std::vector<std::byte> reply;  // delivered to the sender after the link delay
};

// Two engines, A (client, ports 20000-29999) and B (listening on 7000), and the router between.
struct path {
  tcp::instant now{std::chrono::hours{1}};
  link::memory_link* la = nullptr;
  link::memory_link* lb = nullptr;
  std::unique_ptr<engine::engine> a, b;
  std::function<verdict(std::span<const std::byte>, bool a_to_b)> route = [](auto, bool) { return verdict{}; };
  std::vector<std::pair<wire::four_tuple, tcp::event>> events_a, events_b;
  struct in_flight {
    tcp::instant at;
    bool to_b;
    std::vector<std::byte> frame;
  };
  std::vector<in_flight> wire_;
  tcp::duration delay = 1ms;
  std::size_t largest_a_to_b = 0, largest_b_to_a = 0;  // IP lengths that got through
  std::optional<tcp::instant> error_at_a;  // when A's first error event was delivered

  explicit path(const std::function<void(engine::options&)>& tweak = {}) {
    engine::options eo;
    eo.clock = [this] { return now; };
    eo.tcp.msl = 1s;
    if (tweak) tweak(eo);
    auto link_a = std::make_unique<link::memory_link>();
    auto link_b = std::make_unique<link::memory_link>();
    la = link_a.get();
    lb = link_b.get();
    engine::options oa = eo, ob = eo;
    oa.seed = 11;
    oa.ports = link::port_range{20000, 29999};
    ob.seed = 12;
    ob.ports = link::port_range{server_port, server_port};
    // Dual stack: fd00:99::/64 on-link beside 10.99.0.0/24.
    a = std::make_unique<engine::engine>(oa, std::move(link_a), link::link_facts{mac_a, 1500, addr_a, 24, std::nullopt, addr6_a, 64, std::nullopt});
    b = std::make_unique<engine::engine>(ob, std::move(link_b), link::link_facts{mac_b, 1500, addr_b, 24, std::nullopt, addr6_b, 64, std::nullopt});
    a->on_event([this](const wire::four_tuple& t, const tcp::event& e) {
      events_a.emplace_back(t, e);
      if (e.what == tcp::event::kind::error && !error_at_a) error_at_a = now;
    });
    b->on_event([this](const wire::four_tuple& t, const tcp::event& e) { events_b.emplace_back(t, e); });
  }

  // Processes both engines, moves what they sent through the router, advances the clock to the
  // next thing that happens (frame arrival or timer). One round.
  void step() {
    a->process(now);
    b->process(now);
    auto carry = [&](link::memory_link& l, bool to_b) {
      l.take_sent([&](std::span<const std::byte> f) {
        verdict v = route(f, to_b);
        if (v.pass) wire_.push_back({now + delay, to_b, {f.begin(), f.end()}});
        if (!v.reply.empty()) wire_.push_back({now + delay, !to_b, std::move(v.reply)});
      });
    };
    carry(*la, true);
    carry(*lb, false);
    // Deliver what is due, in order.
    std::stable_sort(wire_.begin(), wire_.end(), [](const in_flight& x, const in_flight& y) { return x.at < y.at; });
    std::size_t delivered = 0;
    while (delivered < wire_.size() && wire_[delivered].at <= now) {
      auto& f = wire_[delivered++];
      const frame_info i = inspect(f.frame);
      if (f.to_b) {
        if (i.tcp && (i.src == addr_a || i.src == addr6_a)) largest_a_to_b = std::max(largest_a_to_b, i.ip_len);
        lb->deliver(f.frame);
      } else {
        if (i.tcp && (i.src == addr_b || i.src == addr6_b)) largest_b_to_a = std::max(largest_b_to_a, i.ip_len);
        la->deliver(f.frame);
      }
    }
    wire_.erase(wire_.begin(), wire_.begin() + static_cast<std::ptrdiff_t>(delivered));
    if (delivered > 0 || la->ready() || lb->ready()) return;
    std::optional<tcp::instant> next;
    for (auto d : {a->next_deadline(), b->next_deadline()})
      if (d && (!next || *d < *next)) next = d;
    if (!wire_.empty() && (!next || wire_.front().at < *next)) next = wire_.front().at;
    now = next ? std::max(*next, now + 1us) : now + 1s;
  }

  // Steps until `done` or `limit` of virtual time; true if done.
  bool run(const std::function<bool()>& done, tcp::duration limit) {
    const tcp::instant until = now + limit;
    while (!done()) {
      if (now > until) return false;
      step();
    }
    return true;
  }

  std::optional<tcp::event> error_of(const std::vector<std::pair<wire::four_tuple, tcp::event>>& evs,
                                     const wire::four_tuple& t) const {
    for (const auto& [tt, e] : evs)
      if (tt == t && e.what == tcp::event::kind::error) return e;
    return std::nullopt;
  }
  bool connected(const wire::four_tuple& t) const {
    for (const auto& [tt, e] : events_a)
      if (tt == t && e.what == tcp::event::kind::connected) return true;
    return false;
  }
};

inline bool is_data_from(const frame_info& i, const wire::ip_addr& who) { return i.tcp && i.src == who && i.payload > 0; }

// 1 MB from A to B, echoed back by B; returns whether every byte came back in `limit`.
struct echo_run {
  std::vector<std::byte> sent, echoed;
  std::map<wire::four_tuple, std::vector<std::byte>> pending;  // at B: received, not yet echoed
  wire::four_tuple t{};
  std::size_t offset = 0;
  bool ok = false;
  tcp::duration took{};
};

// To B's IPv4 address, or `to`.
inline void echo(path& p, echo_run& r, std::size_t bytes, tcp::duration limit, std::optional<tcp::config> cfg = {},
                 const wire::ip_addr& to = addr_b) {
  r.sent.resize(bytes);
  for (std::size_t i = 0; i < bytes; ++i) r.sent[i] = static_cast<std::byte>((i * 131 + i / 977) & 0xff);
  p.b->listen(server_port);
  std::vector<std::byte> scratch(64 * 1024);
  auto pump_b = [&](const wire::four_tuple& t) {
    auto& q = r.pending[t];
    for (std::size_t n; (n = p.b->receive(t, scratch)) > 0;) q.insert(q.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
    const std::size_t n = p.b->send(t, q);
    q.erase(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(n));
  };
  p.b->on_acceptable([&](std::uint16_t port) {
    while (auto t = p.b->accept(port)) pump_b(*t);
  });
  p.b->on_event([&](const wire::four_tuple& t, const tcp::event& e) {
    p.events_b.emplace_back(t, e);
    if (r.pending.count(t)) pump_b(t);
  });
  auto pump_a = [&] {
    while (r.offset < r.sent.size()) {
      const std::size_t n = p.a->send(r.t, std::span<const std::byte>(r.sent).subspan(r.offset));
      if (n == 0) break;
      r.offset += n;
    }
    for (std::size_t n; (n = p.a->receive(r.t, scratch)) > 0;)
      r.echoed.insert(r.echoed.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
  };
  // As a kernel client: writes once connect() completed (the handshake's ACK goes alone).
  p.a->on_event([&](const wire::four_tuple& t, const tcp::event& e) {
    p.events_a.emplace_back(t, e);
    if (t == r.t && p.connected(t)) pump_a();
  });
  const tcp::instant start = p.now;
  r.t = cfg ? p.a->connect(to, server_port, *cfg) : p.a->connect(to, server_port);
  r.ok = p.run([&] { return r.echoed.size() >= r.sent.size() || p.error_of(p.events_a, r.t); }, limit);
  r.took = p.now - start;
  r.ok = r.ok && r.echoed == r.sent;
}

}  // namespace icmp_path
