// ICMPv6 errors, packet too big and answering neighbour solicitations (issue 14), end to end
// through two dual-stack engines on memory links with a "router" in between (icmp_path.hpp, as
// icmp_test.cpp for IPv4): what a connection reports for each error (Linux tcp_v6_err with
// icmpv6_err_convert), the path MTU (RFC 8201; Linux ignores a packet too big below 1280), and
// the neighbour advertisements an engine sends for the address it owns (RFC 4861 §7.2.4,
// RFC 4862 §5.4.3: a duplicate address probe is answered to all-nodes).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/icmp_path.hpp"
#include "synack/wire/frame.hpp"
#include "synack/wire/icmpv6.hpp"
#include "synack/wire/ipv6.hpp"

namespace {

using namespace icmp_path;

// An ICMPv6 error from `from` about `offending` (an Ethernet + IPv6 + TCP frame we sent), quoting
// its IPv6 header and its TCP segment (RFC 4443 §2.4(c): as much as fits in 1280 bytes), with the
// sequence number moved by `seq_offset`.
std::vector<std::byte> icmp6_about(std::span<const std::byte> offending, std::uint8_t type, std::uint8_t code,
                                   std::uint32_t mtu = 0, std::uint32_t seq_offset = 0,
                                   const wire::ipv6_addr& from = router6) {
  const frame_info i = inspect(offending);
  BOOST_TEST_REQUIRE(i.ipv6);
  BOOST_TEST_REQUIRE(i.tcp);
  const std::vector<std::byte> tcp = quoted_tcp(offending, 1280 - 48 - 40, seq_offset);
  wire::icmpv6_error_repr m;
  m.type = type;
  m.code = code;
  m.mtu = type == wire::icmpv6_type::packet_too_big ? mtu : 0;
  m.quote = quote_of(i, tcp, static_cast<std::uint16_t>(i.ip_len));
  wire::ipv6_repr ip;
  ip.src = from;
  ip.dst = i.src.v6();
  ip.next_header = wire::ip_protocol::icmpv6;
  ip.payload_len = static_cast<std::uint16_t>(m.buffer_len());
  std::vector<std::byte> out(wire::ethernet_header_len + ip.buffer_len());
  wire::emit_ethernet(out, source_mac(offending), mac_router, wire::ethertype::ipv6);
  ip.emit(std::span(out).subspan(wire::ethernet_header_len));
  m.emit(std::span(out).subspan(wire::ethernet_header_len + 40), wire::ip_addr{from}, i.src);
  return out;
}

// Linux icmpv6_err_convert (net/ipv6/icmp.c), written out here apart from the engine's
// classify_v6: tab_unreach for destination unreachable 0-6, an unknown code EPROTO and fatal; time
// exceeded (both codes reach TCP: icmpv6_notify) EHOSTUNREACH, not fatal; parameter problem (any
// code) EPROTO, fatal.
struct linux_v6_error {
  std::uint8_t type, code;
  int error;
  bool fatal;
};
const linux_v6_error linux_v6_errors[] = {
    {wire::icmpv6_type::dest_unreachable, 0, ENETUNREACH, false},  // no route to destination
    {wire::icmpv6_type::dest_unreachable, 1, EACCES, true},        // administratively prohibited
    {wire::icmpv6_type::dest_unreachable, 2, EHOSTUNREACH, false}, // beyond scope of source address
    {wire::icmpv6_type::dest_unreachable, 3, EHOSTUNREACH, false}, // address unreachable
    {wire::icmpv6_type::dest_unreachable, 4, ECONNREFUSED, true},  // port unreachable
    {wire::icmpv6_type::dest_unreachable, 5, EACCES, true},        // source address failed policy
    {wire::icmpv6_type::dest_unreachable, 6, EACCES, true},        // reject route to destination
    {wire::icmpv6_type::dest_unreachable, 7, EPROTO, true},        // unknown code
    {wire::icmpv6_type::time_exceeded, 0, EHOSTUNREACH, false},    // hop limit exceeded
    {wire::icmpv6_type::time_exceeded, 1, EHOSTUNREACH, false},    // reassembly time exceeded
    {wire::icmpv6_type::parameter_problem, 0, EPROTO, true},       // erroneous header field
    {wire::icmpv6_type::parameter_problem, 1, EPROTO, true},       // unrecognized next header
    {wire::icmpv6_type::parameter_problem, 2, EPROTO, true},       // unrecognized option
};

std::ostream& operator<<(std::ostream& os, const linux_v6_error& e) {
  return os << "type " << int{e.type} << " code " << int{e.code};
}

// A connection from A to B's IPv6 address, established.
wire::four_tuple connect6(path& p) {
  p.b->listen(server_port);
  const auto t = p.a->connect(addr6_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  BOOST_TEST_REQUIRE(t.remote_addr.is_v6());
  return t;
}

// An established connection whose next data segment from A the router answers with `type`/`code`
// (once; later ones are dropped: B is gone). Returns the tuple; runs 100 ms past the answer.
wire::four_tuple data_answered_with(path& p, std::uint8_t type, std::uint8_t code, bool& answered) {
  const auto t = connect6(p);
  p.route = [type, code, &answered](std::span<const std::byte> f, bool to_b) {
    if (!to_b) return verdict{};
    if (is_data_from(inspect(f), addr6_a) && !answered) {
      answered = true;
      return verdict{false, icmp6_about(f, type, code)};
    }
    return verdict{false, {}};
  };
  std::vector<std::byte> data(1000, std::byte{7});
  p.a->send(t, data);
  const tcp::instant sent = p.now;
  p.run([&] { return p.now > sent + 100ms; }, 1s);
  return t;
}

// 1000 bytes A sends on `t` (its frame, as it left): data in flight for a forged error to quote.
std::vector<std::byte> data_in_flight(path& p, const wire::four_tuple& t) {
  std::vector<std::byte> last;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && is_data_from(inspect(f), addr6_a)) last.assign(f.begin(), f.end());
    return verdict{};
  };
  std::vector<std::byte> data(1000, std::byte{1});
  p.a->send(t, data);
  p.a->process(p.now);
  p.step();
  p.route = [](auto, bool) { return verdict{}; };
  BOOST_TEST_REQUIRE(!last.empty());
  return last;
}

