// ICMP errors (RFC 792, RFC 1191): parsing of every type synack acts on, the quotation matched back
// to the TCP segment it is about, the checks that refuse broken or foreign messages, and the
// plateau table for routers that do not say the next-hop MTU.
#include <boost/test/unit_test.hpp>

#include <random>

#include "helpers.hpp"
#include "synack/wire/checksum.hpp"
#include "synack/wire/icmp.hpp"

using namespace synack::wire;
using wire_test::byte_vec;

namespace {

const ipv4_addr us{0x0a6f0001};      // 10.111.0.1
const ipv4_addr peer{0x0a580202};    // 10.88.2.2
const ipv4_addr router{0x0a6f00fe};  // 10.111.0.254

// The TCP header we "sent": 61000 -> 8080, seq 0x11223344, a SYN with MSS 1460.
byte_vec sent_tcp_header() {
  return wire_test::from_hex("ee 48 1f 90 11 22 33 44 00 00 00 00 60 02 ff ff 00 00 00 00 02 04 05 b4");
}

// Ethernet + IPv4 (router -> us, protocol 1) + an ICMP error quoting `quoted` TCP bytes.
byte_vec icmp_frame(std::uint8_t type, std::uint8_t code, std::uint16_t mtu, const byte_vec& quoted,
                    std::uint16_t quoted_total = 0) {
  icmp_error_repr e;
  e.type = type;
  e.code = code;
  e.next_hop_mtu = mtu;
  e.quote.src = us;
  e.quote.dst = peer;
  e.quote.protocol = ip_protocol::tcp;
  e.quote.ttl = 1;
  e.quote.dont_fragment = true;
  e.quote.total_length = quoted_total ? quoted_total : static_cast<std::uint16_t>(20 + quoted.size());
  e.quote.transport = quoted;
  ipv4_repr ip{.src = router, .dst = us, .protocol = ip_protocol::icmp, .ttl = 64,
               .payload_len = static_cast<std::uint16_t>(e.buffer_len())};
  byte_vec f(ethernet_header_len + ip.buffer_len());
  const mutable_bytes out{f};
  emit_ethernet(out, mac_addr{{2, 0, 0, 0, 0, 1}}, mac_addr{{2, 0, 0, 0, 0, 2}}, ethertype::ipv4);
  ip.emit(out.subspan(ethernet_header_len));
  e.emit(out.subspan(ethernet_header_len + 20));
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(icmp)

BOOST_AUTO_TEST_CASE(port_unreachable_quotes_the_segment) {
  const byte_vec f = icmp_frame(icmp_type::dest_unreachable, icmp_unreach::port, 0, sent_tcp_header());
  const parsed_frame p = parse_frame(f, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(p.ipv4->src == router);
  const icmp_error_repr& e = *p.icmp;
  BOOST_TEST(e.type == icmp_type::dest_unreachable);
  BOOST_TEST(e.code == icmp_unreach::port);
  BOOST_TEST(e.next_hop_mtu == 0);
  BOOST_TEST(e.quote.src == us);
  BOOST_TEST(e.quote.dst == peer);
  BOOST_TEST(e.quote.src_port == 61000);
  BOOST_TEST(e.quote.dst_port == 8080);
  BOOST_TEST(e.quote.seq == 0x11223344u);
  BOOST_TEST(e.quote.ttl == 1);
  BOOST_TEST(e.quote.dont_fragment);
  BOOST_TEST(e.quote.transport.size() == 24u);  // the whole header, MSS option included
  BOOST_TEST(std::string(icmp_describe(e.type, e.code)) == "port unreachable");
}

BOOST_AUTO_TEST_CASE(frag_needed_carries_the_next_hop_mtu) {
  byte_vec q = sent_tcp_header();
  q.resize(8);  // an old router quotes only the 8 bytes RFC 792 requires
  const byte_vec f = icmp_frame(icmp_type::dest_unreachable, icmp_unreach::frag_needed, 1400, q, 1500);
  const parsed_frame p = parse_frame(f, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  BOOST_TEST(p.icmp->next_hop_mtu == 1400);
  BOOST_TEST(p.icmp->quote.total_length == 1500);
  BOOST_TEST(p.icmp->quote.transport.size() == 8u);
  BOOST_TEST(p.icmp->quote.seq == 0x11223344u);
}

BOOST_AUTO_TEST_CASE(time_exceeded_and_parameter_problem_are_errors) {
  for (std::uint8_t type : {icmp_type::time_exceeded, icmp_type::parameter_problem}) {
    const parsed_frame p = parse_frame(icmp_frame(type, 0, 0, sent_tcp_header()), {});
    BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
    BOOST_TEST(p.icmp->type == type);
    BOOST_TEST(p.icmp->next_hop_mtu == 0);  // only frag-needed reads the MTU field
  }
}

BOOST_AUTO_TEST_CASE(every_unreachable_code_has_a_name) {
  for (std::uint8_t code = 0; code <= 15; ++code) {
    const parsed_frame p = parse_frame(icmp_frame(icmp_type::dest_unreachable, code, 0, sent_tcp_header()), {});
    BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
    BOOST_TEST(p.icmp->code == code);
    BOOST_TEST(std::string(icmp_describe(icmp_type::dest_unreachable, code)) != "destination unreachable");
  }
}

BOOST_AUTO_TEST_CASE(refusals) {
  const byte_vec good = icmp_frame(icmp_type::dest_unreachable, icmp_unreach::port, 0, sent_tcp_header());
  constexpr std::size_t icmp_at = 34, quote_at = 42;
  {  // a flipped bit: bad checksum; accepted when the socket vouches for checksums
    byte_vec f = good;
    f[quote_at + 30] ^= std::byte{0x40};
    BOOST_TEST(parse_frame(f, {}).error == parse_error::bad_icmp_checksum);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).kind == frame_kind::icmp);
  }
  {  // echo request: ignored, not malformed
    byte_vec f = good;
    store_u8(mutable_bytes{f}, icmp_at, icmp_type::echo_request);
    const parsed_frame p = parse_frame(f, parse_options{.verify_checksums = false});
    BOOST_TEST(p.kind == frame_kind::ignored);
    BOOST_TEST(p.error == parse_error::unsupported_icmp);
  }
  {  // about UDP: ignored
    byte_vec f = good;
    store_u8(mutable_bytes{f}, quote_at + 9, ip_protocol::udp);
    const parsed_frame p = parse_frame(f, parse_options{.verify_checksums = false});
    BOOST_TEST(p.error == parse_error::icmp_quote_not_tcp);
    BOOST_TEST(p.kind == frame_kind::ignored);
  }
  {  // quoted header not IPv4
    byte_vec f = good;
    store_u8(mutable_bytes{f}, quote_at, 0x65);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).error == parse_error::icmp_quote_bad_header);
  }
  {  // quoted IHL of 15 words: the quotation is too short for it plus 8 bytes
    byte_vec f = good;
    store_u8(mutable_bytes{f}, quote_at, 0x4f);
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).error == parse_error::icmp_quote_truncated);
  }
  for (std::size_t quoted : {0u, 19u, 20u, 27u}) {  // under an IP header + 8 bytes of TCP
    byte_vec f(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(quote_at + quoted));
    store_u16(mutable_bytes{f}, 14 + 2, static_cast<std::uint16_t>(f.size() - 14));
    wire_test::refresh_checksums(f);
    const parsed_frame p = parse_frame(f, parse_options{.verify_checksums = false});
    BOOST_TEST(p.error == parse_error::icmp_quote_truncated, "quoted " << quoted);
    BOOST_TEST(p.kind == frame_kind::malformed);
  }
  {  // under the 8-byte ICMP header
    byte_vec f(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(icmp_at + 7));
    store_u16(mutable_bytes{f}, 14 + 2, static_cast<std::uint16_t>(f.size() - 14));
    BOOST_TEST(parse_frame(f, parse_options{.verify_checksums = false}).error == parse_error::truncated_icmp);
  }
}

