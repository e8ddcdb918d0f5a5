// Opening: CLOSED, LISTEN, SYN_SENT, SYN_RCVD and simultaneous open (RFC 9293 §3.5, §3.10.7.1-3).
#include "tcp/script.hpp"

using namespace synack::tcp;
using namespace synack::tcp::test;

BOOST_AUTO_TEST_SUITE(handshake)

// --- CLOSED --------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(closed_connect_sends_syn_with_all_offered_options, closed_fixture) {
  conn().connect(at(0ms), seq{iss});
  expect_state_change(state::closed, state::syn_sent);
  expect(at(0ms), seg().seq(iss).syn().win(4096).mss(1460).wscale(7).sack_perm().ts(0, 0));
  expect_nothing(at(0ms));
  expect_state(state::syn_sent);
  expect_deadline(at(1s));  // RFC 6298 §2.1: initial RTO 1 s
}

BOOST_FIXTURE_TEST_CASE(closed_connect_without_isn_uses_the_rfc6528_generator, closed_fixture) {
  conn().connect(at(5s));
  const auto syn = transmit(at(5s));
  BOOST_REQUIRE(syn);
  BOOST_TEST(syn->seq_num == isns().generate(test_tuple, at(5s)));
  BOOST_TEST(conn().tcb().iss == syn->seq_num);
}

BOOST_AUTO_TEST_CASE(closed_connect_with_options_off_offers_only_mss) {
  config c = test_config();
  c.window_scale.reset();
  c.sack_permitted = false;
  c.timestamps = false;
  c.mss = 1200;
  script s(c);
  s.conn().connect(at(0ms), seq{s.iss});
  s.expect(at(0ms), seg().seq(s.iss).syn().mss(1200));
}

BOOST_FIXTURE_TEST_CASE(closed_segment_is_answered_with_rst, closed_fixture) {
  send(at(0ms), seg().seq(5).ack(77).payload("x"));
  expect(at(0ms), seg().seq(77).rst());  // <SEQ=SEG.ACK><CTL=RST>
  send(at(0ms), seg().seq(5).syn());
  expect(at(0ms), seg().seq(0).ack(6).rst());  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  send(at(0ms), seg().seq(5).ack(9).rst());
  expect_nothing(at(0ms));  // never a RST for a RST
}

// --- SYN_SENT ------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_is_established_and_acked, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn());
  expect_state_change(state::syn_sent, state::established);
  expect_event(event::kind::connected);
  expect_no_event();
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(4096).no_options());
  expect_nothing(at(10ms));
  BOOST_TEST(conn().tcb().irs == seq{irs});
  BOOST_TEST(conn().tcb().rcv_nxt == seq{irs + 1});
  BOOST_TEST(conn().tcb().snd_una == seq{iss + 1});
  BOOST_TEST(conn().tcb().snd_nxt == seq{iss + 1});
  BOOST_TEST(conn().tcb().snd_wnd == 8192u);
  BOOST_TEST(conn().srtt().value() == duration{10ms});  // the SYN was timed
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_with_ack_beyond_syn_is_answered_with_rst, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 5).syn());
  expect(at(10ms), seg().seq(iss + 5).rst());  // RFC 9293: <SEQ=SEG.ACK><CTL=RST>
  expect_nothing(at(10ms));
  expect_state(state::syn_sent);
  expect_no_event();
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_acking_iss_is_answered_with_rst, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss).syn());  // SEG.ACK =< ISS
  expect(at(10ms), seg().seq(iss).rst());
  expect_state(state::syn_sent);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_rst_with_acceptable_ack_is_connection_refused, syn_sent_fixture) {
  send(at(10ms), seg().seq(0).ack(iss + 1).rst());
  expect_state_change(state::syn_sent, state::closed);
  expect_error_event(std::errc::connection_refused);
  expect_state(state::closed);
  BOOST_TEST((conn().error() == std::errc::connection_refused));
  expect_nothing(at(10ms));
  expect_deadline(std::nullopt);  // no more SYN retransmissions
}

