// Closing: FIN_WAIT_1/2, CLOSING, TIME_WAIT, CLOSE_WAIT, LAST_ACK, abort (RFC 9293 §3.6).
#include "tcp/script.hpp"

using namespace synack::tcp;
using namespace synack::tcp::test;

BOOST_AUTO_TEST_SUITE(closing)

// --- active close --------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_close_is_fin_wait_1_with_fin, established_fixture) {
  conn().close();
  expect_state_change(state::established, state::fin_wait_1);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).fin());
  expect_nothing(at(100ms));
  BOOST_TEST(user_send("late") == 0u);  // closed for sending
  expect_deadline(at(300ms));
}

BOOST_FIXTURE_TEST_CASE(established_close_sends_fin_after_queued_data, established_fixture) {
  user_send("abc");
  conn().close();
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().fin().payload("abc"));
  expect_nothing(at(100ms));
}

BOOST_FIXTURE_TEST_CASE(established_close_fin_waits_for_data_limited_by_the_window, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(3));
  user_send("abcdef");
  conn().close();
  // 3 bytes are less than half the largest window offered (sender SWS avoidance): they wait for
  // the persist timer's override.
  expect_nothing(at(100ms));
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).payload("abc"));
  expect_nothing(at(300ms));
  send(at(310ms), seg().seq(irs + 1).ack(iss + 4).win(10));
  expect(at(310ms), seg().seq(iss + 4).ack(irs + 1).psh().fin().payload("def"));
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_ack_of_fin_is_fin_wait_2, fin_wait_1_fixture) {
  send(at(30ms), seg().seq(irs + 1).ack(iss + 2));
  expect_state_change(state::fin_wait_1, state::fin_wait_2);
  expect_nothing(at(30ms));
  expect_deadline(at(30ms + 60s));  // FIN_WAIT_2 timeout, no retransmission timer
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_ack_of_data_only_stays_fin_wait_1, established_fixture) {
  user_send("abc");
  conn().close();
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().fin().payload("abc"));
  drain_events();
  send(at(110ms), seg().seq(irs + 1).ack(iss + 4));
  expect_state(state::fin_wait_1);
  expect(at(310ms), seg().seq(iss + 4).ack(irs + 1).fin());  // only the FIN is resent
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_fin_is_retransmitted_on_rto, fin_wait_1_fixture) {
  expect_nothing(at(219ms));
  expect(at(220ms), seg().seq(iss + 1).ack(irs + 1).fin());
  expect(at(620ms), seg().seq(iss + 1).ack(irs + 1).fin());
  BOOST_TEST(conn().stats().retransmits == 2u);
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_fin_without_ack_of_ours_is_closing, fin_wait_1_fixture) {
  send(at(30ms), seg().seq(irs + 1).ack(iss + 1).fin());
  expect_event(event::kind::eof);
  expect_state_change(state::fin_wait_1, state::closing);
  expect(at(30ms), seg().seq(iss + 2).ack(irs + 2));
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_fin_with_ack_of_ours_is_time_wait_directly, fin_wait_1_fixture) {
  send(at(30ms), seg().seq(irs + 1).ack(iss + 2).fin());
  expect_event(event::kind::eof);
  expect_state_change(state::fin_wait_1, state::time_wait);
  expect_no_event();
  expect(at(30ms), seg().seq(iss + 2).ack(irs + 2));
  expect_deadline(at(30ms + 60s));
}

BOOST_FIXTURE_TEST_CASE(fin_wait_1_data_is_still_received, fin_wait_1_fixture) {
  send(at(30ms), seg().seq(irs + 1).ack(iss + 1).payload("more"));
  expect(at(30ms), seg().seq(iss + 2).ack(irs + 5));
  BOOST_TEST(user_receive() == "more");
}

BOOST_FIXTURE_TEST_CASE(fin_wait_2_data_is_still_received, fin_wait_2_fixture) {
  send(at(1s), seg().seq(irs + 1).ack(iss + 2).payload("half-closed"));
  expect_event(event::kind::readable);
  expect(at(1s), seg().seq(iss + 2).ack(irs + 12));
  BOOST_TEST(user_receive() == "half-closed");
  expect_deadline(at(1s + 60s));  // the peer is alive: the FIN_WAIT_2 idle timeout restarts
}

BOOST_FIXTURE_TEST_CASE(fin_wait_2_fin_is_time_wait, fin_wait_2_fixture) {
  send(at(40ms), seg().seq(irs + 1).ack(iss + 2).fin());
  expect_event(event::kind::eof);
  expect_state_change(state::fin_wait_2, state::time_wait);
  expect(at(40ms), seg().seq(iss + 2).ack(irs + 2));
  expect_deadline(at(40ms + 60s));
}

