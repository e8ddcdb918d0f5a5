// Golden bytes for the seed handshake
//   192.168.1.116.3337 > 192.168.1.123.7788: Flags [S],  seq 3626544836
//   192.168.1.123.7788 > 192.168.1.116.3337: Flags [S.], seq 1739326486, ack 3626544837
//   192.168.1.116.3337 > 192.168.1.123.7788: Flags [.],  seq 3626544837, ack 1739326487
// Each segment is emitted with synack's emitters and compared with bytes written out by hand.
// The IPv4 and TCP checksums in the expected bytes were computed independently of synack, with a
// separate few-line RFC 1071 implementation in Python (struct.pack + one's-complement fold), not
// by running this code. These are unit-test encodings only; nothing is sent anywhere.
#include <boost/test/unit_test.hpp>

#include "synack/wire/frame.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;
using wire_test::to_hex;

namespace {

const mac_addr client_mac{{0x02, 0x00, 0x00, 0x00, 0x01, 0x74}};
const mac_addr server_mac{{0x02, 0x00, 0x00, 0x00, 0x01, 0x7b}};
const ipv4_addr client_ip = ipv4_addr::from_octets(192, 168, 1, 116);
const ipv4_addr server_ip = ipv4_addr::from_octets(192, 168, 1, 123);

ipv4_repr ip_header(ipv4_addr src, ipv4_addr dst, std::uint16_t id) {
  return ipv4_repr{.src = src, .dst = dst, .protocol = ip_protocol::tcp, .ttl = 64, .identification = id};
}

tcp_options syn_options(std::uint32_t tsval, std::uint32_t tsecr) {
  tcp_options o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = tcp_timestamps{tsval, tsecr};
  o.window_scale = 7;
  return o;
}

// valid_syn_frame()'s segment without its payload.
tcp_repr syn_segment() {
  tcp_repr t = wire_test::valid_syn_segment();
  t.payload = {};
  return t;
}

tcp_repr syn_ack_segment() {
  tcp_repr t;
  t.src_port = 7788;
  t.dst_port = 3337;
  t.seq = 1739326486;
  t.ack = 3626544837;
  t.flags.syn = true;
  t.window = 65160;
  t.options = syn_options(2000, 1000);
  return t;
}

tcp_repr ack_segment() {
  tcp_repr t;
  t.src_port = 3337;
  t.dst_port = 7788;
  t.seq = 3626544837;
  t.ack = 1739326487;
  t.window = 502;
  t.options.timestamps = tcp_timestamps{1001, 2000};
  return t;
}

const byte_vec expected_syn = from_hex(
    // Ethernet: dst server, src client, IPv4
    "02 00 00 00 01 7b 02 00 00 00 01 74 08 00"
    // IPv4: v4 IHL5, tos 0, total 60, id 0x4d2e, DF, TTL 64, TCP, checksum 0x694e, src, dst
    "45 00 00 3c 4d 2e 40 00 40 06 69 4e c0 a8 01 74 c0 a8 01 7b"
    // TCP: 3337 -> 7788, seq 0xd828aec4, ack 0, doff 10, SYN, win 64240, checksum 0x1285, urg 0
    "0d 09 1e 6c d8 28 ae c4 00 00 00 00 a0 02 fa f0 12 85 00 00"
    // options: MSS 1460, SACK-permitted, TS 1000/0, NOP, WS 7
    "02 04 05 b4 04 02 08 0a 00 00 03 e8 00 00 00 00 01 03 03 07");

const byte_vec expected_syn_ack = from_hex(
    "02 00 00 00 01 74 02 00 00 00 01 7b 08 00"
    // IPv4: total 60, id 0, DF, TTL 64, TCP, checksum 0xb67c
    "45 00 00 3c 00 00 40 00 40 06 b6 7c c0 a8 01 7b c0 a8 01 74"
    // TCP: 7788 -> 3337, seq 0x67ac0416, ack 0xd828aec5, doff 10, SYN+ACK, win 65160, checksum 0x9b49
    "1e 6c 0d 09 67 ac 04 16 d8 28 ae c5 a0 12 fe 88 9b 49 00 00"
    // options: MSS 1460, SACK-permitted, TS 2000/1000, NOP, WS 7
    "02 04 05 b4 04 02 08 0a 00 00 07 d0 00 00 03 e8 01 03 03 07");

const byte_vec expected_ack = from_hex(
    "02 00 00 00 01 7b 02 00 00 00 01 74 08 00"
    // IPv4: total 52, id 0x4d2f, DF, TTL 64, TCP, checksum 0x6955
    "45 00 00 34 4d 2f 40 00 40 06 69 55 c0 a8 01 74 c0 a8 01 7b"
    // TCP: seq 0xd828aec5, ack 0x67ac0417, doff 8, ACK, win 502, checksum 0xc6a7
    "0d 09 1e 6c d8 28 ae c5 67 ac 04 17 80 10 01 f6 c6 a7 00 00"
    // options: NOP NOP TS 1001/2000
    "01 01 08 0a 00 00 03 e9 00 00 07 d0");

// Parses `frame` and checks every layer against what was emitted.
void check_round_trip(const byte_vec& frame, mac_addr dst, mac_addr src, const ipv4_repr& ip,
                      const tcp_repr& tcp) {
  const parsed_frame p = parse_frame(frame, parse_options{.verify_checksums = true});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.error == parse_error::none);
  BOOST_TEST(p.ethernet->dst() == dst);
  BOOST_TEST(p.ethernet->src() == src);
  BOOST_TEST(p.ethernet->ethertype() == ethertype::ipv4);

