// ESTABLISHED: data both ways, windows, retransmission, and RFC 5961 (RFC 9293 §3.10.7.4).
#include "tcp/script.hpp"

using namespace synack::tcp;
using namespace synack::tcp::test;

namespace {
// n bytes of a recognisable pattern, starting at pattern offset `from`.
std::string pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (from + i) % 26);
  return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(established)

// --- receiving -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_data_is_acked_and_readable, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("hello"));
  expect_event(event::kind::readable);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 6).win(4096 - 5));
  expect_nothing(at(100ms));  // one ACK per trigger
  BOOST_TEST(conn().available() == 5u);
  BOOST_TEST(user_receive() == "hello");
  BOOST_TEST(conn().available() == 0u);
  BOOST_TEST(conn().stats().bytes_received == 5u);
}

BOOST_FIXTURE_TEST_CASE(established_consecutive_segments_are_appended_in_order, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
  send(at(100ms), seg().seq(irs + 4).ack(iss + 1).payload("def"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 7));
  expect_nothing(at(100ms));
  BOOST_TEST(user_receive() == "abcdef");
}

BOOST_FIXTURE_TEST_CASE(established_out_of_order_segment_is_dropped_with_ack_for_rcv_nxt, established_fixture) {
  send(at(100ms), seg().seq(irs + 10).ack(iss + 1).payload("later"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().available() == 0u);
  expect_no_event();
}

BOOST_FIXTURE_TEST_CASE(established_segment_overlapping_left_edge_is_trimmed, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("hel"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 4));
  send(at(110ms), seg().seq(irs + 2).ack(iss + 1).payload("ello"));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 6));
  BOOST_TEST(user_receive() == "hello");
}

BOOST_FIXTURE_TEST_CASE(established_old_duplicate_segment_is_acked_and_dropped, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 4));
  send(at(110ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 4));
  BOOST_TEST(user_receive() == "abc");
}

BOOST_FIXTURE_TEST_CASE(established_segment_beyond_window_is_acked_and_dropped, established_fixture) {
  send(at(100ms), seg().seq(irs + 1 + 5000).ack(iss + 1).payload("x"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().available() == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_data_beyond_the_window_is_trimmed, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(4000)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 4001).win(96));
  send(at(110ms), seg().seq(irs + 4001).ack(iss + 1).payload(pattern(200, 4000)));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 4097).win(0));  // 96 of 200 taken
  BOOST_TEST(conn().available() == 4096u);
  BOOST_TEST(user_receive() == pattern(4096));
}

BOOST_FIXTURE_TEST_CASE(established_zero_window_data_is_acked_but_ack_field_still_counts, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(4096)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 4097).win(0));
  user_send("abc");
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 4097).psh().payload("abc").win(0));
  // A probe-sized segment at RCV.NXT: not acceptable (window 0) but its ACK is processed.
  send(at(120ms), seg().seq(irs + 4097).ack(iss + 4).payload("z"));
  expect(at(120ms), seg().seq(iss + 4).ack(irs + 4097).win(0));
  BOOST_TEST(conn().tcb().snd_una == seq{iss + 4});
  BOOST_TEST(conn().available() == 4096u);
}

BOOST_FIXTURE_TEST_CASE(established_reading_reopens_a_closed_window_with_an_update, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(4096)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 4097).win(0));
  BOOST_TEST(user_receive(100) == pattern(100));
  expect_nothing(at(110ms));  // 100 bytes is less than an MSS: no update yet (SWS avoidance)
  BOOST_TEST(user_receive().size() == 3996u);
  expect(at(120ms), seg().seq(iss + 1).ack(irs + 4097).win(4096));
}

BOOST_FIXTURE_TEST_CASE(established_segment_without_ack_bit_is_dropped, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).payload("abc"));
  expect_nothing(at(100ms));
  BOOST_TEST(conn().available() == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_fin_after_a_gap_is_not_taken, established_fixture) {
  send(at(100ms), seg().seq(irs + 5).ack(iss + 1).fin());
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  expect_state(state::established);
}

BOOST_FIXTURE_TEST_CASE(established_fin_is_close_wait_with_eof, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("bye").fin());
  expect_event(event::kind::readable);
  expect_event(event::kind::eof);
  expect_state_change(state::established, state::close_wait);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 5));
  BOOST_TEST(user_receive() == "bye");
}

