#include "synack/link/rx_filter.hpp"

#include <array>
#include <stdexcept>

namespace synack::link {

namespace {

// Frame offsets, from where the IP header begins (after the Ethernet header, or 0 on an L3 link).
struct offsets {
  std::uint32_t ip_begin;
  std::uint32_t ip_frag() const { return ip_begin + 6; }  // flags (MF = 0x2000) + fragment offset
  std::uint32_t ip_proto() const { return ip_begin + 9; }
  std::uint32_t ip_dst() const { return ip_begin + 16; }
  std::uint32_t arp_tpa() const { return ip_begin + 24; }  // Ethernet/IPv4 ARP: target protocol address
  std::uint32_t quote_begin() const { return ip_begin + 8; }  // the quoted IPv4 header, after X = our IHL
  // IPv6 (RFC 8200): the fixed 40-byte header, then (for what we keep) TCP or ICMPv6 directly.
  std::uint32_t ip6_next() const { return ip_begin + 6; }
  std::uint32_t ip6_dst() const { return ip_begin + 24; }
  std::uint32_t ip6_payload() const { return ip_begin + 40; }
  // An ICMPv6 error quotes the offending packet after its 8-byte header.
  std::uint32_t quote6_begin() const { return ip6_payload() + 8; }
};
constexpr std::uint32_t eth_type = 12;
constexpr std::uint32_t tcp_dport = 2;  // relative to the TCP header
constexpr std::uint32_t icmp_type = 0;  // relative to the ICMP header

constexpr std::uint32_t accept_all = 0x40000;  // snap length: the whole frame
constexpr std::uint32_t drop = 0;

// A tiny assembler: jumps name labels, resolved to relative offsets by finish(), so the program
// below reads like BPF assembly and optional parts do not shift hand-counted offsets.
class assembler {
 public:
  enum label : int {
    next = -1, accept, reject,
    ipv4, ipv4_body, tcp, icmp_quote,                       // IPv4
    ipv6, ipv6_body, ext6, tcp6, icmp6, nd, nd_group, icmp6_error,     // IPv6
    count
  };

  void stmt(std::uint16_t code, std::uint32_t k) { code_.push_back({code, 0, 0, k}); }
  void jump(std::uint16_t code, std::uint32_t k, label jt, label jf) {
    fixups_.push_back({code_.size(), jt, jf});
    code_.push_back({code, 0, 0, k});
  }
  // Jumps to on_match when the 16 bytes at `offset` are `addr`, else to on_miss (A is clobbered).
  void match_ipv6(std::uint32_t offset, const wire::ipv6_addr& addr, label on_match, label on_miss) {
    for (std::uint32_t w = 0; w < 4; ++w) {
      const auto* o = &addr.octets[4 * w];
      std::uint32_t word = std::uint32_t{o[0]} << 24 | std::uint32_t{o[1]} << 16 | std::uint32_t{o[2]} << 8 | o[3];
      stmt(BPF_LD | BPF_W | BPF_ABS, offset + 4 * w);
      jump(BPF_JMP | BPF_JEQ | BPF_K, word, w == 3 ? on_match : next, on_miss);
    }
  }
  // Accepts when the big-endian 16 bits in A are in `ports`, else rejects.
  void port_in(port_range ports) {
    jump(BPF_JMP | BPF_JGE | BPF_K, ports.lo, next, reject);
    jump(BPF_JMP | BPF_JGT | BPF_K, ports.hi, reject, accept);
  }
  void mark(label l) { at_[static_cast<std::size_t>(l)] = code_.size(); }

  std::vector<sock_filter> finish() {
    for (const auto& f : fixups_) {
      auto offset = [&](label l) {
        if (l == next) return std::uint8_t{0};
        std::size_t to = at_[static_cast<std::size_t>(l)];
        // A conditional jump reaches at most 255 instructions forward: never silently wrap.
        if (to <= f.at || to - f.at - 1 > 255) throw std::logic_error("rx_filter: jump out of range");
        return static_cast<std::uint8_t>(to - f.at - 1);
      };
      code_[f.at].jt = offset(f.jt);
      code_[f.at].jf = offset(f.jf);
    }
    return std::move(code_);
  }

