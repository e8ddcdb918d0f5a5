// ICMP errors and path MTU (issue 13), end to end through two engines on memory links with a
// "router" in between (icmp_path.hpp): the harness moves the frames (1 ms each way, virtual clock)
// and may drop them, answer them with an ICMP error from the router's address, or forge one.
// IPv6: icmp6_test.cpp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <span>
#include <vector>

#include "engine/icmp_path.hpp"
#include "synack/wire/icmp.hpp"
#include "synack/wire/ipv4.hpp"

namespace {

using namespace icmp_path;

// An ICMP error from `from` about `offending` (an Ethernet + IPv4 + TCP frame we sent), quoting
// its IP header and the first 28 bytes of TCP (sequence number moved by `seq_offset`).
std::vector<std::byte> icmp_about(std::span<const std::byte> offending, std::uint8_t type, std::uint8_t code,
                                  std::uint16_t mtu = 0, std::uint32_t seq_offset = 0,
                                  wire::ipv4_addr from = router, std::optional<std::uint16_t> total_length = {}) {
  const frame_info i = inspect(offending);
  const std::vector<std::byte> tcp = quoted_tcp(offending, 28, seq_offset);
  wire::icmp_error_repr m;
  m.type = type;
  m.code = code;
  m.next_hop_mtu = mtu;
  m.quote = quote_of(i, tcp, total_length.value_or(static_cast<std::uint16_t>(i.ip_len)));
  wire::ipv4_repr ip;
  ip.src = from;
  ip.dst = i.src.v4();
  ip.protocol = wire::ip_protocol::icmp;
  ip.payload_len = static_cast<std::uint16_t>(m.buffer_len());
  std::vector<std::byte> out(14 + ip.buffer_len());
  wire::emit_ethernet(out, source_mac(offending), mac_router, wire::ethertype::ipv4);
  ip.emit(std::span(out).subspan(14));
  m.emit(std::span(out).subspan(34));
  return out;
}

// Linux icmp_err_convert (net/ipv4/icmp.c), codes 0-15 of destination unreachable.
const int linux_unreach_errno[16] = {ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE,
                                     EOPNOTSUPP,  ENETUNREACH,  EHOSTDOWN,   ENONET,       ENETUNREACH,
                                     EHOSTUNREACH, ENETUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
                                     EHOSTUNREACH};

// The kernel-socket outcome of a SYN answered by ICMP (type, code): the error at A.
std::optional<tcp::event> refuse_syn_with(std::uint8_t type, std::uint8_t code, tcp::duration& took) {
  path p;
  p.b->listen(server_port);
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (to_b && i.tcp && i.syn) return verdict{false, icmp_about(f, type, code)};
    return verdict{};
  };
  const tcp::instant start = p.now;
  const auto t = p.a->connect(addr_b, server_port);
  p.run([&] { return p.error_of(p.events_a, t).has_value(); }, 5s);
  took = p.error_at_a.value_or(p.now) - start;
  return p.error_of(p.events_a, t);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(icmp)

BOOST_AUTO_TEST_CASE(syn_sent_each_unreachable_code_ends_the_handshake_at_once_with_linux_errno) {
  for (std::uint8_t code = 0; code < 16; ++code) {
    if (code == wire::icmp_unreach::frag_needed) continue;  // PMTU only
    tcp::duration took{};
    const auto e = refuse_syn_with(wire::icmp_type::dest_unreachable, code, took);
    BOOST_TEST_REQUIRE(e.has_value(), "code " << int{code} << ": no error");
    BOOST_TEST(e->ec.value() == linux_unreach_errno[code], "code " << int{code} << ": " << e->ec.message());
    BOOST_TEST((e->ec.category() == std::generic_category()));
    BOOST_TEST((took < 10ms), "code " << int{code} << ": " << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");  // the ICMP's round trip, not a timeout
    BOOST_TEST_REQUIRE(e->icmp.has_value());
    BOOST_TEST((e->icmp->from == router));
    BOOST_TEST(e->icmp->type == wire::icmp_type::dest_unreachable);
    BOOST_TEST(e->icmp->code == code);
  }
  // The named ones of the issue: REJECT's default, admin-prohibited, host and net prohibited.
  tcp::duration took{};
  BOOST_TEST((refuse_syn_with(3, 3, took)->ec == std::errc::connection_refused));
  BOOST_TEST((refuse_syn_with(3, 13, took)->ec == std::errc::host_unreachable));
  BOOST_TEST((refuse_syn_with(3, 10, took)->ec == std::errc::host_unreachable));
  BOOST_TEST((refuse_syn_with(3, 9, took)->ec == std::errc::network_unreachable));
}

BOOST_AUTO_TEST_CASE(syn_sent_time_exceeded_and_parameter_problem_end_the_handshake) {
  tcp::duration took{};
  auto e = refuse_syn_with(wire::icmp_type::time_exceeded, 0, took);
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST((e->ec == std::errc::host_unreachable));
  BOOST_TEST(e->icmp->type == wire::icmp_type::time_exceeded);
  e = refuse_syn_with(wire::icmp_type::parameter_problem, 0, took);
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->ec.value() == EPROTO);
  // Reassembly time exceeded is not about our (unfragmented) segment: Linux drops it.
  e = refuse_syn_with(wire::icmp_type::time_exceeded, 1, took);
  BOOST_TEST(!e.has_value());
}

BOOST_AUTO_TEST_CASE(icmp_quoting_a_sequence_number_not_outstanding_is_ignored_and_counted) {
  path p;
  p.b->listen(server_port);
  bool forged = false;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (to_b && i.tcp && i.syn && !forged) {
      forged = true;  // a blind attacker's guess: the SYN's ISS + 1000; the SYN itself goes on
      return verdict{true, icmp_about(f, 3, 3, 0, 1000)};
    }
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST(p.run([&] { return p.connected(t); }, 5s));
  BOOST_TEST(!p.error_of(p.events_a, t));
  BOOST_TEST(p.a->stats().icmp_received == 1u);
  BOOST_TEST(p.a->stats().icmp_out_of_window == 1u);
  BOOST_TEST(p.a->stats().icmp_matched == 0u);

  // Established: an error quoting data never sent, and one about a four-tuple we do not have.
  std::vector<std::byte> data(100, std::byte{1});
  std::vector<std::byte> last;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && is_data_from(inspect(f), addr_a)) last.assign(f.begin(), f.end());
    return verdict{};
  };
  p.a->send(t, data);
  p.run([&] { return !last.empty(); }, 1s);
  p.la->deliver(icmp_about(last, 3, 1, 0, 5000));
  std::vector<std::byte> elsewhere = last;
  elsewhere[14 + 20 + 2] = std::byte{0x55};  // to another destination port
  p.la->deliver(icmp_about(elsewhere, 3, 1));
  p.a->process(p.now);
  BOOST_TEST(p.a->stats().icmp_out_of_window == 2u);
  BOOST_TEST(p.a->stats().icmp_no_connection == 1u);
  BOOST_TEST((p.a->find(t)->current_state() == tcp::state::established));
}

