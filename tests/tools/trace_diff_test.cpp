// synack trace's quotation diff (src/tools/trace_diff.*): a probe as sent against what a router
// quoted, one middlebox behaviour per test.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "trace_diff.hpp"
#include "synack/wire/icmpv6.hpp"
#include "synack/wire/ipv4.hpp"
#include "synack/wire/ipv6.hpp"
#include "synack/wire/tcp.hpp"

using namespace synack;
using synack::tools::header_change;

namespace {

const wire::ipv4_addr us = wire::ipv4_addr::from_octets(10, 0, 0, 1);
const wire::ipv4_addr them = wire::ipv4_addr::from_octets(10, 0, 9, 2);

// A probe like synack trace's: a Linux-style SYN (MSS, sackOK, TS, wscale).
tools::sent_probe probe(std::uint32_t seq = 1000, std::uint16_t mss = 1460) {
  wire::tcp_repr r;
  r.src_port = 61000;
  r.dst_port = 80;
  r.seq = seq;
  r.flags.syn = true;
  r.window = 64240;
  r.options.mss = mss;
  r.options.sack_permitted = true;
  r.options.timestamps = wire::tcp_timestamps{777, 0};
  r.options.window_scale = 7;
  tools::sent_probe p;
  p.src = us;
  p.dst = them;
  p.ttl = 3;
  p.dscp_ecn = 0;
  p.identification = 42;
  p.tcp.resize(r.buffer_len());
  r.emit(p.tcp, us, them);
  p.total_length = static_cast<std::uint16_t>(20 + p.tcp.size());
  return p;
}

// What a router quotes when nothing changed: the header as sent, TTL 1 on arrival. `tcp` holds
// the quoted TCP bytes (the caller keeps it alive).
wire::icmp_quote quote_of(const tools::sent_probe& p, const std::vector<std::byte>& tcp) {
  wire::icmp_quote q;
  q.src = p.src;
  q.dst = p.dst;
  q.protocol = wire::ip_protocol::tcp;
  q.ttl = 1;
  q.dscp_ecn = p.dscp_ecn;
  q.identification = p.identification;
  q.total_length = p.total_length;
  q.dont_fragment = p.dont_fragment;
  q.transport = tcp;
  q.src_port = wire::load_u16(q.transport, 0);
  q.dst_port = wire::load_u16(q.transport, 2);
  q.seq = wire::load_u32(q.transport, 4);
  return q;
}

void put16(std::vector<std::byte>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v);
}
void put32(std::vector<std::byte>& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// Where an option starts in the quoted bytes (the options synack's emitter writes).
std::size_t find_option(const std::vector<std::byte>& tcp, std::uint8_t kind) {
  std::size_t i = 20;
  const std::size_t end = (static_cast<std::size_t>(tcp[12]) >> 4) * 4;
  while (i < end) {
    const auto k = static_cast<std::uint8_t>(tcp[i]);
    if (k == kind) return i;
    if (k == 0) break;
    i += k == 1 ? 1 : static_cast<std::size_t>(tcp[i + 1]);
  }
  BOOST_FAIL("option not found");
  return 0;
}

std::string fmt_plen(std::size_t sent, std::size_t quoted) {
  return "plen " + std::to_string(sent) + "->" + std::to_string(quoted);
}

std::vector<std::string> fields(const std::vector<header_change>& v) {
  std::vector<std::string> f;
  for (const auto& c : v) f.push_back(c.field);
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(trace_diff)

BOOST_AUTO_TEST_CASE(an_unchanged_probe_quoted_whole_reports_nothing) {
  auto p = probe();
  auto tcp = p.tcp;
  const auto q = quote_of(p, tcp);
  BOOST_TEST(tools::diff_quote(p, q).empty());
  const auto c = tools::coverage(q);
  BOOST_TEST(c.full_header);
  BOOST_TEST(c.tcp_bytes == p.tcp.size());
}

BOOST_AUTO_TEST_CASE(an_eight_byte_quote_compares_only_ports_and_sequence_number) {
  auto p = probe();
  std::vector<std::byte> tcp(p.tcp.begin(), p.tcp.begin() + 8);
  const auto q = quote_of(p, tcp);
  BOOST_TEST(tools::diff_quote(p, q).empty());
  BOOST_TEST(!tools::coverage(q).full_header);
  BOOST_TEST(tools::coverage(q).tcp_bytes == 8u);
}

BOOST_AUTO_TEST_CASE(a_clamped_mss_is_reported_with_both_values) {
  auto p = probe();
  auto tcp = p.tcp;
  put16(tcp, find_option(tcp, 2) + 2, 1200);
  const auto d = tools::diff_quote(p, quote_of(p, tcp));
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0].field == "mss");
  BOOST_TEST(d[0].sent == "1460");
  BOOST_TEST(d[0].quoted == "1200");
  BOOST_TEST(d[0].text == "MSS 1460->1200");
}

