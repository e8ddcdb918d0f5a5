// The data path (issue 4 §1): reassembly, windows, delayed ACKs, Nagle, PAWS, SACK, loss recovery,
// congestion control, keepalive and the user timeout, each by scripted segments.
#include <cmath>

#include "synack/tcp/congestion_control.hpp"
#include "synack/tcp/range_set.hpp"
#include "tcp/script.hpp"

using namespace synack::tcp;
using namespace synack::tcp::test;

namespace {

std::string pattern(std::size_t n, std::size_t from = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (from + i) % 26);
  return s;
}

constexpr std::uint32_t smss = 536;  // the scripted peers send no MSS option

config with(void (*f)(config&)) {
  config c = test_config();
  f(c);
  return c;
}

// ESTABLISHED with SACK permitted (no timestamps, no scaling): segments of 536 bytes.
struct sack_fixture : script {
  explicit sack_fixture(config c = test_config()) : script(c) {
    open_syn_sent();
    send(at(10ms), seg().seq(irs).ack(iss + 1).syn().sack_perm());
    expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).no_options());
    drain_events();
  }
  std::uint32_t s(unsigned k) const { return iss + 1 + k * smss; }  // start of our k-th segment
};

struct newreno_fixture : script {
  newreno_fixture() : script(with([](config& c) { c.congestion_control = congestion_algorithm::newreno; })) {
    open_established();
  }
  std::uint32_t s(unsigned k) const { return iss + 1 + k * smss; }
};

// ESTABLISHED with RFC 7323 timestamps.
struct timestamps_fixture : script {
  timestamps_fixture() {
    open_syn_sent();
    send(at(10ms), seg().seq(irs).ack(iss + 1).syn().ts(777, 0));
    expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).ts(10, 777));
    drain_events();
  }
};

// ESTABLISHED where our windows are scaled by 7 (the peer offered scaling with shift 0).
struct scaled_fixture : script {
  scaled_fixture() {
    open_syn_sent();
    send(at(10ms), seg().seq(irs).ack(iss + 1).syn().wscale(0));
    expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(32));  // 4096 >> 7
    drain_events();
  }
};

struct delayed_ack_fixture : script {
  delayed_ack_fixture() : script(with([](config& c) { c.delayed_ack = 40ms; })) { open_established(); }
};

struct nagle_fixture : script {
  nagle_fixture() : script(with([](config& c) { c.nodelay = false; })) { open_established(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(reassembly_path)

BOOST_FIXTURE_TEST_CASE(established_out_of_order_segment_is_buffered_then_reassembled, established_fixture) {
  send(at(100ms), seg().seq(irs + 4).ack(iss + 1).payload("def"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));  // duplicate ACK at once
  BOOST_TEST(conn().available() == 0u);
  BOOST_TEST(conn().ooo_ranges() == 1u);
  expect_no_event();
  send(at(110ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 7).win(4096 - 6));
  expect_event(event::kind::readable);
  BOOST_TEST(conn().ooo_ranges() == 0u);
  BOOST_TEST(user_receive() == "abcdef");
  BOOST_TEST(conn().stats().ooo_segments == 1u);
  BOOST_TEST(conn().stats().bytes_received == 6u);
}

BOOST_FIXTURE_TEST_CASE(established_overlapping_out_of_order_segments_merge_and_trim, established_fixture) {
  send(at(100ms), seg().seq(irs + 4).ack(iss + 1).payload("de"));
  send(at(100ms), seg().seq(irs + 6).ack(iss + 1).payload("fgh"));
  send(at(100ms), seg().seq(irs + 3).ack(iss + 1).payload("cdef"));  // overlaps both
  send(at(100ms), seg().seq(irs + 9).ack(iss + 1).payload("ij"));
  BOOST_TEST(conn().ooo_ranges() == 1u);  // [3, 11) in one range
  while (transmit(at(100ms))) {
  }
  send(at(110ms), seg().seq(irs + 1).ack(iss + 1).payload("abcd"));  // overlaps the queue's head
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 11));
  BOOST_TEST(user_receive() == "abcdefghij");
}

BOOST_FIXTURE_TEST_CASE(established_duplicate_out_of_order_segment_is_acked_and_not_duplicated, established_fixture) {
  send(at(100ms), seg().seq(irs + 3).ack(iss + 1).payload("cd"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  send(at(110ms), seg().seq(irs + 3).ack(iss + 1).payload("cd"));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 1));
  send(at(120ms), seg().seq(irs + 1).ack(iss + 1).payload("ab"));
  expect(at(120ms), seg().seq(iss + 1).ack(irs + 5));
  BOOST_TEST(user_receive() == "abcd");
}

BOOST_FIXTURE_TEST_CASE(established_fin_ahead_of_a_gap_is_taken_when_the_gap_fills, established_fixture) {
  send(at(100ms), seg().seq(irs + 4).ack(iss + 1).payload("def").fin());
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  expect_state(state::established);
  send(at(110ms), seg().seq(irs + 1).ack(iss + 1).payload("abc"));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 8));  // data and FIN
  expect_state(state::close_wait);
  BOOST_TEST(user_receive() == "abcdef");
}

