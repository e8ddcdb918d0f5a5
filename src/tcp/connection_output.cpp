// Segment output: one segment per poll_transmit() call, in priority order: a pending RST, the SYN
// or SYN-ACK, data and/or FIN, then a pure ACK (or zero-window probe).
#include <algorithm>

#include "synack/tcp/connection.hpp"

namespace synack::tcp {

namespace {
constexpr std::uint32_t timestamp_option_space = 12;  // TSopt (10) + 2 NOPs, as Linux lays it out
constexpr std::uint32_t min_send_mss = 48;            // Linux TCP_MIN_SND_MSS
}  // namespace

std::optional<segment> connection::poll_transmit(instant now) {
  if (pending_rst_) {
    const segment rst = *pending_rst_;
    pending_rst_.reset();
    return rst;
  }
  std::optional<segment> out;
  switch (state_) {
    case state::closed:
    case state::listen:
      return std::nullopt;
    case state::syn_sent:
      out = transmit_syn(now);
      break;
    case state::syn_received:
      out = transmit_syn(now);
      break;
    default:
      out = transmit_data(now);
      break;
  }
  if (!out && state_ != state::syn_sent && (ack_owed_ || probe_owed_)) {
    // Pure ACK. Its sequence number is the highest we sent (Linux's snd_nxt, which ours is not
    // after a go-back-N rewind), so the peer finds it in its window. A zero-window probe uses
    // SND.UNA - 1 instead: an old sequence number the peer must answer with an ACK (Linux
    // tcp_xmit_probe_skb), without committing a byte of data to a closed window.
    out = make_segment(now, probe_owed_ ? tcb_.snd_una - 1 : snd_max_);
  }
  if (out)
    after_transmit(now, *out);
  else
    update_persist_timer(now);
  return out;
}

// SYN (SYN_SENT) or SYN-ACK (SYN_RCVD) when it has not gone out yet or the RTO rewound SND.NXT.
std::optional<segment> connection::transmit_syn(instant now) {
  if (tcb_.snd_nxt != tcb_.iss) return std::nullopt;
  segment s = make_segment(now, tcb_.iss);
  s.syn = true;
  s.window = window_field(true);
  auto& o = s.options;
  o.mss = cfg_.mss;
  if (state_ == state::syn_sent) {
    s.ack_num.reset();
    o.window_scale = cfg_.window_scale;
    o.sack_permitted = cfg_.sack_permitted;
    if (cfg_.timestamps) o.timestamps = wire::tcp_timestamps{ms_clock(now), 0};
  } else {
    // A SYN-ACK offers only what the peer's SYN offered (RFC 7323 §1.3, RFC 2018 §2).
    if (opts_.window_scaling) o.window_scale = opts_.rcv_wscale;
    o.sack_permitted = opts_.sack_permitted;
  }
  return s;
}

// Data from SND.NXT within the peer's window, at most one MSS, and our FIN after the last byte.
std::optional<segment> connection::transmit_data(instant now) {
  switch (state_) {
    case state::established:
    case state::close_wait:
    case state::fin_wait_1:
    case state::closing:
    case state::last_ack:
      break;
    default:
      return std::nullopt;  // FIN_WAIT_2, TIME_WAIT: our FIN is acknowledged, nothing to send
  }
  const std::size_t buffered = send_buf_.size();
  const seq data_end = tcb_.snd_una + static_cast<std::uint32_t>(buffered);
  const std::size_t offset = static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una);
  const std::size_t unsent = offset < buffered ? buffered - offset : 0;
  const seq window_end = tcb_.snd_una + tcb_.snd_wnd;
  const std::size_t usable = window_end > tcb_.snd_nxt ? static_cast<std::uint32_t>(window_end - tcb_.snd_nxt) : 0;
  const auto payload = send_buf_.peek(offset, std::min<std::size_t>({unsent, usable, effective_mss()}));
  const seq after = tcb_.snd_nxt + static_cast<std::uint32_t>(payload.size());
  // The FIN takes one sequence number, so it needs one more byte of window.
  const bool fin = fin_seq_ && after == *fin_seq_ && usable > payload.size();
  if (payload.empty() && !fin) return std::nullopt;
  segment s = make_segment(now, tcb_.snd_nxt);
  s.payload = payload;
  s.fin = fin;
  s.psh = !payload.empty() && after == data_end;  // PSH on the last segment of what is queued
  return s;
}

// A segment carrying our ACK, window and (if negotiated) timestamps.
segment connection::make_segment(instant now, seq seq_num) const {
  segment s;
  s.seq_num = seq_num;
  s.ack_num = tcb_.rcv_nxt;
  s.window = window_field(false);
  if (opts_.timestamps) s.options.timestamps = wire::tcp_timestamps{ms_clock(now), ts_recent_};
  return s;
}

// Bookkeeping once a segment is handed out: ACK obligations met, SND.NXT advanced, the RTO timer
// started (RFC 6298 §5.1), a new segment timed for RTT (Karn: never a retransmitted one).
void connection::after_transmit(instant now, const segment& s) {
  probe_owed_ = false;
  if (s.ack_num) {
    ack_owed_ = false;
    segments_unacked_ = 0;
    timers_.disarm(timer_kind::delayed_ack);
    last_ack_sent_ = *s.ack_num;
    last_window_advertised_ = std::uint32_t{s.window} << (s.syn ? 0 : opts_.rcv_wscale);
  }
  const std::uint32_t len = s.len();
  if (len == 0 || s.seq_num == tcb_.snd_una - 1) return;  // pure ACK or probe
  const seq end = s.seq_num + len;
  if (s.seq_num < snd_max_) {
    ++stats_.retransmits;
    if (s.syn) ++stats_.syn_retransmits;
  }
  const seq data_begin = s.seq_num + (s.syn ? 1u : 0u);
  const seq data_end = data_begin + static_cast<std::uint32_t>(s.payload.size());
  if (data_end > snd_max_) stats_.bytes_sent += static_cast<std::uint32_t>(data_end - std::max(data_begin, snd_max_));
  if (!rtt_seq_ && s.seq_num >= snd_max_) {
    rtt_seq_ = end;
    rtt_start_ = now;
  }
  tcb_.snd_nxt = end;
  if (end > snd_max_) snd_max_ = end;
  if (!timers_.armed(timer_kind::retransmit)) timers_.arm(timer_kind::retransmit, now + rtt_.rto());
  timers_.disarm(timer_kind::persist);
}

// SEG.WND to advertise: the free receive buffer, scaled (never in a SYN, RFC 7323 §2.2).
std::uint16_t connection::window_field(bool syn) const {
  const std::size_t free = recv_buf_.free() >> (syn ? 0 : opts_.rcv_wscale);
  return static_cast<std::uint16_t>(std::min<std::size_t>(free, 0xffff));
}

// Eff.snd.MSS (RFC 9293 §3.7.1): the peer's MSS, capped by ours, minus option space we always use.
std::uint32_t connection::effective_mss() const {
  std::uint32_t m = std::min<std::uint32_t>(opts_.peer_mss, cfg_.mss);
  if (opts_.timestamps) m -= std::min(m, timestamp_option_space);
  return std::max(m, min_send_mss);
}

// TSval clock: milliseconds of the caller's clock, modulo 2^32 (RFC 7323 §5.4 allows 1 ms..1 s).
std::uint32_t connection::ms_clock(instant now) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms));
}

}  // namespace synack::tcp
