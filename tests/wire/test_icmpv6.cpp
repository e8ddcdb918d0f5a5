// ICMPv6 (RFC 4443) errors about our TCP segments, emit -> parse, with the quotation read into the
// same icmp_quote IPv4 fills; and neighbour solicitations and advertisements (RFC 4861) with every
// validity check of §7.1.1 / §7.1.2, against a golden solicitation tcpdump calls "icmp6 sum ok".
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <string_view>

#include "synack/wire/checksum.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/icmpv6.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;

namespace {

namespace nh = ipv6_next_header;

const ipv6_addr us = *ipv6_addr::parse("fd00::116");
const ipv6_addr peer = *ipv6_addr::parse("fd00:88::2");
const ipv6_addr router = *ipv6_addr::parse("fd00::fe");
constexpr std::size_t icmp6_at = 14 + ipv6_header_len;

const parse_options verify{.verify_checksums = true};

// The TCP header we "sent": 61000 -> 8080, seq 0x11223344, a SYN with MSS 1440.
// A static: a quotation's transport points into it.
const byte_vec& sent_tcp_header() {
  static const byte_vec h =
      wire_test::from_hex("ee 48 1f 90 11 22 33 44 00 00 00 00 60 02 ff ff 00 00 00 00 02 04 05 a0");
  return h;
}

icmpv6_error_repr error_about(std::uint8_t type, std::uint8_t code, const byte_vec& quoted) {
  icmpv6_error_repr e;
  e.type = type;
  e.code = code;
  e.quote.src = us;
  e.quote.dst = peer;
  e.quote.protocol = ip_protocol::tcp;
  e.quote.ttl = 1;
  e.quote.dscp_ecn = 0x02;
  e.quote.dont_fragment = true;
  e.quote.total_length = static_cast<std::uint16_t>(ipv6_header_len + quoted.size());
  e.quote.transport = quoted;
  // What parse reads back from the quoted TCP bytes.
  e.quote.src_port = load_u16(quoted, 0);
  e.quote.dst_port = load_u16(quoted, 2);
  e.quote.seq = load_u32(quoted, 4);
  return e;
}

// Ethernet + IPv6 (router -> us, next header 58) + the emitted message.
byte_vec icmp6_frame(const icmpv6_error_repr& e, const ipv6_addr& from = router) {
  byte_vec msg(e.buffer_len());
  e.emit(msg, from, us);
  return wire_test::build_ipv6_frame(
      ipv6_repr{.src = from, .dst = us, .next_header = ip_protocol::icmpv6, .hop_limit = 64}, {}, msg);
}

// An ICMPv6 message, as raw bytes, from `src` to `dst` with `hop_limit`; the checksum recomputed.
byte_vec raw_icmp6_frame(byte_vec msg, const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t hop_limit = 255) {
  store_u16(msg, 2, 0);
  store_u16(msg, 2, icmpv6_checksum(src, dst, msg));
  return wire_test::build_ipv6_frame(
      ipv6_repr{.src = src, .dst = dst, .next_header = ip_protocol::icmpv6, .hop_limit = hop_limit}, {}, msg);
}

// fd00::116 asks ff02::1:ff00:123 who has fd00::123, saying it is 02:00:00:00:01:74. Checksummed
// by a Python reference sum, confirmed by tcpdump -vv ("[icmp6 sum ok] ... who has fd00::123").
const byte_vec golden_ns = wire_test::from_hex(
    "33 33 ff 00 01 23 02 00 00 00 01 74 86 dd 60 00"
    "00 00 00 20 3a ff fd 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 01 16 ff 02 00 00 00 00 00 00 00 00"
    "00 01 ff 00 01 23 87 00 78 cd 00 00 00 00 fd 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 01 23 01 01"
    "02 00 00 00 01 74");
const ipv6_addr ns_target = *ipv6_addr::parse("fd00::123");
const mac_addr ns_mac{{2, 0, 0, 0, 1, 0x74}};

}  // namespace

BOOST_AUTO_TEST_SUITE(icmpv6)

