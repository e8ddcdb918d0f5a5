// Segment output: one segment per poll_transmit() call, in priority order: a pending RST, the SYN
// or SYN-ACK, data and/or FIN, then a pure ACK (or zero-window probe).
#include <algorithm>

#include "synack/tcp/connection.hpp"

namespace synack::tcp {

std::optional<segment> connection::transmit(instant now) {
  // One optional, engaged from the start and filled in place by the helpers below (a segment is
  // ~100 bytes: no copies; a disengaged one declared first would be zeroed as a whole, then filled).
  std::optional<segment> out{std::in_place};
  segment& s = *out;
  if (rst_pending_) {
    s.seq_num = pending_rst_.seq_num;
    if (rst_with_ack_) s.ack_num = pending_rst_.ack_num;
    s.rst = true;
    pending_rst_ = {};
    rst_pending_ = rst_with_ack_ = false;
    return out;
  }
  if (state_ == state::closed || state_ == state::listen) {
    out.reset();
    return out;
  }
  bool made;
  switch (state_) {
    case state::syn_sent:
    case state::syn_received:
      made = transmit_syn(now, s);
      break;
    default:
      // (The quick test first: most calls here owe only an ACK.)
      made = !nothing_to_send() && transmit_data(now, s);
      break;
  }
  if (!made && state_ != state::syn_sent && (ack_owed_ || probe_owed_)) {
    // Pure ACK. Its sequence number is the highest we sent (Linux's snd_nxt, which ours is not
    // after a go-back-N rewind), so the peer finds it in its window. A zero-window probe uses
    // SND.UNA - 1 instead: an old sequence number the peer must answer with an ACK (Linux
    // tcp_xmit_probe_skb), without committing a byte of data to a closed window.
    make_segment(now, probe_owed_ ? tcb_.snd_una - 1 : snd_max_, s);
    made = true;
  }
  if (made) {
    after_transmit(now, s);
  } else {
    out.reset();
    update_persist_timer(now);
  }
  return out;
}

// SYN (SYN_SENT) or SYN-ACK (SYN_RCVD) when it has not gone out yet or the RTO rewound SND.NXT.
// Written here rather than by make_segment(): a SYN's window is unscaled and its options are the
// SYN's own (and no SACK blocks: nothing is held out of order before the handshake completes).
inline bool connection::transmit_syn(instant now, segment& s) {
  if (tcb_.snd_nxt != tcb_.iss) return false;
  s.seq_num = tcb_.iss;
  s.syn = true;
  s.window = syn_window();
  auto& o = s.options;
  o.mss = cfg_.mss;
  if (state_ == state::syn_sent) {
    o.window_scale = cfg_.window_scale;
    o.sack_permitted = cfg_.sack_permitted;
    if (cfg_.timestamps) o.timestamps = wire::tcp_timestamps{ms_clock(now), 0};
  } else {
    s.ack_num = tcb_.rcv_nxt;
    if (opts_.timestamps) o.timestamps = wire::tcp_timestamps{ms_clock(now), ts_recent_};
    // A SYN-ACK offers only what the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
    if (opts_.window_scaling) o.window_scale = opts_.rcv_wscale;
    o.sack_permitted = opts_.sack_permitted;
  }
  return true;
}

// Data and/or FIN: a retransmission owed by loss recovery first, then new data (or the go-back-N
// resend after a timeout) from SND.NXT.
inline bool connection::transmit_data(instant now, segment& s) {
  switch (state_) {
    case state::established:
    case state::close_wait:
    case state::fin_wait_1:
    case state::closing:
    case state::last_ack:
      break;
    default:
      return false;  // FIN_WAIT_2, TIME_WAIT: our FIN is acknowledged, nothing to send
  }
  return (in_recovery_ && transmit_retransmission(now, s)) || (mtup_enabled_ && transmit_mtu_probe(now, s)) ||
         transmit_new(now, s);
}

// An RFC 4821 probe while the search is on (after a black hole), under Linux tcp_mtu_probe's
// conditions: no probe out, not recovering, the bounds at least mtu_probe_threshold apart, a
// congestion window of at least 11 segments with room for two more, and enough new data queued
// and allowed by the peer's window for the probe and reordering + 1 (= 4) segments after it (so a
// lost probe is found by duplicate ACKs). The probe is one segment of the size halfway between the
// bounds. Simplified against Linux: no re-probing 10 minutes after the search ended
// (tcp_probe_interval), and cwnd is not lowered by one while the probe is out.
inline bool connection::transmit_mtu_probe(instant now, segment& s) {
  if (probe_mtu_ != 0 || in_recovery_ || (state_ != state::established && state_ != state::close_wait)) return false;
  if (tcb_.snd_nxt != snd_max_ || mtup_high_ < mtup_low_ + mtu_probe_threshold) return false;
  if (sack_option_blocks() != 0) return false;  // (Linux: none while SACK blocks are sent)
  const std::uint32_t mss = send_mss();
  const std::uint32_t probe_len = mtu_to_mss((std::uint32_t{mtup_low_} + mtup_high_) / 2);
  if (probe_len <= mss || cc_.cwnd() < 11 * cc_.smss()) return false;
  const std::uint32_t needed = probe_len + 4 * mss;
  const std::size_t offset = static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una);
  const std::size_t unsent = offset < send_buf_.size() ? send_buf_.size() - offset : 0;
  if (unsent < needed || tcb_.snd_nxt + needed > tcb_.snd_una + tcb_.snd_wnd) return false;
  if (in_flight() + 2 * mss > cc_.cwnd()) return false;
  data_segment(now, tcb_.snd_nxt, probe_len, false, s);
  // (Shorter where the send ring wraps: still a probe if it exceeds the MSS.)
  if (s.payload.size() > mss) {
    probe_mtu_ = static_cast<std::uint16_t>(mss_to_mtu(static_cast<std::uint32_t>(s.payload.size())));
    probe_end_ = s.seq_num + static_cast<std::uint32_t>(s.payload.size());
    if (stats_.mtu_probes_sent < 0xffff) ++stats_.mtu_probes_sent;
  }
  return true;
}