BOOST_AUTO_TEST_CASE(emit_round_trip) {
  const byte_vec f = icmp_frame(icmp_type::dest_unreachable, icmp_unreach::frag_needed, 1280, sent_tcp_header(), 1500);
  const parsed_frame p = parse_frame(f, {});
  BOOST_TEST_REQUIRE(p.kind == frame_kind::icmp);
  byte_vec again(p.icmp->buffer_len());
  p.icmp->emit(again);
  BOOST_TEST(internet_checksum(again) == 0);
  const bytes orig = p.ipv4_header->payload();
  BOOST_TEST(wire_test::to_hex(again) == wire_test::to_hex(orig));
}

BOOST_AUTO_TEST_CASE(plateau_table) {
  BOOST_TEST(icmp_plateau_below(1500) == 1492);
  BOOST_TEST(icmp_plateau_below(1492) == 1006);
  BOOST_TEST(icmp_plateau_below(9000) == 8166);
  BOOST_TEST(icmp_plateau_below(576) == 508);
  BOOST_TEST(icmp_plateau_below(68) == 68);
  BOOST_TEST(icmp_plateau_below(0) == 68);
}

BOOST_AUTO_TEST_CASE(mutated_icmp_frames_stay_consistent) {
  std::mt19937 rng(20261207u);
  const byte_vec base = icmp_frame(icmp_type::dest_unreachable, icmp_unreach::frag_needed, 1400, sent_tcp_header(), 1500);
  std::size_t accepted = 0;
  for (int i = 0; i < 50'000; ++i) {
    byte_vec f = base;
    const auto flips = 1 + rng() % 3;
    for (std::uint32_t k = 0; k < flips; ++k) f[34 + rng() % (f.size() - 34)] = static_cast<std::byte>(rng());
    if (rng() % 4 == 0) f.resize(34 + rng() % (f.size() - 33));
    const parsed_frame p = parse_frame(f, parse_options{.verify_checksums = rng() % 2 == 0});
    if (p.kind == frame_kind::icmp) {
      ++accepted;
      const bytes q = p.icmp->quote.transport;
      BOOST_TEST_REQUIRE(q.size() >= icmp_min_quote_transport);
      BOOST_TEST_REQUIRE((q.data() >= f.data() && q.data() + q.size() <= f.data() + f.size()));
    } else {
      BOOST_TEST_REQUIRE(p.error != parse_error::none);
    }
  }
  BOOST_TEST(accepted > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
