// The receive filter, run through a small classic-BPF interpreter on crafted frames.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "synack/link/rx_filter.hpp"

using namespace synack::link;
using synack::wire::ipv4_addr;
using synack::wire::ipv6_addr;

namespace {

constexpr ipv4_addr local = ipv4_addr::from_octets(10, 0, 0, 1);
constexpr ipv4_addr other = ipv4_addr::from_octets(10, 0, 0, 9);
constexpr port_range ports{61000, 61999};

// The kernel's structural checks (sk_chk_filter): in-range jumps, a return at the end.
void check_structure(const std::vector<sock_filter>& prog) {
  BOOST_REQUIRE(!prog.empty());
  BOOST_REQUIRE(prog.size() <= BPF_MAXINSNS);
  BOOST_REQUIRE(BPF_CLASS(prog.back().code) == BPF_RET);
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const auto& i = prog[pc];
    if (BPF_CLASS(i.code) != BPF_JMP) continue;
    BOOST_REQUIRE(pc + 1 + i.jt < prog.size());
    BOOST_REQUIRE(pc + 1 + i.jf < prog.size());
  }
}

// Executes the instructions rx_filter_program uses; returns the snap length (0 = drop). A load
// past the end of the frame drops it, as in the kernel.
std::uint32_t run(const std::vector<sock_filter>& prog, const std::vector<std::uint8_t>& pkt) {
  std::uint32_t a = 0, x = 0;
  auto load = [&](std::uint32_t off, std::uint32_t size, bool& ok) {
    std::uint32_t v = 0;
    ok = off + size <= pkt.size();
    for (std::uint32_t i = 0; ok && i < size; ++i) v = (v << 8) | pkt[off + i];
    return v;
  };
  for (std::size_t pc = 0; pc < prog.size();) {
    const auto& i = prog[pc++];
    bool ok = true;
    switch (i.code) {
      case BPF_LD | BPF_W | BPF_ABS: a = load(i.k, 4, ok); break;
      case BPF_LD | BPF_H | BPF_ABS: a = load(i.k, 2, ok); break;
      case BPF_LD | BPF_B | BPF_ABS: a = load(i.k, 1, ok); break;
      case BPF_LD | BPF_W | BPF_IND: a = load(x + i.k, 4, ok); break;
      case BPF_LD | BPF_H | BPF_IND: a = load(x + i.k, 2, ok); break;
      case BPF_LD | BPF_B | BPF_IND: a = load(x + i.k, 1, ok); break;
      case BPF_LDX | BPF_B | BPF_MSH: x = 4 * (load(i.k, 1, ok) & 0xf); break;
      case BPF_ALU | BPF_AND | BPF_K: a &= i.k; break;
      case BPF_ALU | BPF_LSH | BPF_K: a <<= i.k; break;
      case BPF_ALU | BPF_RSH | BPF_K: a >>= i.k; break;
      case BPF_ALU | BPF_ADD | BPF_X: a += x; break;
      case BPF_MISC | BPF_TAX: x = a; break;
      case BPF_JMP | BPF_JA: pc += i.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i.k ? i.jt : i.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += a > i.k ? i.jt : i.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i.k ? i.jt : i.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (a & i.k) != 0 ? i.jt : i.jf; break;
      case BPF_RET | BPF_K: return i.k;
      case BPF_RET | BPF_A: return a;
      default: BOOST_FAIL("opcode " << i.code << " not supported by the test interpreter");
    }
    if (!ok) return 0;
  }
  BOOST_FAIL("fell off the end of the program");
  return 0;
}

void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
  put16(f, at, v >> 16);
  put16(f, at + 2, v & 0xffff);
}

struct ip_frame {
  ipv4_addr dst = local;
  std::uint8_t proto = 6;
  std::uint16_t dport = 61000;
  unsigned ihl = 5;
  std::uint16_t frag = 0x4000;  // DF
};

// Ethernet + IPv4 (+ options filled with NOPs) + 20 bytes of TCP/UDP header.
std::vector<std::uint8_t> make(const ip_frame& p) {
  std::size_t ip_len = p.ihl * 4;
  std::vector<std::uint8_t> f(14 + ip_len + 20, 0);
  put16(f, 12, 0x0800);
  f[14] = static_cast<std::uint8_t>(0x40 | p.ihl);
  put16(f, 16, static_cast<std::uint32_t>(ip_len + 20));
  put16(f, 20, p.frag);
  f[22] = 64;
  f[23] = p.proto;
  put32(f, 26, ipv4_addr::from_octets(10, 0, 0, 2).value);
  put32(f, 30, p.dst.value);
  for (std::size_t i = 34; i < 14 + ip_len; ++i) f[i] = 1;  // IP option NOP
  put16(f, 14 + ip_len, 80);
  put16(f, 14 + ip_len + 2, p.dport);
  return f;
}