// A neighbour solicitation for `target` from `src` (the unspecified address: a duplicate address
// probe, to the target's solicited-node group), as a host with MAC `from_mac` sends it.
std::vector<std::byte> solicitation(const wire::ipv6_addr& target, const wire::ipv6_addr& src,
                                    const wire::mac_addr& from_mac, bool with_source_lladdr) {
  wire::ndp_repr ns;
  ns.type = wire::icmpv6_type::neighbor_solicitation;
  ns.target = target;
  if (with_source_lladdr) ns.source_lladdr = from_mac;
  wire::ipv6_repr ip;
  ip.src = src;
  ip.dst = target.solicited_node();
  ip.next_header = wire::ip_protocol::icmpv6;
  ip.hop_limit = wire::ndp_hop_limit;
  ip.payload_len = static_cast<std::uint16_t>(ns.buffer_len());
  std::vector<std::byte> out(wire::ethernet_header_len + ip.buffer_len());
  wire::emit_ethernet(out, ip.dst.multicast_mac(), from_mac, wire::ethertype::ipv6);
  ip.emit(std::span(out).subspan(wire::ethernet_header_len));
  ns.emit(std::span(out).subspan(wire::ethernet_header_len + 40), wire::ip_addr{ip.src}, wire::ip_addr{ip.dst});
  return out;
}

// What an engine sent in answer, parsed (checksums verified).
struct sent_ndp {
  wire::mac_addr eth_dst;
  wire::ip_info ip;
  std::uint8_t hop_limit = 0;
  wire::ndp_repr nd;
};
std::vector<sent_ndp> ndp_sent_by(link::memory_link& l) {
  std::vector<sent_ndp> out;
  l.take_sent([&](std::span<const std::byte> f) {
    const wire::parsed_frame p = wire::parse_frame(f, wire::parse_options{});
    if (p.kind != wire::frame_kind::ndp) return;
    sent_ndp s;
    std::copy_n(f.begin(), 6, reinterpret_cast<std::byte*>(s.eth_dst.octets.data()));
    s.ip = *p.ip;
    s.hop_limit = p.ipv6->hop_limit;
    s.nd = *p.ndp;
    out.push_back(s);
  });
  return out;
}

const wire::mac_addr mac_prober{{0x02, 0, 0, 0, 0, 0xdd}};
const wire::ipv6_addr all_nodes = *wire::ipv6_addr::parse("ff02::1");

}  // namespace

BOOST_AUTO_TEST_SUITE(icmp6)