BOOST_AUTO_TEST_CASE(options_overwritten_with_nops_are_reported_stripped) {
  auto p = probe();
  auto tcp = p.tcp;
  const std::size_t at = find_option(tcp, 4);  // sackOK: kind 4, length 2
  tcp[at] = tcp[at + 1] = std::byte{1};
  const std::size_t ts = find_option(tcp, 8);
  std::fill(tcp.begin() + static_cast<std::ptrdiff_t>(ts), tcp.begin() + static_cast<std::ptrdiff_t>(ts + 10), std::byte{1});
  const auto d = tools::diff_quote(p, quote_of(p, tcp));
  BOOST_TEST(fields(d) == (std::vector<std::string>{"sack_permitted", "timestamps"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "sackOK stripped");
  BOOST_TEST(d[0].quoted.empty());
  BOOST_TEST(d[1].text == "TS stripped");
}

BOOST_AUTO_TEST_CASE(an_option_replacing_nops_is_reported_added) {
  auto p = probe();
  auto tcp = p.tcp;
  // sackOK (kind 4, length 2) overwritten by another two-byte option (kind 30, MPTCP's number).
  const std::size_t at = find_option(tcp, 4);
  tcp[at] = std::byte{30};
  const auto d = tools::diff_quote(p, quote_of(p, tcp));
  BOOST_TEST(fields(d) == (std::vector<std::string>{"sack_permitted", "options"}), boost::test_tools::per_element());
  BOOST_TEST(d[1].text == "MPTCP added");
}

BOOST_AUTO_TEST_CASE(rewritten_timestamps_and_window_scale_are_reported) {
  auto p = probe();
  auto tcp = p.tcp;
  put32(tcp, find_option(tcp, 8) + 2, 99999);
  tcp[find_option(tcp, 3) + 2] = std::byte{2};
  const auto d = tools::diff_quote(p, quote_of(p, tcp));
  BOOST_TEST(fields(d) == (std::vector<std::string>{"timestamps", "wscale"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].key == "timestamps:rewritten");
  BOOST_TEST(d[1].text == "wscale 7->2");
}

BOOST_AUTO_TEST_CASE(tos_and_ecn_are_reported_apart) {
  auto p = probe();
  p.dscp_ecn = 0xb8;  // EF, not-ECT
  auto tcp = p.tcp;
  auto q = quote_of(p, tcp);
  q.dscp_ecn = 0x01;  // bleached DSCP, ECT(1) set
  const auto d = tools::diff_quote(p, q);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"tos", "ecn"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "TOS 0xb8->0x00");
  BOOST_TEST(d[1].text == "ECN not-ECT->ECT(1)");
}

BOOST_AUTO_TEST_CASE(nat_of_the_source_address_and_port_is_reported) {
  auto p = probe();
  auto tcp = p.tcp;
  put16(tcp, 0, 40000);
  auto q = quote_of(p, tcp);
  q.src = wire::ipv4_addr::from_octets(192, 0, 2, 7);
  const auto d = tools::diff_quote(p, q);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"src", "src_port"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "src 10.0.0.1->192.0.2.7");
  BOOST_TEST(d[1].text == "sport 61000->40000");
}

BOOST_AUTO_TEST_CASE(a_sequence_rewrite_is_keyed_by_its_offset_across_probes) {
  auto a = probe(1000), b = probe(1001);
  auto ta = a.tcp, tb = b.tcp;
  put32(ta, 4, 1000 + 5000);
  put32(tb, 4, 1001 + 5000);
  const auto da = tools::diff_quote(a, quote_of(a, ta));
  const auto db = tools::diff_quote(b, quote_of(b, tb));
  BOOST_TEST_REQUIRE(da.size() == 1u);
  BOOST_TEST_REQUIRE(db.size() == 1u);
  BOOST_TEST(da[0].field == "seq");
  BOOST_TEST(da[0].key == db[0].key);
  BOOST_TEST(da[0].text == "seq rewritten (+5000)");
  tools::change_tracker t;
  BOOST_TEST(t.first_seen(da).size() == 1u);
  BOOST_TEST(t.first_seen(db).empty());
}

BOOST_AUTO_TEST_CASE(a_quoted_ttl_other_than_one_and_a_cleared_df_are_reported) {
  auto p = probe();
  auto tcp = p.tcp;
  auto q = quote_of(p, tcp);
  q.ttl = 0;
  q.dont_fragment = false;
  const auto d = tools::diff_quote(p, q);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"df", "quoted_ttl"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "DF cleared");
  BOOST_TEST(d[1].text == "qttl 0");
}