std::vector<std::uint8_t> make_arp(ipv4_addr target, std::uint16_t op = 1) {
  std::vector<std::uint8_t> f(42, 0);
  put16(f, 12, 0x0806);
  put16(f, 14, 1);       // Ethernet
  put16(f, 16, 0x0800);  // IPv4
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, op);
  put32(f, 28, ipv4_addr::from_octets(10, 0, 0, 2).value);
  put32(f, 38, target.value);
  return f;
}

bool accepted(const std::vector<std::uint8_t>& frame, port_range r = ports, bool icmp_errors = false) {
  auto prog = rx_filter_program(local, r, icmp_errors);
  check_structure(prog);
  return run(prog, frame) != 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rx_filter)

BOOST_AUTO_TEST_CASE(program_is_structurally_valid_and_returns_whole_frames) {
  for (bool icmp : {false, true}) {
    auto prog = rx_filter_program(local, ports, icmp);
    check_structure(prog);
    BOOST_TEST(run(prog, make({})) >= 65535u);
  }
}

BOOST_AUTO_TEST_CASE(arp_for_our_address_is_accepted_request_or_reply) {
  BOOST_TEST(accepted(make_arp(local, 1)));
  BOOST_TEST(accepted(make_arp(local, 2)));
}

BOOST_AUTO_TEST_CASE(arp_for_another_address_is_dropped) { BOOST_TEST(!accepted(make_arp(other))); }

BOOST_AUTO_TEST_CASE(tcp_to_us_within_the_range_is_accepted_at_both_ends) {
  BOOST_TEST(accepted(make({.dport = 61000})));
  BOOST_TEST(accepted(make({.dport = 61500})));
  BOOST_TEST(accepted(make({.dport = 61999})));
}

BOOST_AUTO_TEST_CASE(tcp_just_outside_the_range_is_dropped) {
  BOOST_TEST(!accepted(make({.dport = 60999})));
  BOOST_TEST(!accepted(make({.dport = 62000})));
  BOOST_TEST(!accepted(make({.dport = 80})));
}

BOOST_AUTO_TEST_CASE(single_port_range_accepts_only_that_port) {
  BOOST_TEST(accepted(make({.dport = 61234}), {61234, 61234}));
  BOOST_TEST(!accepted(make({.dport = 61233}), {61234, 61234}));
  BOOST_TEST(!accepted(make({.dport = 61235}), {61234, 61234}));
}

BOOST_AUTO_TEST_CASE(tcp_to_another_address_is_dropped) { BOOST_TEST(!accepted(make({.dst = other}))); }

BOOST_AUTO_TEST_CASE(udp_and_icmp_to_our_port_are_dropped) {
  BOOST_TEST(!accepted(make({.proto = 17})));
  BOOST_TEST(!accepted(make({.proto = 1})));
}

BOOST_AUTO_TEST_CASE(ip_options_move_the_port_and_are_honoured) {
  BOOST_TEST(accepted(make({.dport = 61000, .ihl = 6})));
  BOOST_TEST(accepted(make({.dport = 61999, .ihl = 15})));
  // With IHL 6 the bytes where an IHL-5 port would be are option/port bytes: the real port decides.
  auto f = make({.dport = 80, .ihl = 6});
  put16(f, 14 + 20 + 2, 61500);  // what a fixed-offset filter would read as the port
  BOOST_TEST(!accepted(f));
}

BOOST_AUTO_TEST_CASE(fragments_are_dropped) {
  BOOST_TEST(!accepted(make({.frag = 0x2000})));  // first fragment (MF)
  BOOST_TEST(!accepted(make({.frag = 0x0010})));  // a later fragment
  BOOST_TEST(accepted(make({.frag = 0x0000})));   // not fragmented, DF clear
}

BOOST_AUTO_TEST_CASE(other_ethertypes_and_short_frames_are_dropped) {
  auto v6 = make({});
  put16(v6, 12, 0x86dd);
  BOOST_TEST(!accepted(v6));
  auto f = make({});
  f.resize(14 + 20 + 3);  // ends inside the destination port
  BOOST_TEST(!accepted(f));
  BOOST_TEST(!accepted(std::vector<std::uint8_t>(10, 0)));
}