// (a) SYN_SENT: every error ends the handshake at once with icmpv6_err_convert's errno, fatal or
// not (tcp_v6_err: tcp_done with sk_err), and says who sent it.
BOOST_AUTO_TEST_CASE(syn_sent_each_error_ends_the_handshake_at_once_with_linux_errno) {
  for (const auto& want : linux_v6_errors) {
    path p;
    p.b->listen(server_port);
    p.route = [&](std::span<const std::byte> f, bool to_b) {
      const frame_info i = inspect(f);
      if (to_b && i.tcp && i.syn) return verdict{false, icmp6_about(f, want.type, want.code)};
      return verdict{};
    };
    const tcp::instant start = p.now;
    const auto t = p.a->connect(addr6_b, server_port);
    p.run([&] { return p.error_of(p.events_a, t).has_value(); }, 5s);
    const auto e = p.error_of(p.events_a, t);
    BOOST_TEST_REQUIRE(e.has_value(), want << ": no error");
    BOOST_TEST(e->ec.value() == want.error, want << ": " << e->ec.message());
    BOOST_TEST((e->ec.category() == std::generic_category()));
    BOOST_TEST((*p.error_at_a - start < 10ms), want << ": not at once");  // the ICMP's round trip
    BOOST_TEST_REQUIRE(e->icmp.has_value());
    BOOST_TEST((e->icmp->from == wire::ip_addr{router6}), want);
    BOOST_TEST(e->icmp->type == want.type, want);
    BOOST_TEST(e->icmp->code == want.code, want);
    BOOST_TEST(p.a->stats().icmp_matched == 1u, want);
    BOOST_TEST(p.a->connection_count() == 0u, want);
  }
}

// (a) ESTABLISHED, Linux's default (no IP_RECVERR): no error is reported at once, whatever its
// code; it is remembered (sk_err_soft) and a later timeout reports it instead of timed_out.
BOOST_AUTO_TEST_CASE(established_errors_are_soft_and_a_later_timeout_reports_them) {
  for (const auto& want : linux_v6_errors) {
    path p([](engine::options& o) { o.tcp.data_retries = 3; });
    bool answered = false;
    const auto t = data_answered_with(p, want.type, want.code, answered);
    BOOST_TEST_REQUIRE(answered, want);
    BOOST_TEST(!p.error_of(p.events_a, t), want << ": reported at once");
    BOOST_TEST(p.a->stats().icmp_matched == 1u, want);
    BOOST_TEST_REQUIRE(p.a->find(t), want);
    BOOST_TEST((p.a->find(t)->current_state() == tcp::state::established), want);
    const tcp::instant answered_at = p.now;
    BOOST_TEST_REQUIRE(p.run([&] { return p.error_of(p.events_a, t).has_value(); }, 60s), want);
    const auto e = p.error_of(p.events_a, t);
    BOOST_TEST(e->ec.value() == want.error, want << ": " << e->ec.message());
    BOOST_TEST_REQUIRE(e->icmp.has_value(), want);
    BOOST_TEST((e->icmp->from == wire::ip_addr{router6}), want);
    BOOST_TEST(e->icmp->code == want.code, want);
    BOOST_TEST((p.now - answered_at > 1s), want << ": after the retransmissions, not at once");
  }
}

// (a) ESTABLISHED with icmp_hard_errors_abort (RFC 1122 §4.2.3.9): the fatal ones of
// icmpv6_err_convert abort at once, the others stay soft.
BOOST_AUTO_TEST_CASE(established_fatal_errors_abort_at_once_with_icmp_hard_errors_abort) {
  for (const auto& want : linux_v6_errors) {
    path p([](engine::options& o) { o.tcp.icmp_hard_errors_abort = true; });
    bool answered = false;
    const auto t = data_answered_with(p, want.type, want.code, answered);
    BOOST_TEST_REQUIRE(answered, want);
    const auto e = p.error_of(p.events_a, t);
    BOOST_TEST(e.has_value() == want.fatal, want << (want.fatal ? ": did not abort" : ": aborted"));
    if (e) BOOST_TEST(e->ec.value() == want.error, want << ": " << e->ec.message());
    if (!want.fatal) {
      BOOST_TEST_REQUIRE(p.a->find(t), want);
      BOOST_TEST((p.a->find(t)->current_state() == tcp::state::established), want);
    }
  }
}