BOOST_FIXTURE_TEST_CASE(established_out_of_order_ranges_are_bounded, established_fixture) {
  // 40 one-byte segments, each behind its own gap: the queue keeps 32 ranges and drops the rest.
  for (std::uint32_t k = 0; k < 40; ++k) send(at(100ms), seg().seq(irs + 3 + 2 * k).ack(iss + 1).payload("x"));
  BOOST_TEST(conn().ooo_ranges() == reassembly::max_ranges);
  BOOST_TEST(conn().stats().ooo_segments == 32u);
  BOOST_TEST(conn().stats().ooo_dropped == 8u);
  // One that only grows an existing range is still taken.
  send(at(100ms), seg().seq(irs + 4).ack(iss + 1).payload("y"));
  BOOST_TEST(conn().stats().ooo_segments == 33u);
  BOOST_TEST(conn().ooo_ranges() == reassembly::max_ranges - 1);  // it joined two ranges
}

BOOST_FIXTURE_TEST_CASE(established_out_of_order_data_beyond_the_buffer_is_cut, established_fixture) {
  send(at(100ms), seg().seq(irs + 4001).ack(iss + 1).payload(pattern(200)));  // window 4096: 96 fit
  BOOST_TEST(conn().ooo_ranges() == 1u);
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(4000)));
  BOOST_TEST(conn().available() == 4096u);
  BOOST_TEST(conn().tcb().rcv_nxt == seq{irs + 4097});
}

BOOST_FIXTURE_TEST_CASE(established_sack_blocks_report_the_most_recent_range_first, sack_fixture) {
  send(at(100ms), seg().seq(irs + 11).ack(iss + 1).payload(pattern(10)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).sack(irs + 11, irs + 21));
  send(at(110ms), seg().seq(irs + 31).ack(iss + 1).payload(pattern(10)));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 1).sack(irs + 31, irs + 41).sack(irs + 11, irs + 21));
  send(at(120ms), seg().seq(irs + 21).ack(iss + 1).payload(pattern(5)));  // grows the first range
  expect(at(120ms), seg().seq(iss + 1).ack(irs + 1).sack(irs + 11, irs + 26).sack(irs + 31, irs + 41));
  send(at(130ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(10)));  // fills the first hole
  expect(at(130ms), seg().seq(iss + 1).ack(irs + 26).sack(irs + 31, irs + 41));
}

BOOST_FIXTURE_TEST_CASE(established_sack_blocks_shorten_data_segments, sack_fixture) {
  send(at(100ms), seg().seq(irs + 11).ack(iss + 1).payload(pattern(10)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).sack(irs + 11, irs + 21));
  user_send(pattern(1000));
  // 536 less 12 bytes for one SACK block (2 NOPs, kind, length, 8).
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(524)).sack(irs + 11, irs + 21));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(windows)

BOOST_FIXTURE_TEST_CASE(established_scaled_window_never_moves_the_right_edge_left, scaled_fixture) {
  // 1000 bytes in: 3096 free, 3072 in units of 128. The right edge stays where it was (or
  // further): what is left of the window is rounded up, 25 units = 3200 bytes.
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(1000)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1001).win(25));
  send(at(110ms), seg().seq(irs + 1001).ack(iss + 1).payload(pattern(100)));
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 1101).win(25));  // edge 1101 + 3200 >= 1001 + 3200
  BOOST_TEST(conn().tcb().rcv_wnd == 3200u);
  // Reading everything could move the edge by only 896 bytes: less than an MSS, so no update
  // (receiver SWS avoidance).
  BOOST_TEST(user_receive().size() == 1100u);
  expect_nothing(at(120ms));
}