BOOST_AUTO_TEST_CASE(established_host_unreachable_does_not_abort_and_a_later_timeout_reports_it) {
  path p([](engine::options& o) { o.tcp.data_retries = 4; });
  p.b->listen(server_port);
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  // B's host goes away: the router answers A's data with host unreachable (once).
  bool answered = false;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (!to_b) return verdict{};
    if (is_data_from(inspect(f), addr_a) && !answered) {
      answered = true;
      return verdict{false, icmp_about(f, 3, 1)};
    }
    return verdict{false, {}};
  };
  std::vector<std::byte> data(1000, std::byte{7});
  p.a->send(t, data);
  const tcp::instant sent = p.now;
  p.run([&] { return p.now > sent + 100ms; }, 1s);
  BOOST_TEST(answered);
  BOOST_TEST(!p.error_of(p.events_a, t));  // Linux: only sk_err_soft
  BOOST_TEST(p.a->stats().icmp_matched == 1u);
  BOOST_TEST_REQUIRE(p.run([&] { return p.error_of(p.events_a, t).has_value(); }, 60s));
  const auto e = p.error_of(p.events_a, t);
  BOOST_TEST((e->ec == std::errc::host_unreachable));  // not a bare timed_out
  BOOST_TEST_REQUIRE(e->icmp.has_value());
  BOOST_TEST((e->icmp->from == router));
  BOOST_TEST(e->icmp->code == 1);
  BOOST_TEST((p.now - sent > 3s));  // after the retransmissions, not at once
}

