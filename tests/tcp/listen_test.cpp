// The server side: LISTEN and SYN_RCVD corner cases (issue 5), and SYN cookies — the pure cookie
// arithmetic and a connection rebuilt from a cookie ACK.
#include <boost/test/unit_test.hpp>

#include "synack/tcp/syn_cookie.hpp"
#include "tcp/script.hpp"

namespace synack::tcp::test {

BOOST_AUTO_TEST_SUITE(listen_corner_cases)

// --- SYN_RCVD: losses in the handshake ----------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(syn_received_lost_syn_ack_is_retransmitted_and_the_late_ack_completes, syn_received_fixture) {
  // The SYN-ACK of 0 s was lost: nothing until the RTO (1 s), then 2 s later again (backoff).
  expect_nothing(at(999ms));
  expect(at(1s), seg().seq(iss).ack(irs + 1).syn().mss(1460));
  expect_nothing(at(2999ms));
  expect(at(3s), seg().seq(iss).ack(irs + 1).syn().mss(1460));
  BOOST_TEST(conn().stats().syn_retransmits == 2u);
  send(at(3010ms), seg().seq(irs + 1).ack(iss + 1));
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  expect_nothing(at(3010ms));
  expect_deadline(std::nullopt);  // no retransmission left armed
}

BOOST_FIXTURE_TEST_CASE(syn_received_lost_final_ack_data_bearing_ack_completes_the_handshake,
                        syn_received_fixture) {
  // The bare ACK never arrived; the client's first data segment carries the same ACK.
  send(at(20ms), seg().seq(irs + 1).ack(iss + 1).psh().payload("GET / HTTP/1.1\r\n\r\n"));
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  BOOST_TEST(user_receive() == "GET / HTTP/1.1\r\n\r\n");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1 + 18));  // at once or after the delayed-ACK timer
  // No SYN-ACK retransmission afterwards.
  expect_nothing(at(5s));
}

BOOST_FIXTURE_TEST_CASE(syn_received_duplicate_syn_after_lost_syn_ack_resends_it_at_once, syn_received_fixture) {
  send(at(500ms), seg().seq(irs).syn().mss(1400));
  expect(at(500ms), seg().seq(iss).ack(irs + 1).syn().mss(1460));
  expect_nothing(at(500ms));
  expect_state(state::syn_received);
}

// --- SYN_RCVD: resets (RFC 9293 §3.10.7.4 with RFC 5961 §3) --------------------------------------

BOOST_FIXTURE_TEST_CASE(syn_received_rst_returns_to_listen_and_serves_the_next_syn, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).rst());
  expect_state_change(state::syn_received, state::listen);
  expect_nothing(at(10ms));
  expect_deadline(std::nullopt);  // the SYN-ACK retransmission is gone with the request
  // The listener takes a new SYN (from whoever the owner says it is from).
  conn().set_remote(test_tuple.remote_addr, test_tuple.remote_port);
  send(at(20ms), seg().seq(irs + 100).syn());
  expect_state_change(state::listen, state::syn_received);
  const auto synack = transmit(at(20ms));
  BOOST_REQUIRE(synack);
  BOOST_TEST(synack->syn);
  BOOST_TEST((synack->ack_num == seq{irs + 101}));
}

BOOST_FIXTURE_TEST_CASE(syn_received_rst_in_window_but_not_exact_gets_a_challenge_ack, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 10).rst());
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1));
  expect_state(state::syn_received);
}

BOOST_FIXTURE_TEST_CASE(syn_received_rst_outside_the_window_is_dropped, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1 + 100000).rst());
  expect_nothing(at(10ms));
  expect_state(state::syn_received);
}

BOOST_FIXTURE_TEST_CASE(syn_received_ack_of_something_never_sent_is_answered_with_rst, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).ack(iss + 1000));
  expect(at(10ms), seg().seq(iss + 1000).rst());
  expect_state(state::syn_received);
}

BOOST_AUTO_TEST_SUITE_END()

// --- SYN cookies ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(syn_cookies)

namespace {
// Our side of test_tuple, as a listener sees it.
const syn_cookie cookies{test_key()};
constexpr std::uint32_t peer_isn = 0x12345678;
}  // namespace

