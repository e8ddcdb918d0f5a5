// TCP option parsing and emitting (RFC 9293 §3.2, RFC 7323, RFC 2018), Linux layout on emit.
#include <boost/test/unit_test.hpp>

#include "synack/wire/tcp.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;
using wire_test::to_hex;

namespace {

std::string emitted(const tcp_options& o) {
  byte_vec out(tcp_max_options_len);
  const std::size_t n = emit_tcp_options(out, o);
  BOOST_TEST(n == tcp_options_len(o));
  BOOST_TEST(n % 4 == 0u);
  return to_hex(bytes{out}.first(n));
}

void check_round_trip(const tcp_options& o) {
  byte_vec out(tcp_max_options_len);
  const std::size_t n = emit_tcp_options(out, o);
  const auto parsed = parse_tcp_options(bytes{out}.first(n));
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed == o));
}

parse_error error_of(std::string_view hex) { return parse_tcp_options(from_hex(hex)).error(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(tcp_options_tests)

BOOST_AUTO_TEST_CASE(syn_with_everything_uses_linux_layout) {
  tcp_options o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = tcp_timestamps{0x01020304, 0};
  o.window_scale = 7;
  BOOST_TEST(emitted(o) == "02 04 05 b4 04 02 08 0a 01 02 03 04 00 00 00 00 01 03 03 07");
  check_round_trip(o);
}

BOOST_AUTO_TEST_CASE(timestamps_alone_are_preceded_by_two_nops) {
  tcp_options o;
  o.timestamps = tcp_timestamps{7, 9};
  BOOST_TEST(emitted(o) == "01 01 08 0a 00 00 00 07 00 00 00 09");
  check_round_trip(o);
}

BOOST_AUTO_TEST_CASE(sack_permitted_without_timestamps_is_nop_padded) {
  tcp_options o;
  o.mss = 536;
  o.window_scale = 0;
  o.sack_permitted = true;
  BOOST_TEST(emitted(o) == "02 04 02 18 01 03 03 00 01 01 04 02");
  check_round_trip(o);
}

BOOST_AUTO_TEST_CASE(sack_blocks_follow_two_nops) {
  tcp_options o;
  o.timestamps = tcp_timestamps{1, 2};
  o.sack_count = 2;
  o.sack[0] = {100, 200};
  o.sack[1] = {300, 400};
  BOOST_TEST(emitted(o) ==
             "01 01 08 0a 00 00 00 01 00 00 00 02 "
             "01 01 05 12 00 00 00 64 00 00 00 c8 00 00 01 2c 00 00 01 90");
  check_round_trip(o);
}

BOOST_AUTO_TEST_CASE(four_sack_blocks_fit_without_timestamps) {
  tcp_options o;
  o.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.sack[i] = {i * 10, i * 10 + 5};
  BOOST_TEST(tcp_options_len(o) == 36u);
  check_round_trip(o);
}

BOOST_AUTO_TEST_CASE(sack_blocks_that_do_not_fit_are_dropped_from_the_end) {
  tcp_options o;
  o.timestamps = tcp_timestamps{1, 2};
  o.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.sack[i] = {i * 10, i * 10 + 5};
  BOOST_TEST(tcp_options_len(o) == 12u + 4u + 3u * 8u);
  byte_vec out(tcp_max_options_len);
  const std::size_t n = emit_tcp_options(out, o);
  const auto parsed = parse_tcp_options(bytes{out}.first(n));
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->sack_count == 3);
  BOOST_TEST((parsed->sack[2] == o.sack[2]));
}

BOOST_AUTO_TEST_CASE(no_options_emit_nothing) {
  BOOST_TEST(tcp_options_len({}) == 0u);
  BOOST_TEST((*parse_tcp_options({}) == tcp_options{}));
}

BOOST_AUTO_TEST_CASE(unknown_kinds_are_skipped_by_length) {
  // kind 30 (MPTCP) length 4, kind 254 (experimental) length 2, then MSS.
  const auto o = parse_tcp_options(from_hex("1e 04 aa bb fe 02 02 04 05 b4"));
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(*o->mss == 1460);
}

BOOST_AUTO_TEST_CASE(eol_stops_parsing_even_before_garbage) {
  const auto o = parse_tcp_options(from_hex("02 04 05 b4 00 02 00 ff ff"));
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(*o->mss == 1460);
  BOOST_TEST(!o->timestamps.has_value());
}

BOOST_AUTO_TEST_CASE(nops_pad_anywhere) {
  const auto o = parse_tcp_options(from_hex("01 01 01 03 03 0e 01 01"));
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(*o->window_scale == 14);
}

BOOST_AUTO_TEST_CASE(later_option_overrides_earlier) {
  const auto o = parse_tcp_options(from_hex("02 04 05 b4 02 04 02 18"));
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(*o->mss == 536);
}

BOOST_AUTO_TEST_CASE(malformed_options_are_refused_with_a_reason) {
  BOOST_TEST(error_of("02 00 05 b4") == parse_error::option_length_zero);
  BOOST_TEST(error_of("1e 00") == parse_error::option_length_zero);  // unknown kinds too
  BOOST_TEST(error_of("02 01 05 b4") == parse_error::option_length_one);
  BOOST_TEST(error_of("02 04 05") == parse_error::option_past_header);
  BOOST_TEST(error_of("01 01 08 0a 00 00 00 01") == parse_error::option_past_header);
  BOOST_TEST(error_of("01 02") == parse_error::option_past_header);  // kind without a length byte
  BOOST_TEST(error_of("1e ff 00 00") == parse_error::option_past_header);
  BOOST_TEST(error_of("02 03 05 01") == parse_error::bad_option_length);        // MSS length 3
  BOOST_TEST(error_of("02 05 05 b4 00") == parse_error::bad_option_length);     // MSS length 5
  BOOST_TEST(error_of("03 04 07 00") == parse_error::bad_option_length);        // WS length 4
  BOOST_TEST(error_of("04 03 00 01") == parse_error::bad_option_length);        // SACK-permitted length 3
  BOOST_TEST(error_of("08 08 00 00 00 01 00 00") == parse_error::bad_option_length);  // TS length 8
  BOOST_TEST(error_of("05 02 01 01") == parse_error::bad_option_length);        // SACK with no block
  BOOST_TEST(error_of("05 06 00 00 00 01") == parse_error::bad_option_length);  // SACK half a block
}

BOOST_AUTO_TEST_CASE(five_sack_blocks_are_a_bad_length) {
  // 2 + 5 * 8 = 42 bytes: cannot come from a real header, but the parser must not overrun sack[4].
  byte_vec area(42, std::byte{0});
  area[0] = std::byte{5};
  area[1] = std::byte{42};
  BOOST_TEST(parse_tcp_options(area).error() == parse_error::bad_option_length);
}

BOOST_AUTO_TEST_SUITE_END()