BOOST_AUTO_TEST_CASE(port_unreachable_round_trips) {
  const icmpv6_error_repr sent = error_about(icmpv6_type::dest_unreachable, icmpv6_unreach::port, sent_tcp_header());
  const parsed_frame p = parse_frame(icmp6_frame(sent), verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(!p.icmp);
  BOOST_TEST_REQUIRE(p.icmpv6.has_value());
  BOOST_TEST(p.ip->src == ip_addr{router});
  const icmpv6_error_repr& e = *p.icmpv6;
  BOOST_TEST((e == sent));
  BOOST_TEST(e.quote.src == ip_addr{us});
  BOOST_TEST(e.quote.dst == ip_addr{peer});
  BOOST_TEST(e.quote.src_port == 61000);
  BOOST_TEST(e.quote.dst_port == 8080);
  BOOST_TEST(e.quote.seq == 0x11223344u);
  BOOST_TEST(e.quote.ttl == 1);
  BOOST_TEST(e.quote.dscp_ecn == 0x02);
  BOOST_TEST(e.quote.identification == 0);
  BOOST_TEST(e.quote.dont_fragment);
  BOOST_TEST(e.quote.total_length == 64);
  BOOST_TEST(e.quote.transport.size() == 24u);
  BOOST_TEST(p.quotation() == &e.quote);
  BOOST_TEST(std::string(icmpv6_describe(e.type, e.code)) == "port unreachable");
}

BOOST_AUTO_TEST_CASE(every_error_type_and_code_round_trips) {
  struct tc { std::uint8_t type, code; const char* name; };
  const tc cases[] = {
      {icmpv6_type::dest_unreachable, icmpv6_unreach::no_route, "no route to destination"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::admin_prohibited, "administratively prohibited"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::beyond_scope, "beyond scope of source address"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::address, "address unreachable"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::port, "port unreachable"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::source_policy, "source address failed policy"},
      {icmpv6_type::dest_unreachable, icmpv6_unreach::reject_route, "reject route to destination"},
      {icmpv6_type::packet_too_big, 0, "packet too big"},
      {icmpv6_type::time_exceeded, icmpv6_time_exceeded::hop_limit, "hop limit exceeded"},
      {icmpv6_type::time_exceeded, icmpv6_time_exceeded::reassembly, "fragment reassembly time exceeded"},
      {icmpv6_type::parameter_problem, icmpv6_param_problem::header_field, "erroneous header field"},
      {icmpv6_type::parameter_problem, icmpv6_param_problem::next_header, "unrecognized next header"},
  };
  for (const tc& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      icmpv6_error_repr sent = error_about(c.type, c.code, sent_tcp_header());
      if (c.type == icmpv6_type::parameter_problem) sent.pointer = 0x00010006;
      const parsed_frame p = parse_frame(icmp6_frame(sent), verify);
      BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
      BOOST_TEST((*p.icmpv6 == sent));
      BOOST_TEST(p.icmpv6->pointer == (c.type == icmpv6_type::parameter_problem ? 0x00010006u : 0u));
      BOOST_TEST(std::string(icmpv6_describe(c.type, c.code)) == c.name);
    }
  }
}