BOOST_AUTO_TEST_CASE(window_and_ecn_flags_rewritten_in_tcp_are_reported) {
  auto p = probe();
  auto tcp = p.tcp;
  put16(tcp, 14, 65535);
  auto sent = p;
  sent.tcp[13] |= std::byte{0xc0};  // we sent ECE|CWR (an ECN-setup SYN); the box cleared them
  const auto d = tools::diff_quote(sent, quote_of(sent, tcp));
  BOOST_TEST(fields(d) == (std::vector<std::string>{"tcp_flags", "window"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "flags CWR|ECE|SYN->SYN");
  BOOST_TEST(d[1].text == "win 64240->65535");
}

BOOST_AUTO_TEST_CASE(a_mangled_option_area_is_reported_once) {
  auto p = probe();
  auto tcp = p.tcp;
  tcp[find_option(tcp, 2) + 1] = std::byte{0};  // MSS with length 0
  const auto d = tools::diff_quote(p, quote_of(p, tcp));
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0].text == "options mangled");
}

BOOST_AUTO_TEST_CASE(the_tracker_reports_a_change_at_the_first_hop_only) {
  tools::change_tracker t;
  const header_change mss{"mss", "1460", "1200", "MSS 1460->1200", "mss:1200"};
  const header_change mss_again{"mss", "1460", "1100", "MSS 1460->1100", "mss:1100"};
  BOOST_TEST(t.first_seen({}).empty());
  BOOST_TEST(t.first_seen({mss}).size() == 1u);
  BOOST_TEST(t.first_seen({mss}).empty());
  // Clamped again further on: a new value is a new change.
  BOOST_TEST(t.first_seen({mss, mss_again}).size() == 1u);
}

BOOST_AUTO_TEST_CASE(raw_options_parse_and_refuse_broken_lengths) {
  auto area = [](std::initializer_list<int> v) {
    std::vector<std::byte> b;
    for (int x : v) b.push_back(static_cast<std::byte>(x));
    return b;
  };
  const auto ok = area({2, 4, 5, 0xb4, 1, 1, 4, 2, 0, 9});
  const auto o = tools::parse_raw_tcp_options(ok);
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST_REQUIRE(o->size() == 5u);  // MSS, NOP, NOP, sackOK, EOL (what follows EOL is padding)
  BOOST_TEST((*o)[0].kind == 2);
  BOOST_TEST((*o)[0].data.size() == 2u);
  BOOST_TEST((*o)[4].kind == 0);
  const std::vector<std::byte> broken[] = {area({2}), area({2, 1, 0, 0}), area({2, 4, 5}), area({8, 0})};
  for (const auto& b : broken) BOOST_TEST(!tools::parse_raw_tcp_options(b).has_value());
  BOOST_TEST(tools::parse_raw_tcp_options({})->empty());
}

BOOST_AUTO_TEST_SUITE_END()

// --- IPv6 -----------------------------------------------------------------------------------------
// The same comparison over an ICMPv6 quotation: hop limit for TTL, the traffic class for TOS, the
// flow label (given apart: wire::icmp_quote has none), the payload length; no IP ID, no DF.