BOOST_FIXTURE_TEST_CASE(fin_wait_2_timeout_is_closed, fin_wait_2_fixture) {
  advance(at(30ms + 60s - 1ms));
  expect_state(state::fin_wait_2);
  advance(at(30ms + 60s));
  expect_state_change(state::fin_wait_2, state::closed);
  expect_event(event::kind::closed);
  expect_nothing(at(30ms + 60s));
  BOOST_TEST(!conn().error());
}

// A half-close (shutdown(SHUT_WR)) is not an orphan: as on Linux, FIN_WAIT_2 then has no timeout
// and the peer's data is received however long its retransmissions back off (issue 12: a
// half-closed server lost a client's remaining bytes when the client went quiet for 60 s).
BOOST_FIXTURE_TEST_CASE(half_closed_fin_wait_2_waits_for_the_peer_without_a_timeout, established_fixture) {
  conn().close();  // no orphan(): the owner still reads
  expect(at(20ms), seg().seq(iss + 1).ack(irs + 1).fin());
  send(at(30ms), seg().seq(irs + 1).ack(iss + 2));
  expect_state_change(state::established, state::fin_wait_1);
  expect_state_change(state::fin_wait_1, state::fin_wait_2);
  BOOST_TEST(!conn().next_deadline().has_value());
  advance(at(30ms + 300s));
  expect_state(state::fin_wait_2);
  send(at(30ms + 300s), seg().seq(irs + 1).ack(iss + 2).payload("late").fin());
  expect_event(event::kind::readable);
  expect_event(event::kind::eof);
  expect_state_change(state::fin_wait_2, state::time_wait);
  BOOST_TEST(user_receive() == "late");
}

BOOST_FIXTURE_TEST_CASE(orphan_in_fin_wait_2_arms_the_fin_wait_2_timeout, established_fixture) {
  conn().close();
  expect(at(20ms), seg().seq(iss + 1).ack(irs + 1).fin());
  send(at(30ms), seg().seq(irs + 1).ack(iss + 2));
  drain_events();
  expect_state(state::fin_wait_2);
  conn().orphan(at(5s));
  expect_deadline(at(5s + 60s));
  advance(at(5s + 60s));
  expect_state_change(state::fin_wait_2, state::closed);
}

BOOST_FIXTURE_TEST_CASE(fin_wait_2_rst_exact_is_connection_reset, fin_wait_2_fixture) {
  send(at(40ms), seg().seq(irs + 1).rst());
  expect_state_change(state::fin_wait_2, state::closed);
  expect_error_event(std::errc::connection_reset);
}

// --- simultaneous close --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(closing_ack_of_fin_is_time_wait, closing_fixture) {
  send(at(40ms), seg().seq(irs + 2).ack(iss + 2));
  expect_state_change(state::closing, state::time_wait);
  expect_nothing(at(40ms));
  expect_deadline(at(40ms + 60s));
}

BOOST_FIXTURE_TEST_CASE(closing_fin_is_retransmitted_on_rto, closing_fixture) {
  expect(at(220ms), seg().seq(iss + 1).ack(irs + 2).fin());
}

// Linux (tcp_reset): ECONNRESET, our FIN was never acknowledged (RFC 9293 just says CLOSED).
BOOST_FIXTURE_TEST_CASE(closing_rst_exact_is_connection_reset, closing_fixture) {
  send(at(40ms), seg().seq(irs + 2).rst());
  expect_state_change(state::closing, state::closed);
  expect_error_event(std::errc::connection_reset);
}

// --- TIME_WAIT -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(time_wait_expires_after_2msl_to_closed, time_wait_fixture) {
  expect_deadline(at(40ms + 60s));
  advance(at(40ms + 60s - 1ms));
  expect_state(state::time_wait);
  advance(at(40ms + 60s));
  expect_state_change(state::time_wait, state::closed);
  expect_event(event::kind::closed);
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(time_wait_retransmitted_fin_is_reacked_and_restarts_the_timer, time_wait_fixture) {
  send(at(10s), seg().seq(irs + 1).ack(iss + 2).fin());
  expect(at(10s), seg().seq(iss + 2).ack(irs + 2));
  expect_nothing(at(10s));
  expect_state(state::time_wait);
  expect_deadline(at(10s + 60s));
}

BOOST_FIXTURE_TEST_CASE(time_wait_rst_exact_is_closed_without_error, time_wait_fixture) {
  send(at(1s), seg().seq(irs + 2).rst());
  expect_state_change(state::time_wait, state::closed);
  expect_event(event::kind::closed);
  BOOST_TEST(!conn().error());
}

BOOST_FIXTURE_TEST_CASE(time_wait_syn_gets_challenge_ack, time_wait_fixture) {
  send(at(1s), seg().seq(irs + 2).syn());
  expect(at(1s), seg().seq(iss + 2).ack(irs + 2));
  expect_state(state::time_wait);
}