// --- sending -------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_send_emits_data_with_psh, established_fixture) {
  BOOST_TEST(user_send("abc") == 3u);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect_nothing(at(100ms));
  BOOST_TEST(conn().stats().bytes_sent == 3u);
  expect_deadline(at(300ms));  // RTO: 10 ms sample -> 200 ms floor
}

BOOST_FIXTURE_TEST_CASE(established_send_splits_by_mss_with_psh_on_the_last, established_fixture) {
  user_send(pattern(1200));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(536)));
  expect(at(100ms), seg().seq(iss + 537).ack(irs + 1).payload(pattern(536, 536)));
  expect(at(100ms), seg().seq(iss + 1073).ack(irs + 1).psh().payload(pattern(128, 1072)));
  expect_nothing(at(100ms));
}

BOOST_FIXTURE_TEST_CASE(established_send_respects_the_peer_window, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(1072));
  user_send(pattern(2000));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(536)));
  expect(at(100ms), seg().seq(iss + 537).ack(irs + 1).payload(pattern(536, 536)));
  expect_nothing(at(100ms));
  send(at(150ms), seg().seq(irs + 1).ack(iss + 1073).win(1000));
  expect(at(150ms), seg().seq(iss + 1073).ack(irs + 1).payload(pattern(536, 1072)));
  expect(at(150ms), seg().seq(iss + 1609).ack(irs + 1).psh().payload(pattern(392, 1608)));
}

BOOST_FIXTURE_TEST_CASE(established_send_buffer_is_bounded_and_writable_follows_an_ack, established_fixture) {
  BOOST_TEST(user_send(pattern(9000)) == 8192u);
  BOOST_TEST(conn().send_space() == 0u);
  expect_no_event();
  // The peer's window is 8192: everything goes out, then an ACK frees space.
  while (transmit(at(100ms))) {
  }
  send(at(150ms), seg().seq(irs + 1).ack(iss + 1 + 1000));
  expect_event(event::kind::writable);
  BOOST_TEST(conn().send_space() == 1000u);
}

BOOST_FIXTURE_TEST_CASE(established_full_ack_stops_the_retransmission_timer, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  send(at(150ms), seg().seq(irs + 1).ack(iss + 4));
  BOOST_TEST(conn().tcb().snd_una == seq{iss + 4});
  expect_deadline(std::nullopt);
  expect_nothing(at(1s));
}

BOOST_FIXTURE_TEST_CASE(established_partial_ack_restarts_the_retransmission_timer, established_fixture) {
  user_send(pattern(1000));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(536)));
  expect(at(100ms), seg().seq(iss + 537).ack(irs + 1).psh().payload(pattern(464, 536)));
  send(at(250ms), seg().seq(irs + 1).ack(iss + 537));
  expect_deadline(at(250ms + conn().rto()));
}

BOOST_FIXTURE_TEST_CASE(established_ack_gives_an_rtt_sample, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  send(at(150ms), seg().seq(irs + 1).ack(iss + 4));
  // SRTT = 7/8 * 10 ms + 1/8 * 50 ms
  BOOST_TEST((conn().srtt().value() == duration{15ms}));
}

BOOST_FIXTURE_TEST_CASE(established_ack_of_unsent_data_is_acked_and_dropped, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 100).payload("x"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().available() == 0u);  // the segment was dropped, text included
  BOOST_TEST(conn().tcb().snd_una == seq{iss + 1});
  BOOST_TEST(conn().stats().bad_acks == 1u);
}

BOOST_FIXTURE_TEST_CASE(established_ack_older_than_max_window_is_acked_and_dropped, established_fixture) {
  // RFC 5961 §5.2: SEG.ACK < SND.UNA - MAX.SND.WND (8192).
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1 - 9000).payload("x"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().available() == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_duplicate_ack_within_max_window_keeps_the_text, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss).payload("x"));  // old but acceptable ACK
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 2));
  BOOST_TEST(user_receive() == "x");
}