BOOST_AUTO_TEST_CASE(established_port_unreachable_aborts_at_once_with_icmp_hard_errors_abort) {
  path p([](engine::options& o) { o.tcp.icmp_hard_errors_abort = true; });
  p.b->listen(server_port);
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && is_data_from(inspect(f), addr_a)) return verdict{false, icmp_about(f, 3, 3)};
    return verdict{};
  };
  std::vector<std::byte> data(10, std::byte{7});
  p.a->send(t, data);
  BOOST_TEST_REQUIRE(p.run([&] { return p.error_of(p.events_a, t).has_value(); }, 100ms));
  BOOST_TEST((p.error_of(p.events_a, t)->ec == std::errc::connection_refused));
}

BOOST_AUTO_TEST_CASE(half_open_child_is_dropped_by_host_unreachable_quoting_its_iss_only) {
  path p;
  p.b->listen(server_port);
  int answered = 0;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (!to_b && i.tcp && i.syn && i.ack) {  // B's SYN-ACK
      ++answered;
      // First a forged one (ISS + 1: tcp_req_err counts only the ISS), then a port unreachable
      // (no effect on a request), then host unreachable: the request is dropped.
      if (answered == 1) return verdict{false, icmp_about(f, 3, 1, 0, 1)};
      if (answered == 2) return verdict{false, icmp_about(f, 3, 3)};
      return verdict{false, icmp_about(f, 3, 1)};
    }
    return verdict{!(to_b && i.tcp && !i.syn), {}};  // A's later segments do not reach B
  };
  p.a->connect(addr_b, server_port);
  p.run([&] { return answered >= 3 && p.b->connection_count() == 0; }, 10s);
  BOOST_TEST(answered >= 3);
  BOOST_TEST(p.b->stats().icmp_out_of_window == 1u);
  BOOST_TEST(p.b->stats().icmp_ignored == 1u);
  BOOST_TEST(p.b->stats().icmp_matched == 1u);
  BOOST_TEST(p.b->listener_statistics(server_port)->half_open_dropped == 1u);
  BOOST_TEST(p.b->connection_count() == 0u);
}

BOOST_AUTO_TEST_CASE(icmp_processing_is_rate_limited) {
  path p;
  p.b->listen(server_port);
  std::vector<std::byte> syn;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && inspect(f).syn) syn.assign(f.begin(), f.end());
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  // Host unreachable quoting SND.UNA (the SYN's ISS + 1): acted on (a soft error), so it spends a token.
  for (int i = 0; i < 80; ++i) p.la->deliver(icmp_about(syn, 3, 1, 0, 1));
  p.a->process(p.now);
  BOOST_TEST(p.a->stats().icmp_received == 80u);
  BOOST_TEST(p.a->stats().icmp_rate_limited == 30u);  // the burst is 50
  BOOST_TEST(p.a->stats().icmp_matched == 50u);
  p.now += 1s;  // the bucket refills
  p.la->deliver(icmp_about(syn, 3, 1, 0, 1));
  p.a->process(p.now);
  BOOST_TEST(p.a->stats().icmp_matched == 51u);
}

