// Segment arrival, RFC 9293 §3.10.7, one function per state group and one helper per step.
#include <algorithm>

#include "synack/tcp/connection.hpp"

namespace synack::tcp {

namespace {
constexpr std::uint16_t default_peer_mss = 536;  // RFC 9293 §3.7.1 (IPv4)
constexpr std::uint8_t max_window_shift = 14;    // RFC 7323 §2.3
// RFC 7323 §5.5: a TS.Recent idle this long can no longer judge anything.
constexpr duration paws_idle_limit = std::chrono::hours{24 * 24};

// The states in which data flows and the congestion machinery runs.
bool data_phase(state s) {
  return s != state::closed && s != state::listen && s != state::syn_sent && s != state::syn_received;
}
}  // namespace

void connection::on_segment(instant now, const segment& seg) {
  switch (state_) {
    case state::closed: arrive_closed(seg); break;
    case state::listen: arrive_listen(now, seg); break;
    case state::syn_sent: arrive_syn_sent(now, seg); break;
    default: arrive_synchronized(now, seg); break;
  }
  update_persist_timer(now);
}

// §3.10.7.1: CLOSED. Anything but a RST gets a RST.
void connection::arrive_closed(const segment& seg) {
  // An abort's RST still waiting to go out is not replaced by a reply.
  if (!seg.rst && !rst_pending_) queue_rst_reply(seg);
}

// §3.10.7.2: LISTEN.
void connection::arrive_listen(instant now, const segment& seg) {
  if (seg.rst) return;  // first: a RST is ignored
  if (seg.ack_num) {    // second: nothing can be acknowledged yet
    queue_rst_reply(seg);
    return;
  }
  if (!seg.syn) return;  // fourth: anything else is dropped
  // third: a SYN. Data in it is not taken (no TFO); we ACK only the SYN and the peer resends.
  passive_ = true;
  tcb_.iss = tcb_.snd_una = tcb_.snd_nxt = snd_max_ = isns_->generate(tuple_, now);
  take_peer_syn(now, seg);
  set_state(state::syn_received);  // the SYN-ACK comes out of poll_transmit
}

// §3.10.7.3: SYN_SENT.
inline void connection::arrive_syn_sent(instant now, const segment& seg) {
  // first: the ACK must be for our SYN exactly (SND.UNA = ISS, SND.NXT = ISS+1).
  if (seg.ack_num && *seg.ack_num != tcb_.iss + 1) {
    if (!seg.rst) queue_rst_reply(seg);  // <SEQ=SEG.ACK><CTL=RST>
    return;
  }
  // second: a RST counts only with an acceptable ACK (RFC 5961 §3 keeps this rule).
  if (seg.rst) {
    if (seg.ack_num) fail(std::errc::connection_refused);
    return;
  }
  // third: security/compartment, not implemented (like Linux).
  // fourth: the SYN. Data or FIN in it is not taken; our ACK covers the SYN only.
  if (!seg.syn) return;
  take_peer_syn(now, seg);
  if (!seg.ack_num) {
    // Simultaneous open: SYN_RCVD, and our SYN goes out again as a SYN-ACK with the same ISS.
    // It is an answer, not a retransmission: snd_max_ rewinds too, and Karn forbids timing it.
    tcb_.snd_nxt = snd_max_ = tcb_.iss;
    rtt_timing_ = false;
    retries_ = 0;
    set_state(state::syn_received);
    return;
  }
  tcb_.snd_wl2 = *seg.ack_num;
  acknowledge_new_data(now, *seg.ack_num, echoed_timestamp(seg));
  enter_established(now);
  ack_owed_ = true;  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, at once (never delayed)
}

// The peer's SYN: its ISN and what its options settle (RFC 7323, RFC 2018, RFC 9293 §3.7.1).
inline void connection::take_peer_syn(instant now, const segment& seg) {
  tcb_.irs = seg.seq_num;
  tcb_.rcv_nxt = seg.seq_num + 1;
  const auto& o = seg.options;
  // Linux TCP_MIN_SND_MSS (48) as the floor against absurd peer values.
  opts_.peer_mss = std::max<std::uint16_t>(o.mss.value_or(default_peer_mss), 48);
  // Window scaling only if both sides sent the option (in SYN_SENT we sent ours iff configured).
  opts_.window_scaling = cfg_.window_scale.has_value() && o.window_scale.has_value();
  opts_.snd_wscale = opts_.window_scaling ? std::min(*o.window_scale, max_window_shift) : 0;
  opts_.rcv_wscale = opts_.window_scaling ? *cfg_.window_scale : 0;
  opts_.timestamps = cfg_.timestamps && o.timestamps.has_value();
  if (opts_.timestamps) {
    ts_recent_ = o.timestamps->tsval;
    ts_recent_at_ = now;
  }
  opts_.sack_permitted = cfg_.sack_permitted && o.sack_permitted;
  // The window in a SYN is never scaled (RFC 7323 §2.2).
  tcb_.snd_wnd = seg.window;
  max_snd_wnd_ = tcb_.snd_wnd;
  tcb_.snd_wl1 = seg.seq_num;
  // Our SYN (or the SYN-ACK about to go) offers the unscaled window: the first right edge.
  rcv_adv_ = tcb_.rcv_nxt + std::uint32_t{syn_window()};
  rcv_mss_ = std::min<std::uint32_t>(536, cfg_.mss);
  update_rcv_wnd();
}

// §3.10.7.4: the synchronized states, step by step.
inline void connection::arrive_synchronized(instant now, const segment& arriving) {
  if (state_ == state::time_wait && time_wait_fin_retransmitted(now, arriving)) return;
  if (state_ == state::syn_received && arriving.syn) {
    segment seg = arriving;  // a simultaneous open's SYN-ACK is rewritten: a copy, only then
    if (syn_received_duplicate_syn(seg)) return;
    process_synchronized(now, seg);
    return;
  }
  process_synchronized(now, arriving);
}

// The steps from PAWS on, for a segment the two special cases above did not take.
void connection::process_synchronized(instant now, const segment& seg) {
  // Deviation: FIN_WAIT_2's timeout is an idle timeout here, restarted by any segment from the
  // peer (a retransmission we already have included: the peer is alive, its ACKs may be lost), so
  // a half-closed connection that still receives lives on (Linux times out only orphaned sockets;
  // it has no timeout after shutdown(SHUT_WR)).
  if (state_ == state::fin_wait_2 && orphaned_ && !seg.rst) timers_.arm(timer_kind::fin_wait_2, now + cfg_.fin_wait_2_timeout);
  if (!check_paws(now, seg)) return;                // RFC 7323 §5.3 R1, before step 1
  bool ack_only = false;
  if (!check_sequence(now, seg, ack_only)) return;  // first: sequence number
  last_rcv_ = now;                                  // the peer is alive (keepalive)
  keepalive_out_ = 0;
  arm_keepalive(now);
  if (!check_rst(now, seg)) return;                 // second: RST
  // third: security/compartment, not implemented (like Linux).
  if (!check_syn(now, seg)) return;                 // fourth: SYN
  update_ts_recent(seg);
  if (!process_ack(now, seg)) return;               // fifth: ACK
  if (ack_only) return;                             // zero window: only the ACK counted
  // sixth: URG is ignored (RFC 6093: urgent data is for legacy applications only).
  if (!seg.payload.empty()) process_text(now, seg);  // seventh: segment text
  process_fin(now, seg);                            // eighth: FIN
  // Step 5's FIN_WAIT_1 -> FIN_WAIT_2 happens here, after step 8, so that a segment acking our
  // FIN and carrying the peer's FIN goes FIN_WAIT_1 -> TIME_WAIT directly (RFC 9293 step 8,
  // "if our FIN has been ACKed (perhaps in this segment)").
  if (state_ == state::fin_wait_1 && fin_acked()) enter_fin_wait_2(now);
}

// Linux (tcp_timewait_state_process): a retransmitted FIN in TIME_WAIT is ACKed again and restarts
// the 2MSL timer. RFC 9293 step 8 asks for the same, but its step 1 would drop the old FIN first.
bool connection::time_wait_fin_retransmitted(instant now, const segment& seg) {
  if (!seg.fin || seg.rst || seg.syn || seg.seq_num + seg.len() != tcb_.rcv_nxt) return false;
  ack_owed_ = true;
  timers_.arm(timer_kind::time_wait, now + 2 * cfg_.msl);
  return true;
}

// The peer's SYN again while in SYN_RCVD (it occupies IRS, below RCV.NXT).
bool connection::syn_received_duplicate_syn(segment& seg) {
  if (!seg.syn || seg.rst || seg.seq_num != tcb_.irs) return false;
  if (seg.ack_num) {
    // Simultaneous open: the peer's SYN-ACK repeats the SYN we have. Drop the SYN and go on with
    // the rest, whose ACK completes our handshake. Its window is unscaled (RFC 7323 §2.2): shift
    // it down so the scaled update in step 5 does not overstate it.
    seg.syn = false;
    seg.seq_num = seg.seq_num + 1;
    seg.window = static_cast<std::uint16_t>(seg.window >> opts_.snd_wscale);
    return false;
  }
  // The peer did not get our SYN-ACK and sent its SYN again: send the SYN-ACK again at once
  // (Linux tcp_check_req) rather than the bare ACK of step 1.
  tcb_.snd_nxt = tcb_.iss;
  return true;
}

// First step: is the segment in the receive window? The four cases of RFC 9293 §3.10.7.4.
inline bool connection::check_sequence(instant now, const segment& seg, bool& ack_only) {
  const std::uint32_t wnd = tcb_.rcv_wnd;
  const std::uint32_t len = seg.len();
  const seq nxt = tcb_.rcv_nxt;
  bool ok;
  // Deviation: an empty segment may sit exactly at the right edge (Linux tcp_sequence), where a
  // peer's pure ACK lands when it filled our window and part of that data was lost.
  if (len == 0)
    ok = wnd == 0 ? seg.seq_num == nxt : in_range_closed(nxt, seg.seq_num, nxt + wnd);
  else
    ok = wnd != 0 && (in_range_half_open(nxt, seg.seq_num, nxt + wnd) ||
                      in_range_half_open(nxt, seg.seq_num + (len - 1), nxt + wnd));
  if (ok) return true;
  if (seg.rst) {  // an unacceptable RST is dropped silently (RFC 5961 §3.2)
    ++stats_.rst_out_of_window;
    return false;
  }
  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop.
  if (rate_limit_invalid_ack(now, seg))
    ack_owed_ = true;
  else
    ++stats_.invalid_acks_limited;
  // "If the RCV.WND is zero, no segments will be acceptable, but special allowance should be
  // made to accept valid ACKs": a zero-window probe at RCV.NXT still updates SND.UNA/SND.WND.
  if (wnd == 0 && seg.seq_num == nxt) {
    ack_only = true;
    return true;
  }
  ++stats_.out_of_window;
  return false;
}

// Answers to unacceptable empty segments are rate-limited like Linux's tcp_invalid_ratelimit, so
// two ends that each find the other's ACKs outside their window cannot ping-pong ACKs forever.
// Returns whether this one may be answered.
bool connection::rate_limit_invalid_ack(instant now, const segment& seg) {
  if (seg.len() > 0 || seg.syn) return true;
  if (invalid_ack_sent_ && now - last_invalid_ack_ < cfg_.invalid_ack_interval) return false;
  last_invalid_ack_ = now;
  invalid_ack_sent_ = true;
  return true;
}

// RFC 7323 §5.3 R1 (PAWS): a segment whose TSval is older than TS.Recent is an old duplicate
// (perhaps from before the sequence numbers wrapped): ACK and drop. A RST is exempt; TS.Recent
// idle for 24 days is no longer valid (§5.5). Segments without TSopt pass (see update_ts_recent).
inline bool connection::check_paws(instant now, const segment& seg) {
  if (!opts_.timestamps || !seg.options.timestamps || seg.rst) return true;
  if (now - ts_recent_at_ > paws_idle_limit) return true;
  if (!(seq{seg.options.timestamps->tsval} < seq{ts_recent_})) return true;
  ++stats_.paws_rejected;
  if (rate_limit_invalid_ack(now, seg))
    ack_owed_ = true;
  else
    ++stats_.invalid_acks_limited;
  return false;
}

// Second step: RST, with RFC 5961 §3 (blind reset protection).
inline bool connection::check_rst(instant now, const segment& seg) {
  if (!seg.rst) return true;
  if (seg.seq_num != tcb_.rcv_nxt) {  // in the window but not exact: challenge ACK
    ++stats_.rst_in_window;
    challenge_ack(now);
    return false;
  }
  switch (state_) {
    case state::syn_received:
      if (passive_)
        return_to_listen();
      else
        fail(std::errc::connection_refused);
      break;
    case state::established:
    case state::fin_wait_1:
    case state::fin_wait_2:
    case state::close_wait:
    case state::closing:   // Linux tcp_reset: ECONNRESET in every state but SYN_SENT, CLOSE_WAIT
    case state::last_ack:  // (EPIPE) and CLOSE; our FIN (and maybe data) was never acknowledged
      fail(std::errc::connection_reset);
      break;
    default:  // TIME_WAIT: everything was acknowledged both ways (Linux kills it silently too)
      finish();
      break;
  }
  return false;
}

// Fourth step: SYN in a synchronized state.
inline bool connection::check_syn(instant now, const segment& seg) {
  if (!seg.syn) return true;
  if (state_ == state::syn_received && passive_) {
    // RFC 9293 step 4 (from RFC 1122 §4.2.2.20): a new SYN in a passive SYN_RCVD returns to LISTEN.
    return_to_listen();
    return false;
  }
  ++stats_.syn_challenged;
  challenge_ack(now);  // RFC 5961 §4: whatever the sequence number, challenge and drop
  return false;
}

// RFC 7323 §4.3: remember the peer's TSval if this segment covers
// Last.ACK.sent. Deviation: segments without TSopt are accepted anyway, like Linux (§3.2 says
// they SHOULD be dropped).
inline void connection::update_ts_recent(const segment& seg) {
  if (!opts_.timestamps || !seg.options.timestamps) return;
  const std::uint32_t tsval = seg.options.timestamps->tsval;
  if (seq{tsval} >= seq{ts_recent_} && seg.seq_num <= last_ack_sent_) {
    ts_recent_ = tsval;
    ts_recent_at_ = last_rcv_;
  }
}

// Fifth step: the ACK field.
bool connection::process_ack(instant now, const segment& seg) {
  if (!seg.ack_num) {  // "if the ACK bit is off, drop the segment"
    ++stats_.no_ack_dropped;
    return false;
  }
  const seq ack = *seg.ack_num;
  if (state_ == state::syn_received && !(tcb_.snd_una < ack && ack <= snd_max_)) {
    queue_rst_reply(seg);  // <SEQ=SEG.ACK><CTL=RST>
    return false;
  }
  // RFC 5961 §5.2: acceptable iff SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT (SND.NXT being the
  // highest we ever sent: ours is rewound on retransmission timeout).
  if (ack > snd_max_ || ack < tcb_.snd_una - max_snd_wnd_) {
    ++stats_.bad_acks;
    ack_owed_ = true;  // ACK of data never sent, or far too old: ACK and drop
    return false;
  }
  probes_out_ = 0;  // the peer answers (Linux tcp_ack resets icsk_probes_out)
  soft_error_ = 0;  // "something worked": an ICMP error remembered so far is forgotten (tcp_ack)
  // RFC 2018 / RFC 6675: the SACK blocks go on the scoreboard.
  std::uint32_t newly_sacked = 0;
  if (opts_.sack_permitted && seg.options.sack_count > 0 && data_phase(state_))
    newly_sacked = scoreboard_.update(tcb_.snd_una, snd_max_,
                                      std::span(seg.options.sack.data(), std::min<std::size_t>(seg.options.sack_count, 4)));
  // RFC 5681 §2 duplicate ACK: data outstanding, no data, no SYN/FIN, SEG.ACK = SND.UNA, and the
  // window unchanged.
  const bool dup = ack == tcb_.snd_una && snd_max_ != tcb_.snd_una && seg.payload.empty() && !seg.syn && !seg.fin &&
                   (std::uint32_t{seg.window} << opts_.snd_wscale) == tcb_.snd_wnd;
  const bool advanced = ack > tcb_.snd_una;
  if (advanced) acknowledge_new_data(now, ack, echoed_timestamp(seg));
  if (ack >= tcb_.snd_una) update_send_window(seg);  // SND.UNA =< SEG.ACK: window update rules
  // RFC 6675 counts an ACK bringing new SACK information as a duplicate too.
  if (data_phase(state_)) detect_loss(now, seg, newly_sacked, dup || (!advanced && newly_sacked > 0));
  switch (state_) {
    case state::syn_received:
      enter_established(now);  // then on as ESTABLISHED
      break;
    case state::closing:
      if (fin_acked()) {
        enter_time_wait(now);
        return false;  // nothing more to take from this segment
      }
      break;
    case state::last_ack:
      if (fin_acked()) {
        finish();
        return false;
      }
      break;
    default:
      break;  // FIN_WAIT_1 -> FIN_WAIT_2: see the end of arrive_synchronized()
  }
  return true;
}

// SND.UNA advances to `ack`: release sent data, take an RTT sample, re-time (RFC 6298 §5.2/§5.3).
void connection::acknowledge_new_data(instant now, seq ack, std::optional<std::uint32_t> echoed) {
  const std::uint32_t flight_before = data_phase(state_) ? in_flight() : 0;  // (used there only)
  std::uint32_t acked = static_cast<std::uint32_t>(ack - tcb_.snd_una);
  if (tcb_.snd_una == tcb_.iss && (state_ == state::syn_sent || state_ == state::syn_received))
    --acked;  // our SYN
  const std::size_t data = std::min<std::size_t>(acked, send_buf_.size());
  if (data > 0) {  // (an ACK of our SYN or FIN alone releases no bytes)
    send_buf_.consume(data);
    send_buf_.trim(send_buf_.size());  // storage back as it drains
  }
  tcb_.snd_una = ack;
  if (tcb_.snd_nxt < ack) tcb_.snd_nxt = ack;
  if (echoed && *echoed != 0) {
    // RFC 7323 §4.1: TSecr times even a retransmitted segment (the echo says which copy was
    // answered), so Karn's restriction does not apply. Linux ignores a zero TSecr; so do we.
    rtt_.sample(std::chrono::milliseconds{ms_clock(now) - *echoed});
    rtt_timing_ = false;
  } else if (rtt_timing_ && rtt_seq_ <= ack) {  // Karn: rtt_seq_ is cleared on retransmission
    rtt_.sample(now - rtt_start_);
    rtt_timing_ = false;
  }
  retries_ = 0;
  una_since_ = now;
  if (probe_mtu_ != 0 && probe_end_ <= ack) {
    // RFC 4821 §7.6.1: the probe got through; the MSS grows to its size (Linux
    // tcp_mtup_probe_success; the window keeps its bytes, as Linux's rescaled segment count does).
    mtup_low_ = probe_mtu_;
    probe_mtu_ = 0;
    if (stats_.mtu_probes_succeeded < 0xffff) ++stats_.mtu_probes_succeeded;
    cc_.set_smss(effective_mss());
  }
  if (data_phase(state_)) {
    scoreboard_.acked(ack);
    if (high_rxt_ < ack) high_rxt_ = ack;
    dupacks_ = 0;
    if (in_recovery_) {
      on_recovery_ack(now, acked);
    } else if (cwnd_limited_ || 2 * flight_before >= cc_.cwnd()) {
      // Grow only while the window is used (RFC 7661's concern; Linux tcp_is_cwnd_limited).
      cc_.on_ack(acked, now, rtt_.srtt().value_or(rtt_.rto()));
    }
    cwnd_limited_ = false;
  }
  if (tcb_.snd_una == snd_max_)
    timers_.disarm(timer_kind::retransmit);
  else
    arm_retransmit(now);
  if (data_phase(state_) && !in_recovery_) tune_send_buffer();
  if (data > 0 && send_was_full_) {
    send_was_full_ = false;
    push_event({event::kind::writable, state_, state_, {}});
  }
}

// Send buffer autotuning (Linux tcp_sndbuf_expand): room for twice the congestion window (at
// least the initial window's ten segments), for the fast recovery that may follow, up to
// config::send_buffer. It only grows; the storage behind it follows what is queued.
inline void connection::tune_send_buffer() {
  if (cfg_.send_buffer_initial >= cfg_.send_buffer) return;
  const std::uint64_t segs = std::max<std::uint64_t>(cc_.cwnd(), std::uint64_t{10} * cc_.smss());
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(2 * segs, cfg_.send_buffer));
  if (want > send_buf_.capacity()) send_buf_.set_capacity(want);
}

