// IPv6 (RFC 8200): a SYN against golden bytes whose checksum was computed outside synack, every
// refusal of the header and of the extension-header walk, and the TCP checksum's IPv6
// pseudo-header (RFC 8200 §8.1) next to the unchanged IPv4 one.
#include <boost/test/unit_test.hpp>

#include "synack/wire/checksum.hpp"
#include "synack/wire/frame.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::ext_header;

namespace {

namespace nh = ipv6_next_header;

const ipv6_addr client = *ipv6_addr::parse("fd00::116");
const ipv6_addr server = *ipv6_addr::parse("fd00::123");
constexpr std::size_t ip6_at = 14;
constexpr std::size_t tcp6_at = ip6_at + ipv6_header_len;

// fd00::116:3337 -> fd00::123:7788, SYN seq 3626544836, win 64240, MSS 1440, SACK-permitted,
// TS 1000/0, WS 7, payload "hi!". Built and checksummed by a plain Python reference sum over the
// pseudo-header (not synack's code) and confirmed by tcpdump -vv: "cksum 0x1132 (correct)".
const byte_vec golden_syn6 = wire_test::from_hex(
    "02 00 00 00 01 7b 02 00 00 00 01 74 86 dd 60 00"
    "00 00 00 2b 06 40 fd 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 01 16 fd 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 01 23 0d 09 1e 6c d8 28 ae c4 00 00"
    "00 00 a0 02 fa f0 11 32 00 00 02 04 05 a0 04 02"
    "08 0a 00 00 03 e8 00 00 00 00 01 03 03 07 68 69"
    "21");

// The golden SYN's segment: valid_syn_frame()'s with MSS 1440.
tcp_repr golden_tcp() { return wire_test::valid_syn_segment(1440); }

const ipv6_repr golden_ip{.src = client, .dst = server};

const parse_options verify{.verify_checksums = true};

parse_error error_of(const byte_vec& f) { return parse_frame(f, verify).error; }

}  // namespace

BOOST_AUTO_TEST_SUITE(ipv6)

BOOST_AUTO_TEST_CASE(golden_syn_parses) {
  const parsed_frame p = parse_frame(golden_syn6, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(!p.ipv4);
  BOOST_TEST_REQUIRE(p.ipv6_header.has_value());
  BOOST_TEST(p.ipv6_header->version() == 6);
  BOOST_TEST(p.ipv6_header->payload_length() == 43);
  BOOST_TEST(p.ipv6_header->next_header() == ip_protocol::tcp);
  BOOST_TEST(p.ipv6_header->hop_limit() == 64);
  BOOST_TEST(p.ipv6_header->src() == client);
  BOOST_TEST(p.ipv6_header->dst() == server);
  BOOST_TEST((*p.ipv6 == ipv6_repr{.src = client, .dst = server, .payload_len = 43}));
  BOOST_TEST_REQUIRE(p.ip.has_value());
  BOOST_TEST(p.ip->src == ip_addr{client});
  BOOST_TEST(p.ip->dst == ip_addr{server});
  BOOST_TEST(p.ip->src.is_v6());
  BOOST_TEST(p.ip->ttl == 64);
  BOOST_TEST(p.ip->identification == 0);
  BOOST_TEST(p.ip->dont_fragment);
  BOOST_TEST(p.tcp_segment->checksum() == 0x1132);
  BOOST_TEST((*p.tcp == golden_tcp()));
}

BOOST_AUTO_TEST_CASE(golden_syn_emits_the_same_bytes) {
  const byte_vec f = wire_test::build_tcp6_frame(golden_ip, {}, golden_tcp());
  BOOST_TEST(wire_test::to_hex(f) == wire_test::to_hex(golden_syn6));
  const bytes seg = bytes{golden_syn6}.subspan(tcp6_at);
  BOOST_TEST(tcp_checksum(client, server, seg) == 0);  // ipv6_addr -> ip_addr: the v6 pseudo-header
  BOOST_TEST(tcp_checksum_v6(client, server, seg) == 0);
  BOOST_TEST(tcp_checksum(ip_addr{client}, ip_addr{server}, seg) == 0);
  // The same bytes under the IPv4 pseudo-header do not verify: the family is really used.
  BOOST_TEST(tcp_checksum(ipv4_addr{1}, ipv4_addr{2}, seg) != 0);
}

BOOST_AUTO_TEST_CASE(traffic_class_and_flow_label_round_trip) {
  const ipv6_repr ip{.src = client, .dst = server, .hop_limit = 7, .traffic_class = 0xb8, .flow_label = 0xabcde};
  const byte_vec f = wire_test::build_tcp6_frame(ip, {}, golden_tcp());
  BOOST_TEST(load_u32(f, ip6_at) == 0x6b8abcdeu);
  const parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.ipv6->traffic_class == 0xb8);
  BOOST_TEST(p.ipv6->flow_label == 0xabcdeu);
  BOOST_TEST(p.ipv6->hop_limit == 7);
  BOOST_TEST(p.ip->dscp_ecn == 0xb8);
  BOOST_TEST(p.ip->flow_label == 0xabcdeu);
  BOOST_TEST(p.ip->ttl == 7);
}