BOOST_FIXTURE_TEST_CASE(established_peer_window_is_scaled_by_its_shift, syn_sent_fixture) {
  send(at(10ms), seg().seq(irs).ack(iss + 1).syn().wscale(3).win(1000));
  expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(32));
  BOOST_TEST(conn().tcb().snd_wnd == 1000u);  // unscaled in the SYN-ACK
  send(at(20ms), seg().seq(irs + 1).ack(iss + 1).win(1000));
  BOOST_TEST(conn().tcb().snd_wnd == 8000u);
}

BOOST_FIXTURE_TEST_CASE(established_small_window_waits_for_the_persist_override, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(100));
  user_send(pattern(1000));
  expect_nothing(at(100ms));  // 100 < min(MSS, half of 8192): sender SWS avoidance
  expect_deadline(at(300ms));
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(100)));
  expect_nothing(at(300ms));
}

BOOST_FIXTURE_TEST_CASE(established_zero_window_probes_back_off_and_give_up_unanswered, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(0));
  user_send("abc");
  expect_nothing(at(60ms));
  unsigned probes = 0;
  duration last_gap{};
  instant last = at(50ms);
  while (conn().current_state() == state::established) {
    const auto d = conn().next_deadline();
    BOOST_REQUIRE(d);
    advance(*d);
    if (const auto s = conn().poll_transmit(*d)) {
      BOOST_TEST(s->seq_num == seq{iss});  // SND.UNA - 1, no data
      BOOST_TEST(s->payload.empty());
      BOOST_TEST((*d - last >= last_gap));  // backed off (up to the 120 s cap)
      last_gap = *d - last;
      last = *d;
      ++probes;
    }
  }
  BOOST_TEST(probes == 15u);  // data_retries, as Linux's tcp_retries2
  BOOST_TEST(conn().stats().zero_window_probes == 15u);
  BOOST_TEST((conn().error() == std::errc::timed_out));
}

BOOST_FIXTURE_TEST_CASE(established_zero_window_probes_answered_go_on, established_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(0));
  user_send("abc");
  expect_nothing(at(60ms));
  instant t{};
  for (int i = 0; i < 30; ++i) {
    const auto d = conn().next_deadline();
    BOOST_REQUIRE(d);
    advance(*d);
    const auto s = conn().poll_transmit(*d);
    BOOST_REQUIRE(s);
    t = *d + 1ms;
    send(t, seg().seq(irs + 1).ack(iss + 1).win(0));  // the peer answers: still closed
  }
  expect_state(state::established);
  send(t + 1ms, seg().seq(irs + 1).ack(iss + 1).win(100));
  expect(t + 1ms, seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(delayed_ack)

BOOST_FIXTURE_TEST_CASE(established_single_segment_ack_waits_for_the_timer, delayed_ack_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("a"));
  expect_nothing(at(100ms));
  expect_deadline(at(140ms));
  expect(at(140ms), seg().seq(iss + 1).ack(irs + 2));
  BOOST_TEST(conn().stats().delayed_acks == 1u);
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(established_second_full_segment_is_acked_at_once, delayed_ack_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(536)));
  expect_nothing(at(100ms));
  send(at(101ms), seg().seq(irs + 537).ack(iss + 1).payload(pattern(536, 536)));
  expect(at(101ms), seg().seq(iss + 1).ack(irs + 1073));
  expect_deadline(std::nullopt);
}

BOOST_FIXTURE_TEST_CASE(established_out_of_order_segment_is_acked_at_once_with_delayed_acks, delayed_ack_fixture) {
  send(at(100ms), seg().seq(irs + 5).ack(iss + 1).payload("e"));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  send(at(110ms), seg().seq(irs + 1).ack(iss + 1).payload("abcd"));  // fills the hole: at once too
  expect(at(110ms), seg().seq(iss + 1).ack(irs + 6));
}

BOOST_FIXTURE_TEST_CASE(established_delayed_ack_rides_on_data, delayed_ack_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload("q"));
  user_send("r");
  expect(at(105ms), seg().seq(iss + 1).ack(irs + 2).psh().payload("r"));
  expect_deadline(at(305ms));  // only the retransmission timer remains
}