// Receive window autotuning (Linux tcp_rcv_space_adjust, "dynamic right-sizing"): once per round
// trip, if the application read more than in the round trip before, the limit becomes what keeps
// that rate going with room for loss: 2 x the bytes read + 16 MSS, plus twice the growth while
// the rate still climbs (a sender in slow start doubles each round trip), up to
// config::recv_buffer. It only grows (the window we offered never moves left); the storage behind
// it holds only what is unread. The round trip is our smoothed RTT (on a receiver, the
// handshake's sample at least), never below the 1 ms of our timestamp clock.
inline void connection::tune_receive_buffer(instant now) {
  if (cfg_.recv_buffer_initial >= cfg_.recv_buffer) return;
  const std::uint32_t now_ms = ms_clock(now);
  const seq copied_seq = tcb_.rcv_nxt - static_cast<std::uint32_t>(recv_buf_.size());
  if (rcvq_space_ == 0) {  // the first data: the measurement starts (Linux tcp_init_buffer_space)
    rcvq_space_ = std::min<std::uint32_t>(std::uint32_t{10} * cfg_.mss, static_cast<std::uint32_t>(recv_buf_.capacity()));
    rcvq_seq_ = copied_seq;
    rcvq_stamp_ = now_ms;
    return;
  }
  const auto rtt_ms = std::chrono::duration_cast<std::chrono::milliseconds>(rtt_.srtt().value_or(rtt_.rto())).count();
  if (now_ms - rcvq_stamp_ < static_cast<std::uint32_t>(std::max<std::int64_t>(rtt_ms, 1))) return;
  const std::uint32_t copied = static_cast<std::uint32_t>(copied_seq - rcvq_seq_);
  if (copied > rcvq_space_) {
    std::uint64_t rcvwin = 2 * std::uint64_t{copied} + 16 * std::uint64_t{cfg_.mss};
    rcvwin += 2 * (rcvwin * (copied - rcvq_space_) / rcvq_space_);
    const std::size_t limit = static_cast<std::size_t>(std::min<std::uint64_t>(rcvwin, cfg_.recv_buffer));
    if (limit > recv_buf_.capacity()) recv_buf_.set_capacity(limit);
    rcvq_space_ = copied;
  }
  rcvq_seq_ = copied_seq;
  rcvq_stamp_ = now_ms;
}