BOOST_AUTO_TEST_CASE(ipv4_frames_get_ip_info_too) {
  const parsed_frame p = parse_frame(wire_test::valid_syn_frame(), verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST_REQUIRE(p.ip.has_value());
  BOOST_TEST(p.ip->src == ip_addr{ipv4_addr::from_octets(192, 168, 1, 116)});
  BOOST_TEST(p.ip->src.is_v4());
  BOOST_TEST(p.ip->ttl == p.ipv4->ttl);
  BOOST_TEST(p.ip->identification == p.ipv4->identification);
  BOOST_TEST(p.ip->flow_label == 0u);
  BOOST_TEST(!p.ipv6);
}

BOOST_AUTO_TEST_CASE(link_padding_is_dropped) {
  byte_vec f = golden_syn6;
  f.resize(f.size() + 5, std::byte{0xee});
  const parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.ipv6_header->raw().size() == ipv6_header_len + 43);
  BOOST_TEST(p.tcp->payload.size() == 3u);
}

BOOST_AUTO_TEST_CASE(header_refusals) {
  {  // shorter than the fixed header
    byte_vec f = golden_syn6;
    f.resize(ip6_at + ipv6_header_len - 1);
    BOOST_TEST(error_of(f) == parse_error::truncated_ipv6);
  }
  {  // version 4 under EtherType 0x86dd
    byte_vec f = golden_syn6;
    store_u8(f, ip6_at, 0x40);
    BOOST_TEST(error_of(f) == parse_error::bad_ip_version);
  }
  {  // one byte more than the frame holds
    byte_vec f = golden_syn6;
    store_u16(f, ip6_at + 4, 44);
    BOOST_TEST(error_of(f) == parse_error::payload_length_beyond_frame);
  }
  {  // a short payload length cuts TCP: its header then runs past the segment
    byte_vec f = golden_syn6;
    store_u16(f, ip6_at + 4, 30);
    BOOST_TEST(error_of(f) == parse_error::data_offset_beyond_segment);
  }
  {  // flipped payload byte: the IPv6 pseudo-header checksum catches it
    byte_vec f = golden_syn6;
    f.back() ^= std::byte{1};
    BOOST_TEST(error_of(f) == parse_error::bad_tcp_checksum);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).kind == frame_kind::tcp);
  }
  {  // a changed source address is covered by the pseudo-header too
    byte_vec f = golden_syn6;
    store_u8(f, ip6_at + 8 + 15, 0x17);
    BOOST_TEST(error_of(f) == parse_error::bad_tcp_checksum);
  }
  // Addresses that never appear in an IPv6 header.
  const auto with = [](const ipv6_addr& src, const ipv6_addr& dst) {
    return wire_test::build_tcp6_frame(ipv6_repr{.src = src, .dst = dst}, {}, golden_tcp());
  };
  const ipv6_addr mapped = ip_addr{ipv4_addr::from_octets(10, 0, 0, 1)}.v6();
  BOOST_TEST(error_of(with(mapped, server)) == parse_error::ipv6_bad_address);
  BOOST_TEST(error_of(with(client, mapped)) == parse_error::ipv6_bad_address);
  BOOST_TEST(error_of(with(*ipv6_addr::parse("ff02::1"), server)) == parse_error::ipv6_bad_address);
  BOOST_TEST(is_malformed(parse_error::ipv6_bad_address));
}