// (a) A half-open connection at B (SYN_RCVD): tcp_v6_err hands the request tcp_req_err(...,
// fatal): a fatal error quoting its ISS drops it, a soft one is ignored (IPv4 drops on net and
// host unreachable instead).
BOOST_AUTO_TEST_CASE(half_open_child_is_dropped_only_by_a_fatal_error) {
  for (const auto& want : linux_v6_errors) {
    path p;
    p.b->listen(server_port);
    bool answered = false;
    p.route = [&](std::span<const std::byte> f, bool to_b) {
      const frame_info i = inspect(f);
      if (!to_b && i.tcp && i.syn && i.ack && !answered) {  // B's first SYN-ACK
        answered = true;
        return verdict{false, icmp6_about(f, want.type, want.code)};
      }
      return verdict{!(to_b && i.tcp && !i.syn), {}};  // A's later segments do not reach B
    };
    p.a->connect(addr6_b, server_port);
    p.run([&] { return answered && p.now > tcp::instant{1h} + 100ms; }, 1s);
    BOOST_TEST_REQUIRE(answered, want);
    BOOST_TEST(p.b->stats().icmp_matched == (want.fatal ? 1u : 0u), want);
    BOOST_TEST(p.b->stats().icmp_ignored == (want.fatal ? 0u : 1u), want);
    BOOST_TEST(p.b->listener_statistics(server_port)->half_open_dropped == (want.fatal ? 1u : 0u), want);
    BOOST_TEST(p.b->connection_count() == (want.fatal ? 0u : 1u), want);
  }
}

// (b) A packet too big below IPv6's minimum MTU: Linux tcp_v6_err ignores it (RFC 8201 §4):
// counted as ignored, the path MTU, the MSS and the cache untouched.
BOOST_AUTO_TEST_CASE(packet_too_big_below_1280_is_ignored) {
  for (const std::uint32_t mtu : {0u, 68u, 576u, 1279u}) {
    path p;
    const auto t = connect6(p);
    const std::vector<std::byte> last = data_in_flight(p, t);
    const auto ignored = p.a->stats().icmp_ignored;
    p.la->deliver(icmp6_about(last, wire::icmpv6_type::packet_too_big, 0, mtu));
    p.a->process(p.now);
    BOOST_TEST(p.a->stats().icmp_received == 1u, "MTU " << mtu);
    BOOST_TEST(p.a->stats().icmp_ignored == ignored + 1, "MTU " << mtu);
    BOOST_TEST(p.a->stats().pmtu_lowered == 0u, "MTU " << mtu);
    BOOST_TEST(p.a->stats().pmtu_clamped == 0u, "MTU " << mtu);
    BOOST_TEST(p.a->find(t)->path_mtu() == 1500u, "MTU " << mtu);
    BOOST_TEST(!p.a->cached_path_mtu(addr6_b).has_value(), "MTU " << mtu);
    BOOST_TEST(!p.error_of(p.events_a, t), "MTU " << mtu);
  }
}

// (b) A packet too big of 1280..1499: the path MTU comes down to it, segments shrink to
// MTU - 60 (40-byte IPv6 + 20-byte TCP header) less the timestamp option, what was in flight goes
// again at once, and the next connection to that address starts with MSS MTU - 60 (its SYN
// advertises it too, as Linux's advmss of the destination).
BOOST_AUTO_TEST_CASE(packet_too_big_from_1280_lowers_the_mss_to_mtu_minus_60) {
  for (const std::uint16_t mtu : {std::uint16_t{1280}, std::uint16_t{1400}, std::uint16_t{1499}}) {
    path p;
    std::size_t icmps = 0, largest_payload_after = 0;
    std::vector<std::uint16_t> syn_mss_seen;
    p.route = [&](std::span<const std::byte> f, bool to_b) {
      const frame_info i = inspect(f);
      if (to_b && i.tcp && i.syn) syn_mss_seen.push_back(syn_mss(f).value_or(0));
      if (i.tcp && i.ip_len > mtu) {
        ++icmps;
        return verdict{false, icmp6_about(f, wire::icmpv6_type::packet_too_big, 0, mtu)};
      }
      if (to_b && icmps > 0 && is_data_from(i, addr6_a)) largest_payload_after = std::max(largest_payload_after, i.payload);
      return verdict{};
    };
    echo_run r;
    echo(p, r, 200000, 30s, {}, addr6_b);
    BOOST_TEST(r.ok, "MTU " << mtu << ": echoed " << r.echoed.size() << " of " << r.sent.size());
    BOOST_TEST(icmps > 0u, "MTU " << mtu);
    BOOST_TEST(p.largest_a_to_b <= mtu, "MTU " << mtu);
    BOOST_TEST(p.largest_b_to_a <= mtu, "MTU " << mtu);
    BOOST_TEST(p.a->stats().pmtu_lowered >= 1u, "MTU " << mtu);
    BOOST_TEST(p.a->tcp_statistics().rto_expirations == 0u, "MTU " << mtu);  // resent at once
    const tcp::connection* c = p.a->find(r.t);
    BOOST_TEST_REQUIRE(c);
    BOOST_TEST(c->path_mtu() == mtu);
    BOOST_TEST(largest_payload_after == mtu - 60u - 12u, "MTU " << mtu);  // MSS less the timestamps
    BOOST_TEST(*p.a->cached_path_mtu(addr6_b) == mtu);
    const auto t2 = p.a->connect(addr6_b, server_port);
    BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t2); }, 5s));
    BOOST_TEST(p.a->find(t2)->settings().mss == mtu - 60u, "MTU " << mtu);
    BOOST_TEST_REQUIRE(syn_mss_seen.size() == 2u);
    BOOST_TEST(syn_mss_seen[0] == 1440u);  // 1500 - 60
    BOOST_TEST(syn_mss_seen[1] == mtu - 60u, "MTU " << mtu);
  }
}