BOOST_AUTO_TEST_CASE(packet_too_big_carries_a_32_bit_mtu) {
  static const byte_vec q(sent_tcp_header().begin(), sent_tcp_header().begin() + 8);  // only 8 bytes of TCP quoted
  icmpv6_error_repr sent = error_about(icmpv6_type::packet_too_big, 0, q);
  sent.mtu = 1280;
  sent.quote.total_length = 1500;  // what did not fit
  byte_vec f = icmp6_frame(sent);
  BOOST_TEST(load_u32(f, icmp6_at + 4) == 1280u);
  parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(p.icmpv6->mtu == 1280u);
  BOOST_TEST(p.icmpv6->quote.total_length == 1500);
  BOOST_TEST(p.icmpv6->quote.transport.size() == 8u);
  // All 32 bits are read: a (bogus) MTU over 65535 arrives as sent, for the engine to judge.
  sent.mtu = 0x00012345;
  p = parse_frame(icmp6_frame(sent), verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(p.icmpv6->mtu == 0x00012345u);
  // Only packet too big reads the field.
  sent.type = icmpv6_type::dest_unreachable;
  p = parse_frame(icmp6_frame(sent), verify);
  BOOST_TEST(p.icmpv6->mtu == 0u);
}

BOOST_AUTO_TEST_CASE(quoted_extension_headers_are_walked) {
  // A quotation whose packet had a destination options header: built by hand.
  const icmpv6_error_repr plain = error_about(icmpv6_type::dest_unreachable, icmpv6_unreach::port, sent_tcp_header());
  byte_vec msg(plain.buffer_len());
  plain.emit(msg, router, us);
  const std::size_t qip = icmpv6_header_len;
  byte_vec ext = wire_test::ext_header(ip_protocol::tcp, 1);  // 16 bytes
  msg.insert(msg.begin() + static_cast<std::ptrdiff_t>(qip + ipv6_header_len), ext.begin(), ext.end());
  store_u8(msg, qip + 6, nh::destination_options);
  store_u16(msg, qip + 4, static_cast<std::uint16_t>(16 + 24));
  const parsed_frame p = parse_frame(raw_icmp6_frame(msg, router, us, 64), verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(p.icmpv6->quote.protocol == ip_protocol::tcp);
  BOOST_TEST(p.icmpv6->quote.seq == 0x11223344u);
  BOOST_TEST(p.icmpv6->quote.transport.size() == 24u);
  BOOST_TEST(p.icmpv6->quote.total_length == 40 + 16 + 24);

  // The same with the quotation cut inside the extension header: truncated.
  byte_vec cut = msg;
  cut.resize(qip + ipv6_header_len + 10);
  BOOST_TEST(parse_frame(raw_icmp6_frame(cut, router, us, 64), verify).error == parse_error::icmp_quote_truncated);
  // A quoted fragment header: not about our TCP (we never fragment).
  byte_vec frag = msg;
  store_u8(frag, qip + 6, nh::fragment);
  const parsed_frame pf = parse_frame(raw_icmp6_frame(frag, router, us, 64), verify);
  BOOST_TEST(pf.kind == frame_kind::ignored);
  BOOST_TEST(pf.error == parse_error::icmp_quote_not_tcp);
  // Hop-by-hop anywhere but first in the quotation: a header we never sent.
  byte_vec hbh = msg;
  store_u8(hbh, qip + ipv6_header_len, nh::hop_by_hop);
  BOOST_TEST(parse_frame(raw_icmp6_frame(hbh, router, us, 64), verify).error == parse_error::icmp_quote_bad_header);
}

BOOST_AUTO_TEST_CASE(error_refusals) {
  const icmpv6_error_repr good = error_about(icmpv6_type::dest_unreachable, icmpv6_unreach::port, sent_tcp_header());
  byte_vec msg(good.buffer_len());
  good.emit(msg, router, us);
  const std::size_t qip = icmpv6_header_len;
  const auto error_of = [](const byte_vec& m) { return parse_frame(raw_icmp6_frame(m, router, us, 64), verify).error; };
  {  // a flipped bit without a recomputed checksum
    byte_vec f = icmp6_frame(good);
    f.back() ^= std::byte{0x10};
    BOOST_TEST(parse_frame(f, verify).error == parse_error::bad_icmp_checksum);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).kind == frame_kind::icmp);
  }
  {  // the checksum covers the pseudo-header: the same message from another source fails
    byte_vec f = icmp6_frame(good);
    store_u8(f, 14 + 8 + 15, 0xfd);
    BOOST_TEST(parse_frame(f, verify).error == parse_error::bad_icmp_checksum);
  }
  {  // under 8 bytes
    byte_vec m = msg;
    m.resize(6);
    BOOST_TEST(error_of(m) == parse_error::truncated_icmp);
  }
  // Well-formed but ignored types.
  for (std::uint8_t type : {icmpv6_type::echo_request, icmpv6_type::echo_reply, icmpv6_type::router_advertisement,
                            icmpv6_type::router_solicitation, icmpv6_type::redirect, std::uint8_t{100}}) {
    byte_vec m = msg;
    store_u8(m, 0, type);
    const parsed_frame p = parse_frame(raw_icmp6_frame(m, router, us, 255), verify);
    BOOST_TEST(p.kind == frame_kind::ignored);
    BOOST_TEST(p.error == parse_error::unsupported_icmp);
  }
  {  // less than the quoted IPv6 header
    byte_vec m = msg;
    m.resize(qip + 39);
    BOOST_TEST(error_of(m) == parse_error::icmp_quote_truncated);
  }
  {  // the header but only 7 bytes of TCP
    byte_vec m = msg;
    m.resize(qip + ipv6_header_len + 7);
    BOOST_TEST(error_of(m) == parse_error::icmp_quote_truncated);
  }
  {  // quoted version 4
    byte_vec m = msg;
    store_u8(m, qip, 0x45);
    BOOST_TEST(error_of(m) == parse_error::icmp_quote_bad_header);
  }
  {  // a quoted v4-mapped source
    byte_vec m = msg;
    store_ipv6(m, qip + 8, ip_addr{ipv4_addr{0x0a000001}}.v6());
    BOOST_TEST(error_of(m) == parse_error::icmp_quote_bad_header);
  }
  {  // about UDP: ignored
    byte_vec m = msg;
    store_u8(m, qip + 6, ip_protocol::udp);
    BOOST_TEST(error_of(m) == parse_error::icmp_quote_not_tcp);
    BOOST_TEST(!is_malformed(parse_error::icmp_quote_not_tcp));
  }
  {  // a router pads its quotation: the original's payload length bounds it
    byte_vec m = msg;
    m.resize(m.size() + 16);
    const parsed_frame p = parse_frame(raw_icmp6_frame(m, router, us, 64), verify);
    BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
    BOOST_TEST(p.icmpv6->quote.transport.size() == 24u);
  }
}