// The peer's TSecr, if timestamps are in use.
inline std::optional<std::uint32_t> connection::echoed_timestamp(const segment& seg) const {
  if (!opts_.timestamps || !seg.options.timestamps) return std::nullopt;
  return seg.options.timestamps->tsecr;
}

// RFC 9293 §3.10.7.4 step 5: take SEG.WND only from a segment newer than the last update.
inline void connection::update_send_window(const segment& seg) {
  const seq ack = *seg.ack_num;
  if (tcb_.snd_wl1 < seg.seq_num || (tcb_.snd_wl1 == seg.seq_num && tcb_.snd_wl2 <= ack)) {
    tcb_.snd_wnd = std::uint32_t{seg.window} << opts_.snd_wscale;
    tcb_.snd_wl1 = seg.seq_num;
    tcb_.snd_wl2 = ack;
    max_snd_wnd_ = std::max(max_snd_wnd_, tcb_.snd_wnd);
  }
}

// Loss detection on an ACK (RFC 5681 §3.2, RFC 6675 §5, RFC 6582 §3.2).
inline void connection::detect_loss(instant now, const segment&, std::uint32_t, bool dup) {
  if (dup) {
    if (dupacks_ < 0xffff) ++dupacks_;
    ++stats_.dup_acks;
  }
  const std::uint32_t smss = cc_.smss();
  if (in_recovery_) {
    // NewReno without SACK: each further duplicate ACK means a segment left the network
    // (RFC 6582 §3.2 step 4: cwnd += SMSS). With SACK, pipe accounts for it instead.
    if (dup && !opts_.sack_permitted) cc_.set_cwnd(cc_.cwnd() + smss);
    return;
  }
  if (tcb_.snd_una == snd_max_) return;
  // RFC 6582 §3.2 step 2: duplicate ACKs for data sent before the last recovery or timeout
  // (SND.UNA below `recover`) start no new recovery.
  if (tcb_.snd_una < recover_) return;
  const bool lost = opts_.sack_permitted && scoreboard_.is_lost(tcb_.snd_una, tcb_.snd_una, smss);
  if (dupacks_ < sack_scoreboard::dup_thresh && !lost) return;
  if (probe_mtu_ != 0 && tcb_.snd_una >= probe_start()) {
    // The loss is the RFC 4821 probe: too big for the path, not congestion (Linux
    // tcp_fastretrans_alert: tcp_mtup_probe_failed, then tcp_simple_retransmit).
    mtu_probe_failed();
    retransmit_smaller(now);
    return;
  }
  enter_recovery(now);
}