// (b) 1500 and above is not lower than the link's: nothing changes (counted as ignored).
BOOST_AUTO_TEST_CASE(packet_too_big_not_below_the_path_mtu_changes_nothing) {
  path p;
  const auto t = connect6(p);
  const std::vector<std::byte> last = data_in_flight(p, t);
  p.la->deliver(icmp6_about(last, wire::icmpv6_type::packet_too_big, 0, 1500));
  p.la->deliver(icmp6_about(last, wire::icmpv6_type::packet_too_big, 0, 9000));
  p.a->process(p.now);
  BOOST_TEST(p.a->stats().icmp_ignored == 2u);
  BOOST_TEST(p.a->stats().pmtu_lowered == 0u);
  BOOST_TEST(p.a->find(t)->path_mtu() == 1500u);
  BOOST_TEST(!p.a->cached_path_mtu(addr6_b).has_value());
}

// (c) Duplicate address detection by another node (RFC 4862 §5.4.3, RFC 4861 §7.2.4): a
// solicitation from the unspecified address for the address the engine owns (the kernel does
// not, so the engine answers for it) gets an advertisement to all-nodes (ff02::1 at 33:33:0:0:0:1),
// not solicited, override set, with our MAC, from our address, hop limit 255, so the prober
// sees the address is taken.
BOOST_AUTO_TEST_CASE(a_duplicate_address_probe_for_our_address_is_answered_to_all_nodes) {
  path p;
  p.la->deliver(solicitation(addr6_a, wire::ipv6_addr{}, mac_prober, false));
  p.a->process(p.now);
  const auto sent = ndp_sent_by(*p.la);
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  const sent_ndp& na = sent.front();
  BOOST_TEST(na.nd.type == wire::icmpv6_type::neighbor_advertisement);
  BOOST_TEST((na.nd.target == addr6_a));
  BOOST_TEST(!na.nd.solicited);
  BOOST_TEST(na.nd.override);
  BOOST_TEST(!na.nd.router);
  BOOST_TEST_REQUIRE(na.nd.target_lladdr.has_value());
  BOOST_TEST((*na.nd.target_lladdr == mac_a));
  BOOST_TEST((na.ip.dst == wire::ip_addr{all_nodes}));
  BOOST_TEST((na.ip.src == wire::ip_addr{addr6_a}));
  BOOST_TEST(na.hop_limit == wire::ndp_hop_limit);
  BOOST_TEST((na.eth_dst == all_nodes.multicast_mac()));
  BOOST_TEST(p.a->stats().ndp_advertisements_sent == 1u);
}

// (c) Next to it: an ordinary solicitation is answered to its sender, solicited; a probe for an
// address that is not ours, and a malformed probe (a source link-layer address option from the
// unspecified address, RFC 4861 §7.1.1), get nothing.
BOOST_AUTO_TEST_CASE(solicitations_answered_and_not) {
  path p;
  const auto peer = *wire::ipv6_addr::parse("fd00:99::77");
  p.la->deliver(solicitation(addr6_a, peer, mac_prober, true));
  p.a->process(p.now);
  auto sent = ndp_sent_by(*p.la);
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(sent[0].nd.solicited);
  BOOST_TEST(sent[0].nd.override);
  BOOST_TEST((sent[0].ip.dst == wire::ip_addr{peer}));
  BOOST_TEST((sent[0].eth_dst == mac_prober));
  BOOST_TEST((*sent[0].nd.target_lladdr == mac_a));

  p.la->deliver(solicitation(*wire::ipv6_addr::parse("fd00:99::5"), wire::ipv6_addr{}, mac_prober, false));
  p.la->deliver(solicitation(addr6_a, wire::ipv6_addr{}, mac_prober, true));
  p.a->process(p.now);
  BOOST_TEST(ndp_sent_by(*p.la).empty());
  BOOST_TEST(p.a->stats().ndp_advertisements_sent == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