// Regression (review finding 2): an off-path forger's out-of-window errors are counted but spend
// no token, so a flood of them does not starve the genuine error behind it.
BOOST_AUTO_TEST_CASE(out_of_window_icmp_does_not_spend_the_rate_limit) {
  path p;
  p.b->listen(server_port);
  std::vector<std::byte> syn;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && inspect(f).syn) syn.assign(f.begin(), f.end());
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  for (int i = 0; i < 1000; ++i) p.la->deliver(icmp_about(syn, 3, 1, 0, 7777));  // all out of window
  p.la->deliver(icmp_about(syn, 3, 1, 0, 1));  // the genuine one
  p.a->process(p.now);
  BOOST_TEST(p.a->stats().icmp_received == 1001u);
  BOOST_TEST(p.a->stats().icmp_out_of_window == 1000u);
  BOOST_TEST(p.a->stats().icmp_rate_limited == 0u);
  BOOST_TEST(p.a->stats().icmp_matched == 1u);
}

BOOST_AUTO_TEST_CASE(frag_needed_1400_lowers_the_mss_resends_at_once_and_every_byte_arrives) {
  path p;
  int icmps = 0;
  p.route = [&](std::span<const std::byte> f, bool) {
    const frame_info i = inspect(f);
    if (i.ip_len > 1400) {
      ++icmps;
      return verdict{false, icmp_about(f, 3, 4, 1400)};
    }
    return verdict{};
  };
  echo_run r;
  echo(p, r, 1 << 20, 30s);
  BOOST_TEST(r.ok, "echoed " << r.echoed.size() << " of " << r.sent.size());
  BOOST_TEST(icmps > 0);
  BOOST_TEST(p.largest_a_to_b <= 1400u);
  BOOST_TEST(p.largest_b_to_a <= 1400u);
  BOOST_TEST(p.a->stats().pmtu_lowered >= 1u);
  BOOST_TEST(p.b->stats().pmtu_lowered >= 1u);
  // Resent at once: no retransmission timeout was needed, at either end.
  BOOST_TEST(p.a->tcp_statistics().rto_expirations == 0u);
  BOOST_TEST(p.b->tcp_statistics().rto_expirations == 0u);
  const tcp::connection* c = p.a->find(r.t);
  BOOST_TEST_REQUIRE(c);
  BOOST_TEST(c->path_mtu() == 1400u);
  BOOST_TEST(*p.a->cached_path_mtu(addr_b) == 1400u);
  BOOST_TEST_MESSAGE("1 MiB echoed through a 1400-byte hop in "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count() << " ms virtual, "
                     << icmps << " ICMP errors");
}

BOOST_AUTO_TEST_CASE(black_hole_is_detected_and_mtu_probing_recovers) {
  path p;
  std::size_t dropped = 0;
  p.route = [&](std::span<const std::byte> f, bool) {
    if (inspect(f).ip_len > 1400) {
      ++dropped;
      return verdict{false, {}};  // ICMP filtered: nothing comes back
    }
    return verdict{};
  };
  echo_run r;
  echo(p, r, 1 << 20, 20s);  // detection after 4 timeouts (~3 s), as Linux's
  BOOST_TEST(r.ok, "echoed " << r.echoed.size() << " of " << r.sent.size());
  const auto ta = p.a->tcp_statistics(), tb = p.b->tcp_statistics();
  BOOST_TEST(ta.blackholes_detected >= 1u);
  BOOST_TEST(tb.blackholes_detected >= 1u);
  BOOST_TEST(ta.mtu_probes_sent >= 1u);
  BOOST_TEST_MESSAGE("black hole: 1 MiB echoed in " << std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count()
                                                    << " ms virtual; A probes " << ta.mtu_probes_sent << " ("
                                                    << ta.mtu_probes_succeeded << " ok, " << ta.mtu_probes_failed
                                                    << " lost), " << dropped << " frames dropped");
  const tcp::connection* c = p.a->find(r.t);
  BOOST_TEST_REQUIRE(c);
  BOOST_TEST(c->mtu_probing_active());
  // The search found a size that fits, above the 1024-byte fallback.
  BOOST_TEST(c->mtu_search_low() <= 1400u);
  BOOST_TEST(c->mtu_search_low() > 1024u + 52u);
}