BOOST_AUTO_TEST_CASE(golden_neighbour_solicitation) {
  const parsed_frame p = parse_frame(golden_ns, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::ndp);
  BOOST_TEST(p.error == parse_error::none);
  BOOST_TEST_REQUIRE(p.ndp.has_value());
  BOOST_TEST(p.ndp->type == icmpv6_type::neighbor_solicitation);
  BOOST_TEST(p.ndp->target == ns_target);
  BOOST_TEST_REQUIRE(p.ndp->source_lladdr.has_value());
  BOOST_TEST(*p.ndp->source_lladdr == ns_mac);
  BOOST_TEST(!p.ndp->target_lladdr);
  BOOST_TEST(p.ip->dst == ip_addr{ns_target.solicited_node()});
  BOOST_TEST(p.ip->ttl == 255);
  // And synack emits the same bytes.
  const ndp_repr ns{.type = icmpv6_type::neighbor_solicitation, .target = ns_target, .source_lladdr = ns_mac};
  byte_vec msg(ns.buffer_len());
  ns.emit(msg, us, ns_target.solicited_node());
  BOOST_TEST(wire_test::to_hex(msg) == wire_test::to_hex(bytes{golden_ns}.subspan(icmp6_at)));
}

BOOST_AUTO_TEST_CASE(solicitations_and_advertisements_round_trip) {
  const ipv6_addr all_nodes = *ipv6_addr::parse("ff02::1");
  struct tc { const char* name; ndp_repr r; ipv6_addr src, dst; };
  const tc cases[] = {
      {"NS without options", {.type = icmpv6_type::neighbor_solicitation, .target = peer}, us, peer},
      {"NS with source lladdr", {.type = icmpv6_type::neighbor_solicitation, .target = peer, .source_lladdr = ns_mac},
       us, peer.solicited_node()},
      {"NS for DAD", {.type = icmpv6_type::neighbor_solicitation, .target = us}, ipv6_addr{}, us.solicited_node()},
      {"NA solicited, override, with target lladdr",
       {.type = icmpv6_type::neighbor_advertisement, .target = us, .solicited = true, .override = true,
        .target_lladdr = ns_mac},
       us, peer},
      {"NA router, unsolicited, to all nodes",
       {.type = icmpv6_type::neighbor_advertisement, .target = us, .router = true}, us, all_nodes},
      {"NA without options", {.type = icmpv6_type::neighbor_advertisement, .target = us}, us, peer},
  };
  for (const tc& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      byte_vec msg(c.r.buffer_len());
      c.r.emit(msg, c.src, c.dst);
      BOOST_TEST(msg.size() == ndp_min_len + (c.r.source_lladdr ? 8u : 0u) + (c.r.target_lladdr ? 8u : 0u));
      const byte_vec f = wire_test::build_ipv6_frame(
          ipv6_repr{.src = c.src, .dst = c.dst, .next_header = ip_protocol::icmpv6, .hop_limit = ndp_hop_limit}, {}, msg);
      const parsed_frame p = parse_frame(f, verify);
      BOOST_TEST_REQUIRE(p.kind == frame_kind::ndp);
      BOOST_TEST((*p.ndp == c.r));
      BOOST_TEST(!p.icmpv6);
    }
  }
}

BOOST_AUTO_TEST_CASE(ndp_options_are_skipped_or_refused) {
  // An NA with an unknown option (type 14, 16 bytes) before the target lladdr, and a source lladdr
  // of a non-Ethernet size (16 bytes): both skipped.
  const ndp_repr na{.type = icmpv6_type::neighbor_advertisement, .target = us, .solicited = true, .target_lladdr = ns_mac};
  byte_vec msg(na.buffer_len());
  na.emit(msg, us, peer);
  byte_vec unknown(16);
  unknown[0] = std::byte{14};
  unknown[1] = std::byte{2};
  byte_vec odd(16);
  odd[0] = std::byte{ndp_option::source_lladdr};
  odd[1] = std::byte{2};
  msg.insert(msg.begin() + 24, odd.begin(), odd.end());
  msg.insert(msg.begin() + 24, unknown.begin(), unknown.end());
  parsed_frame p = parse_frame(raw_icmp6_frame(msg, us, peer), verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::ndp);
  BOOST_TEST((*p.ndp == na));

  const auto error_of = [](const byte_vec& m) { return parse_frame(raw_icmp6_frame(m, us, peer), verify).error; };
  {  // an option of length 0 would never end
    byte_vec m = msg;
    store_u8(m, 25, 0);
    BOOST_TEST(error_of(m) == parse_error::ndp_bad_option_length);
  }
  {  // an option running past the message
    byte_vec m = msg;
    store_u8(m, m.size() - 7, 2);
    BOOST_TEST(error_of(m) == parse_error::ndp_bad_option_length);
  }
  {  // one stray byte after the options
    byte_vec m = msg;
    m.push_back(std::byte{1});
    BOOST_TEST(error_of(m) == parse_error::ndp_bad_option_length);
  }
}