BOOST_FIXTURE_TEST_CASE(syn_sent_rst_without_ack_is_ignored, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).rst());
  expect_state(state::syn_sent);
  expect_no_event();
  expect_nothing(at(10ms));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_rst_with_unacceptable_ack_is_ignored, syn_sent_fixture) {
  send(at(10ms), seg().seq(0).ack(iss + 7).rst());
  expect_state(state::syn_sent);
  expect_nothing(at(10ms));  // no RST answers a RST
}

BOOST_FIXTURE_TEST_CASE(syn_sent_ack_without_syn_is_dropped, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1));
  expect_state(state::syn_sent);
  expect_nothing(at(10ms));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_is_retransmitted_after_1_2_4_8_16_32_s, syn_sent_fixture) {
  std::int64_t sent_at = 0;
  for (std::int64_t rto = 1; rto <= 32; rto *= 2) {
    expect_nothing(at(std::chrono::seconds{sent_at + rto} - 1ms));
    sent_at += rto;
    expect(at(std::chrono::seconds{sent_at}), seg().seq(iss).syn());
  }
  BOOST_TEST(sent_at == 63);
  BOOST_TEST(conn().stats().syn_retransmits == 6u);
  BOOST_TEST(conn().stats().retransmits == 6u);
  expect_state(state::syn_sent);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_gives_up_after_syn_retries_with_timed_out, syn_sent_fixture) {
  for (auto t : {1s, 3s, 7s, 15s, 31s, 63s}) expect(at(t), seg().seq(iss).syn());
  expect_nothing(at(127s - 1ms));
  expect_state(state::syn_sent);
  advance(at(127s));  // Linux: 127 s in all
  expect_state(state::closed);
  expect_state_change(state::syn_sent, state::closed);
  expect_error_event(std::errc::timed_out);
  expect_nothing(at(127s));
  BOOST_TEST(conn().stats().syn_retransmits == 6u);
}