BOOST_AUTO_TEST_CASE(frag_needed_below_the_floor_is_clamped_to_min_pmtu) {
  path p;
  p.b->listen(server_port);
  bool answered = false;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && is_data_from(inspect(f), addr_a) && !answered) {
      answered = true;
      return verdict{false, icmp_about(f, 3, 4, 300)};
    }
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  std::vector<std::byte> data(4000, std::byte{3});
  p.a->send(t, data);
  p.run([&] { return answered && p.a->find(t)->tcb().snd_una == p.a->find(t)->tcb().snd_nxt; }, 5s);
  BOOST_TEST(p.a->find(t)->path_mtu() == 552u);
  BOOST_TEST(p.a->stats().pmtu_clamped == 1u);
  BOOST_TEST(p.a->stats().pmtu_lowered == 1u);
  BOOST_TEST(*p.a->cached_path_mtu(addr_b) == 552u);
}

BOOST_AUTO_TEST_CASE(frag_needed_without_an_mtu_takes_the_rfc1191_plateau) {
  path p;
  p.b->listen(server_port);
  bool answered = false;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && is_data_from(inspect(f), addr_a) && !answered) {
      answered = true;
      return verdict{false, icmp_about(f, 3, 4, 0)};  // an old router: no next-hop MTU
    }
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  std::vector<std::byte> data(4000, std::byte{3});
  p.a->send(t, data);
  p.run([&] { return answered && p.a->find(t)->path_mtu() != 1500; }, 5s);
  BOOST_TEST(p.a->find(t)->path_mtu() == 1492u);  // the plateau below the 1500-byte datagram
}

BOOST_AUTO_TEST_CASE(path_mtu_cache_serves_the_next_connection_until_it_expires) {
  path p;
  p.b->listen(server_port);
  std::vector<std::uint16_t> syn_mss_seen;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (to_b && i.tcp && i.syn) syn_mss_seen.push_back(syn_mss(f).value_or(0));
    if (i.ip_len > 1400) return verdict{false, icmp_about(f, 3, 4, 1400)};
    return verdict{};
  };
  const auto t1 = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t1); }, 5s));
  std::vector<std::byte> data(8000, std::byte{3});
  p.a->send(t1, data);
  p.run([&] { return p.a->find(t1)->tcb().snd_una == p.a->find(t1)->tcb().snd_nxt && p.a->send(t1, {}) == 0; }, 5s);
  BOOST_TEST_REQUIRE(p.a->cached_path_mtu(addr_b).has_value());
  BOOST_TEST(*p.a->cached_path_mtu(addr_b) == 1400u);
  const auto t2 = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t2); }, 5s));
  BOOST_TEST(p.a->find(t2)->settings().mss == 1360u);  // from the cache, before any ICMP
  BOOST_TEST(p.a->find(t2)->path_mtu() == 1400u);
  // Ten minutes on (Linux ip_rt_mtu_expires): forgotten.
  p.now += 10min + 1s;
  BOOST_TEST(!p.a->cached_path_mtu(addr_b).has_value());
  const auto t3 = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t3); }, 5s));
  BOOST_TEST(p.a->find(t3)->settings().mss == 1460u);
  BOOST_TEST_REQUIRE(syn_mss_seen.size() == 3u);
  BOOST_TEST(syn_mss_seen[0] == 1460u);
  BOOST_TEST(syn_mss_seen[1] == 1360u);  // Linux advertises the PMTU's MSS too (advmss of the dst)
  BOOST_TEST(syn_mss_seen[2] == 1460u);
}