BOOST_AUTO_TEST_CASE(mss_class_is_the_largest_table_entry_not_above_the_peer_mss) {
  BOOST_TEST(syn_cookie::mss_index(100) == 0u);
  BOOST_TEST(syn_cookie::mss_index(536) == 0u);
  BOOST_TEST(syn_cookie::mss_index(1299) == 0u);
  BOOST_TEST(syn_cookie::mss_index(1300) == 1u);
  BOOST_TEST(syn_cookie::mss_index(1448) == 2u);
  BOOST_TEST(syn_cookie::mss_index(1460) == 3u);
  BOOST_TEST(syn_cookie::mss_index(65495) == 3u);
}

BOOST_AUTO_TEST_CASE(cookie_round_trips_the_mss_class_within_two_periods) {
  const instant made = at(1000s);
  const seq c = cookies.make(test_tuple, seq{peer_isn}, 1448, made);
  BOOST_TEST(cookies.check(test_tuple, seq{peer_isn}, c, made).value_or(0) == 1440u);
  BOOST_TEST(cookies.check(test_tuple, seq{peer_isn}, c, made + 63s).value_or(0) == 1440u);
  // Valid while the counter is at most one tick past the one it was made in.
  const instant next_tick = at(syn_cookie::period * (syn_cookie::counter(made) + 1));
  BOOST_TEST(cookies.check(test_tuple, seq{peer_isn}, c, next_tick + 30s).has_value());
  BOOST_TEST(!cookies.check(test_tuple, seq{peer_isn}, c, next_tick + syn_cookie::period).has_value());
}

BOOST_AUTO_TEST_CASE(ipv6_cookie_uses_linux_ipv6_mss_table_and_the_whole_addresses) {
  // Linux net/ipv6/syncookies.c msstab: 1280, 1480, 1500 and 9000 minus 60.
  BOOST_TEST(syn_cookie::mss_index(1219, true) == 0u);
  BOOST_TEST(syn_cookie::mss_index(1420, true) == 1u);
  BOOST_TEST(syn_cookie::mss_index(1440, true) == 2u);
  BOOST_TEST(syn_cookie::mss_index(8940, true) == 3u);
  wire::four_tuple t6{*wire::ipv6_addr::parse("fd00::1"), 8080, *wire::ipv6_addr::parse("fd00::2"), 40000};
  const instant t = at(700s);
  const seq c = cookies.make(t6, seq{peer_isn}, 1440, t);
  BOOST_TEST(cookies.check(t6, seq{peer_isn}, c, t).value_or(0) == 1440u);
  // Another address differing only in its first 12 bytes (an IPv4 hash would not see it).
  wire::four_tuple other = t6;
  other.remote_addr = *wire::ipv6_addr::parse("fd01::2");
  BOOST_TEST(!cookies.check(other, seq{peer_isn}, c, t).has_value());
  // A peer MSS of 1220 (IPv6's minimum) comes back as 1220, not IPv4's 536.
  const seq small = cookies.make(t6, seq{peer_isn}, 1220, t);
  BOOST_TEST(cookies.check(t6, seq{peer_isn}, small, t).value_or(0) == 1220u);
}

BOOST_AUTO_TEST_CASE(cookie_is_bound_to_tuple_isn_and_secret) {
  const instant t = at(500s);
  const seq c = cookies.make(test_tuple, seq{peer_isn}, 1460, t);
  BOOST_TEST(cookies.check(test_tuple, seq{peer_isn}, c, t).has_value());
  BOOST_TEST(!cookies.check(test_tuple, seq{peer_isn}, c + 1, t).has_value());
  // The peer's ISN enters the cookie linearly (as in Linux), so an ISN off by less than the table
  // size only shifts the MSS class; anything further is rejected.
  BOOST_TEST(!cookies.check(test_tuple, seq{peer_isn + 1000}, c, t).has_value());
  BOOST_TEST(!cookies.check(test_tuple, seq{peer_isn - 1}, c, t).has_value());  // class 3 + 1: out of the table
  wire::four_tuple other = test_tuple;
  other.remote_port = static_cast<std::uint16_t>(other.remote_port + 1);
  BOOST_TEST(!cookies.check(other, seq{peer_isn}, c, t).has_value());
  siphash_key k = test_key();
  k[0] ^= std::byte{1};
  BOOST_TEST(!syn_cookie{k}.check(test_tuple, seq{peer_isn}, c, t).has_value());
}