// Fast retransmit and the start of fast recovery (RFC 6675 §5 steps 4.1-4.3 with SACK, RFC 6582
// §3.2 step 2 without).
void connection::enter_recovery(instant) {
  // A probe still in flight behind the lost data will have its bytes resent at the small MSS, so
  // its ACK would prove nothing (RFC 4821 §7.6.1): inconclusive, as after a timeout of earlier
  // data (not counted as failed: there is no re-probe timer to undo a wrongly lowered bound).
  probe_mtu_ = 0;
  in_recovery_ = true;
  ++stats_.fast_retransmits;
  recover_ = snd_max_;  // RecoveryPoint = HighData
  const std::uint32_t ssthresh = cc_.on_congestion_event(static_cast<std::uint32_t>(snd_max_ - tcb_.snd_una));
  cc_.set_cwnd(opts_.sack_permitted ? ssthresh : ssthresh + 3 * cc_.smss());
  rexmit_owed_ = true;  // the first unacknowledged segment goes now, whatever cwnd says
  high_rxt_ = tcb_.snd_una;
  rtt_timing_ = false;     // the hole delays the cumulative ACK: no sample from it
}

// A cumulative ACK during recovery.
void connection::on_recovery_ack(instant, std::uint32_t acked) {
  const std::uint32_t smss = cc_.smss();
  if (tcb_.snd_una >= recover_) {
    // Full ACK: recovery ends. RFC 6582 §3.2 step 3 option (1), which avoids a burst:
    // cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS); slow start regains the rest.
    in_recovery_ = rexmit_owed_ = false;
    const std::uint32_t flight = static_cast<std::uint32_t>(snd_max_ - tcb_.snd_una);
    cc_.set_cwnd(std::min(cc_.ssthresh(), std::max(flight, smss) + smss));
    return;
  }
  // Partial ACK: the segment now at SND.UNA was lost too. Without SACK, RFC 6582 §3.2 step 5:
  // resend it and deflate cwnd by the amount acknowledged, adding back one SMSS if that was at
  // least one SMSS. With SACK, pipe and NextSeg go on; if that segment was never resent in this
  // recovery it goes now (like RFC 6675's rescue retransmission, which the lost-ness rule alone
  // would not reach at the tail of the window).
  if (!opts_.sack_permitted) {
    rexmit_owed_ = true;
    const std::uint32_t cwnd = cc_.cwnd() > acked ? cc_.cwnd() - acked : 0;
    cc_.set_cwnd(acked >= smss ? cwnd + smss : cwnd);
  } else if (high_rxt_ <= tcb_.snd_una && !scoreboard_.ranges().contains(tcb_.snd_una)) {
    rexmit_owed_ = true;
  }
}