// config::coalesce_syn_timer (the default; test_config() turns it off): SYN retransmission
// deadlines are rounded up to a multiple of 32 ms for the 1 s RTO, 64 ms for 2 s, 128 ms for 4 s
// (Linux's timer wheel), so SYNs sent a few milliseconds apart are retransmitted together.
BOOST_AUTO_TEST_CASE(syn_sent_coalesced_retransmissions_round_up_to_the_granularity) {
  config c = test_config();
  c.coalesce_syn_timer = true;
  for (auto start : {0ms, 1ms, 5ms, 31ms, 32ms, 33ms}) {
    script s(c);
    s.conn().connect(at(start), seq{s.iss});
    s.expect(at(start), seg().seq(s.iss).syn());
    auto up = [](std::chrono::milliseconds t, std::chrono::milliseconds g) { return (t + g - 1ms) / g * g; };
    const auto first = up(start + 1000ms, 32ms);  // 1 s + start, rounded up to 32 ms
    s.expect_deadline(at(first));
    s.expect_nothing(at(first - 1ms));
    s.expect(at(first), seg().seq(s.iss).syn());
    const auto second = up(first + 2000ms, 64ms);
    s.expect_deadline(at(second));
    s.expect_nothing(at(second - 1ms));
    s.expect(at(second), seg().seq(s.iss).syn());
    s.expect_deadline(at(up(second + 4000ms, 128ms)));
  }
  // Two connections opened 3 ms apart, within one 32 ms slot: one deadline.
  script a(c), b(c);
  a.conn().connect(at(40ms), seq{a.iss});
  b.conn().connect(at(43ms), seq{b.iss});
  a.expect(at(40ms), seg().seq(a.iss).syn());
  b.expect(at(43ms), seg().seq(b.iss).syn());
  b.expect_deadline(a.conn().next_deadline());
  a.expect_deadline(at(1056ms));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_retransmitted_syn_keeps_its_options, syn_sent_fixture) {
  expect(at(1s), seg().seq(iss).syn().win(4096).mss(1460).wscale(7).sack_perm().ts(1000, 0));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_after_retransmission_takes_no_rtt_sample, syn_sent_fixture) {
  expect(at(1s), seg().seq(iss).syn());
  send(at(1010ms), seg().seq(irs).ack(iss + 1).syn());
  expect_state(state::established);
  BOOST_TEST(!conn().srtt());                // Karn: ambiguous which SYN was answered
  BOOST_TEST((conn().rto() == duration{3s}));  // RFC 6298 §5.7
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_options_negotiate_everything_offered, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn().win(8000).mss(1000).wscale(2).sack_perm().ts(777, 0));
  const auto& n = conn().negotiated();
  BOOST_TEST(n.peer_mss == 1000u);
  BOOST_TEST(n.window_scaling);
  BOOST_TEST(n.snd_wscale == 2u);
  BOOST_TEST(n.rcv_wscale == 7u);
  BOOST_TEST(n.timestamps);
  BOOST_TEST(n.sack_permitted);
  BOOST_TEST(conn().tcb().snd_wnd == 8000u);  // the SYN-ACK's window is never scaled
  // Our ACK: window 4096 >> 7, timestamps echoing the peer's.
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(32).ts(10, 777));
  // Later windows from the peer are scaled by 2.
  send(at(20ms), seg().seq(irs + 1).ack(iss + 1).win(1100).ts(780, 10));
  BOOST_TEST(conn().tcb().snd_wnd == 4400u);
  // MSS 1000 less 12 bytes of timestamp option; the window stops the fifth segment (the 448
  // bytes left of it are less than half of the largest window, 8000: sender SWS avoidance).
  user_send(std::string(6000, 'x'));
  for (int i = 0; i < 4; ++i) {
    const auto s = transmit(at(30ms));
    BOOST_REQUIRE(s);
    BOOST_TEST(s->payload.size() == 988u);
  }
  BOOST_TEST(!transmit(at(30ms)));
  send(at(40ms), seg().seq(irs + 1).ack(iss + 989).win(1100).ts(790, 30));
  const auto fifth = transmit(at(40ms));
  BOOST_REQUIRE(fifth);
  BOOST_TEST(fifth->payload.size() == 988u);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_ack_without_window_scale_disables_scaling_both_ways, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn().mss(1460).sack_perm());
  BOOST_TEST(!conn().negotiated().window_scaling);
  BOOST_TEST(!conn().negotiated().timestamps);
  BOOST_TEST(conn().negotiated().sack_permitted);
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(4096).no_options());
  send(at(20ms), seg().seq(irs + 1).ack(iss + 1).win(100));
  BOOST_TEST(conn().tcb().snd_wnd == 100u);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_peer_without_mss_option_gets_536_byte_segments, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn());
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().negotiated().peer_mss == 536u);
  user_send(std::string(600, 'y'));
  expect(at(20ms), seg().seq(iss + 1).ack(irs + 1).payload(std::string(536, 'y')));
  expect(at(20ms), seg().seq(iss + 537).ack(irs + 1).psh().payload(std::string(64, 'y')));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_close_is_closed_at_once, syn_sent_fixture) {
  conn().close();
  expect_state_change(state::syn_sent, state::closed);
  expect_event(event::kind::closed);
  expect_nothing(at(10ms));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(syn_sent_abort_is_closed_without_rst, syn_sent_fixture) {
  conn().abort();
  expect_state_change(state::syn_sent, state::closed);
  expect_event(event::kind::closed);
  expect_nothing(at(10ms));
}

BOOST_FIXTURE_TEST_CASE(syn_sent_data_queued_goes_out_after_the_handshake, syn_sent_fixture) {
  BOOST_TEST(user_send("early") == 5u);
  expect_nothing(at(5ms));
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn());
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("early"));
}