BOOST_FIXTURE_TEST_CASE(established_window_update_uses_wl1_wl2_rules, established_fixture) {
  user_send(pattern(10));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload(pattern(10)));
  send(at(110ms), seg().seq(irs + 1).ack(iss + 11).win(3000));
  BOOST_TEST(conn().tcb().snd_wnd == 3000u);
  BOOST_TEST(conn().tcb().snd_wl1 == seq{irs + 1});
  BOOST_TEST(conn().tcb().snd_wl2 == seq{iss + 11});
  // A reordered older ACK (SEG.ACK < SND.UNA) does not shrink the window back.
  send(at(120ms), seg().seq(irs + 1).ack(iss + 5).win(10));
  BOOST_TEST(conn().tcb().snd_wnd == 3000u);
  // A newer segment does update it.
  send(at(130ms), seg().seq(irs + 1).ack(iss + 11).win(5000).payload("q"));
  BOOST_TEST(conn().tcb().snd_wnd == 5000u);
}

// --- retransmission ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_rto_retransmits_with_backoff, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect_nothing(at(299ms));
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect_nothing(at(699ms));
  expect(at(700ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect_deadline(at(1500ms));
  BOOST_TEST(conn().stats().retransmits == 2u);
  BOOST_TEST(conn().stats().syn_retransmits == 0u);
  BOOST_TEST(conn().stats().bytes_sent == 3u);
}

BOOST_FIXTURE_TEST_CASE(established_rto_goes_back_n_from_snd_una_in_slow_start, established_fixture) {
  user_send(pattern(1000));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(536)));
  expect(at(100ms), seg().seq(iss + 537).ack(irs + 1).psh().payload(pattern(464, 536)));
  // The timeout collapses cwnd to one segment (RFC 5681 §3.1): only the first goes again.
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(536)));
  expect_nothing(at(300ms));
  BOOST_TEST(conn().congestion().cwnd == 536u);
  // Its ACK lets the next one go (go-back-N in slow start).
  send(at(310ms), seg().seq(irs + 1).ack(iss + 537));
  expect(at(310ms), seg().seq(iss + 537).ack(irs + 1).psh().payload(pattern(464, 536)));
  // An ACK for everything stops it.
  send(at(320ms), seg().seq(irs + 1).ack(iss + 1001));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(established_ack_of_retransmitted_data_takes_no_rtt_sample, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  send(at(310ms), seg().seq(irs + 1).ack(iss + 4));
  BOOST_TEST((conn().srtt().value() == duration{10ms}));  // Karn: unchanged
  BOOST_TEST((conn().rto() == duration{400ms}));          // backoff kept until a new sample
  user_send("d");
  expect(at(400ms), seg().seq(iss + 4).ack(irs + 1).psh().payload("d"));
  send(at(450ms), seg().seq(irs + 1).ack(iss + 5));
  BOOST_TEST((conn().srtt().value() == duration{15ms}));
  BOOST_TEST((conn().rto() == duration{200ms}));
}