// An ICMP error of `type` to us (IHL `ihl`) quoting a TCP segment from `quoted_src` (IHL
// `quoted_ihl`, protocol `quoted_proto`) from port `sport`; `cut` bytes removed from the end.
struct icmp_frame {
  std::uint8_t type = 3;
  ipv4_addr dst = local;
  unsigned ihl = 5;
  ipv4_addr quoted_src = local;
  std::uint8_t quoted_proto = 6;
  unsigned quoted_ihl = 5;
  std::uint16_t sport = 61000;
  std::size_t cut = 0;
};
std::vector<std::uint8_t> make_icmp(const icmp_frame& p) {
  const std::size_t ip_len = p.ihl * 4, q_len = p.quoted_ihl * 4;
  std::vector<std::uint8_t> f(14 + ip_len + 8 + q_len + 8, 0);
  put16(f, 12, 0x0800);
  f[14] = static_cast<std::uint8_t>(0x40 | p.ihl);
  put16(f, 16, static_cast<std::uint32_t>(f.size() - 14));
  f[22] = 64;
  f[23] = 1;
  put32(f, 26, ipv4_addr::from_octets(10, 0, 0, 254).value);
  put32(f, 30, p.dst.value);
  const std::size_t icmp = 14 + ip_len, q = icmp + 8;
  f[icmp] = p.type;
  f[icmp + 1] = 3;
  f[q] = static_cast<std::uint8_t>(0x40 | p.quoted_ihl);
  f[q + 9] = p.quoted_proto;
  put32(f, q + 12, p.quoted_src.value);
  put32(f, q + 16, ipv4_addr::from_octets(10, 0, 0, 2).value);
  put16(f, q + q_len, p.sport);
  put16(f, q + q_len + 2, 80);
  f.resize(f.size() - p.cut);
  return f;
}

BOOST_AUTO_TEST_CASE(icmp_errors_are_dropped_unless_asked_for) {
  BOOST_TEST(!accepted(make_icmp({.type = 3})));
  BOOST_TEST(!accepted(make_icmp({.type = 11})));
}

BOOST_AUTO_TEST_CASE(icmp_errors_quoting_our_tcp_ports_are_accepted_when_asked_for) {
  for (std::uint8_t type : {std::uint8_t{3}, std::uint8_t{11}, std::uint8_t{12}}) {
    BOOST_TEST(accepted(make_icmp({.type = type}), ports, true));
    BOOST_TEST(accepted(make_icmp({.type = type, .sport = 61999}), ports, true));
  }
  BOOST_TEST(accepted(make_icmp({.ihl = 6}), ports, true));
  BOOST_TEST(accepted(make_icmp({.quoted_ihl = 7}), ports, true));
  BOOST_TEST(accepted(make_icmp({.ihl = 6, .quoted_ihl = 6}), ports, true));
  BOOST_TEST(!accepted(make_icmp({.type = 0}), ports, true));  // echo reply
  BOOST_TEST(!accepted(make_icmp({.type = 8}), ports, true));  // echo request
  BOOST_TEST(!accepted(make_icmp({.type = 5}), ports, true));  // redirect
  BOOST_TEST(!accepted(make_icmp({.dst = other}), ports, true));
  BOOST_TEST(!accepted(make({.proto = 17}), ports, true));
  BOOST_TEST(accepted(make({.dport = 61000}), ports, true));
  BOOST_TEST(!accepted(make({.dport = 80}), ports, true));
  BOOST_TEST(accepted(make_arp(local), ports, true));
}

BOOST_AUTO_TEST_CASE(icmp_errors_about_other_traffic_are_dropped) {
  BOOST_TEST(!accepted(make_icmp({.sport = 60999}), ports, true));   // a port outside the range
  BOOST_TEST(!accepted(make_icmp({.sport = 62000}), ports, true));
  BOOST_TEST(!accepted(make_icmp({.sport = 22}), ports, true));      // the kernel's own traffic
  BOOST_TEST(!accepted(make_icmp({.quoted_src = other}), ports, true));
  BOOST_TEST(!accepted(make_icmp({.quoted_proto = 17}), ports, true));  // UDP
  // With a quoted IHL of 6 the port sits 4 bytes further: the real one decides.
  auto f = make_icmp({.quoted_ihl = 6, .sport = 80});
  put16(f, 14 + 20 + 8 + 20, 61500);  // where an IHL-5 quote's port would be
  BOOST_TEST(!accepted(f, ports, true));
  BOOST_TEST(!accepted(make_icmp({.cut = 7}), ports, true));  // cut inside the source port
  BOOST_TEST(accepted(make_icmp({.cut = 6}), ports, true));   // the port is there
}