BOOST_AUTO_TEST_CASE(extension_headers_before_tcp_are_skipped) {
  // Hop-by-hop (8 bytes) -> destination options (16) -> routing (24) -> TCP.
  byte_vec ext = ext_header(nh::destination_options);
  const byte_vec d = ext_header(nh::routing, 1), r = ext_header(ip_protocol::tcp, 2);
  ext.insert(ext.end(), d.begin(), d.end());
  ext.insert(ext.end(), r.begin(), r.end());
  ipv6_repr ip = golden_ip;
  ip.next_header = nh::hop_by_hop;
  const byte_vec f = wire_test::build_tcp6_frame(ip, ext, golden_tcp());
  const parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.ipv6_header->next_header() == nh::hop_by_hop);
  BOOST_TEST(p.ipv6->next_header == ip_protocol::tcp);  // the upper layer's
  BOOST_TEST(p.ipv6->payload_len == golden_tcp().buffer_len());
  const auto upper = p.ipv6_header->upper_layer();
  BOOST_TEST_REQUIRE(upper.has_value());
  BOOST_TEST(upper->offset == 48u);
  BOOST_TEST((*p.tcp == golden_tcp()));
}

BOOST_AUTO_TEST_CASE(extension_header_refusals) {
  const auto frame = [](std::uint8_t first, const byte_vec& ext) {
    ipv6_repr ip = golden_ip;
    ip.next_header = first;
    return wire_test::build_tcp6_frame(ip, ext, golden_tcp());
  };
  {  // a fragment header (even offset 0, no more fragments): ignored like an IPv4 fragment
    const parsed_frame p = parse_frame(frame(nh::fragment, ext_header(ip_protocol::tcp)), verify);
    BOOST_TEST(p.kind == frame_kind::ignored);
    BOOST_TEST(p.error == parse_error::ip_fragment);
  }
  {  // behind a destination options header as well
    byte_vec ext = ext_header(nh::fragment);
    const byte_vec frag = ext_header(ip_protocol::tcp);
    ext.insert(ext.end(), frag.begin(), frag.end());
    BOOST_TEST(error_of(frame(nh::destination_options, ext)) == parse_error::ip_fragment);
  }
  {  // the chain's last header claims more than the payload holds
    ipv6_repr ip = golden_ip;
    ip.next_header = nh::destination_options;
    byte_vec h = ext_header(ip_protocol::tcp, 3);  // 32 bytes claimed, 16 there
    h.resize(16);
    const byte_vec f = wire_test::build_ipv6_frame(ip, {}, h);
    BOOST_TEST(error_of(f) == parse_error::ipv6_ext_header_past_payload);
    BOOST_TEST(is_malformed(parse_error::ipv6_ext_header_past_payload));
  }
  {  // a payload of one byte: no room for the length
    ipv6_repr ip = golden_ip;
    ip.next_header = nh::hop_by_hop;
    const std::byte one[] = {std::byte{6}};
    BOOST_TEST(error_of(wire_test::build_ipv6_frame(ip, {}, one)) == parse_error::ipv6_ext_header_past_payload);
  }
  {  // an empty payload (a jumbogram's payload length 0) with a hop-by-hop header announced
    ipv6_repr ip = golden_ip;
    ip.next_header = nh::hop_by_hop;
    BOOST_TEST(error_of(wire_test::build_ipv6_frame(ip, {}, bytes{})) == parse_error::ipv6_ext_header_past_payload);
  }
  {  // eight destination options headers pass, nine do not
    for (std::size_t n : {std::size_t{8}, std::size_t{9}}) {
      byte_vec ext;
      for (std::size_t i = 0; i < n; ++i) {
        const byte_vec h = ext_header(i + 1 == n ? ip_protocol::tcp : nh::destination_options);
        ext.insert(ext.end(), h.begin(), h.end());
      }
      const parse_error e = error_of(frame(nh::destination_options, ext));
      BOOST_TEST(e == (n <= ipv6_max_ext_headers ? parse_error::none : parse_error::ipv6_too_many_ext_headers));
    }
  }
  {  // hop-by-hop after another header
    byte_vec ext = ext_header(nh::hop_by_hop);
    const byte_vec h = ext_header(ip_protocol::tcp);
    ext.insert(ext.end(), h.begin(), h.end());
    BOOST_TEST(error_of(frame(nh::destination_options, ext)) == parse_error::ipv6_hop_by_hop_not_first);
  }
  // Not TCP: ignored, never malformed.
  for (std::uint8_t proto : {nh::no_next_header, nh::esp, nh::ah, ip_protocol::udp}) {
    const parsed_frame p = parse_frame(frame(proto, {}), verify);
    BOOST_TEST(p.kind == frame_kind::ignored);
    BOOST_TEST(p.error == parse_error::not_tcp);
    BOOST_TEST(p.ip.has_value());  // the header itself was fine
  }
}