  BOOST_TEST(p.ipv4->src == ip.src);
  BOOST_TEST(p.ipv4->dst == ip.dst);
  BOOST_TEST(p.ipv4->protocol == ip_protocol::tcp);
  BOOST_TEST(p.ipv4->ttl == ip.ttl);
  BOOST_TEST(p.ipv4->identification == ip.identification);
  BOOST_TEST(p.ipv4->dont_fragment);
  BOOST_TEST(p.ipv4->payload_len == tcp.buffer_len());

  const tcp_repr& got = *p.tcp;
  BOOST_TEST(got.src_port == tcp.src_port);
  BOOST_TEST(got.dst_port == tcp.dst_port);
  BOOST_TEST(got.seq == tcp.seq);
  BOOST_TEST((got.ack == tcp.ack));
  BOOST_TEST(got.flags == tcp.wire_flags());
  BOOST_TEST(got.window == tcp.window);
  BOOST_TEST(!got.urgent.has_value());
  BOOST_TEST((got.options == tcp.options));
  BOOST_TEST(got.payload.empty());
  BOOST_TEST((got == tcp));
}

}  // namespace

BOOST_AUTO_TEST_CASE(syn_emits_golden_bytes_and_parses_back) {
  const ipv4_repr ip = ip_header(client_ip, server_ip, 0x4d2e);
  const byte_vec frame = wire_test::build_tcp_frame(server_mac, client_mac, ip, syn_segment());
  BOOST_TEST(to_hex(frame) == to_hex(expected_syn));
  check_round_trip(expected_syn, server_mac, client_mac, ip, syn_segment());
  BOOST_TEST(parse_frame(expected_syn, {}).tcp->flags.to_string() == "S");
}

BOOST_AUTO_TEST_CASE(syn_ack_emits_golden_bytes_and_parses_back) {
  const ipv4_repr ip = ip_header(server_ip, client_ip, 0);
  const byte_vec frame = wire_test::build_tcp_frame(client_mac, server_mac, ip, syn_ack_segment());
  BOOST_TEST(to_hex(frame) == to_hex(expected_syn_ack));
  check_round_trip(expected_syn_ack, client_mac, server_mac, ip, syn_ack_segment());
  BOOST_TEST(parse_frame(expected_syn_ack, {}).tcp->flags.to_string() == "S.");
}

BOOST_AUTO_TEST_CASE(ack_emits_golden_bytes_and_parses_back) {
  const ipv4_repr ip = ip_header(client_ip, server_ip, 0x4d2f);
  const byte_vec frame = wire_test::build_tcp_frame(server_mac, client_mac, ip, ack_segment());
  BOOST_TEST(to_hex(frame) == to_hex(expected_ack));
  check_round_trip(expected_ack, server_mac, client_mac, ip, ack_segment());
  BOOST_TEST(parse_frame(expected_ack, {}).tcp->flags.to_string() == ".");
}

BOOST_AUTO_TEST_CASE(golden_segments_have_expected_header_lengths) {
  BOOST_TEST(syn_segment().header_len() == 40u);
  BOOST_TEST(syn_ack_segment().header_len() == 40u);
  BOOST_TEST(ack_segment().header_len() == 32u);
}