 private:
  struct fixup {
    std::size_t at;
    label jt, jf;
  };
  std::vector<sock_filter> code_;
  std::vector<fixup> fixups_;
  std::array<std::size_t, count> at_{};
};

}  // namespace

std::vector<sock_filter> rx_filter_program(wire::ipv4_addr local, port_range ports, bool icmp_errors,
                                           std::optional<wire::ipv6_addr> local6, std::uint32_t link_header_len) {
  using enum assembler::label;
  const offsets o{link_header_len};
  const std::uint32_t ip_begin = o.ip_begin;
  assembler a;
  if (link_header_len == 0) {
    // An L3 link: the IP version nibble says the family; no ARP.
    a.stmt(BPF_LD | BPF_B | BPF_ABS, 0);
    a.stmt(BPF_ALU | BPF_RSH | BPF_K, 4);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 4, ipv4_body, next);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, local6 ? ipv6_body : reject, reject);
  } else {
    a.stmt(BPF_LD | BPF_H | BPF_ABS, eth_type);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, next, ipv4);  // ARP for our address
    a.stmt(BPF_LD | BPF_W | BPF_ABS, o.arp_tpa());
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, local.value, accept, reject);
    a.mark(ipv4);  // A still holds the EtherType
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, next, local6 ? ipv6 : reject);
  }

  a.mark(ipv4_body);
  a.stmt(BPF_LD | BPF_W | BPF_ABS, o.ip_dst());
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, local.value, next, reject);
  a.stmt(BPF_LD | BPF_H | BPF_ABS, o.ip_frag());
  a.jump(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, reject, next);  // MF or an offset: a fragment
  a.stmt(BPF_LD | BPF_B | BPF_ABS, o.ip_proto());
  a.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, tcp, icmp_errors ? next : reject);
  if (icmp_errors) {  // destination unreachable (3), time exceeded (11), parameter problem (12)
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 1, next, reject);
    a.stmt(BPF_LDX | BPF_B | BPF_MSH, ip_begin);  // X = 4 * IHL
    a.stmt(BPF_LD | BPF_B | BPF_IND, ip_begin + icmp_type);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 3, icmp_quote, next);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 11, icmp_quote, next);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 12, icmp_quote, reject);
    // The quoted datagram (after the 8-byte ICMP header) must be TCP from our address, and its
    // source port (the first bytes after the quoted header, whose IHL is read too) in our range.
    a.mark(icmp_quote);
    a.stmt(BPF_LD | BPF_W | BPF_IND, o.quote_begin() + 12);  // quoted source address
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, local.value, next, reject);
    a.stmt(BPF_LD | BPF_B | BPF_IND, o.quote_begin() + 9);   // quoted protocol
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, next, reject);
    a.stmt(BPF_LD | BPF_B | BPF_IND, o.quote_begin());       // quoted version and IHL
    a.stmt(BPF_ALU | BPF_AND | BPF_K, 0x0f);
    a.stmt(BPF_ALU | BPF_LSH | BPF_K, 2);
    a.stmt(BPF_ALU | BPF_ADD | BPF_X, 0);                // + our header's length
    a.stmt(BPF_MISC | BPF_TAX, 0);                       // X = both headers' lengths
    a.stmt(BPF_LD | BPF_H | BPF_IND, o.quote_begin());       // quoted TCP source port
    a.jump(BPF_JMP | BPF_JGE | BPF_K, ports.lo, next, reject);
    a.jump(BPF_JMP | BPF_JGT | BPF_K, ports.hi, reject, accept);
  }

  a.mark(tcp);
  a.stmt(BPF_LDX | BPF_B | BPF_MSH, ip_begin);  // X = 4 * IHL
  a.stmt(BPF_LD | BPF_H | BPF_IND, ip_begin + tcp_dport);
  a.jump(BPF_JMP | BPF_JGE | BPF_K, ports.lo, next, reject);
  a.jump(BPF_JMP | BPF_JGT | BPF_K, ports.hi, reject, accept);

  if (local6) {
    if (link_header_len != 0) {
      a.mark(ipv6);  // A still holds the EtherType
      a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, next, reject);
    }
    a.mark(ipv6_body);
    a.stmt(BPF_LD | BPF_B | BPF_ABS, o.ip6_next());
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, tcp6, next);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 58, icmp6, next);
    // Extension headers before the transport header: passed to the engine when addressed to us
    // (see rx_filter.hpp); the fragment header (44) and everything else are dropped here.
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 0, ext6, next);      // hop-by-hop options
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 43, ext6, next);     // routing
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 60, ext6, reject);   // destination options
    a.mark(ext6);
    a.match_ipv6(o.ip6_dst(), *local6, accept, reject);

    a.mark(tcp6);
    a.match_ipv6(o.ip6_dst(), *local6, next, reject);
    a.stmt(BPF_LD | BPF_H | BPF_ABS, o.ip6_payload() + tcp_dport);
    a.port_in(ports);

    a.mark(icmp6);
    a.stmt(BPF_LD | BPF_B | BPF_ABS, o.ip6_payload() + icmp_type);
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 135, nd, next);  // neighbour solicitation
    a.jump(BPF_JMP | BPF_JEQ | BPF_K, 136, nd, next);  // neighbour advertisement
    if (icmp_errors) {  // destination unreachable, packet too big, time exceeded, parameter problem
      a.jump(BPF_JMP | BPF_JGE | BPF_K, 1, next, reject);
      a.jump(BPF_JMP | BPF_JGT | BPF_K, 4, reject, icmp6_error);
    } else {
      a.stmt(BPF_RET | BPF_K, drop);
    }

    // Neighbour discovery to our address (unicast NUD probes, solicited advertisements) or to our
    // solicited-node group (address resolution and DAD).
    a.mark(nd);
    a.match_ipv6(o.ip6_dst(), *local6, accept, nd_group);
    a.mark(nd_group);
    a.match_ipv6(o.ip6_dst(), local6->solicited_node(), accept, reject);

    if (icmp_errors) {
      // Errors come to our unicast address and quote the segment we sent: from our address, next
      // header TCP (a quote with extension headers is dropped), source port in our range. A quote
      // cut before the port makes the load fail, which drops the frame.
      a.mark(icmp6_error);
      a.match_ipv6(o.ip6_dst(), *local6, next, reject);
      a.match_ipv6(o.quote6_begin() + 8, *local6, next, reject);  // quoted source address
      a.stmt(BPF_LD | BPF_B | BPF_ABS, o.quote6_begin() + 6);     // quoted next header
      a.jump(BPF_JMP | BPF_JEQ | BPF_K, 6, next, reject);
      a.stmt(BPF_LD | BPF_H | BPF_ABS, o.quote6_begin() + 40);    // quoted TCP source port
      a.port_in(ports);
    }
  }

  a.mark(accept);
  a.stmt(BPF_RET | BPF_K, accept_all);
  a.mark(reject);
  a.stmt(BPF_RET | BPF_K, drop);
  return a.finish();
}

}  // namespace synack::link
