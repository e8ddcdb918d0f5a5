// RFC 1071 internet checksum: known vectors, odd lengths, incremental == one-shot.
#include <boost/test/unit_test.hpp>

#include <random>

#include "synack/wire/checksum.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;
using wire_test::from_hex;

BOOST_AUTO_TEST_SUITE(checksum)

BOOST_AUTO_TEST_CASE(rfc1071_example_sums_to_ddf2) {
  // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 have the one's-complement sum ddf2.
  const byte_vec data = from_hex("00 01 f2 03 f4 f5 f6 f7");
  BOOST_TEST(checksum_accumulator{}.add(data).fold() == 0xddf2);
  BOOST_TEST(internet_checksum(data) == 0x220d);
}

BOOST_AUTO_TEST_CASE(real_ipv4_header_verifies_and_recomputes) {
  // A captured IPv4/UDP header (192.168.0.1 -> 192.168.0.199), stored checksum b861.
  byte_vec header = from_hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7");
  BOOST_TEST(ipv4_header_checksum(header) == 0);
  header[10] = header[11] = std::byte{0};
  BOOST_TEST(ipv4_header_checksum(header) == 0xb861);
}

BOOST_AUTO_TEST_CASE(tcp_segment_from_another_stack_verifies) {
  // smoltcp's TCP test vector (src/wire/tcp.rs, PACKET_BYTES), 192.168.1.1 -> 192.168.1.2,
  // stored checksum 01b6: an independent implementation's encoding.
  byte_vec segment = from_hex(
      "bf 00 00 50 01 23 45 67 89 ab cd ef 60 35 01 23 01 b6 02 01 03 03 0c 01 aa 00 00 ff");
  const auto src = ipv4_addr::from_octets(192, 168, 1, 1);
  const auto dst = ipv4_addr::from_octets(192, 168, 1, 2);
  BOOST_TEST(tcp_checksum(src, dst, segment) == 0);
  segment[16] = segment[17] = std::byte{0};
  BOOST_TEST(tcp_checksum(src, dst, segment) == 0x01b6);
}

BOOST_AUTO_TEST_CASE(odd_length_pads_last_byte_with_zero) {
  BOOST_TEST(internet_checksum(from_hex("01")) == static_cast<std::uint16_t>(~0x0100));
  BOOST_TEST(internet_checksum(from_hex("00 01 f2")) == static_cast<std::uint16_t>(~(0x0001 + 0xf200)));
  // Odd-length TCP payload ("hello"): checksum computed independently with Python.
  const byte_vec segment = from_hex("30 39 00 50 00 00 00 01 00 00 00 00 50 18 ff ff 00 00 00 00 68 65 6c 6c 6f");
  BOOST_TEST(tcp_checksum(ipv4_addr::from_octets(10, 0, 0, 1), ipv4_addr::from_octets(10, 0, 0, 2), segment) ==
             0x2769u);
}

BOOST_AUTO_TEST_CASE(empty_input_checksums_to_ffff) {
  BOOST_TEST(internet_checksum({}) == 0xffff);
}

BOOST_AUTO_TEST_CASE(pieces_at_odd_offsets_sum_like_the_whole) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 200; ++round) {
    byte_vec data(rng() % 300);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    const std::uint16_t whole = internet_checksum(data);
    checksum_accumulator acc;
    std::size_t at = 0;
    while (at < data.size()) {
      const std::size_t n = std::min<std::size_t>(rng() % 7, data.size() - at);
      acc.add(bytes{data}.subspan(at, n));
      at += n;
    }
    BOOST_TEST(acc.finish() == whole, "round " << round << " size " << data.size());
  }
}

BOOST_AUTO_TEST_CASE(add_u16_and_u32_match_big_endian_bytes) {
  const byte_vec data = from_hex("12 34 56 78 9a bc");
  checksum_accumulator a;
  a.add(bytes{data}.first(1)).add_u32(0x3456789a).add_u16(0xbc00);
  checksum_accumulator b;
  b.add(data).add(from_hex("00"));
  BOOST_TEST(a.fold() == b.fold());
}

BOOST_AUTO_TEST_CASE(large_frame_does_not_overflow) {
  const byte_vec data(65535, std::byte{0xff});
  // 32767 words of ffff (each == 0 in one's complement) plus ff00: checksum ~ff00 = 00ff.
  BOOST_TEST(internet_checksum(data) == 0x00ff);
}

BOOST_AUTO_TEST_SUITE_END()