// Regression (review finding 1): a path narrower than min_pmtu with an honest router: the
// frag-needed 400 is clamped to 552, which leaves an MSS too big; black-hole detection must still
// engage although the MSS is already below base_mss.
BOOST_AUTO_TEST_CASE(path_below_the_floor_recovers_by_black_hole_detection) {
  path p;
  p.route = [&](std::span<const std::byte> f, bool) {
    const frame_info i = inspect(f);
    if (i.ip_len > 400) return verdict{false, icmp_about(f, 3, 4, 400)};
    return verdict{};
  };
  echo_run r;
  echo(p, r, 100000, 300s);
  const auto ta = p.a->tcp_statistics();
  BOOST_TEST_MESSAGE("ok=" << r.ok << " echoed " << r.echoed.size() << " bh " << ta.blackholes_detected << " took "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count());
  BOOST_TEST(r.ok);
  BOOST_TEST(ta.blackholes_detected >= 1u);
}

// Regression (review finding 1): peer MSS 1000 and an ICMP-filtered 900-byte hop: the MSS is
// already below base_mss when the black hole is detected; the search's lower bound must halve.
BOOST_AUTO_TEST_CASE(small_mss_black_hole_is_detected) {
  path p;
  p.route = [&](std::span<const std::byte> f, bool) {
    if (inspect(f).ip_len > 900) return verdict{false, {}};
    return verdict{};
  };
  tcp::config c = p.a->tcp_config();
  c.mss = 1000;
  echo_run r;
  echo(p, r, 100000, 300s, c);
  const auto ta = p.a->tcp_statistics(), tb = p.b->tcp_statistics();
  BOOST_TEST_MESSAGE("ok=" << r.ok << " echoed " << r.echoed.size() << " bh a " << ta.blackholes_detected << " b "
                     << tb.blackholes_detected << " took " << std::chrono::duration_cast<std::chrono::milliseconds>(r.took).count());
  BOOST_TEST(r.ok);
}

// Regression (review finding 3): a frag-needed for a TIME_WAIT tuple, quoting any sequence number,
// is ignored before any PMTU work: the per-destination cache is not poisoned.
BOOST_AUTO_TEST_CASE(time_wait_frag_needed_does_not_touch_the_pmtu_cache) {
  path p;
  p.b->listen(server_port);
  std::vector<std::byte> syn;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    if (to_b && inspect(f).syn) syn.assign(f.begin(), f.end());
    return verdict{};
  };
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
  p.a->close(t);
  p.b->close(wire::four_tuple{addr_b, server_port, addr_a, t.local_port});
  p.run([&] { auto* c = p.a->find(t); return c && c->current_state() == tcp::state::time_wait; }, 5s);
  BOOST_TEST_REQUIRE((p.a->find(t)->current_state() == tcp::state::time_wait));
  const auto ignored = p.a->stats().icmp_ignored;
  p.la->deliver(icmp_about(syn, 3, 4, 600, 0x12345678));  // way out of window
  p.la->deliver(icmp_about(syn, 3, 4, 600, 1));
  p.a->process(p.now);
  BOOST_TEST(!p.a->cached_path_mtu(addr_b).has_value());
  BOOST_TEST(p.a->stats().icmp_ignored == ignored + 2);
  BOOST_TEST(p.a->stats().pmtu_lowered == 0u);
}

// Regression (review finding 4): the RFC 4821 search's upper bound is the peer's MSS + 40, not
// our own MSS: A advertises 1200 through an ICMP-filtered 1200-byte hop; B never probes above it.
BOOST_AUTO_TEST_CASE(mtu_probes_stay_within_the_peer_mss) {
  path p;
  std::size_t biggest = 0;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (!to_b && i.tcp && i.src == addr_b) biggest = std::max(biggest, i.payload);
    if (i.ip_len > 1200) return verdict{false, {}};
    return verdict{};
  };
  tcp::config c = p.a->tcp_config();
  c.mss = 1200;
  echo_run r;
  echo(p, r, 1 << 20, 60s, c);
  const auto tb = p.b->tcp_statistics();
  BOOST_TEST_MESSAGE("ok=" << r.ok << " biggest B payload " << biggest << " probes " << tb.mtu_probes_sent << " ok "
                     << tb.mtu_probes_succeeded << " failed " << tb.mtu_probes_failed << " bh " << tb.blackholes_detected);
  BOOST_TEST(r.ok);
  BOOST_TEST(biggest <= 1200u);
}