// Seventh step: segment text (the caller checks there is some). In order: into the receive
// buffer, with whatever the out-of-order queue holds right after it. Out of order: into the queue
// (RFC 9293 §3.10.7.4 step 7 allows holding it), answered at once with SACK blocks.
void connection::process_text(instant now, const segment& seg) {
  // After the peer's FIN no text can be new ("this should not occur"): ignore it.
  if (state_ != state::established && state_ != state::fin_wait_1 && state_ != state::fin_wait_2) return;
  auto payload = seg.payload;
  seq start = seg.seq_num;
  if (start < tcb_.rcv_nxt) {  // overlaps the left edge: trim what we already have
    const std::uint32_t dup = static_cast<std::uint32_t>(tcb_.rcv_nxt - start);
    payload = payload.subspan(std::min<std::size_t>(dup, payload.size()));
    start = tcb_.rcv_nxt;
  }
  if (payload.empty()) return;
  if (rcv_mss_ < payload.size()) rcv_mss_ = static_cast<std::uint32_t>(std::min<std::size_t>(payload.size(), cfg_.mss));
  if (start != tcb_.rcv_nxt) {
    // RFC 5681 §4.2: an out-of-order segment is ACKed at once (a duplicate ACK with SACK).
    if (ooo_.insert(recv_buf_, tcb_.rcv_nxt, start, payload) > 0)
      ++stats_.ooo_segments;
    else
      ++stats_.ooo_dropped;
    ack_owed_ = true;
    return;
  }
  // Data beyond the buffer is cut (the window we advertised never exceeds it by more than the
  // scaling round-up). Bytes already held out of order are written again in place: harmless.
  std::size_t n = recv_buf_.write(payload);
  stats_.bytes_beyond_window += payload.size() - n;
  tcb_.rcv_nxt += static_cast<std::uint32_t>(n);
  bool filled = false;
  if (n > 0 && !ooo_.empty()) {
    const std::uint32_t more = ooo_.take_contiguous(tcb_.rcv_nxt);
    recv_buf_.commit(more);
    tcb_.rcv_nxt += more;
    n += more;
    filled = true;
  }
  stats_.bytes_received += n;
  if (n > 0) tune_receive_buffer(now);
  update_rcv_wnd();
  if (n > 0) push_event({event::kind::readable, state_, state_, {}});
  // RFC 5681 §4.2: data that fills (part of) a gap is ACKed at once; so is data that did not fit.
  if (filled || n < payload.size())
    ack_owed_ = true;
  else
    owe_ack(now, static_cast<std::uint32_t>(n));
}