BOOST_FIXTURE_TEST_CASE(established_retransmission_gives_up_after_data_retries_with_timed_out, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  unsigned resent = 0;
  while (conn().current_state() == state::established) {
    const auto d = conn().next_deadline();
    BOOST_REQUIRE(d);
    advance(*d);
    if (conn().poll_transmit(*d)) ++resent;
  }
  BOOST_TEST(resent == 15u);
  BOOST_TEST(conn().stats().retransmits == 15u);
  // 0.2 s doubling to 102.4 s, then 120 s caps: 924.6 s after the first send, as Linux.
  BOOST_TEST((conn().tcb().snd_una == seq{iss + 1}));
  expect_state_change(state::established, state::closed);
  expect_error_event(std::errc::timed_out);
  BOOST_TEST((conn().error() == std::errc::timed_out));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(established_give_up_happens_at_linux_time, established_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  std::optional<instant> last;
  while (auto d = conn().next_deadline()) {
    last = d;
    advance(*d);
    while (conn().poll_transmit(*d)) {
    }
  }
  BOOST_TEST((last.value() == at(100ms) + 924600ms));
}

// --- zero window ---------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_zero_window_arms_persist_and_probes, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(0));
  user_send("abc");
  expect_nothing(at(100ms));
  expect_deadline(at(300ms));
  // The probe: an old sequence number (SND.UNA - 1), no data, so the peer must answer.
  expect(at(300ms), seg().seq(iss).ack(irs + 1));
  expect_deadline(at(700ms));  // backed off
  expect(at(700ms), seg().seq(iss).ack(irs + 1));
  // The window opens: the data goes and the persist timer stops.
  send(at(710ms), seg().seq(irs + 1).ack(iss + 1).win(100));
  expect(at(710ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  expect_deadline(at(910ms));  // the retransmission timer now
}

// --- RST (RFC 5961 §3) ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_rst_exact_is_connection_reset, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).rst());
  expect_state_change(state::established, state::closed);
  expect_error_event(std::errc::connection_reset);
  expect_nothing(at(100ms));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(established_rst_in_window_but_not_exact_sends_challenge_ack, established_fixture) {
  send(at(100ms), seg().seq(irs + 100).rst());
  expect_state(state::established);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  expect_nothing(at(100ms));
  BOOST_TEST(conn().stats().challenge_acks == 1u);
  BOOST_TEST(conn().stats().rst_in_window == 1u);
  BOOST_TEST(conn().stats().rst_out_of_window == 0u);
  expect_no_event();
}

BOOST_FIXTURE_TEST_CASE(established_rst_outside_window_is_ignored, established_fixture) {
  send(at(100ms), seg().seq(irs + 100000).rst());
  send(at(100ms), seg().seq(irs).rst());  // just left of the window
  expect_state(state::established);
  expect_nothing(at(100ms));
  BOOST_TEST(conn().stats().challenge_acks == 0u);
  BOOST_TEST(conn().stats().rst_out_of_window == 2u);
  BOOST_TEST(conn().stats().rst_in_window == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_challenge_acks_are_rate_limited_per_second, established_fixture) {
  send(at(100ms), seg().seq(irs + 100).rst());
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  send(at(200ms), seg().seq(irs + 200).rst());
  send(at(300ms), seg().seq(irs + 1).syn());
  expect_nothing(at(1099ms));
  send(at(1100ms), seg().seq(irs + 300).rst());
  expect(at(1100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().stats().challenge_acks == 2u);
  BOOST_TEST(conn().stats().challenge_acks_limited == 2u);
  BOOST_TEST(conn().stats().rst_in_window == 3u);
  BOOST_TEST(conn().stats().syn_challenged == 1u);
}

BOOST_AUTO_TEST_CASE(established_challenge_ack_limit_zero_is_unlimited) {
  config c = test_config();
  c.challenge_ack_limit_per_s = 0;
  script s(c);
  s.open_established();
  for (int i = 0; i < 3; ++i) {
    s.send(at(100ms), seg().seq(s.irs + 50).rst());
    s.expect(at(100ms), seg().seq(s.iss + 1).ack(s.irs + 1));
  }
}

// --- SYN (RFC 5961 §4) ---------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_syn_in_window_sends_challenge_ack, established_fixture) {
  send(at(100ms), seg().seq(irs + 1).syn());
  expect_state(state::established);
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().stats().challenge_acks == 1u);
  BOOST_TEST(conn().stats().syn_challenged == 1u);
}

BOOST_FIXTURE_TEST_CASE(established_old_syn_is_acked_without_challenge, established_fixture) {
  send(at(100ms), seg().seq(irs).syn());  // a duplicate of the peer's SYN: outside the window
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().stats().challenge_acks == 0u);
  BOOST_TEST(conn().stats().out_of_window == 1u);
  expect_state(state::established);
}

BOOST_FIXTURE_TEST_CASE(established_syn_ack_repeated_gets_an_ack, established_fixture) {
  // Our ACK of the handshake was lost; the peer repeats its SYN-ACK.
  send(at(1s), seg().seq(irs).ack(iss + 1).syn());
  expect(at(1s), seg().seq(iss + 1).ack(irs + 1));
  expect_state(state::established);
}

// --- timestamps ----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_timestamps_are_echoed_from_ts_recent, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn().ts(777, 0));
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).ts(10, 777));
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).payload("a").ts(800, 10));
  expect(at(50ms), seg().seq(iss + 1).ack(irs + 2).ts(50, 800));
  // An older TSval does not move TS.Recent back (RFC 7323 §4.3); PAWS drops that segment.
  send(at(60ms), seg().seq(irs + 2).ack(iss + 1).payload("b").ts(700, 10));
  expect(at(60ms), seg().seq(iss + 1).ack(irs + 2).ts(60, 800));
  user_send("c");
  expect(at(70ms), seg().seq(iss + 1).ack(irs + 2).psh().payload("c").ts(70, 800));
}

