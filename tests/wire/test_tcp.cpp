// TCP view and repr: fields, flags, ack/urgent optionality, payload, refusals.
#include <boost/test/unit_test.hpp>

#include "synack/wire/tcp.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;

namespace {
const ipv4_addr src_ip = ipv4_addr::from_octets(192, 168, 1, 1);
const ipv4_addr dst_ip = ipv4_addr::from_octets(192, 168, 1, 2);
// smoltcp's TCP test vector (src/wire/tcp.rs): FIN+RST+ACK+URG, WS option, 4 payload bytes.
const byte_vec vector = from_hex("bf 00 00 50 01 23 45 67 89 ab cd ef 60 35 01 23 01 b6 02 01 03 03 0c 01 aa 00 00 ff");
}  // namespace

BOOST_AUTO_TEST_SUITE(tcp)

BOOST_AUTO_TEST_CASE(view_reads_every_field) {
  const auto v = tcp_view::parse(vector);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(v->src_port() == 48896);
  BOOST_TEST(v->dst_port() == 80);
  BOOST_TEST(v->seq_number() == 0x01234567u);
  BOOST_TEST(v->ack_number() == 0x89abcdefu);
  BOOST_TEST(v->data_offset() == 6);
  BOOST_TEST(v->header_len() == 24u);
  BOOST_TEST(v->flags().to_string() == "FR.U");
  BOOST_TEST(v->window() == 0x0123);
  BOOST_TEST(v->checksum() == 0x01b6);
  BOOST_TEST(v->urgent_pointer() == 0x0201);
  BOOST_TEST(wire_test::to_hex(v->options()) == "03 03 0c 01");
  BOOST_TEST(wire_test::to_hex(v->payload()) == "aa 00 00 ff");
  BOOST_TEST(v->checksum_ok(src_ip, dst_ip));
}

BOOST_AUTO_TEST_CASE(repr_parse_then_emit_reproduces_the_bytes) {
  const auto r = tcp_repr::parse(*tcp_view::parse(vector), src_ip, dst_ip, true);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(*r->ack == 0x89abcdefu);
  BOOST_TEST(*r->urgent == 0x0201);
  BOOST_TEST(*r->options.window_scale == 12);
  BOOST_TEST(r->buffer_len() == vector.size());
  byte_vec out(r->buffer_len());
  BOOST_TEST(r->emit(out, src_ip, dst_ip) == vector.size());
  // Our emitter writes "NOP WS" where the vector has "WS NOP" (Linux's order), so the checksum
  // differs too: 0cab, computed independently with Python.
  BOOST_TEST(wire_test::to_hex(out) ==
             "bf 00 00 50 01 23 45 67 89 ab cd ef 60 35 01 23 0c ab 02 01 01 03 03 0c aa 00 00 ff");
}

BOOST_AUTO_TEST_CASE(flags_round_trip_through_a_byte) {
  for (unsigned b = 0; b < 256; ++b)
    BOOST_TEST(tcp_flags::from_byte(static_cast<std::uint8_t>(b)).to_byte() == b);
  BOOST_TEST(tcp_flags{}.to_string() == "none");
  BOOST_TEST((tcp_flags{.psh = true, .ack = true, .ece = true, .cwr = true}.to_string() == "P.EW"));
}

BOOST_AUTO_TEST_CASE(ack_number_is_absent_without_ack_bit) {
  byte_vec seg = vector;
  seg[13] = std::byte{0x02};  // SYN only
  const auto r = tcp_repr::parse(*tcp_view::parse(seg), src_ip, dst_ip, false);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(!r->ack.has_value());
  BOOST_TEST(!r->urgent.has_value());
}

BOOST_AUTO_TEST_CASE(emit_sets_ack_and_urg_bits_from_the_optionals) {
  tcp_repr r;
  r.flags.ack = true;  // ignored: no ack number
  r.urgent = 5;
  byte_vec out(r.buffer_len());
  r.emit(out, src_ip, dst_ip);
  const auto v = tcp_view::parse(out);
  BOOST_TEST(!v->flags().ack);
  BOOST_TEST(v->flags().urg);
  BOOST_TEST(v->urgent_pointer() == 5);
  BOOST_TEST(v->checksum_ok(src_ip, dst_ip));
}

BOOST_AUTO_TEST_CASE(emit_copies_odd_length_payload_and_checksums_it) {
  const byte_vec payload = from_hex("01 02 03 04 05");
  tcp_repr r;
  r.src_port = 1;
  r.dst_port = 2;
  r.ack = 77;
  r.flags.psh = true;
  r.payload = payload;
  byte_vec out(r.buffer_len());
  r.emit(out, src_ip, dst_ip);
  const auto v = tcp_view::parse(out);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST(wire_test::to_hex(v->payload()) == "01 02 03 04 05");
  BOOST_TEST(v->checksum_ok(src_ip, dst_ip));
  BOOST_TEST((*tcp_repr::parse(*v, src_ip, dst_ip, true) == r));
}

BOOST_AUTO_TEST_CASE(syn_with_fin_or_rst_is_refused) {
  byte_vec seg = vector;
  seg[13] = std::byte{0x03};
  BOOST_TEST(tcp_repr::parse(*tcp_view::parse(seg), src_ip, dst_ip, false).error() == parse_error::syn_and_fin);
  seg[13] = std::byte{0x06};
  BOOST_TEST(tcp_repr::parse(*tcp_view::parse(seg), src_ip, dst_ip, false).error() == parse_error::syn_and_rst);
}

BOOST_AUTO_TEST_CASE(bad_checksum_is_refused_only_when_verifying) {
  byte_vec seg = vector;
  seg[27] ^= std::byte{0x80};
  const auto v = tcp_view::parse(seg);
  BOOST_TEST(tcp_repr::parse(*v, src_ip, dst_ip, true).error() == parse_error::bad_tcp_checksum);
  BOOST_TEST(tcp_repr::parse(*v, src_ip, dst_ip, false).has_value());
  // The pseudo-header counts: the right bytes from another address fail too.
  BOOST_TEST(!tcp_view::parse(vector)->checksum_ok(src_ip, ipv4_addr::from_octets(192, 168, 1, 3)));
}

BOOST_AUTO_TEST_CASE(view_refuses_bad_lengths) {
  BOOST_TEST(tcp_view::parse(bytes{vector}.first(19)).error() == parse_error::truncated_tcp);
  byte_vec seg = vector;
  seg[12] = std::byte{0x40};
  BOOST_TEST(tcp_view::parse(seg).error() == parse_error::data_offset_too_small);
  seg[12] = std::byte{0x80};  // 32 bytes > 28
  BOOST_TEST(tcp_view::parse(seg).error() == parse_error::data_offset_beyond_segment);
  seg[12] = std::byte{0x70};  // exactly 28: header only
  BOOST_TEST(tcp_view::parse(seg)->payload().empty());
}

BOOST_AUTO_TEST_SUITE_END()