namespace {

const wire::ip_addr us6 = *wire::ip_addr::parse("fd00:111:1::1");
const wire::ip_addr them6 = *wire::ip_addr::parse("fd00:111:4::2");
constexpr std::uint32_t flow = 0xabcde;

tools::sent_probe probe6(std::uint32_t seq = 1000, std::uint16_t mss = 1440) {
  auto p = probe(seq, mss);
  p.src = us6;
  p.dst = them6;
  p.identification = 0;
  p.flow_label = flow;
  p.tcp.assign(p.tcp.size(), std::byte{0});
  wire::tcp_repr r;
  r.src_port = 61000;
  r.dst_port = 80;
  r.seq = seq;
  r.flags.syn = true;
  r.window = 64240;
  r.options.mss = mss;
  r.options.sack_permitted = true;
  r.options.timestamps = wire::tcp_timestamps{777, 0};
  r.options.window_scale = 7;
  r.emit(p.tcp, us6, them6);
  p.total_length = static_cast<std::uint16_t>(40 + p.tcp.size());
  return p;
}

// What an IPv6 router quotes (wire::icmpv6_error_repr's conventions): identification 0, DF true.
wire::icmp_quote quote6_of(const tools::sent_probe& p, const std::vector<std::byte>& tcp) {
  auto q = quote_of(p, tcp);
  q.identification = 0;
  q.dont_fragment = true;
  return q;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(trace_diff_ipv6)

BOOST_AUTO_TEST_CASE(an_unchanged_probe_quoted_whole_reports_nothing) {
  auto p = probe6();
  auto tcp = p.tcp;
  const auto q = quote6_of(p, tcp);
  BOOST_TEST(tools::diff_quote(p, q, flow).empty());
  BOOST_TEST(tools::diff_quote(p, q).empty());  // flow label unknown: not compared
  BOOST_TEST(tools::coverage(q).full_header);
}

BOOST_AUTO_TEST_CASE(a_real_icmpv6_time_exceeded_round_trips_to_no_change) {
  // Emitted and parsed by the wire layer as the frame parser reads a router's error.
  auto p = probe6();
  wire::icmpv6_error_repr e;
  e.type = wire::icmpv6_type::time_exceeded;
  e.code = wire::icmpv6_time_exceeded::hop_limit;
  e.quote.src = p.src;
  e.quote.dst = p.dst;
  e.quote.protocol = wire::ip_protocol::tcp;
  e.quote.ttl = 1;
  e.quote.dscp_ecn = p.dscp_ecn;
  e.quote.total_length = p.total_length;
  e.quote.transport = p.tcp;
  const wire::ip_addr router = *wire::ip_addr::parse("fd00:111:2::2");
  std::vector<std::byte> msg(e.buffer_len());
  e.emit(msg, router, us6);
  auto view = wire::icmpv6_view::parse(msg);
  BOOST_TEST_REQUIRE(view.has_value());
  auto parsed = wire::icmpv6_error_repr::parse(*view, router, us6, true);
  BOOST_TEST_REQUIRE(parsed.has_value());
  // emit() writes flow label 0: what the quotation says.
  const auto fl = tools::quoted_flow_label(view->payload());
  BOOST_TEST_REQUIRE(fl.has_value());
  BOOST_TEST(*fl == 0u);
  p.flow_label = 0;
  BOOST_TEST(tools::diff_quote(p, parsed->quote, fl).empty());
  BOOST_TEST((tools::quoted_tsval(parsed->quote) == std::optional<std::uint32_t>{777}));
}

BOOST_AUTO_TEST_CASE(ipv4_only_fields_are_never_reported) {
  auto p = probe6();
  auto tcp = p.tcp;
  auto q = quote6_of(p, tcp);
  q.identification = 4242;  // cannot happen on the wire; still no ip_id change
  q.dont_fragment = false;
  BOOST_TEST(tools::diff_quote(p, q, flow).empty());
}

BOOST_AUTO_TEST_CASE(traffic_class_dscp_and_ecn_are_reported_apart) {
  auto p = probe6();
  p.dscp_ecn = 0xb8;
  auto tcp = p.tcp;
  auto q = quote6_of(p, tcp);
  q.dscp_ecn = 0x29;  // DSCP 10 (AF11), ECT(1)
  const auto d = tools::diff_quote(p, q, flow);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"traffic_class", "ecn"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "TC 0xb8->0x28");
  BOOST_TEST(d[0].key == "traffic_class:0x28");
  BOOST_TEST(d[1].text == "ECN not-ECT->ECT(1)");
}

BOOST_AUTO_TEST_CASE(a_rewritten_flow_label_is_reported_in_decimal_and_hex) {
  auto p = probe6();
  auto tcp = p.tcp;
  const auto d = tools::diff_quote(p, quote6_of(p, tcp), 0);
  BOOST_TEST_REQUIRE(d.size() == 1u);
  BOOST_TEST(d[0].field == "flow_label");
  BOOST_TEST(d[0].sent == std::to_string(flow));
  BOOST_TEST(d[0].quoted == "0");
  BOOST_TEST(d[0].text == "flow label 0xabcde->0x00000");
  BOOST_TEST(d[0].key == "flow_label:0");
  // Every probe of a series has the same label: the same change at the next hop is one key.
  auto p2 = probe6(1001);
  auto tcp2 = p2.tcp;
  tools::change_tracker t;
  BOOST_TEST(t.first_seen(d).size() == 1u);
  BOOST_TEST(t.first_seen(tools::diff_quote(p2, quote6_of(p2, tcp2), 0)).empty());
}

BOOST_AUTO_TEST_CASE(a_quoted_hop_limit_other_than_one_and_a_payload_length_change) {
  auto p = probe6();
  auto tcp = p.tcp;
  auto q = quote6_of(p, tcp);
  q.ttl = 2;
  q.total_length = static_cast<std::uint16_t>(p.total_length + 4);
  const auto d = tools::diff_quote(p, q, flow);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"length", "quoted_hop_limit"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].sent == std::to_string(p.tcp.size()));
  BOOST_TEST(d[0].text == fmt_plen(p.tcp.size(), p.tcp.size() + 4));
  BOOST_TEST(d[1].text == "qhlim 2");
  BOOST_TEST(d[1].key == "quoted_hop_limit:2");
}