// Loss recovery's retransmissions: the segment at SND.UNA when owed (fast retransmit, a partial
// ACK), else with SACK the next lost hole above HighRxt while cwnd - pipe >= 1 SMSS (RFC 6675 §5
// step (C), NextSeg rule 1). Retransmissions ignore the peer's window: it already held them.
bool connection::transmit_retransmission(instant now, segment& s) {  // (in recovery: the caller checks)
  const std::uint32_t smss = cc_.smss();
  seq at;
  if (rexmit_owed_) {
    rexmit_owed_ = false;
    at = tcb_.snd_una;
  } else if (sack_recovery()) {
    if (cc_.cwnd() < in_flight() + smss) {
      cwnd_limited_ = true;
      return false;
    }
    const auto lost = scoreboard_.next_lost(high_rxt_, tcb_.snd_una, smss);
    if (!lost) return false;
    at = *lost;
  } else {
    return false;
  }
  const seq data_end = tcb_.snd_una + static_cast<std::uint32_t>(send_buf_.size());
  const seq sent_end = std::min(data_end, snd_max_);
  const seq hole_end = scoreboard_.hole_end(at, sent_end);
  const std::size_t len = at < hole_end ? std::min<std::size_t>(static_cast<std::uint32_t>(hole_end - at), send_mss()) : 0;
  const bool fin = fin_seq_ && *fin_seq_ < snd_max_ && at + static_cast<std::uint32_t>(len) == *fin_seq_;
  if (len == 0 && !fin) return false;
  data_segment(now, at, len, fin, s);
  const seq end = s.seq_num + s.len();
  if (high_rxt_ < end) high_rxt_ = end;
  ++stats_.recovery_retransmits;
  return true;
}

// From SND.NXT, as plan_new() allows.
inline bool connection::transmit_new(instant now, segment& s) {
  // A go-back-N resend after a timeout skips what the peer has SACKed since.
  if (tcb_.snd_nxt < snd_max_ && !scoreboard_.empty())
    tcb_.snd_nxt = std::min(scoreboard_.skip_sacked(tcb_.snd_nxt), snd_max_);
  const send_plan p = plan_new(force_send_);
  if (p.why == send_plan::hold::cwnd) cwnd_limited_ = true;
  if (p.why != send_plan::hold::none) return false;
  force_send_ = false;
  data_segment(now, tcb_.snd_nxt, p.len, p.fin, s);
  return true;
}