BOOST_AUTO_TEST_CASE(syn_sent_handshake_ack_is_never_delayed) {
  script s(with([](config& c) { c.delayed_ack = 40ms; }));
  s.open_established();  // its expect() at 10 ms is the immediate ACK
  s.expect_state(state::established);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(nagle)

BOOST_FIXTURE_TEST_CASE(established_nagle_holds_a_small_segment_while_data_is_unacked, nagle_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  user_send("def");
  expect_nothing(at(100ms));
  send(at(150ms), seg().seq(irs + 1).ack(iss + 4));
  expect(at(150ms), seg().seq(iss + 4).ack(irs + 1).psh().payload("def"));
}

BOOST_FIXTURE_TEST_CASE(established_nagle_lets_full_segments_go, nagle_fixture) {
  user_send("a");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("a"));
  user_send(pattern(600));
  expect(at(100ms), seg().seq(iss + 2).ack(irs + 1).payload(pattern(536)));
  expect_nothing(at(100ms));  // the 64-byte rest waits
}

BOOST_FIXTURE_TEST_CASE(established_set_nodelay_releases_held_data, nagle_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  user_send("def");
  expect_nothing(at(100ms));
  conn().set_nodelay(true);
  expect(at(100ms), seg().seq(iss + 4).ack(irs + 1).psh().payload("def"));
}

BOOST_FIXTURE_TEST_CASE(established_close_pushes_data_nagle_held, nagle_fixture) {
  user_send("abc");
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1).psh().payload("abc"));
  user_send("def");
  conn().close();
  expect(at(100ms), seg().seq(iss + 4).ack(irs + 1).psh().fin().payload("def"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(paws)

BOOST_FIXTURE_TEST_CASE(established_segment_with_an_older_timestamp_is_dropped_by_paws, timestamps_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).payload("a").ts(800, 10));
  expect(at(50ms), seg().seq(iss + 1).ack(irs + 2).ts(50, 800));
  send(at(60ms), seg().seq(irs + 2).ack(iss + 1).payload("b").ts(799, 10));
  expect(at(60ms), seg().seq(iss + 1).ack(irs + 2).ts(60, 800));  // ACK, data not taken
  BOOST_TEST(conn().available() == 1u);
  BOOST_TEST(conn().stats().paws_rejected == 1u);
  send(at(70ms), seg().seq(irs + 2).ack(iss + 1).payload("b").ts(801, 10));
  expect(at(70ms), seg().seq(iss + 1).ack(irs + 3).ts(70, 801));
}

BOOST_FIXTURE_TEST_CASE(established_rst_with_an_older_timestamp_is_not_subject_to_paws, timestamps_fixture) {
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).payload("a").ts(800, 10));
  send(at(60ms), seg().seq(irs + 2).rst().ts(1, 0));
  expect_state(state::closed);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loss_recovery)

BOOST_FIXTURE_TEST_CASE(established_initial_window_is_ten_segments, established_fixture) {
  user_send(pattern(20 * smss));
  unsigned sent = 0;
  while (transmit(at(100ms))) ++sent;
  BOOST_TEST(sent == 10u);
  BOOST_TEST(conn().congestion().cwnd == 10 * smss);
  BOOST_TEST(conn().congestion().in_flight == 10 * smss);
}

BOOST_FIXTURE_TEST_CASE(established_slow_start_grows_cwnd_by_at_most_two_segments_per_ack, established_fixture) {
  user_send(pattern(20 * smss));
  while (transmit(at(100ms))) {
  }
  send(at(150ms), seg().seq(irs + 1).ack(iss + 1 + 4 * smss));  // one ACK for four segments
  BOOST_TEST(conn().congestion().cwnd == 12 * smss);             // RFC 3465 L = 2
  send(at(151ms), seg().seq(irs + 1).ack(iss + 1 + 5 * smss));
  BOOST_TEST(conn().congestion().cwnd == 13 * smss);
}

BOOST_FIXTURE_TEST_CASE(established_three_duplicate_acks_trigger_fast_retransmit, newreno_fixture) {
  user_send(pattern(6 * smss));
  while (transmit(at(100ms))) {
  }
  send(at(150ms), seg().seq(irs + 1).ack(s(0)));
  send(at(151ms), seg().seq(irs + 1).ack(s(0)));
  expect_nothing(at(151ms));
  send(at(152ms), seg().seq(irs + 1).ack(s(0)));
  expect(at(152ms), seg().seq(s(0)).ack(irs + 1).payload(pattern(smss)));  // before the RTO
  BOOST_TEST(conn().stats().fast_retransmits == 1u);
  BOOST_TEST(conn().congestion().in_recovery);
  // ssthresh = max(FlightSize / 2, 2 SMSS) = 3 SMSS; cwnd = ssthresh + 3 SMSS.
  BOOST_TEST(conn().congestion().ssthresh == 3 * smss);
  BOOST_TEST(conn().congestion().cwnd == 6 * smss);
  send(at(153ms), seg().seq(irs + 1).ack(s(0)));  // a fourth inflates it
  BOOST_TEST(conn().congestion().cwnd == 7 * smss);
}