BOOST_AUTO_TEST_CASE(ndp_validity_checks) {
  const ndp_repr ns{.type = icmpv6_type::neighbor_solicitation, .target = peer, .source_lladdr = ns_mac};
  byte_vec msg(ns.buffer_len());
  ns.emit(msg, us, peer.solicited_node());
  const auto error_of = [](const byte_vec& m, const ipv6_addr& src, const ipv6_addr& dst, std::uint8_t hop = 255) {
    return parse_frame(raw_icmp6_frame(m, src, dst, hop), verify).error;
  };
  BOOST_TEST(error_of(msg, us, peer.solicited_node()) == parse_error::none);
  {  // bad checksum
    byte_vec f = raw_icmp6_frame(msg, us, peer.solicited_node());
    f.back() ^= std::byte{1};
    BOOST_TEST(parse_frame(f, verify).error == parse_error::bad_icmp_checksum);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).kind == frame_kind::ndp);
  }
  // Crossed a router, or forged off-link.
  BOOST_TEST(error_of(msg, us, peer.solicited_node(), 254) == parse_error::ndp_bad_hop_limit);
  BOOST_TEST(error_of(msg, us, peer.solicited_node(), 64) == parse_error::ndp_bad_hop_limit);
  {
    byte_vec m = msg;
    store_u8(m, 1, 1);
    BOOST_TEST(error_of(m, us, peer.solicited_node()) == parse_error::ndp_bad_code);
  }
  {  // 23 bytes: the target cut short
    byte_vec m = msg;
    m.resize(23);
    BOOST_TEST(error_of(m, us, peer.solicited_node()) == parse_error::truncated_ndp);
  }
  {
    byte_vec m = msg;
    store_ipv6(m, 8, *ipv6_addr::parse("ff02::1"));
    BOOST_TEST(error_of(m, us, peer.solicited_node()) == parse_error::ndp_multicast_target);
  }
  // Duplicate address detection: from :: only to the solicited-node group and without a source
  // lladdr.
  BOOST_TEST(error_of(msg, ipv6_addr{}, peer.solicited_node()) == parse_error::ndp_bad_source);
  {
    byte_vec m = msg;
    m.resize(ndp_min_len);
    BOOST_TEST(error_of(m, ipv6_addr{}, peer.solicited_node()) == parse_error::none);
    BOOST_TEST(error_of(m, ipv6_addr{}, peer) == parse_error::ndp_bad_source);
  }
  {  // a solicited advertisement to a multicast group
    const ndp_repr na{.type = icmpv6_type::neighbor_advertisement, .target = us, .solicited = true};
    byte_vec m(na.buffer_len());
    na.emit(m, us, peer);
    BOOST_TEST(error_of(m, us, peer) == parse_error::none);
    BOOST_TEST(error_of(m, us, *ipv6_addr::parse("ff02::1")) == parse_error::ndp_solicited_multicast);
  }
  for (parse_error e : {parse_error::ndp_bad_hop_limit, parse_error::ndp_bad_code, parse_error::truncated_ndp,
                        parse_error::ndp_multicast_target, parse_error::ndp_bad_option_length,
                        parse_error::ndp_bad_source, parse_error::ndp_solicited_multicast})
    BOOST_TEST(is_malformed(e));
}

BOOST_AUTO_TEST_CASE(every_reason_has_a_distinct_name) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < parse_error_count; ++i) {
    const std::string_view n = to_string(static_cast<parse_error>(i));
    BOOST_TEST(n != "unknown");
    names.insert(n);
  }
  BOOST_TEST(names.size() == parse_error_count);
  BOOST_TEST(to_string(parse_error::ndp_solicited_multicast) == "ndp_solicited_multicast");
  parse_counters c;
  c.count(parse_error::ndp_solicited_multicast);  // the last reason has a slot
  BOOST_TEST(c[parse_error::ndp_solicited_multicast] == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