// Eighth step: FIN. Taken when everything before it is in; a FIN that arrives ahead of missing
// data is remembered and taken once the gap closes (RFC 9293 §3.10.7.4 step 8 via step 7's
// out-of-order queue).
inline void connection::process_fin(instant now, const segment& seg) {
  if (peer_fin_) return;
  if (seg.fin) {
    const seq fin_at = seg.seq_num + static_cast<std::uint32_t>(seg.payload.size());
    if (tcb_.rcv_nxt <= fin_at) {
      peer_fin_seq_ = fin_at;
      peer_fin_known_ = true;
    }
    if (tcb_.rcv_nxt < fin_at) ack_owed_ = true;  // a duplicate ACK says what we miss
  }
  if (peer_fin_known_ && peer_fin_seq_ == tcb_.rcv_nxt) take_fin(now);
}

inline void connection::take_fin(instant now) {
  tcb_.rcv_nxt += 1;
  update_rcv_wnd();
  peer_fin_ = true;
  peer_fin_known_ = false;
  ack_owed_ = true;  // a FIN is ACKed at once
  push_event({event::kind::eof, state_, state_, {}});
  switch (state_) {
    case state::established:
      set_state(state::close_wait);
      break;
    case state::fin_wait_1:
      if (fin_acked())
        enter_time_wait(now);
      else
        set_state(state::closing);
      break;
    case state::fin_wait_2:
      enter_time_wait(now);
      break;
    default:
      break;
  }
}