BOOST_AUTO_TEST_CASE(random_cookies_are_almost_never_valid) {
  // Each guess passes with probability about 2 * 4 / 2^24 (two ages, four MSS classes).
  const instant t = at(500s);
  unsigned valid = 0;
  std::uint32_t x = 0x9e3779b9;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1664525u + 1013904223u;
    if (cookies.check(test_tuple, seq{peer_isn}, seq{x}, t)) ++valid;
  }
  BOOST_TEST(valid <= 2u);
}

BOOST_AUTO_TEST_CASE(tsval_carries_wscale_and_sack_and_is_never_ahead_of_the_clock) {
  for (std::uint32_t clock : {0x1000u, 0x1003u, 0x103fu, 0xffffffc1u}) {
    const std::uint32_t ts = syn_cookie::make_tsval(clock, 7, true);
    BOOST_TEST(static_cast<std::int32_t>(clock - ts) >= 0);
    BOOST_TEST(clock - ts < 64u);
    const auto o = syn_cookie::read_tsecr(ts);
    BOOST_REQUIRE(o);
    BOOST_TEST(o->window_scale.value_or(99) == 7u);
    BOOST_TEST(o->sack_permitted);
  }
  const auto none = syn_cookie::read_tsecr(syn_cookie::make_tsval(0x5000, std::nullopt, false));
  BOOST_REQUIRE(none);
  BOOST_TEST(!none->window_scale.has_value());
  BOOST_TEST(!none->sack_permitted);
}

BOOST_AUTO_TEST_CASE(validate_takes_only_a_bare_ack_with_a_good_cookie) {
  const instant t = at(700s);
  const seq c = cookies.make(test_tuple, seq{peer_isn}, 1460, t);
  segment ack;
  ack.seq_num = seq{peer_isn + 1};
  ack.ack_num = c + 1;
  ack.options.timestamps = wire::tcp_timestamps{4242, syn_cookie::make_tsval(700000, 8, true)};
  const auto d = cookies.validate(test_tuple, ack, t + 1s);
  BOOST_REQUIRE(d);
  BOOST_TEST((d->iss == c));
  BOOST_TEST((d->peer_isn == seq{peer_isn}));
  BOOST_TEST(d->mss == 1460u);
  BOOST_TEST(d->timestamps);
  BOOST_TEST(d->window_scale.value_or(0) == 8u);
  BOOST_TEST(d->sack_permitted);
  segment syn = ack;
  syn.syn = true;
  BOOST_TEST(!cookies.validate(test_tuple, syn, t).has_value());
  segment rst = ack;
  rst.rst = true;
  BOOST_TEST(!cookies.validate(test_tuple, rst, t).has_value());
  segment bad = ack;
  bad.ack_num = c + 2;
  BOOST_TEST(!cookies.validate(test_tuple, bad, t).has_value());
  segment no_ts = ack;
  no_ts.options.timestamps.reset();
  const auto plain = cookies.validate(test_tuple, no_ts, t);
  BOOST_REQUIRE(plain);
  BOOST_TEST(!plain->timestamps);
  BOOST_TEST(!plain->window_scale.has_value());
  BOOST_TEST(!plain->sack_permitted);
}

// What the engine does with a cookie ACK, at the connection level: a listener gets the rebuilt
// SYN and the ACK and is ESTABLISHED with what the cookie remembered.
struct cookie_fixture : script {
  cookie_fixture() { open_listen(); }
  const syn_cookie jar{test_key()};
  // The SYN as the cookie remembers it (see engine: listener_cookie_ack).
  segment rebuilt_syn(const syn_cookie_decoded& d, const segment& ack) {
    segment syn;
    syn.seq_num = d.peer_isn;
    syn.syn = true;
    syn.window = ack.window;
    syn.options.mss = d.mss;
    syn.options.window_scale = d.window_scale;
    syn.options.sack_permitted = d.sack_permitted;
    if (d.timestamps) syn.options.timestamps = wire::tcp_timestamps{ack.options.timestamps->tsval, 0};
    return syn;
  }
};