BOOST_FIXTURE_TEST_CASE(established_newreno_partial_ack_resends_the_next_hole, newreno_fixture) {
  user_send(pattern(6 * smss));
  while (transmit(at(100ms))) {
  }
  for (int i = 0; i < 3; ++i) send(at(150ms), seg().seq(irs + 1).ack(s(0)));
  expect(at(150ms), seg().seq(s(0)).ack(irs + 1).payload(pattern(smss)));
  // Segments 0 and 1 arrive, 2 was lost too: a partial ACK resends it at once and deflates cwnd
  // by the 2 SMSS acknowledged, adding one back (RFC 6582 §3.2 step 5).
  send(at(200ms), seg().seq(irs + 1).ack(s(2)));
  expect(at(200ms), seg().seq(s(2)).ack(irs + 1).payload(pattern(smss, 2 * smss)));
  BOOST_TEST(conn().congestion().cwnd == 5 * smss);
  BOOST_TEST(conn().congestion().in_recovery);
  // The full ACK ends recovery: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
  send(at(250ms), seg().seq(irs + 1).ack(s(6)));
  BOOST_TEST(!conn().congestion().in_recovery);
  BOOST_TEST(conn().congestion().cwnd == 2 * smss);
  BOOST_TEST(conn().stats().fast_retransmits == 1u);
}