// What may go from SND.NXT now: at most one MSS, within the peer's window and cwnd, held back by
// sender SWS avoidance and Nagle. `force` is the persist timer's override of both.
connection::send_plan connection::plan_new(bool force) const {
  send_plan p;
  const std::size_t buffered = send_buf_.size();
  const seq nxt = tcb_.snd_nxt;
  const std::size_t offset = static_cast<std::uint32_t>(nxt - tcb_.snd_una);
  const std::size_t unsent = offset < buffered ? buffered - offset : 0;
  const bool fin_pending = fin_seq_ && nxt <= *fin_seq_;
  if (unsent == 0 && !fin_pending) return p;  // hold::nothing
  const seq window_end = tcb_.snd_una + tcb_.snd_wnd;
  const std::size_t usable = nxt < window_end ? static_cast<std::uint32_t>(window_end - nxt) : 0;
  const std::uint32_t mss = send_mss();
  std::size_t len = std::min<std::size_t>(unsent, mss);
  // The timeout's resend of the oldest segment goes whatever the window says (Linux
  // tcp_retransmit_skb): with data outstanding no persist timer runs, so if the peer's window
  // update was lost (or it shrank its window) this resend is what draws a fresh ACK from it.
  const bool head_resend = nxt == tcb_.snd_una && nxt < snd_max_;
  if (head_resend && usable < len) {
    if (usable > 0) len = usable;
    p.len = len;
    p.fin = fin_pending && nxt + static_cast<std::uint32_t>(len) == *fin_seq_;
    p.why = send_plan::hold::none;
    return p;
  }
  if (usable < len) {
    // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a segment shorter than both the data waiting and
    // one MSS goes only if it is at least half the largest window the peer has offered.
    if (usable == 0 || (!force && usable < max_snd_wnd_ / 2)) {
      p.why = send_plan::hold::window;
      return p;
    }
    len = usable;
  }
  // The FIN takes one sequence number, so it needs one more byte of window.
  const bool fin = fin_pending && nxt + static_cast<std::uint32_t>(len) == *fin_seq_ && usable > len;
  if (len == 0 && !fin) {
    p.why = send_plan::hold::window;
    return p;
  }
  // Congestion window (RFC 5681 §3.1): a segment goes only if it fits in what is left of it.
  const std::uint32_t flight = in_flight();
  if (flight > 0 && flight + len > cc_.cwnd()) {
    p.why = send_plan::hold::cwnd;
    return p;
  }
  // Nagle (RFC 9293 §3.7.4): a short segment waits while data is unacknowledged, unless nodelay
  // is set, the connection is closing (Linux pushes everything at close) or this is a resend.
  if (!force && !cfg_.nodelay && len < mss && !fin_seq_ && snd_max_ != tcb_.snd_una && nxt == snd_max_) {
    p.why = send_plan::hold::nagle;
    return p;
  }
  p.len = len;
  p.fin = fin;
  p.why = send_plan::hold::none;
  return p;
}

// A segment of up to `len` bytes of the send buffer from `at` (shorter where the ring wraps), with
// the FIN if asked for and the payload reaches it.
void connection::data_segment(instant now, seq at, std::size_t len, bool fin, segment& s) {
  make_segment(now, at, s);
  s.payload = send_buf_.peek(static_cast<std::uint32_t>(at - tcb_.snd_una), len);
  const seq after = at + static_cast<std::uint32_t>(s.payload.size());
  s.fin = fin && fin_seq_ && after == *fin_seq_;
  const seq data_end = tcb_.snd_una + static_cast<std::uint32_t>(send_buf_.size());
  s.psh = !s.payload.empty() && after == data_end;  // PSH on the last segment of what is queued
}

// A segment carrying our ACK, window, (if negotiated) timestamps and SACK blocks, written into a
// freshly constructed `s`.
inline void connection::make_segment(instant now, seq seq_num, segment& s) const {
  s.seq_num = seq_num;
  s.ack_num = tcb_.rcv_nxt;
  s.window = window_field();
  if (opts_.timestamps) s.options.timestamps = wire::tcp_timestamps{ms_clock(now), ts_recent_};
  if (const std::size_t n = sack_option_blocks())
    s.options.sack_count = static_cast<std::uint8_t>(ooo_.sack_blocks(std::span(s.options.sack.data(), n)));
}