// --- IPv6 ------------------------------------------------------------------------------------

namespace {

constexpr ipv6_addr local6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x01}};  // fd00::a:1
constexpr ipv6_addr other6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x09}};  // fd00::a:9
constexpr ipv6_addr peer6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}};      // fd00::2

void put6(std::vector<std::uint8_t>& f, std::size_t at, const ipv6_addr& a) {
  for (std::size_t i = 0; i < 16; ++i) f[at + i] = a.octets[i];
}

// Ethernet + the fixed IPv6 header to `dst` with next header `next`, then `ext` bytes of one
// extension header (whose own next header is TCP) and 20 bytes of TCP/UDP header.
struct ip6_frame {
  ipv6_addr dst = local6;
  std::uint8_t next = 6;
  std::uint16_t dport = 61000;
  std::size_t ext = 0;
};
std::vector<std::uint8_t> make6(const ip6_frame& p) {
  std::vector<std::uint8_t> f(14 + 40 + p.ext + 20, 0);
  put16(f, 12, 0x86dd);
  f[14] = 0x60;
  put16(f, 18, static_cast<std::uint32_t>(p.ext + 20));
  f[20] = p.next;
  f[21] = 64;
  put6(f, 22, peer6);
  put6(f, 38, p.dst);
  if (p.ext > 0) {
    f[54] = 6;                                          // the extension header's next header
    f[55] = static_cast<std::uint8_t>(p.ext / 8 - 1);  // its length in 8 bytes, minus one
  }
  put16(f, 54 + p.ext, 80);
  put16(f, 54 + p.ext + 2, p.dport);
  return f;
}

// An ICMPv6 message of `type` to `dst`: for an error, quoting a TCP segment from `quoted_src`
// (next header `quoted_next`) from port `sport`; for NS/NA (135/136), a target address instead.
struct icmp6_frame {
  std::uint8_t type = 2;  // packet too big
  ipv6_addr dst = local6;
  ipv6_addr quoted_src = local6;
  std::uint8_t quoted_next = 6;
  std::uint16_t sport = 61000;
  std::size_t cut = 0;
};
std::vector<std::uint8_t> make_icmp6(const icmp6_frame& p) {
  const bool nd = p.type == 135 || p.type == 136;
  std::vector<std::uint8_t> f(14 + 40 + 8 + (nd ? 16 : 40 + 8), 0);
  put16(f, 12, 0x86dd);
  f[14] = 0x60;
  put16(f, 18, static_cast<std::uint32_t>(f.size() - 54));
  f[20] = 58;
  f[21] = nd ? 255 : 64;
  put6(f, 22, peer6);
  put6(f, 38, p.dst);
  f[54] = p.type;
  if (nd) {
    put6(f, 62, local6);  // the target
  } else {
    const std::size_t q = 62;
    f[q] = 0x60;
    f[q + 6] = p.quoted_next;
    put6(f, q + 8, p.quoted_src);
    put6(f, q + 24, peer6);
    put16(f, q + 40, p.sport);
    put16(f, q + 42, 80);
  }
  f.resize(f.size() - p.cut);
  return f;
}