// --- passive close -------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(close_wait_data_can_still_be_sent, close_wait_fixture) {
  BOOST_TEST(user_send("reply") == 5u);
  expect(at(30ms), seg().seq(iss + 1).ack(irs + 2).psh().payload("reply"));
}

BOOST_FIXTURE_TEST_CASE(close_wait_close_is_last_ack_with_fin, close_wait_fixture) {
  conn().close();
  expect_state_change(state::close_wait, state::last_ack);
  expect(at(30ms), seg().seq(iss + 1).ack(irs + 2).fin());
  expect_nothing(at(30ms));
}

BOOST_FIXTURE_TEST_CASE(close_wait_rst_exact_is_connection_reset, close_wait_fixture) {
  send(at(30ms), seg().seq(irs + 2).rst());
  expect_state_change(state::close_wait, state::closed);
  expect_error_event(std::errc::connection_reset);
}

BOOST_FIXTURE_TEST_CASE(last_ack_ack_of_fin_is_closed, last_ack_fixture) {
  send(at(40ms), seg().seq(irs + 2).ack(iss + 2));
  expect_state_change(state::last_ack, state::closed);
  expect_event(event::kind::closed);
  expect_nothing(at(40ms));
  expect_deadline(std::nullopt);
  BOOST_TEST(!conn().error());
}

BOOST_FIXTURE_TEST_CASE(last_ack_fin_is_retransmitted_on_rto, last_ack_fixture) {
  expect(at(230ms), seg().seq(iss + 1).ack(irs + 2).fin());
}

BOOST_FIXTURE_TEST_CASE(last_ack_rst_exact_is_connection_reset, last_ack_fixture) {
  send(at(40ms), seg().seq(irs + 2).rst());
  expect_state_change(state::last_ack, state::closed);
  expect_error_event(std::errc::connection_reset);
}

BOOST_FIXTURE_TEST_CASE(last_ack_duplicate_fin_is_acked, last_ack_fixture) {
  send(at(40ms), seg().seq(irs + 1).ack(iss + 1).fin());  // our ACK of it was lost
  expect(at(40ms), seg().seq(iss + 2).ack(irs + 2));
  expect_state(state::last_ack);
}

// --- abort ---------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_abort_sends_rst_and_closes, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  conn().abort();
  expect_state_change(state::established, state::closed);
  expect_event(event::kind::closed);
  expect(at(110ms), seg().seq(iss + 4).ack(irs + 1).rst());  // SND.NXT
  expect_nothing(at(110ms));
  expect_deadline(std::nullopt);  // no retransmission of anything
  expect_nothing(at(10s));
  BOOST_TEST(!conn().error());
}

BOOST_FIXTURE_TEST_CASE(close_wait_abort_sends_rst, close_wait_fixture) {
  conn().abort();
  expect(at(30ms), seg().seq(iss + 1).ack(irs + 2).rst());
  expect_state(state::closed);
}

BOOST_FIXTURE_TEST_CASE(listen_abort_is_closed_silently, listen_fixture) {
  conn().abort();
  expect_state(state::closed);
  expect_nothing(at(0ms));
}

// --- the whole story in events -------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(closed_active_open_and_close_report_every_transition_in_order, closed_fixture) {
  conn().connect(at(0ms), seq{iss});
  expect(at(0ms), seg().seq(iss).syn());
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn());
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1));
  conn().close();
  expect(at(20ms), seg().seq(iss + 1).ack(irs + 1).fin());
  send(at(30ms), seg().seq(irs + 1).ack(iss + 2));
  send(at(40ms), seg().seq(irs + 1).ack(iss + 2).fin());
  expect(at(40ms), seg().seq(iss + 2).ack(irs + 2));
  advance(at(61s));
  expect_state_change(state::closed, state::syn_sent);
  expect_state_change(state::syn_sent, state::established);
  expect_event(event::kind::connected);
  expect_state_change(state::established, state::fin_wait_1);
  expect_state_change(state::fin_wait_1, state::fin_wait_2);
  expect_event(event::kind::eof);
  expect_state_change(state::fin_wait_2, state::time_wait);
  expect_state_change(state::time_wait, state::closed);
  expect_event(event::kind::closed);
  expect_no_event();
}

BOOST_FIXTURE_TEST_CASE(closed_connect_again_after_close_starts_fresh, time_wait_fixture) {
  advance(at(61s));
  drain_events();
  conn().connect(at(62s), seq{777});
  expect(at(62s), seg().seq(777).syn());
  BOOST_TEST(conn().tcb().snd_una == seq{777});
  BOOST_TEST(!conn().error());
}

BOOST_AUTO_TEST_SUITE_END()