// RFC 5961 §7: challenge ACKs, at most challenge_ack_limit_per_s per second.
void connection::challenge_ack(instant now) {
  if (cfg_.challenge_ack_limit_per_s != 0) {
    if (challenge_count_ == 0 || now - challenge_window_start_ >= std::chrono::seconds{1}) {
      challenge_window_start_ = now;
      challenge_count_ = 0;
    }
    if (challenge_count_ >= cfg_.challenge_ack_limit_per_s) {
      ++stats_.challenge_acks_limited;
      return;
    }
    ++challenge_count_;
  }
  ++stats_.challenge_acks;
  ack_owed_ = true;
}

// ACK owed for `n` in-order bytes (RFC 9293 §3.8.6.3, RFC 5681 §4.2): at once when more than one
// full-sized segment is unacknowledged (Linux __tcp_ack_snd_check), else within delayed_ack.
void connection::owe_ack(instant now, std::uint32_t n) {
  rcv_unacked_ += n;
  if (cfg_.delayed_ack == duration::zero() || rcv_unacked_ > rcv_mss_) {
    ack_owed_ = true;
    return;
  }
  if (!timers_.armed(timer_kind::delayed_ack)) timers_.arm(timer_kind::delayed_ack, now + cfg_.delayed_ack);
}

// The RST answering a segment that has no business here (RFC 9293 §3.10.7.1 form).
void connection::queue_rst_reply(const segment& seg) {
  if (seg.ack_num)
    set_rst(*seg.ack_num, seq{0}, false);  // <SEQ=SEG.ACK><CTL=RST>
  else
    set_rst(seq{0}, seg.seq_num + seg.len(), true);  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
}

}  // namespace synack::tcp