// Bookkeeping once a segment is handed out: ACK obligations met, the advertised edge recorded,
// SND.NXT advanced, the RTO timer started (RFC 6298 §5.1), a new segment timed for RTT (Karn:
// never a retransmitted one, nor one whose ACK a recovery may hold up).
inline void connection::after_transmit(instant now, const segment& s) {
  probe_owed_ = false;
  if (s.ack_num) {
    ack_owed_ = false;
    rcv_unacked_ = 0;
    timers_.disarm(timer_kind::delayed_ack);
    last_ack_sent_ = *s.ack_num;
    last_window_advertised_ = std::uint32_t{s.window} << (s.syn ? 0 : opts_.rcv_wscale);
    const seq edge = tcb_.rcv_nxt + last_window_advertised_;
    if (rcv_adv_ < edge || s.syn) rcv_adv_ = edge;
    update_rcv_wnd();
  }
  const std::uint32_t len = s.len();
  if (len == 0 || s.seq_num == tcb_.snd_una - 1) return;  // pure ACK or probe
  const seq end = s.seq_num + len;
  if (tcb_.snd_una == snd_max_) una_since_ = now;  // data outstanding from now (user timeout)
  if (s.seq_num < snd_max_) {
    ++stats_.retransmits;
    if (s.syn) ++stats_.syn_retransmits;
    if (rtt_timing_ && s.seq_num < rtt_seq_) rtt_timing_ = false;
  }
  const seq data_begin = s.seq_num + (s.syn ? 1u : 0u);
  const seq data_end = data_begin + static_cast<std::uint32_t>(s.payload.size());
  if (data_end > snd_max_) stats_.bytes_sent += static_cast<std::uint32_t>(data_end - std::max(data_begin, snd_max_));
  if (!rtt_timing_ && s.seq_num >= snd_max_ && !in_recovery_) {
    rtt_seq_ = end;
    rtt_timing_ = true;
    rtt_start_ = now;
  }
  if (s.seq_num == tcb_.snd_nxt) tcb_.snd_nxt = end;  // not for a recovery retransmission
  if (end > snd_max_) snd_max_ = end;
  if (!timers_.armed(timer_kind::retransmit)) arm_retransmit(now);
  timers_.disarm(timer_kind::persist);
}

// SEG.WND to advertise outside a SYN (syn_window() is the SYN's): scaled, with receiver SWS
// avoidance (RFC 9293 §3.8.6.2.2: the right edge moves only by at least min(half the buffer, one
// MSS)) and never left of where it was (RFC 9293 §3.8.6.2.2's "shrinking" is discouraged; Linux
// tcp_select_window): what is left of the last window is rounded up to the scale unit. The
// round-up can promise up to 2^shift - 1 bytes more than the buffer has; data beyond the buffer
// is then cut on arrival and resent by the peer.
std::uint16_t connection::window_field() const {
  const unsigned ws = opts_.rcv_wscale;
  const std::uint32_t unit = std::uint32_t{1} << ws;
  const std::size_t most = std::size_t{0xffff} << ws;
  const auto free = static_cast<std::uint32_t>(std::min(recv_buf_.free(), most));
  const std::uint32_t promised = tcb_.rcv_nxt < rcv_adv_ ? static_cast<std::uint32_t>(rcv_adv_ - tcb_.rcv_nxt) : 0;
  std::uint32_t wnd = free >> ws << ws;
  if (wnd < promised + sws_step()) wnd = promised;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>((wnd + unit - 1) >> ws, 0xffff));
}

// SACK blocks in our segments take option space too (2 NOPs + kind + length + 8 per block), so a
// data segment carrying them is that much shorter (Linux tcp_current_mss).
inline std::uint32_t connection::send_mss() const {
  const std::size_t blocks = sack_option_blocks();
  const std::uint32_t m = effective_mss();
  if (blocks == 0) return m;
  const auto opt = static_cast<std::uint32_t>(4 + 8 * blocks);
  return std::max(m > opt ? m - opt : 0, min_send_mss);
}

// How many SACK blocks our next segment carries: as many ranges as we hold, up to what fits beside
// the timestamps (3) or alone (4) in 40 bytes of options (RFC 2018 §3).
inline std::size_t connection::sack_option_blocks() const {
  if (!opts_.sack_permitted || ooo_.empty()) return 0;
  return std::min<std::size_t>(ooo_.size(), opts_.timestamps ? 3 : 4);
}

}  // namespace synack::tcp