BOOST_FIXTURE_TEST_CASE(listen_cookie_ack_is_established_with_the_remembered_options, cookie_fixture) {
  const instant t = at(100s);
  const seq c = jar.make(test_tuple, seq{irs}, 1448, t);
  seg ack_seg;
  ack_seg.seq(irs + 1).ack(c.value() + 1).win(1000).ts(777, syn_cookie::make_tsval(100000, 6, true));
  const segment ack = ack_seg.view();
  const auto d = jar.validate(test_tuple, ack, t + 20ms);
  BOOST_REQUIRE(d);
  conn().accept_cookie(t + 20ms, rebuilt_syn(*d, ack), d->iss, ack);
  expect_state_change(state::listen, state::syn_received);
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  BOOST_TEST(conn().negotiated().peer_mss == 1440u);
  BOOST_TEST(conn().negotiated().window_scaling);
  BOOST_TEST(conn().negotiated().snd_wscale == 6u);
  BOOST_TEST(conn().negotiated().sack_permitted);
  BOOST_TEST(conn().negotiated().timestamps);
  BOOST_TEST(conn().tcb().snd_wnd == 1000u << 6);
  BOOST_TEST((conn().tcb().snd_una == c + 1));
  // Nothing goes out for the handshake itself, and no SYN-ACK retransmission is pending.
  expect_nothing(t + 20ms);
  expect_deadline(std::nullopt);
  // Data both ways.
  send(t + 30ms, seg().seq(irs + 1).ack(c.value() + 1).ts(778, 100020).payload("ping"));
  BOOST_TEST(user_receive() == "ping");
  user_send("pong");
  const auto out = transmit(t + 30ms);
  BOOST_REQUIRE(out);
  BOOST_TEST((out->seq_num == c + 1));
  BOOST_TEST(text_of(out->payload) == "pong");
  BOOST_TEST((out->ack_num == seq{irs + 5}));
  BOOST_TEST(out->options.timestamps->tsecr == 778u);
}

BOOST_FIXTURE_TEST_CASE(listen_cookie_ack_with_data_is_established_and_takes_the_data, cookie_fixture) {
  const instant t = at(100s);
  const seq c = jar.make(test_tuple, seq{irs}, 1460, t);
  seg ack_seg;
  ack_seg.seq(irs + 1).ack(c.value() + 1).payload("hello");
  const segment ack = ack_seg.view();
  const auto d = jar.validate(test_tuple, ack, t);
  BOOST_REQUIRE(d);
  conn().accept_cookie(t, rebuilt_syn(*d, ack), d->iss, ack);
  expect_state(state::established);
  BOOST_TEST(!conn().negotiated().window_scaling);  // no TSecr, no options beyond the MSS
  BOOST_TEST(user_receive() == "hello");
  expect(t + 100ms, seg().seq(c.value() + 1).ack(irs + 6));
}

BOOST_FIXTURE_TEST_CASE(listen_cookie_ack_with_a_bad_cookie_is_dropped, cookie_fixture) {
  const instant t = at(100s);
  const seq c = jar.make(test_tuple, seq{irs}, 1460, t);
  // Wrong cookie, stale cookie, forged from another tuple: validate() refuses each, so the
  // listener never sees the segment (the engine counts it in cookies_rejected and drops it).
  seg wrong;
  wrong.seq(irs + 1).ack(c.value() + 2);
  BOOST_TEST(!jar.validate(test_tuple, wrong.view(), t).has_value());
  seg good;
  good.seq(irs + 1).ack(c.value() + 1);
  BOOST_TEST(!jar.validate(test_tuple, good.view(), t + 3 * syn_cookie::period).has_value());
  wire::four_tuple other = test_tuple;
  other.remote_addr = wire::ipv4_addr::from_octets(10, 0, 0, 99);
  BOOST_TEST(!jar.validate(other, good.view(), t).has_value());
  expect_state(state::listen);
  expect_nothing(t);
  expect_no_event();
  // accept_cookie outside LISTEN does nothing.
  const auto d = jar.validate(test_tuple, good.view(), t);
  BOOST_REQUIRE(d);
  conn().accept_cookie(t, rebuilt_syn(*d, good.view()), d->iss, good.view());
  expect_state(state::established);
  drain_events();
  conn().accept_cookie(t, rebuilt_syn(*d, good.view()), d->iss, good.view());
  expect_state(state::established);
  expect_no_event();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::tcp::test