bool accepted6(const std::vector<std::uint8_t>& frame, bool icmp_errors = false) {
  auto prog = rx_filter_program(local, ports, icmp_errors, local6);
  check_structure(prog);
  return run(prog, frame) != 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(without_an_ipv6_address_the_program_is_the_ipv4_one_and_drops_ipv6) {
  for (bool icmp : {false, true}) {
    auto plain = rx_filter_program(local, ports, icmp);
    auto same = rx_filter_program(local, ports, icmp, std::nullopt);
    BOOST_REQUIRE(plain.size() == same.size());
    for (std::size_t i = 0; i < plain.size(); ++i) {
      BOOST_TEST(plain[i].code == same[i].code);
      BOOST_TEST(plain[i].jt == same[i].jt);
      BOOST_TEST(plain[i].jf == same[i].jf);
      BOOST_TEST(plain[i].k == same[i].k);
    }
    BOOST_TEST(run(plain, make6({})) == 0u);
    BOOST_TEST(run(plain, make_icmp6({.type = 135, .dst = local6.solicited_node()})) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(ipv4_verdicts_do_not_change_with_an_ipv6_address) {
  const std::vector<std::vector<std::uint8_t>> frames = {
      make({}), make({.dport = 60999}), make({.dport = 61999}), make({.dst = other}), make({.proto = 17}),
      make({.ihl = 6}), make({.frag = 0x2000}), make_arp(local), make_arp(other), make_icmp({}),
      make_icmp({.sport = 22}), make_icmp({.cut = 7}), make_icmp({.type = 8})};
  for (bool icmp : {false, true}) {
    auto v4 = rx_filter_program(local, ports, icmp);
    auto both = rx_filter_program(local, ports, icmp, local6);
    check_structure(both);
    for (std::size_t i = 0; i < frames.size(); ++i)
      BOOST_TEST(run(v4, frames[i]) == run(both, frames[i]), "frame " << i);
  }
}

BOOST_AUTO_TEST_CASE(ipv6_tcp_to_us_within_the_range_is_accepted) {
  for (bool icmp : {false, true}) {
    BOOST_TEST(accepted6(make6({.dport = 61000}), icmp));
    BOOST_TEST(accepted6(make6({.dport = 61999}), icmp));
    BOOST_TEST(run(rx_filter_program(local, ports, icmp, local6), make6({})) >= 65535u);
  }
}

BOOST_AUTO_TEST_CASE(ipv6_tcp_to_another_address_or_port_and_udp_are_dropped) {
  BOOST_TEST(!accepted6(make6({.dst = other6})));
  BOOST_TEST(!accepted6(make6({.dst = local6.solicited_node()})));
  BOOST_TEST(!accepted6(make6({.dport = 60999})));
  BOOST_TEST(!accepted6(make6({.dport = 62000})));
  BOOST_TEST(!accepted6(make6({.dport = 22})));
  BOOST_TEST(!accepted6(make6({.next = 17})));  // UDP to our port
  auto cut = make6({});
  cut.resize(14 + 40 + 3);  // ends inside the destination port
  BOOST_TEST(!accepted6(cut));
  auto ipv4_ethertype = make6({});
  put16(ipv4_ethertype, 12, 0x0800);
  BOOST_TEST(!accepted6(ipv4_ethertype));
}

BOOST_AUTO_TEST_CASE(ipv6_fragments_are_dropped_other_extension_headers_to_us_are_passed) {
  BOOST_TEST(!accepted6(make6({.next = 44, .ext = 8})));  // fragment header
  BOOST_TEST(!accepted6(make6({.next = 44, .dport = 61000, .ext = 8})));
  // Hop-by-hop, routing and destination options to us: passed whole, the engine walks the chain.
  for (std::uint8_t next : {std::uint8_t{0}, std::uint8_t{43}, std::uint8_t{60}}) {
    BOOST_TEST(accepted6(make6({.next = next, .ext = 8})));
    BOOST_TEST(!accepted6(make6({.dst = other6, .next = next, .ext = 8})));
  }
  BOOST_TEST(!accepted6(make6({.next = 50, .ext = 8})));  // ESP: not ours
}

BOOST_AUTO_TEST_CASE(neighbour_discovery_for_us_is_always_accepted) {
  for (bool icmp : {false, true}) {
    BOOST_TEST(accepted6(make_icmp6({.type = 135, .dst = local6.solicited_node()}), icmp));  // resolution, DAD
    BOOST_TEST(accepted6(make_icmp6({.type = 135, .dst = local6}), icmp));  // unicast reachability probe
    BOOST_TEST(accepted6(make_icmp6({.type = 136, .dst = local6}), icmp));  // solicited advertisement
    BOOST_TEST(!accepted6(make_icmp6({.type = 135, .dst = other6.solicited_node()}), icmp));
    BOOST_TEST(!accepted6(make_icmp6({.type = 135, .dst = other6}), icmp));
    BOOST_TEST(!accepted6(make_icmp6({.type = 136, .dst = other6}), icmp));
  }
}

BOOST_AUTO_TEST_CASE(icmpv6_echo_and_other_types_are_dropped) {
  for (bool icmp : {false, true}) {
    BOOST_TEST(!accepted6(make_icmp6({.type = 128}), icmp));  // echo request: the kernel answers
    BOOST_TEST(!accepted6(make_icmp6({.type = 129}), icmp));  // echo reply
    BOOST_TEST(!accepted6(make_icmp6({.type = 134}), icmp));  // router advertisement
    BOOST_TEST(!accepted6(make_icmp6({.type = 137}), icmp));  // redirect
    BOOST_TEST(!accepted6(make_icmp6({.type = 0}), icmp));
  }
}

BOOST_AUTO_TEST_CASE(icmpv6_errors_quoting_our_tcp_ports_are_accepted_when_asked_for) {
  for (std::uint8_t type : {std::uint8_t{1}, std::uint8_t{2}, std::uint8_t{3}, std::uint8_t{4}}) {
    BOOST_TEST(!accepted6(make_icmp6({.type = type})));
    BOOST_TEST(accepted6(make_icmp6({.type = type}), true));
    BOOST_TEST(accepted6(make_icmp6({.type = type, .sport = 61999}), true));
  }
  BOOST_TEST(accepted6(make_icmp6({.cut = 6}), true));  // the quote ends right after the port
}

BOOST_AUTO_TEST_CASE(icmpv6_errors_about_other_traffic_are_dropped) {
  BOOST_TEST(!accepted6(make_icmp6({.sport = 60999}), true));  // packet too big for another port
  BOOST_TEST(!accepted6(make_icmp6({.sport = 62000}), true));
  BOOST_TEST(!accepted6(make_icmp6({.sport = 22}), true));
  BOOST_TEST(!accepted6(make_icmp6({.dst = other6}), true));
  BOOST_TEST(!accepted6(make_icmp6({.dst = local6.solicited_node()}), true));
  BOOST_TEST(!accepted6(make_icmp6({.quoted_src = other6}), true));
  BOOST_TEST(!accepted6(make_icmp6({.quoted_next = 17}), true));  // UDP
  BOOST_TEST(!accepted6(make_icmp6({.quoted_next = 0}), true));   // extension headers in the quote
  BOOST_TEST(!accepted6(make_icmp6({.cut = 7}), true));           // cut inside the source port
  BOOST_TEST(!accepted6(make_icmp6({.cut = 48}), true));          // nothing quoted at all
}

// An L3 link (tun, WireGuard: ARPHRD_NONE) hands the filter the IP header at offset 0. Every
// frame of the Ethernet cases, stripped of its header, gets the same verdict from the L3 program;
// ARP (meaningless there) and packets of another IP version are dropped.
BOOST_AUTO_TEST_CASE(l3_links_get_the_ethernet_verdicts_at_offset_zero_and_no_arp) {
  for (const bool icmp : {false, true}) {
    const auto eth = rx_filter_program(local, ports, icmp, local6);
    const auto l3 = rx_filter_program(local, ports, icmp, local6, 0);
    const auto l3_v4_only = rx_filter_program(local, ports, icmp, std::nullopt, 0);
    check_structure(l3);
    check_structure(l3_v4_only);
    const std::vector<std::vector<std::uint8_t>> frames = {
        make({}), make({.dport = 61999}), make({.dport = 60999}), make({.dst = other}), make({.proto = 17}),
        make({.ihl = 7}), make({.dport = 61500, .ihl = 15}), make({.frag = 0x2000}), make({.frag = 0x0001}),
        make_icmp({}), make_icmp({.type = 11}), make_icmp({.type = 8}), make_icmp({.quoted_src = other}),
        make_icmp({.sport = 60999}), make_icmp({.cut = 7}),
        make6({}), make6({.dport = 62000}), make6({.dst = other6}), make6({.next = 17}), make6({.next = 0, .ext = 8}),
        make6({.next = 44, .ext = 8}), make_icmp6({}), make_icmp6({.type = 135}), make_icmp6({.quoted_src = other6}),
        make_icmp6({.type = 128})};
    std::size_t accepted_count = 0;
    for (const auto& f : frames) {
      const std::vector<std::uint8_t> ip(f.begin() + 14, f.end());
      const bool want = run(eth, f) != 0;
      BOOST_TEST((run(l3, ip) != 0) == want);
      accepted_count += want;
      // Without an IPv6 address every IPv6 packet is dropped, IPv4 verdicts unchanged.
      BOOST_TEST((run(l3_v4_only, ip) != 0) == (want && (ip[0] >> 4) == 4));
    }
    BOOST_TEST(accepted_count >= 6u);  // the comparison covers acceptance, not only drops
    BOOST_TEST(run(l3, make({})) == 0u);  // an Ethernet frame read as IP: version 0, dropped
    const auto arp = make_arp(local);
    BOOST_TEST(run(l3, std::vector<std::uint8_t>(arp.begin() + 14, arp.end())) == 0u);
    const auto plain = make({});
    auto v5 = std::vector<std::uint8_t>(plain.begin() + 14, plain.end());
    v5[0] = 0x55;
    BOOST_TEST(run(l3, v5) == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()