// Regression (review finding 7): a probe lost together with earlier data (fast recovery resends
// its bytes at the small MSS) must not count as a success: search_low never passes the 1400 hop.
BOOST_AUTO_TEST_CASE(probe_in_flight_when_recovery_starts_is_not_a_success) {
  path p;
  std::size_t n = 0;
  std::size_t max_low = 0;
  p.route = [&](std::span<const std::byte> f, bool to_b) {
    const frame_info i = inspect(f);
    if (i.ip_len > 1400) return verdict{false, {}};
    if (to_b && is_data_from(i, addr_a) && p.a->tcp_statistics().blackholes_detected > 0 && (++n % 400) == 0)
      return verdict{false, {}};
    return verdict{};
  };
  echo_run r;
  p.a->on_frame([&](engine::direction, tcp::instant, std::span<const std::byte>) {
    p.a->for_each_connection([&](const tcp::connection& c) { max_low = std::max<std::size_t>(max_low, c.mtu_search_low()); });
  });
  echo(p, r, 4 << 20, 120s);
  const auto ta = p.a->tcp_statistics();
  BOOST_TEST_MESSAGE("ok=" << r.ok << " max search_low " << max_low << " probes " << ta.mtu_probes_sent << " ok "
                     << ta.mtu_probes_succeeded << " failed " << ta.mtu_probes_failed << " bh " << ta.blackholes_detected);
  BOOST_TEST(r.ok);
  BOOST_TEST(max_low <= 1400u);
}

// Regression (review finding 11): a burst of 0 or a rate beyond the nanosecond clock must not
// silently drop every ICMP error.
BOOST_AUTO_TEST_CASE(degenerate_icmp_rate_limits_still_let_errors_through) {
  for (int which = 0; which < 2; ++which) {
    path p([&](engine::options& o) {
      if (which == 0) o.icmp_burst = 0;
      else o.icmp_rate = 2'000'000'000u;
    });
    p.b->listen(server_port);
    std::vector<std::byte> syn;
    p.route = [&](std::span<const std::byte> f, bool to_b) {
      if (to_b && inspect(f).syn) syn.assign(f.begin(), f.end());
      return verdict{};
    };
    const auto t = p.a->connect(addr_b, server_port);
    BOOST_TEST_REQUIRE(p.run([&] { return p.connected(t); }, 5s));
    p.now += 1s;
    const unsigned n = which == 0 ? 1 : 60;  // beyond the initial burst of 50: unlimited
    for (unsigned k = 0; k < n; ++k) p.la->deliver(icmp_about(syn, 3, 1, 0, 1));
    p.a->process(p.now);
    BOOST_TEST(p.a->stats().icmp_matched == n, "case " << which);
    BOOST_TEST(p.a->stats().icmp_rate_limited == 0u, "case " << which);
  }
}

// Regression (review finding 9, the port leak): a connect() whose route lookup throws gives its
// local port back.
BOOST_AUTO_TEST_CASE(connect_without_a_route_does_not_leak_the_local_port) {
  path p([](engine::options& o) { o.ports = link::port_range{61000, 61001}; });
  p.b->listen(server_port);
  const auto off_link = wire::ipv4_addr::from_octets(192, 0, 2, 1);
  for (int i = 0; i < 5; ++i) BOOST_CHECK_THROW(p.a->connect(off_link, server_port), link::setup_error);
  const auto t = p.a->connect(addr_b, server_port);
  BOOST_TEST(p.run([&] { return p.connected(t); }, 5s));
}

BOOST_AUTO_TEST_SUITE_END()