// --- sequence space wrap-around ------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(established_near_wrap_moves_data_both_ways_across_zero, established_near_wrap_fixture) {
  BOOST_TEST(iss + 1 == 0xfffffffdu);
  user_send("abcdefgh");  // occupies 0xfffffffd .. 0x00000004
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abcdefgh"));
  send(at(150ms), seg().seq(irs + 1).ack(iss + 9).payload("0123456789"));  // 0xffffffff .. 8
  BOOST_TEST(conn().tcb().snd_una == seq{0x5});
  BOOST_TEST(conn().tcb().rcv_nxt == seq{0x9});
  expect(at(150ms), seg().seq(5).ack(9));
  expect_deadline(std::nullopt);
  BOOST_TEST(user_receive() == "0123456789");
  // Old duplicates from before the wrap are recognised as old.
  send(at(160ms), seg().seq(irs + 1).ack(iss + 9).payload("01"));
  expect(at(160ms), seg().seq(5).ack(9));
  BOOST_TEST(conn().available() == 0u);
  // And closing works across it too.
  conn().close();
  expect(at(170ms), seg().seq(5).ack(9).fin());
  send(at(180ms), seg().seq(9).ack(6).fin());
  expect_state(state::time_wait);
  expect(at(180ms), seg().seq(6).ack(10));
}

BOOST_AUTO_TEST_CASE(syn_sent_handshake_with_iss_at_the_top_of_the_space) {
  script s;
  s.iss = 0xffffffff;
  s.irs = 0xffffffff;
  s.open_established();  // SYN at 0xffffffff, SYN-ACK acking 0
  s.expect_state(state::established);
  BOOST_TEST(s.conn().tcb().snd_una == seq{0});
  BOOST_TEST(s.conn().tcb().rcv_nxt == seq{0});
  s.user_send("x");
  s.expect(at(100ms), seg().seq(0).ack(0).psh().payload("x"));
  s.expect(at(300ms), seg().seq(0).ack(0).psh().payload("x"));  // RTO works across the wrap
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(established_rtt)

// RFC 7323 §4.1: with timestamps, TSecr times even a retransmitted segment, so the backoff
// collapses after loss (Linux does the same).
BOOST_FIXTURE_TEST_CASE(established_timestamp_echo_gives_rtt_sample_after_retransmission, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn().ts(777, 0));  // TSecr 0: not usable
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).ts(10, 777));
  BOOST_TEST((conn().srtt().value() == duration{10ms}));  // timed SYN instead
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc").ts(100, 777));
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc").ts(300, 777));
  BOOST_TEST((conn().rto() == duration{400ms}));
  send(at(340ms), seg().seq(irs + 1).ack(iss + 4).ts(800, 300));  // echoes the retransmission
  BOOST_TEST((conn().srtt().value() == duration{13750us}));      // 7/8 * 10 + 1/8 * 40 ms
  BOOST_TEST((conn().rto() == duration{200ms}));                  // backoff collapsed
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(established_ack_loops)

BOOST_FIXTURE_TEST_CASE(established_empty_segment_at_the_right_window_edge_is_accepted, established_fixture) {
  // Linux tcp_sequence: an ACK from a peer whose SND.NXT reached our right edge counts.
  send(at(100ms), seg().seq(irs + 1 + 4096).ack(iss + 1).win(1234));
  expect_nothing(at(100ms));
  BOOST_TEST(conn().tcb().snd_wnd == 1234u);
}

BOOST_FIXTURE_TEST_CASE(established_acks_for_unacceptable_empty_segments_are_rate_limited, established_fixture) {
  send(at(100ms), seg().seq(irs + 1 + 5000).ack(iss + 1));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  send(at(200ms), seg().seq(irs + 1 + 5000).ack(iss + 1));
  expect_nothing(at(200ms));  // within 500 ms of the last such ACK
  send(at(600ms), seg().seq(irs + 1 + 5000).ack(iss + 1));
  expect(at(600ms), seg().seq(iss + 1).ack(irs + 1));
  // Segments with data are always answered.
  send(at(610ms), seg().seq(irs + 1 + 5000).ack(iss + 1).payload("x"));
  expect(at(610ms), seg().seq(iss + 1).ack(irs + 1));
}

BOOST_AUTO_TEST_SUITE_END()