BOOST_AUTO_TEST_CASE(mss_clamping_and_options_stripped_over_ipv6) {
  auto p = probe6();
  auto tcp = p.tcp;
  put16(tcp, find_option(tcp, 2) + 2, 1200);
  const std::size_t at = find_option(tcp, 4);
  tcp[at] = tcp[at + 1] = std::byte{1};
  const auto d = tools::diff_quote(p, quote6_of(p, tcp), flow);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"mss", "sack_permitted"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "MSS 1440->1200");
  BOOST_TEST(d[1].text == "sackOK stripped");
}

BOOST_AUTO_TEST_CASE(address_port_and_sequence_rewrites_show_ipv6_addresses) {
  // NPTv6 (RFC 6296) or a NAT66 box: the source prefix rewritten, and a port and sequence rewrite.
  auto p = probe6();
  auto tcp = p.tcp;
  put16(tcp, 0, 40000);
  put32(tcp, 4, 1000 + 77);
  auto q = quote6_of(p, tcp);
  q.src = *wire::ip_addr::parse("fd00:99::1");
  q.dst = *wire::ip_addr::parse("fd00:111:4::3");
  const auto d = tools::diff_quote(p, q, flow);
  BOOST_TEST(fields(d) == (std::vector<std::string>{"src", "dst", "src_port", "seq"}), boost::test_tools::per_element());
  BOOST_TEST(d[0].text == "src fd00:111:1::1->fd00:99::1");
  BOOST_TEST(d[0].key == "src:fd00:99::1");
  BOOST_TEST(d[1].text == "dst fd00:111:4::2->fd00:111:4::3");
  BOOST_TEST(d[2].text == "sport 61000->40000");
  BOOST_TEST(d[3].text == "seq rewritten (+77)");
}

BOOST_AUTO_TEST_CASE(the_quoted_flow_label_is_read_from_the_quoted_header) {
  const std::vector<std::byte> hdr{std::byte{0x6b}, std::byte{0x8a}, std::byte{0xbc}, std::byte{0xde}};
  BOOST_TEST((tools::quoted_flow_label(hdr) == std::optional<std::uint32_t>{0xabcde}));
  const std::vector<std::byte> v4{std::byte{0x45}, std::byte{0}, std::byte{0}, std::byte{0x3c}};
  BOOST_TEST(!tools::quoted_flow_label(v4).has_value());
  BOOST_TEST(!tools::quoted_flow_label(wire::bytes{hdr}.first(3)).has_value());
}

BOOST_AUTO_TEST_CASE(the_tsval_tells_probes_apart_only_from_a_whole_header) {
  auto p = probe6();
  auto tcp = p.tcp;
  BOOST_TEST((tools::quoted_tsval(quote6_of(p, tcp)) == std::optional<std::uint32_t>{777}));
  std::vector<std::byte> eight(p.tcp.begin(), p.tcp.begin() + 8);
  BOOST_TEST(!tools::quoted_tsval(quote6_of(p, eight)).has_value());
  // Timestamps stripped on the way: no tag, the sequence number alone must match.
  const std::size_t ts = find_option(tcp, 8);
  std::fill(tcp.begin() + static_cast<std::ptrdiff_t>(ts), tcp.begin() + static_cast<std::ptrdiff_t>(ts + 10), std::byte{1});
  BOOST_TEST(!tools::quoted_tsval(quote6_of(p, tcp)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