BOOST_FIXTURE_TEST_CASE(established_sack_scoreboard_resends_each_lost_hole, sack_fixture) {
  user_send(pattern(6 * smss));
  while (transmit(at(100ms))) {
  }
  // Segments 0 and 2 are lost; 1, 3, 4, 5 arrive and are SACKed.
  send(at(150ms), seg().seq(irs + 1).ack(s(0)).sack(s(1), s(2)));
  send(at(151ms), seg().seq(irs + 1).ack(s(0)).sack(s(3), s(4)).sack(s(1), s(2)));
  expect_nothing(at(151ms));
  // Three segments SACKed above segment 0: it is lost (RFC 6675 IsLost); recovery resends it.
  send(at(152ms), seg().seq(irs + 1).ack(s(0)).sack(s(3), s(5)).sack(s(1), s(2)));
  expect(at(152ms), seg().seq(s(0)).ack(irs + 1).payload(pattern(smss)));
  expect_nothing(at(152ms));  // segment 2 has only 2 SACKed above it so far
  BOOST_TEST(conn().congestion().in_recovery);
  BOOST_TEST(conn().congestion().sacked == 3 * smss);
  send(at(153ms), seg().seq(irs + 1).ack(s(0)).sack(s(3), s(6)).sack(s(1), s(2)));
  expect(at(153ms), seg().seq(s(2)).ack(irs + 1).payload(pattern(smss, 2 * smss)));
  expect_nothing(at(153ms));
  send(at(200ms), seg().seq(irs + 1).ack(s(6)));
  BOOST_TEST(!conn().congestion().in_recovery);
  BOOST_TEST(conn().stats().recovery_retransmits == 2u);
  BOOST_TEST(conn().stats().rto_expirations == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_sack_recovery_sends_new_data_as_pipe_allows, sack_fixture) {
  user_send(pattern(10 * smss));
  while (transmit(at(100ms))) {
  }
  user_send(pattern(4 * smss, 10 * smss));
  // Segment 0 lost, 1..4 SACKed: recovery with cwnd = ssthresh = 0.7 * 10 SMSS (CUBIC).
  send(at(150ms), seg().seq(irs + 1).ack(s(0)).sack(s(1), s(5)));
  BOOST_TEST(conn().congestion().cwnd == 3752u);
  expect(at(150ms), seg().seq(s(0)).ack(irs + 1).payload(pattern(smss)));
  // pipe: 5 unSACKed not lost (5..9) + 1 resent = 6 SMSS = 3216; cwnd - pipe = 1 SMSS: one new.
  BOOST_TEST(conn().congestion().in_flight == 6 * smss);
  expect(at(150ms), seg().seq(s(10)).ack(irs + 1).payload(pattern(smss, 10 * smss)));
  expect_nothing(at(150ms));
  BOOST_TEST(conn().congestion().in_flight == 7 * smss);
  // Segments 5 and 6 arrive: pipe drops by two, two new segments fit.
  send(at(160ms), seg().seq(irs + 1).ack(s(0)).sack(s(1), s(7)));
  expect(at(160ms), seg().seq(s(11)).ack(irs + 1).payload(pattern(smss, 11 * smss)));
  expect(at(160ms), seg().seq(s(12)).ack(irs + 1).payload(pattern(smss, 12 * smss)));
  expect_nothing(at(160ms));
}

BOOST_FIXTURE_TEST_CASE(established_rto_collapses_cwnd_to_the_loss_window, established_fixture) {
  user_send(pattern(10 * smss));
  while (transmit(at(100ms))) {
  }
  expect(at(300ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(smss)));
  expect_nothing(at(300ms));
  BOOST_TEST(conn().congestion().cwnd == smss);
  BOOST_TEST(conn().congestion().ssthresh == 3752u);  // CUBIC: 0.7 * 10 SMSS
  // A second expiry for the same data does not lower ssthresh again (RFC 5681 §3.1).
  expect(at(700ms), seg().seq(iss + 1).ack(irs + 1).payload(pattern(smss)));
  BOOST_TEST(conn().congestion().ssthresh == 3752u);
  // Duplicate ACKs for data sent before the timeout start no fast retransmit (RFC 6582 §4).
  for (int i = 0; i < 3; ++i) send(at(710ms), seg().seq(irs + 1).ack(iss + 1));
  BOOST_TEST(!conn().congestion().in_recovery);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(congestion_control_math)

BOOST_AUTO_TEST_CASE(newreno_congestion_avoidance_adds_one_segment_per_window) {
  congestion_control cc;
  cc.reset(congestion_algorithm::newreno, 1000, 10);
  cc.on_congestion_event(20000);  // ssthresh = 10000
  cc.set_cwnd(10000);
  BOOST_TEST(!cc.in_slow_start());
  for (int i = 0; i < 9; ++i) cc.on_ack(1000, instant{}, 10ms);
  BOOST_TEST(cc.cwnd() == 10000u);
  cc.on_ack(1000, instant{}, 10ms);  // a full window of bytes acknowledged
  BOOST_TEST(cc.cwnd() == 11000u);
}

BOOST_AUTO_TEST_CASE(slow_start_stops_at_ssthresh) {
  congestion_control cc;
  cc.reset(congestion_algorithm::newreno, 1000, 10);
  cc.on_congestion_event(25000);  // ssthresh 12500
  cc.set_cwnd(12000);
  cc.on_ack(2000, instant{}, 10ms);
  BOOST_TEST(cc.cwnd() == 12500u);
}

BOOST_AUTO_TEST_CASE(rto_sets_the_loss_window_and_ssthresh_once) {
  congestion_control cc;
  cc.reset(congestion_algorithm::newreno, 1000, 10);
  cc.on_rto(10000, true);
  BOOST_TEST(cc.cwnd() == 1000u);
  BOOST_TEST(cc.ssthresh() == 5000u);
  cc.on_rto(1000, false);
  BOOST_TEST(cc.ssthresh() == 5000u);
}

BOOST_AUTO_TEST_CASE(cubic_window_function_spot_checks) {
  congestion_control cc;
  cc.reset(congestion_algorithm::cubic, 1000, 100);  // cwnd 100 segments
  BOOST_TEST(cc.on_congestion_event(100000) == 70000u);  // beta_cubic 0.7
  cc.set_cwnd(70000);
  const instant t0{std::chrono::seconds{10}};
  cc.on_ack(1000, t0, 100ms);  // starts the epoch
  const cubic* c = cc.cubic_state();
  BOOST_REQUIRE(c);
  BOOST_TEST(c->w_max() == 100.0);
  BOOST_TEST(std::abs(c->k() - std::cbrt(75.0)) < 1e-9);  // K = cbrt(W_max (1 - beta) / C)
  BOOST_TEST(std::abs(c->window_at(0) - 70.0) < 1e-9);
  BOOST_TEST(std::abs(c->window_at(c->k()) - 100.0) < 1e-9);
  BOOST_TEST(std::abs(c->window_at(c->k() + 1) - 100.4) < 1e-9);  // C * 1^3 past the plateau
  // Fed one window of ACKs per 100 ms RTT, cwnd reaches the plateau about K seconds later.
  instant t = t0;
  while (t - t0 < std::chrono::duration_cast<duration>(std::chrono::duration<double>(c->k()))) {
    t += 100ms;
    const std::uint32_t segments = cc.cwnd() / 1000;
    for (std::uint32_t i = 0; i < segments; ++i) cc.on_ack(1000, t, 100ms);
  }
  BOOST_TEST(cc.cwnd() >= 97000u);
  BOOST_TEST(cc.cwnd() <= 104000u);
}

BOOST_AUTO_TEST_CASE(cubic_fast_convergence_lowers_w_max) {
  congestion_control cc;
  cc.reset(congestion_algorithm::cubic, 1000, 100);
  cc.on_congestion_event(100000);
  cc.set_cwnd(90000);  // the next loss comes below the last W_max
  cc.on_congestion_event(90000);
  BOOST_TEST(std::abs(cc.cubic_state()->w_max() - 90 * 1.7 / 2) < 1e-9);
}

BOOST_AUTO_TEST_CASE(range_set_merges_and_trims) {
  range_set r(4);
  BOOST_TEST(r.insert(seq{10}, seq{20}) == 10u);
  BOOST_TEST(r.insert(seq{30}, seq{40}) == 10u);
  BOOST_TEST(r.insert(seq{15}, seq{35}) == 10u);  // bridges both
  BOOST_TEST(r.size() == 1u);
  BOOST_TEST(r.insert(seq{40}, seq{45}) == 5u);   // touches: merged
  BOOST_TEST(r.size() == 1u);
  r.erase_below(seq{12});
  BOOST_TEST(r[0].begin == seq{12});
  BOOST_TEST(r.covered(seq{0}, seq{100}) == 33u);
  for (std::uint32_t k = 0; k < 3; ++k) r.insert(seq{100 + 10 * k}, seq{105 + 10 * k});
  BOOST_TEST(r.full());
  BOOST_TEST(r.insert(seq{200}, seq{210}) == 0u);  // no slot left
  BOOST_TEST(r.insert(seq{0xfffffff0}, seq{5}) == 0u);  // also none (and across the wrap)
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(liveness)

BOOST_AUTO_TEST_CASE(established_keepalive_probes_then_times_out_with_rst) {
  script s(with([](config& c) { c.keepalive = {true, 10s, 1s, 3}; }));
  s.open_established();  // last heard from the peer at 10 ms
  s.expect_deadline(at(10010ms));
  for (int i = 0; i < 3; ++i) s.expect(at(10010ms + i * 1s), seg().seq(s.iss).ack(s.irs + 1));
  BOOST_TEST(s.conn().stats().keepalive_probes == 3u);
  s.expect(at(13010ms), seg().seq(s.iss + 1).ack(s.irs + 1).rst());
  s.expect_state_change(state::established, state::closed);
  s.expect_error_event(std::errc::timed_out);
}

BOOST_AUTO_TEST_CASE(established_keepalive_answer_restarts_the_idle_time) {
  script s(with([](config& c) { c.keepalive = {true, 10s, 1s, 3}; }));
  s.open_established();
  s.expect(at(10010ms), seg().seq(s.iss).ack(s.irs + 1));
  s.send(at(10020ms), seg().seq(s.irs + 1).ack(s.iss + 1));
  s.expect_deadline(at(20020ms));
  s.expect_nothing(at(20019ms));
  s.expect(at(20020ms), seg().seq(s.iss).ack(s.irs + 1));
}

BOOST_FIXTURE_TEST_CASE(established_set_keepalive_turns_it_on, established_fixture) {
  expect_deadline(std::nullopt);  // off by default, as for a kernel socket
  conn().set_keepalive({true, 7200s, 75s, 9});
  expect_deadline(at(10ms + 7200s));
}

BOOST_AUTO_TEST_CASE(established_user_timeout_ends_retransmission_with_timed_out) {
  script s(with([](config& c) { c.user_timeout = 1s; }));
  s.open_established();
  s.user_send("abc");
  s.expect(at(100ms), seg().seq(s.iss + 1).ack(s.irs + 1).psh().payload("abc"));
  s.expect(at(300ms), seg().seq(s.iss + 1).ack(s.irs + 1).psh().payload("abc"));
  s.expect(at(700ms), seg().seq(s.iss + 1).ack(s.irs + 1).psh().payload("abc"));
  s.expect_deadline(at(1100ms));  // the RTO would be 1500 ms: cut to the user timeout
  s.advance(at(1100ms));
  s.expect_state(state::closed);
  s.find_event(event::kind::error);
  BOOST_TEST((s.conn().error() == std::errc::timed_out));
}

BOOST_FIXTURE_TEST_CASE(established_set_user_timeout_applies_to_a_closed_window, established_fixture) {
  conn().set_user_timeout(2s);
  send(at(50ms), seg().seq(irs + 1).ack(iss + 1).win(0));
  user_send("abc");
  expect_nothing(at(60ms));
  while (conn().current_state() == state::established) {
    const auto d = conn().next_deadline();
    BOOST_REQUIRE(d);
    advance(*d);
    if (conn().poll_transmit(*d)) send(*d + 1ms, seg().seq(irs + 1).ack(iss + 1).win(0));  // answered
    BOOST_REQUIRE((*d < at(10s)));
  }
  BOOST_TEST((conn().error() == std::errc::timed_out));
}

BOOST_FIXTURE_TEST_CASE(established_set_congestion_control_switches_algorithm, established_fixture) {
  BOOST_TEST((conn().congestion().algorithm == congestion_algorithm::cubic));  // Linux's default
  conn().set_congestion_control(congestion_algorithm::newreno);
  BOOST_TEST((conn().congestion().algorithm == congestion_algorithm::newreno));
  BOOST_TEST(conn().congestion().cwnd == 10 * smss);  // the window is kept
}

BOOST_AUTO_TEST_SUITE_END()

// A peer behind GRO/TSO (a veth, a NIC with LRO) hands over one coalesced segment of up to 64 KiB
// where the MSS is 1460 (issue 8: "a peer that sends a 64 KiB coalesced frame"): taken whole, in
// order or out of order, and ACKed at once (it is more than one full-sized segment).
namespace {
struct coalesced_fixture : script {
  static constexpr std::size_t buffer = 256 * 1024;
  coalesced_fixture()
      : script(with([](config& c) {
          c.recv_buffer = c.recv_buffer_initial = buffer;  // fixed (no autotuning)
          c.delayed_ack = 40ms;
        })) {
    conn().connect(at(0ms), seq{iss});
    expect(at(0ms), seg().seq(iss).syn().win(0xffff).mss(1460).wscale(7).sack_perm().ts(0, 0));
    send(at(10ms), seg().seq(irs).ack(iss + 1).syn().mss(1460).wscale(0).sack_perm());
    expect(at(10ms), seg().seq(iss + 1).ack(irs + 1).win(buffer >> 7).no_options());
    drain_events();
  }
  static constexpr std::size_t big = 45 * 1448;  // 65160: what a veth's GRO/TSO frame carries
  // The window field after `held` bytes are buffered (unread): the free space, rounded up to 2^7.
  static std::uint16_t window_after(std::size_t held) {
    return static_cast<std::uint16_t>((buffer - held + 127) >> 7);
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(coalesced_segments)

BOOST_FIXTURE_TEST_CASE(established_64k_in_order_segment_is_taken_whole_and_acked_at_once, coalesced_fixture) {
  send(at(100ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(big)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1 + big).win(window_after(big)));  // not delayed
  expect_event(event::kind::readable);
  BOOST_TEST(conn().available() == big);
  BOOST_TEST(user_receive(big) == pattern(big));
  send(at(101ms), seg().seq(irs + 1 + big).ack(iss + 1).payload(pattern(big, big)));
  expect(at(101ms), seg().seq(iss + 1).ack(irs + 1 + 2 * big));
  BOOST_TEST(user_receive(big) == pattern(big, big));
  BOOST_TEST(conn().stats().bytes_received == 2 * big);
  BOOST_TEST(conn().stats().bytes_beyond_window == 0u);
  BOOST_TEST(conn().stats().out_of_window == 0u);
  BOOST_TEST(conn().stats().delayed_acks == 0u);
}

BOOST_FIXTURE_TEST_CASE(established_64k_segments_out_of_order_are_reassembled, coalesced_fixture) {
  // The second coalesced segment first: a duplicate ACK at once, the data held.
  send(at(100ms), seg().seq(irs + 1 + big).ack(iss + 1).payload(pattern(big, big)));
  expect(at(100ms), seg().seq(iss + 1).ack(irs + 1));
  BOOST_TEST(conn().available() == 0u);
  BOOST_TEST(conn().ooo_ranges() == 1u);
  // The first fills the gap: both are readable, ACKed at once.
  send(at(101ms), seg().seq(irs + 1).ack(iss + 1).payload(pattern(big)));
  expect(at(101ms), seg().seq(iss + 1).ack(irs + 1 + 2 * big).win(window_after(2 * big)));
  BOOST_TEST(conn().ooo_ranges() == 0u);
  BOOST_TEST(user_receive(2 * big) == pattern(2 * big));
  BOOST_TEST(conn().stats().ooo_segments == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
