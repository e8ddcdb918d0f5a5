// Malformed and unsupported inputs through parse_frame: every one refused with its exact reason.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <set>
#include <string>

#include "synack/wire/frame.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::ip_at;
using wire_test::options_at;
using wire_test::tcp_at;

namespace {

const parse_options verify{.verify_checksums = true};

struct malformed_case {
  std::string name;
  std::function<void(byte_vec&)> mutate;
  bool refresh_checksums;  // recompute checksums after mutating, to reach the later checks
  parse_error expected;
};

void set_u8(byte_vec& f, std::size_t at, std::uint8_t v) { store_u8(f, at, v); }
void set_u16(byte_vec& f, std::size_t at, std::uint16_t v) { store_u16(f, at, v); }

const std::vector<malformed_case> cases = {
    {"ip version 6", [](byte_vec& f) { set_u8(f, ip_at, 0x65); }, true, parse_error::bad_ip_version},
    {"ihl 4", [](byte_vec& f) { set_u8(f, ip_at, 0x44); }, true, parse_error::ihl_too_small},
    {"ihl 0", [](byte_vec& f) { set_u8(f, ip_at, 0x40); }, true, parse_error::ihl_too_small},
    {"total length beyond frame",
     [](byte_vec& f) { set_u16(f, ip_at + 2, static_cast<std::uint16_t>(f.size() - ip_at + 1)); }, true,
     parse_error::total_length_beyond_frame},
    {"total length below ihl", [](byte_vec& f) { set_u16(f, ip_at + 2, 19); }, true,
     parse_error::total_length_too_small},
    {"total length zero (big TCP)", [](byte_vec& f) { set_u16(f, ip_at + 2, 0); }, true,
     parse_error::total_length_too_small},
    {"bad ip checksum", [](byte_vec& f) { f[ip_at + 10] ^= std::byte{0x01}; }, false, parse_error::bad_ip_checksum},
    {"more fragments", [](byte_vec& f) { set_u16(f, ip_at + 6, 0x2000); }, true, parse_error::ip_fragment},
    {"fragment offset", [](byte_vec& f) { set_u16(f, ip_at + 6, 0x4001); }, true, parse_error::ip_fragment},
    {"udp", [](byte_vec& f) { set_u8(f, ip_at + 9, ip_protocol::udp); }, true, parse_error::not_tcp},
    {"tcp shorter than its header",
     [](byte_vec& f) { set_u16(f, ip_at + 2, 20 + 19); }, true, parse_error::truncated_tcp},
    {"data offset 4", [](byte_vec& f) { set_u8(f, tcp_at + 12, 0x40); }, true, parse_error::data_offset_too_small},
    {"data offset 0", [](byte_vec& f) { set_u8(f, tcp_at + 12, 0x00); }, true, parse_error::data_offset_too_small},
    {"data offset beyond segment",
     [](byte_vec& f) { set_u8(f, tcp_at + 12, 0xf0); }, true, parse_error::data_offset_beyond_segment},
    {"bad tcp checksum", [](byte_vec& f) { f.back() ^= std::byte{0x20}; }, false, parse_error::bad_tcp_checksum},
    {"syn and fin", [](byte_vec& f) { set_u8(f, tcp_at + 13, 0x03); }, true, parse_error::syn_and_fin},
    {"syn and rst", [](byte_vec& f) { set_u8(f, tcp_at + 13, 0x06); }, true, parse_error::syn_and_rst},
    {"option length 0", [](byte_vec& f) { set_u8(f, options_at + 1, 0); }, true, parse_error::option_length_zero},
    {"option length 1", [](byte_vec& f) { set_u8(f, options_at + 1, 1); }, true, parse_error::option_length_one},
    {"option past header", [](byte_vec& f) { set_u8(f, options_at + 1, 21); }, true, parse_error::option_past_header},
    {"last option byte is a kind",
     [](byte_vec& f) { set_u8(f, options_at + 16, 1), set_u8(f, options_at + 17, 1), set_u8(f, options_at + 18, 1),
                       set_u8(f, options_at + 19, 2); },
     true, parse_error::option_past_header},
    {"mss length 3", [](byte_vec& f) { set_u8(f, options_at + 1, 3); }, true, parse_error::bad_option_length},
    {"window scale overruns the option area", [](byte_vec& f) { set_u8(f, options_at + 18, 4); }, true,
     parse_error::option_past_header},
    {"window scale length 4",
     [](byte_vec& f) { set_u8(f, options_at + 16, 3), set_u8(f, options_at + 17, 4); }, true,
     parse_error::bad_option_length},
    {"timestamps length 8",
     [](byte_vec& f) { set_u8(f, options_at + 7, 8); }, true, parse_error::bad_option_length},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(malformed)

BOOST_AUTO_TEST_CASE(the_base_frame_is_valid) {
  const byte_vec f = wire_test::valid_syn_frame();
  const parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.tcp->payload.size() == 3u);
  BOOST_TEST(*p.tcp->options.window_scale == 7);
}

BOOST_AUTO_TEST_CASE(each_malformed_header_gives_its_exact_reason) {
  for (const malformed_case& c : cases) {
    BOOST_TEST_CONTEXT("case: " << c.name) {
      byte_vec f = wire_test::valid_syn_frame();
      c.mutate(f);
      if (c.refresh_checksums) wire_test::refresh_checksums(f);
      const parsed_frame p = parse_frame(f, verify);
      BOOST_TEST(p.error == c.expected);
      BOOST_TEST(p.kind == (is_malformed(c.expected) ? frame_kind::malformed : frame_kind::ignored));
      BOOST_TEST(!p.tcp.has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(checksum_errors_pass_when_verification_is_off) {
  for (const malformed_case& c : cases) {
    if (c.expected != parse_error::bad_ip_checksum && c.expected != parse_error::bad_tcp_checksum) continue;
    byte_vec f = wire_test::valid_syn_frame();
    c.mutate(f);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).kind == frame_kind::tcp, c.name);
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_of_a_valid_frame_gives_a_reason) {
  const byte_vec full = wire_test::valid_syn_frame();
  for (std::size_t n = 0; n < full.size(); ++n) {
    const parsed_frame p = parse_frame(bytes{full}.first(n), verify);
    const parse_error expected = n < ip_at    ? parse_error::truncated_ethernet
                                 : n < tcp_at ? parse_error::truncated_ipv4
                                              : parse_error::total_length_beyond_frame;
    BOOST_TEST(p.error == expected, "length " << n);
    BOOST_TEST(p.kind == frame_kind::malformed, "length " << n);
  }
}

BOOST_AUTO_TEST_CASE(every_tcp_length_consistent_with_ip_gives_a_reason) {
  // Shorten the IP total length (and the frame) one byte at a time, checksums kept right.
  const byte_vec full = wire_test::valid_syn_frame();
  const std::size_t segment_len = full.size() - tcp_at;
  for (std::size_t n = 0; n <= segment_len; ++n) {
    byte_vec f(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(tcp_at + n));
    store_u16(f, ip_at + 2, static_cast<std::uint16_t>(20 + n));
    wire_test::refresh_checksums(f);
    const parsed_frame p = parse_frame(f, verify);
    const parse_error expected = n < 20   ? parse_error::truncated_tcp
                                 : n < 40 ? parse_error::data_offset_beyond_segment
                                          : parse_error::none;
    BOOST_TEST(p.error == expected, "segment length " << n);
  }
}

BOOST_AUTO_TEST_CASE(ihl_beyond_the_frame_is_truncated_ipv4) {
  byte_vec f = wire_test::valid_syn_frame();
  f.resize(ip_at + 40);
  store_u8(f, ip_at, 0x4f);  // 60-byte header, 40 bytes present
  BOOST_TEST(parse_frame(f, verify).error == parse_error::truncated_ipv4);
}

BOOST_AUTO_TEST_CASE(ethernet_padding_after_ip_total_length_is_ignored) {
  byte_vec f = wire_test::valid_syn_frame();
  f.resize(f.size() + 17, std::byte{0xab});
  const parsed_frame p = parse_frame(f, verify);
  BOOST_TEST_REQUIRE(p.kind == frame_kind::tcp);
  BOOST_TEST(p.tcp->payload.size() == 3u);
}

BOOST_AUTO_TEST_CASE(every_reason_has_a_distinct_name) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < parse_error_count; ++i) {
    const auto name = to_string(static_cast<parse_error>(i));
    BOOST_TEST(name != "unknown");
    names.insert(name);
  }
  BOOST_TEST(names.size() == parse_error_count);
}

BOOST_AUTO_TEST_CASE(counters_count_by_reason_but_not_none) {
  parse_counters c;
  c.count(parse_error::none);
  c.count(parse_error::bad_tcp_checksum);
  c.count(parse_error::bad_tcp_checksum);
  c.count(parse_error::not_tcp);
  BOOST_TEST(c[parse_error::bad_tcp_checksum] == 2u);
  BOOST_TEST(c[parse_error::not_tcp] == 1u);
  BOOST_TEST(c[parse_error::none] == 0u);
  BOOST_TEST(c.total() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