// --- simultaneous open ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(syn_sent_syn_without_ack_is_simultaneous_open_to_syn_received, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).syn().mss(1400));
  expect_state_change(state::syn_sent, state::syn_received);
  // Our SYN again, now with the ACK: same ISS, options answering the peer's (MSS only).
  expect(at(10ms), seg().seq(iss).ack(irs + 1).syn().win(4096).mss(1460));
  expect_nothing(at(10ms));
  BOOST_TEST(conn().stats().syn_retransmits == 0u);
  send(at(20ms), seg().seq(irs + 1).ack(iss + 1));
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  expect_nothing(at(20ms));
}

BOOST_FIXTURE_TEST_CASE(syn_received_peer_syn_ack_completes_simultaneous_open, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).syn());
  expect(at(10ms), seg().seq(iss).ack(irs + 1).syn());
  // The peer's SYN-ACK crosses ours: it repeats its SYN and acknowledges ours.
  send(at(20ms), seg().seq(irs).ack(iss + 1).syn());
  expect_state(state::established);
  expect_nothing(at(20ms));
  user_send("hi");
  expect(at(30ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("hi"));
}

BOOST_FIXTURE_TEST_CASE(syn_received_rst_after_simultaneous_open_is_connection_refused, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).syn());
  expect(at(10ms), seg().seq(iss).ack(irs + 1).syn());
  drain_events();
  send(at(20ms), seg().seq(irs + 1).rst());
  expect_state_change(state::syn_received, state::closed);
  expect_error_event(std::errc::connection_refused);
}

BOOST_FIXTURE_TEST_CASE(syn_received_simultaneous_open_retransmits_syn_ack_on_rto, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).syn());
  expect(at(10ms), seg().seq(iss).ack(irs + 1).syn());
  // The RTO timer kept running from the SYN at 0 s.
  expect_nothing(at(999ms));
  expect(at(1s), seg().seq(iss).ack(irs + 1).syn());
}

// --- LISTEN --------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(closed_listen_is_listen, closed_fixture) {
  conn().listen();
  expect_state_change(state::closed, state::listen);
  expect_nothing(at(0ms));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(listen_rst_is_ignored, listen_fixture) {
  send(at(0ms), seg().seq(irs).rst());
  send(at(0ms), seg().seq(irs).ack(5).rst());
  expect_nothing(at(0ms));
  expect_state(state::listen);
}

BOOST_FIXTURE_TEST_CASE(listen_ack_is_answered_with_rst, listen_fixture) {
  send(at(0ms), seg().seq(irs).ack(1234));
  expect(at(0ms), seg().seq(1234).rst());
  expect_state(state::listen);
}

BOOST_FIXTURE_TEST_CASE(listen_data_without_syn_is_ignored, listen_fixture) {
  send(at(0ms), seg().seq(irs).payload("x"));
  send(at(0ms), seg().seq(irs).fin());
  expect_nothing(at(0ms));
  expect_state(state::listen);
  expect_no_event();
}

BOOST_FIXTURE_TEST_CASE(listen_syn_is_syn_received_with_syn_ack_answering_the_options, listen_fixture) {
  send(at(2s), seg().seq(irs).syn().win(9000).mss(1400).wscale(3).sack_perm().ts(100, 0));
  expect_state_change(state::listen, state::syn_received);
  const seq our_iss = isns().generate(test_tuple, at(2s));
  expect(at(2s), seg().seq(our_iss.value()).ack(irs + 1).syn().win(4096).mss(1460).wscale(7).sack_perm().ts(2000, 100));
  expect_nothing(at(2s));
  BOOST_TEST(conn().tcb().iss == our_iss);
  BOOST_TEST(conn().tcb().snd_wnd == 9000u);
  BOOST_TEST(conn().negotiated().snd_wscale == 3u);
  BOOST_TEST(conn().negotiated().peer_mss == 1400u);
}

BOOST_FIXTURE_TEST_CASE(listen_syn_without_options_gets_syn_ack_with_mss_only, listen_fixture) {
  send(at(0ms), seg().seq(irs).syn());
  const seq our_iss = isns().generate(test_tuple, at(0ms));
  expect(at(0ms), seg().seq(our_iss.value()).ack(irs + 1).syn().mss(1460));
}