BOOST_AUTO_TEST_CASE(walk_reports_where_the_upper_layer_starts) {
  byte_vec payload = ext_header(ip_protocol::icmpv6, 1);
  payload.resize(payload.size() + 8);
  const auto w = walk_ipv6_ext_headers(nh::routing, payload);
  BOOST_TEST_REQUIRE(w.has_value());
  BOOST_TEST(w->protocol == ip_protocol::icmpv6);
  BOOST_TEST(w->offset == 16u);
  BOOST_TEST(w->data.size() == 8u);
  const auto none = walk_ipv6_ext_headers(ip_protocol::tcp, payload);
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(none->offset == 0u);
  BOOST_TEST(none->data.size() == payload.size());
}

BOOST_AUTO_TEST_CASE(repr_emits_a_plain_header) {
  const ipv6_repr ip{.src = client, .dst = server, .next_header = ip_protocol::icmpv6, .hop_limit = 255,
                     .payload_len = 32};
  byte_vec out(ipv6_header_len + 32);
  ip.emit(out);
  BOOST_TEST(wire_test::to_hex(bytes{out}.first(8)) == "60 00 00 00 00 20 3a ff");
  const auto view = ipv6_view::parse(out);
  BOOST_TEST_REQUIRE(view.has_value());
  const auto back = ipv6_repr::parse(*view);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST((*back == ip));
  BOOST_TEST(ip.buffer_len() == 72u);
}

BOOST_AUTO_TEST_CASE(ipv4_checksums_are_unchanged) {
  // The IPv4 frame's segment verifies through every overload; the ip_addr one picks IPv4.
  const byte_vec f = wire_test::valid_syn_frame();
  const bytes seg = bytes{f}.subspan(wire_test::tcp_at);
  const ipv4_addr s = ipv4_addr::from_octets(192, 168, 1, 116), d = ipv4_addr::from_octets(192, 168, 1, 123);
  BOOST_TEST(tcp_checksum(s, d, seg) == 0);
  BOOST_TEST(tcp_checksum(ip_addr{s}, ip_addr{d}, seg) == 0);
  // The IPv6 pseudo-header over v4-mapped addresses sums the same: ::ffff adds 0xffff (one's
  // complement zero) and the wider length field the same value. So a mixed pair, which takes the
  // IPv6 path, still agrees with the IPv4 checksum (RFC 6052-style translators rely on this).
  BOOST_TEST(tcp_checksum_v6(ip_addr{s}.v6(), ip_addr{d}.v6(), seg) == 0);
  BOOST_TEST(tcp_checksum(ip_addr{s}, ip_addr{*ipv6_addr::parse("::ffff:192.168.1.123")}, seg) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
