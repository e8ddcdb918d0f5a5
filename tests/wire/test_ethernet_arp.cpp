// Ethernet II and ARP: golden bytes, round trips, refusals.
#include <boost/test/unit_test.hpp>

#include "synack/wire/arp.hpp"
#include "synack/wire/ethernet.hpp"
#include "synack/wire/frame.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;
using wire_test::to_hex;

namespace {
const mac_addr mac_a{{0x02, 0x00, 0x00, 0x00, 0x01, 0x74}};
const mac_addr mac_b{{0x02, 0x00, 0x00, 0x00, 0x01, 0x7b}};
const ipv4_addr ip_a = ipv4_addr::from_octets(192, 168, 1, 116);
const ipv4_addr ip_b = ipv4_addr::from_octets(192, 168, 1, 123);

// "who-has 192.168.1.123 tell 192.168.1.116", broadcast, written out by hand (RFC 826 layout).
const byte_vec arp_request_frame = from_hex(
    "ff ff ff ff ff ff 02 00 00 00 01 74 08 06"  // Ethernet: broadcast <- a, ARP
    "00 01 08 00 06 04 00 01"                    // htype 1, ptype IPv4, hlen 6, plen 4, op request
    "02 00 00 00 01 74 c0 a8 01 74"              // sender a
    "00 00 00 00 00 00 c0 a8 01 7b");            // target ? / b

byte_vec emit_arp_frame(mac_addr dst, const arp_repr& arp) {
  byte_vec frame(ethernet_header_len + arp_repr::buffer_len());
  emit_ethernet(frame, dst, arp.sender_mac, ethertype::arp);
  arp.emit(mutable_bytes{frame}.subspan(ethernet_header_len));
  return frame;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(ethernet)

BOOST_AUTO_TEST_CASE(emit_then_parse_round_trips_header) {
  byte_vec frame(ethernet_header_len + 3);
  emit_ethernet(frame, mac_b, mac_a, ethertype::ipv4);
  const auto v = ethernet_view::parse(frame);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->dst() == mac_b);
  BOOST_TEST(v->src() == mac_a);
  BOOST_TEST(v->ethertype() == ethertype::ipv4);
  BOOST_TEST(v->payload().size() == 3u);
  BOOST_TEST(to_hex(bytes{frame}.first(14)) == "02 00 00 00 01 7b 02 00 00 00 01 74 08 00");
}

BOOST_AUTO_TEST_CASE(thirteen_bytes_is_truncated) {
  const byte_vec frame(13);
  BOOST_TEST(ethernet_view::parse(frame).error() == parse_error::truncated_ethernet);
}

BOOST_AUTO_TEST_CASE(vlan_tagged_frame_is_ignored_as_unsupported) {
  byte_vec frame = from_hex("ff ff ff ff ff ff 02 00 00 00 01 74 81 00 00 05 08 06");
  BOOST_TEST(ethernet_view::parse(frame).error() == parse_error::vlan_tagged);
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST(p.kind == frame_kind::ignored);
  BOOST_TEST(p.error == parse_error::vlan_tagged);
}

BOOST_AUTO_TEST_CASE(ipv6_ethertype_goes_to_the_ipv6_parser) {
  // Before issue 14 this was unsupported_ethertype; now two bytes of IPv6 are a truncated header.
  byte_vec frame = from_hex("ff ff ff ff ff ff 02 00 00 00 01 74 86 dd 60 00");
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST(p.kind == frame_kind::malformed);
  BOOST_TEST(p.error == parse_error::truncated_ipv6);
  BOOST_TEST(p.ethernet.has_value());
}

BOOST_AUTO_TEST_CASE(other_ethertypes_are_ignored) {
  byte_vec frame = from_hex("ff ff ff ff ff ff 02 00 00 00 01 74 88 cc 00 00");  // LLDP
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST(p.kind == frame_kind::ignored);
  BOOST_TEST(p.error == parse_error::unsupported_ethertype);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(arp)

BOOST_AUTO_TEST_CASE(request_emits_golden_bytes_and_parses_back) {
  const arp_repr request{arp_op::request, mac_a, ip_a, mac_addr{}, ip_b};
  BOOST_TEST(to_hex(emit_arp_frame(mac_addr::broadcast(), request)) == to_hex(arp_request_frame));

  const parsed_frame p = parse_frame(arp_request_frame, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::arp);
  BOOST_TEST(p.arp->op == arp_op::request);
  BOOST_TEST(p.arp->sender_mac == mac_a);
  BOOST_TEST(p.arp->sender_ip == ip_a);
  BOOST_TEST(p.arp->target_mac == mac_addr{});
  BOOST_TEST(p.arp->target_ip == ip_b);
  BOOST_TEST((*p.arp == request));
}

BOOST_AUTO_TEST_CASE(reply_round_trips) {
  const arp_repr reply{arp_op::reply, mac_b, ip_b, mac_a, ip_a};
  const byte_vec frame = emit_arp_frame(mac_a, reply);  // outlives p, whose views point into it
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::arp);
  BOOST_TEST((*p.arp == reply));
  BOOST_TEST(p.ethernet->dst() == mac_a);
}

BOOST_AUTO_TEST_CASE(ethernet_padding_after_arp_is_ignored) {
  byte_vec frame = arp_request_frame;
  frame.resize(60, std::byte{0xee});  // minimum Ethernet frame, padded
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::arp);
  BOOST_TEST(p.arp->target_ip == ip_b);
}

BOOST_AUTO_TEST_CASE(every_truncation_is_truncated_arp) {
  for (std::size_t n = ethernet_header_len; n < arp_request_frame.size(); ++n) {
    const parsed_frame p = parse_frame(bytes{arp_request_frame}.first(n), {});
    BOOST_TEST(p.error == parse_error::truncated_arp, "length " << n);
    BOOST_TEST(p.kind == frame_kind::malformed);
  }
}

BOOST_AUTO_TEST_CASE(non_ethernet_hardware_type_is_unsupported) {
  byte_vec frame = arp_request_frame;
  frame[15] = std::byte{6};  // htype 6 (IEEE 802)
  BOOST_TEST(parse_frame(frame, {}).error == parse_error::unsupported_arp);
  frame = arp_request_frame;
  frame[19] = std::byte{16};  // plen 16 (IPv6-sized)
  BOOST_TEST(parse_frame(frame, {}).error == parse_error::unsupported_arp);
  BOOST_TEST(parse_frame(frame, {}).kind == frame_kind::ignored);
}

BOOST_AUTO_TEST_CASE(rarp_operation_is_unsupported) {
  byte_vec frame = arp_request_frame;
  frame[21] = std::byte{3};  // RARP request
  const parsed_frame p = parse_frame(frame, {});
  BOOST_TEST(p.error == parse_error::unsupported_arp_op);
  BOOST_TEST(p.kind == frame_kind::ignored);
}

BOOST_AUTO_TEST_SUITE_END()