// --- SYN_RCVD (passive) --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(syn_received_ack_is_established, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).ack(iss + 1));
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  expect_nothing(at(10ms));
  BOOST_TEST(conn().tcb().snd_una == seq{iss + 1});
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(syn_received_ack_with_data_is_established_and_takes_the_data, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).ack(iss + 1).payload("GET /"));
  expect_state(state::established);
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 6));
  BOOST_TEST(user_receive() == "GET /");
}

BOOST_FIXTURE_TEST_CASE(syn_received_syn_ack_is_retransmitted_with_backoff, syn_received_fixture) {
  std::int64_t sent_at = 0;
  for (std::int64_t rto = 1; rto <= 16; rto *= 2) {
    expect_nothing(at(std::chrono::seconds{sent_at + rto} - 1ms));
    sent_at += rto;
    expect(at(std::chrono::seconds{sent_at}), seg().seq(iss).ack(irs + 1).syn().mss(1460));
  }
  BOOST_TEST(conn().stats().syn_retransmits == 5u);
  expect_state(state::syn_received);
}

BOOST_FIXTURE_TEST_CASE(syn_received_passive_gives_up_after_synack_retries_back_to_listen, syn_received_fixture) {
  for (auto t : {1s, 3s, 7s, 15s, 31s}) expect(at(t), seg().seq(iss).ack(irs + 1).syn());
  advance(at(63s));
  expect_state_change(state::syn_received, state::listen);
  expect_no_event();  // the listener lives on, no error
  expect_nothing(at(63s));
  BOOST_TEST(conn().tuple().remote_port == 0u);
}

BOOST_FIXTURE_TEST_CASE(syn_received_rst_from_passive_open_returns_to_listen, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).rst());
  expect_state_change(state::syn_received, state::listen);
  expect_no_event();
  expect_nothing(at(10ms));
  expect_deadline(std::nullopt);
  BOOST_TEST(conn().tuple().remote_addr.is_unspecified());
  BOOST_TEST(conn().tuple().remote_port == 0u);
  // And it listens again.
  conn().set_remote(test_tuple.remote_addr, test_tuple.remote_port);
  send(at(20ms), seg().seq(9000).syn());
  expect_state(state::syn_received);
  const auto synack = transmit(at(20ms));
  BOOST_REQUIRE(synack);
  BOOST_TEST(synack->ack_num.value() == seq{9001});
}

BOOST_FIXTURE_TEST_CASE(syn_received_bad_ack_is_answered_with_rst, syn_received_fixture) {
  send(at(10ms), seg().seq(irs + 1).ack(iss + 100));
  expect(at(10ms), seg().seq(iss + 100).rst());
  expect_state(state::syn_received);
}

BOOST_FIXTURE_TEST_CASE(syn_received_duplicate_syn_resends_syn_ack, syn_received_fixture) {
  send(at(100ms), seg().seq(irs).syn().mss(1400));
  expect(at(100ms), seg().seq(iss).ack(irs + 1).syn().mss(1460));
  expect_nothing(at(100ms));
  expect_state(state::syn_received);
}

BOOST_FIXTURE_TEST_CASE(syn_received_new_syn_in_window_returns_to_listen, syn_received_fixture) {
  send(at(100ms), seg().seq(irs + 10).syn());
  expect_state_change(state::syn_received, state::listen);  // RFC 9293 step 4
}

BOOST_FIXTURE_TEST_CASE(syn_received_close_sends_fin_once_established, syn_received_fixture) {
  conn().close();
  expect_state(state::syn_received);
  expect_nothing(at(5ms));
  send(at(10ms), seg().seq(irs + 1).ack(iss + 1));
  expect_state_change(state::syn_received, state::established);
  expect_event(event::kind::connected);
  expect_state_change(state::established, state::fin_wait_1);
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).fin());
}

BOOST_AUTO_TEST_SUITE_END()
