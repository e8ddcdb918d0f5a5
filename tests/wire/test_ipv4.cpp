// IPv4 view and repr: round trip, padding, options, checksum switch, fragments.
#include <boost/test/unit_test.hpp>

#include "synack/wire/ipv4.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;

namespace {
// A 20-byte header + 4 payload bytes, UDP, 10.0.0.1 -> 10.0.0.2, checksum computed with Python.
const byte_vec udp_packet = from_hex("45 00 00 18 12 34 40 00 40 11 14 9f 0a 00 00 01 0a 00 00 02 de ad be ef");
}  // namespace

BOOST_AUTO_TEST_SUITE(ipv4)

BOOST_AUTO_TEST_CASE(view_reads_every_field) {
  const auto v = ipv4_view::parse(udp_packet);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->version() == 4);
  BOOST_TEST(v->header_len() == 20u);
  BOOST_TEST(v->total_length() == 24);
  BOOST_TEST(v->identification() == 0x1234);
  BOOST_TEST(v->dont_fragment());
  BOOST_TEST(!v->more_fragments());
  BOOST_TEST(v->fragment_offset() == 0);
  BOOST_TEST(v->ttl() == 64);
  BOOST_TEST(v->protocol() == ip_protocol::udp);
  BOOST_TEST(v->header_checksum() == 0x149f);
  BOOST_TEST(v->src() == ipv4_addr::from_octets(10, 0, 0, 1));
  BOOST_TEST(v->dst() == ipv4_addr::from_octets(10, 0, 0, 2));
  BOOST_TEST(v->options().empty());
  BOOST_TEST(v->payload().size() == 4u);
  BOOST_TEST(v->checksum_ok());
}

BOOST_AUTO_TEST_CASE(repr_emit_matches_hand_written_header) {
  const ipv4_repr r{.src = ipv4_addr::from_octets(10, 0, 0, 1),
                    .dst = ipv4_addr::from_octets(10, 0, 0, 2),
                    .protocol = ip_protocol::udp,
                    .ttl = 64,
                    .identification = 0x1234,
                    .payload_len = 4};
  byte_vec out(r.buffer_len());
  r.emit(out);
  BOOST_TEST(wire_test::to_hex(bytes{out}.first(20)) == wire_test::to_hex(bytes{udp_packet}.first(20)));
  const auto parsed = ipv4_repr::parse(*ipv4_view::parse(udp_packet), true);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == r));
}

BOOST_AUTO_TEST_CASE(trailing_link_padding_is_cut_off) {
  byte_vec padded = udp_packet;
  padded.resize(46, std::byte{0});  // Ethernet pads to 60 bytes on the wire
  const auto v = ipv4_view::parse(padded);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->raw().size() == 24u);
  BOOST_TEST(v->payload().size() == 4u);
}

BOOST_AUTO_TEST_CASE(options_are_skipped_not_interpreted) {
  // IHL 6: one option word (NOP NOP NOP EOL), total 28; checksum computed with Python.
  const byte_vec p = from_hex("46 00 00 1c 00 01 00 00 40 06 63 d8 0a 00 00 01 0a 00 00 02 01 01 01 00 aa bb cc dd");
  const auto v = ipv4_view::parse(p);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->header_len() == 24u);
  BOOST_TEST(v->options().size() == 4u);
  BOOST_TEST(v->payload().size() == 4u);
  BOOST_TEST(v->checksum_ok());
  const auto r = ipv4_repr::parse(*v, true);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->payload_len == 4);
  BOOST_TEST(!r->dont_fragment);
}

BOOST_AUTO_TEST_CASE(bad_checksum_is_refused_only_when_verifying) {
  byte_vec p = udp_packet;
  p[11] ^= std::byte{1};
  const auto v = ipv4_view::parse(p);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(ipv4_repr::parse(*v, true).error() == parse_error::bad_ip_checksum);
  BOOST_TEST(ipv4_repr::parse(*v, false).has_value());
}

BOOST_AUTO_TEST_CASE(more_fragments_or_offset_is_a_fragment) {
  for (const unsigned flags_frag : {0x2000u, 0x0001u, 0x20b9u}) {
    byte_vec p = udp_packet;
    store_u16(p, 6, static_cast<std::uint16_t>(flags_frag));
    const auto v = ipv4_view::parse(p);
    BOOST_TEST_REQUIRE(v.has_value());
    BOOST_TEST(ipv4_repr::parse(*v, false).error() == parse_error::ip_fragment, "flags_frag " << flags_frag);
  }
}

BOOST_AUTO_TEST_SUITE_END()
