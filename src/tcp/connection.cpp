// The connection's lifecycle: opening, user calls, state changes, events and timers. Segment
// arrival is in connection_input.cpp, segment output in connection_output.cpp.
#include <algorithm>
#include <bit>

#include "synack/tcp/connection.hpp"

namespace synack::tcp {

namespace {

config sanitize(config c) {
  constexpr auto biggest = static_cast<std::uint32_t>(config::max_buffer);
  c.recv_buffer = std::clamp<std::uint32_t>(c.recv_buffer, 1, biggest);
  c.send_buffer = std::clamp<std::uint32_t>(c.send_buffer, 1, biggest);
  // The initial limits never exceed the maxima (equal: no autotuning on that side).
  c.recv_buffer_initial = std::clamp<std::uint32_t>(c.recv_buffer_initial, 1, c.recv_buffer);
  c.send_buffer_initial = std::clamp<std::uint32_t>(c.send_buffer_initial, 1, c.send_buffer);
  if (c.window_scale) {
    // RFC 7323 §2.3: at most 14. Raised if the buffer needs more (as Linux picks the shift from
    // the buffer size), so the whole receive buffer can be offered.
    std::uint8_t ws = std::min<std::uint8_t>(*c.window_scale, 14);
    while (ws < 14 && (std::size_t{0xffff} << ws) < c.recv_buffer) ++ws;
    c.window_scale = ws;
  }
  c.mss = std::max<std::uint16_t>(c.mss, 64);
  c.initial_window = std::max(c.initial_window, 1u);
  c.keepalive.probes = std::max(c.keepalive.probes, 1u);
  if (c.keepalive.idle <= duration::zero()) c.keepalive.idle = std::chrono::seconds{1};
  if (c.keepalive.interval <= duration::zero()) c.keepalive.interval = std::chrono::seconds{1};
  if (c.user_timeout < duration::zero()) c.user_timeout = duration::zero();
  // The counters compared with these are 16 bits wide (connection.hpp).
  constexpr unsigned most = 0xffff;
  c.syn_retries = std::min(c.syn_retries, most);
  c.synack_retries = std::min(c.synack_retries, most);
  c.data_retries = std::min(c.data_retries, most);
  c.keepalive.probes = std::min(c.keepalive.probes, most);
  c.challenge_ack_limit_per_s = std::min(c.challenge_ack_limit_per_s, most);
  return c;
}

}  // namespace

connection::connection(const config& cfg, const isn_generator& isns, wire::four_tuple tuple)
    : cfg_(sanitize(cfg)),
      isns_(&isns),
      rtt_({cfg_.rto_initial, cfg_.rto_min, cfg_.rto_max, cfg_.clock_granularity}),
      send_buf_(cfg_.send_buffer_initial),
      recv_buf_(cfg_.recv_buffer_initial),
      tuple_(tuple) {
  cc_.reset(cfg_.congestion_control, effective_mss(), cfg_.initial_window);
  update_rcv_wnd();
}

// --- opening -------------------------------------------------------------------------------------

void connection::connect(instant now) { connect(now, isns_->generate(tuple_, now)); }

void connection::connect(instant, seq isn) {
  if (state_ != state::closed) return;
  reset_for_open();
  tcb_.iss = tcb_.snd_una = tcb_.snd_nxt = snd_max_ = isn;
  set_state(state::syn_sent);  // the SYN comes out of poll_transmit
}

void connection::listen() {
  if (state_ != state::closed) return;
  reset_for_open();
  set_state(state::listen);
}

void connection::set_remote(wire::ip_addr addr, std::uint16_t port) {
  tuple_.remote_addr = addr;
  tuple_.remote_port = port;
}

void connection::accept_cookie(instant now, const segment& syn, seq iss, const segment& ack) {
  if (state_ != state::listen) return;
  on_segment(now, syn);  // LISTEN -> SYN_RCVD, options negotiated as from the real SYN
  if (state_ != state::syn_received) return;
  tcb_.iss = tcb_.snd_una = tcb_.snd_nxt = snd_max_ = iss;  // the cookie was our ISS
  // The SYN-ACK left statelessly: account for it as sent without sending it again.
  while (poll_transmit(now)) {
  }
  rtt_timing_ = false;  // when the SYN-ACK really left is unknown: no sample from it (nor on Linux)
  on_segment(now, ack);
}

void connection::reset_for_open() {
  // Everything but the settings, the ISN generator, the tuple and the statistics back to a fresh
  // connection; buffers keep their storage.
  const config& cfg = cfg_;
  send_buf_.clear();
  recv_buf_.clear();
  send_buf_.set_capacity(cfg.send_buffer_initial);
  recv_buf_.set_capacity(cfg.recv_buffer_initial);
  rcvq_space_ = 0;
  tcb_ = {};
  snd_max_ = {};
  max_snd_wnd_ = 0;
  opts_ = {};
  fin_seq_.reset();
  close_pending_ = peer_fin_ = passive_ = false;
  ts_recent_ = 0;
  ts_recent_at_ = {};
  last_ack_sent_ = {};
  ack_owed_ = probe_owed_ = false;
  pending_rst_ = {};
  rst_pending_ = rst_with_ack_ = false;
  rcv_adv_ = {};
  ooo_.clear();
  peer_fin_known_ = false;
  rcv_unacked_ = 0;
  rcv_mss_ = std::min<std::uint32_t>(536, cfg.mss);
  cc_.reset(cfg.congestion_control, effective_mss(), cfg.initial_window);
  scoreboard_.clear();
  in_recovery_ = rexmit_owed_ = cwnd_limited_ = force_send_ = false;
  recover_ = high_rxt_ = {};
  dupacks_ = 0;
  keepalive_out_ = probes_out_ = 0;
  rtt_.restart(cfg.rto_initial);  // (the RTO bounds in cfg_ never change after construction)
  retries_ = 0;
  persist_backoffs_ = 0;
  pmtu_ = mtup_low_ = mtup_high_ = probe_mtu_ = 0;
  probe_end_ = {};
  mtup_enabled_ = false;
  soft_error_ = 0;
  error_from_icmp_ = false;
  syn_retransmitted_ = false;
  rtt_timing_ = false;
  challenge_count_ = 0;
  invalid_ack_sent_ = false;
  send_was_full_ = readable_queued_ = false;
  timers_.disarm_all();
  error_ = 0;
  last_window_advertised_ = 0;  // (RCV.WND is 0 with the TCB: nothing advertised yet)
}

// --- state and events ----------------------------------------------------------------------------

void connection::fail(std::errc why) {
  error_ = static_cast<std::uint8_t>(why);  // errno values, all below 256
  timers_.disarm_all();
  ack_owed_ = probe_owed_ = false;
  set_state(state::closed);
  push_event({event::kind::error, state_, state_, error_});
}

void connection::finish() {
  timers_.disarm_all();
  ack_owed_ = probe_owed_ = false;
  set_state(state::closed);
  push_event({event::kind::closed, state_, state_, {}});
}

void connection::enter_established(instant now) {
  set_state(state::established);
  push_event({event::kind::connected, state_, state_, {}});
  retries_ = 0;
  // The congestion window starts now, in segments of the negotiated size (RFC 5681 §3.1).
  cc_.reset(cfg_.congestion_control, effective_mss(), cfg_.initial_window);
  recover_ = high_rxt_ = tcb_.snd_una;
  last_rcv_ = una_since_ = now;
  arm_keepalive(now);
  // RFC 6298 §5.7: a lost SYN (or SYN-ACK) and no sample: data starts with a 3 s RTO.
  if (syn_retransmitted_ && !rtt_.srtt()) rtt_.reset_after_syn_loss();
  if (close_pending_) {
    close_pending_ = false;
    begin_close();
  }
}

void connection::enter_time_wait(instant now) {
  set_state(state::time_wait);
  timers_.disarm_all();  // RFC 9293: "turn off the other timers"
  timers_.arm(timer_kind::time_wait, now + 2 * cfg_.msl);
  // Everything we sent is acknowledged: a TIME_WAIT holds no send buffer (a server keeps
  // thousands of them). Unread received bytes stay readable.
  send_buf_.release();
  if (recv_buf_.size() == 0) recv_buf_.release();
}

void connection::enter_fin_wait_2(instant now) {
  set_state(state::fin_wait_2);
  timers_.disarm(timer_kind::retransmit);
  timers_.disarm(timer_kind::persist);
  if (orphaned_) timers_.arm(timer_kind::fin_wait_2, now + cfg_.fin_wait_2_timeout);
}

void connection::orphan(instant now) {
  if (orphaned_) return;
  orphaned_ = true;
  if (state_ == state::fin_wait_2) timers_.arm(timer_kind::fin_wait_2, now + cfg_.fin_wait_2_timeout);
}

void connection::return_to_listen() {
  // RFC 9293 §3.10.7.4: a passive open that is reset goes back to LISTEN; the half-open
  // connection is forgotten (remote cleared, like a listener dropping its request).
  reset_for_open();
  tuple_.remote_addr = {};
  tuple_.remote_port = 0;
  set_state(state::listen);
}

void connection::begin_close() {
  fin_seq_ = tcb_.snd_una + static_cast<std::uint32_t>(send_buf_.size());
  set_state(state_ == state::close_wait ? state::last_ack : state::fin_wait_1);
}

// --- user calls ----------------------------------------------------------------------------------

std::size_t connection::send_space() const {
  switch (state_) {
    case state::syn_sent:
    case state::syn_received:
    case state::established:
    case state::close_wait:
      if (fin_seq_ || close_pending_) return 0;
      return send_buf_.free();
    default:
      return 0;
  }
}

std::size_t connection::send(std::span<const std::byte> data) {
  if (send_space() == 0) {
    if (!data.empty() && !fin_seq_ && !close_pending_ && send_buf_.free() == 0) send_was_full_ = true;
    return 0;
  }
  const std::size_t n = send_buf_.write(data);
  if (n < data.size()) send_was_full_ = true;
  return n;
}

std::size_t connection::receive(std::span<std::byte> out) {
  const std::size_t n = recv_buf_.read(out);
  if (n == 0) return 0;
  // Drained: the storage goes back (out-of-order bytes past the end keep it).
  if (ooo_.empty()) recv_buf_.trim(recv_buf_.size());
  // Window update once the right edge can move by a useful amount (RFC 9293 §3.8.6.2.2, receiver
  // side SWS avoidance: min(half the buffer, one MSS); window_field() applies it), so a sender
  // stalled on a small window restarts without waiting for its persist timer.
  const bool receiving =
      state_ == state::established || state_ == state::fin_wait_1 || state_ == state::fin_wait_2;
  const seq edge = tcb_.rcv_nxt + (std::uint32_t{window_field()} << opts_.rcv_wscale);
  // Linux tcp_cleanup_rbuf: a window update of its own only once what is left of the advertised
  // window is at most half the buffer and the new window at least doubles it (while data flows,
  // the next ACK carries the new window anyway; an update per read only doubled the ACKs in bulk).
  const std::uint32_t left = tcb_.rcv_nxt < rcv_adv_ ? static_cast<std::uint32_t>(rcv_adv_ - tcb_.rcv_nxt) : 0;
  const std::uint32_t now_open = static_cast<std::uint32_t>(edge - tcb_.rcv_nxt);
  if (receiving && edge - rcv_adv_ >= static_cast<std::int32_t>(sws_step()) &&
      std::size_t{left} * 2 <= recv_buf_.capacity() && now_open >= 2 * left)
    ack_owed_ = true;
  return n;
}

std::size_t connection::available() const { return recv_buf_.size(); }

void connection::close() {
  switch (state_) {
    case state::listen:
    case state::syn_sent:
      finish();
      break;
    case state::syn_received:
      // Deviation: RFC 9293 sends the FIN from SYN_RCVD at once; we wait for ESTABLISHED so the
      // FIN never precedes the handshake's completion (Linux does not accept() such a child).
      close_pending_ = true;
      break;
    case state::established:
    case state::close_wait:
      begin_close();  // the FIN comes out of poll_transmit after the queued data
      break;
    default:
      break;  // already closing or closed
  }
}

void connection::abort() {
  if (state_ == state::closed) return;
  if (is_synchronized(state_)) {
    // RFC 9293 §3.10.4: <SEQ=SND.NXT><CTL=RST>; with an ACK, as Linux sends it.
    set_rst(snd_max_, tcb_.rcv_nxt, true);
  }
  send_buf_.clear();
  fin_seq_.reset();
  finish();
}

// --- per-socket options ---------------------------------------------------------------------------

void connection::set_nodelay(bool on) { cfg_.nodelay = on; }  // held data goes at the next poll

void connection::set_keepalive(const keepalive_config& k) {
  const config c = sanitize([&] { config t = cfg_; t.keepalive = k; return t; }());
  cfg_.keepalive = c.keepalive;
  keepalive_out_ = 0;
  timers_.disarm(timer_kind::keepalive);
  if (is_synchronized(state_) && state_ != state::time_wait) arm_keepalive(last_rcv_);
}

void connection::set_user_timeout(duration d) { cfg_.user_timeout = std::max(d, duration::zero()); }

void connection::set_congestion_control(congestion_algorithm a) {
  cfg_.congestion_control = a;
  cc_.set_algorithm(a);
}

// --- ICMP and the path MTU -------------------------------------------------------------------------

// Linux tcp_v4_err (net/ipv4/tcp_ipv4.c), without IP_RECVERR, and tcp_req_err for a passive
// SYN_RCVD (a request socket there).
icmp_verdict connection::icmp_check(seq quoted) const {
  switch (state_) {
    case state::closed:
    case state::listen:
    case state::time_wait:  // Linux: a TIME_WAIT socket ignores ICMP
      return icmp_verdict::ignored;
    case state::syn_received:
      // tcp_req_err: only the ISS of our SYN-ACK counts. A simultaneous open: as SYN_SENT.
      if (passive_) return quoted == tcb_.iss ? icmp_verdict::taken : icmp_verdict::out_of_window;
      break;
    default:
      break;
  }
  // RFC 5927 §4.1: the quoted sequence number must be one we have outstanding (SYN_SENT: the ISS).
  return quoted_in_flight(quoted) ? icmp_verdict::taken : icmp_verdict::out_of_window;
}

icmp_verdict connection::on_icmp_error(instant, const icmp_report& r) {
  if (const icmp_verdict v = icmp_check(r.quoted); v != icmp_verdict::taken) return v;
  if (state_ == state::syn_received && passive_) {
    // tcp_req_err: only some errors drop the request (silently: there is no socket to report to,
    // and POSIX wants no errors from accept()).
    if (!r.drops_request) return icmp_verdict::ignored;
    return_to_listen();
    return icmp_verdict::taken;
  }
  if (state_ == state::syn_sent || state_ == state::syn_received) {
    fail_icmp(r.error);  // the handshake ends at once (tcp_done_with_error), whatever the code
    return icmp_verdict::taken;
  }
  // Synchronized. Linux keeps trying ("rfc1122 4.2.3.9 allows to consider as hard errors only
  // PROTO_UNREACH and PORT_UNREACH ... in each dark corner broken firewalls sit"): the error is
  // only remembered (sk_err_soft) and reported if the connection times out. The RFC 1122 choice,
  // aborting on the hard ones, is config::icmp_hard_errors_abort. No RST: the peer is not there
  // to take it (as tcp_done_with_error sends none).
  soft_error_ = static_cast<std::uint8_t>(r.error);
  if (cfg_.icmp_hard_errors_abort && r.fatal) fail_icmp(r.error);
  return icmp_verdict::taken;
}

std::uint16_t connection::path_mtu() const {
  if (pmtu_ != 0) return pmtu_;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(cfg_.mss + ip_tcp_headers(), 0xffff));
}

// Linux tcp_v4_mtu_reduced: the route's MTU is lowered (the engine's cache), then the socket's MSS
// (tcp_sync_mss) and, if it shrank, what is in flight goes again (tcp_simple_retransmit).
icmp_verdict connection::on_path_mtu(instant now, seq quoted, std::uint16_t mtu, bool below_floor) {
  if (const icmp_verdict v = icmp_check(quoted); v != icmp_verdict::taken) return v;
  // The router wanted less than the floor we obey: the path may still be too narrow. Remembered
  // for a timeout, as tcp_v4_mtu_reduced does (sk_err_soft = EMSGSIZE).
  if (below_floor) soft_error_ = static_cast<std::uint8_t>(std::errc::message_size);
  if (mtu >= path_mtu()) return icmp_verdict::ignored;  // not lower: the timer handles it
  const std::uint32_t old_mss = effective_mss();
  pmtu_ = std::max<std::uint16_t>(mtu, min_path_mtu());  // RFC 791's 68, RFC 8200's 1280
  if (mtup_high_ > pmtu_) mtup_high_ = pmtu_;  // the search never goes above what ICMP said
  mss_changed(old_mss);
  const bool data = state_ != state::syn_sent && state_ != state::syn_received;
  if (data && effective_mss() < old_mss) retransmit_smaller(now);
  return icmp_verdict::taken;
}

// The congestion window keeps its count of segments (Linux counts cwnd in packets, so a smaller
// MSS shrinks it in bytes: "units changed and effective cwnd/ssthresh really reduced now").
void connection::mss_changed(std::uint32_t old_mss) {
  const std::uint32_t mss = effective_mss();
  if (mss == old_mss || old_mss == 0) return;
  const bool data = state_ != state::syn_sent && state_ != state::syn_received && state_ != state::listen;
  if (!data) return;  // the window starts at ESTABLISHED with the MSS then in force
  cc_.rescale(mss);
}

// Linux tcp_simple_retransmit: the segments larger than the new MSS are lost (the router dropped
// them); they are sent again now, cut to the new size, without backoff or a congestion response.
// Simplified: the send buffer keeps bytes, not segments, so everything outstanding goes again
// (go-back-N from SND.UNA, skipping what the peer SACKed); segments that were already small
// enough and arrive anyway are duplicates the peer drops.
void connection::retransmit_smaller(instant) {
  // A probe still out was bigger than the MSS now in force: it failed (and is resent as data).
  if (probe_mtu_ != 0) mtu_probe_failed();
  if (tcb_.snd_una == snd_max_) return;
  // As after a timeout but keeping cwnd (Linux enters CA_Loss: no fast retransmit until what
  // was outstanding is acknowledged). Leaving a NewReno recovery, its inflation goes (cwnd at
  // most ssthresh), or the resend would go out as a burst.
  if (in_recovery_) cc_.set_cwnd(std::min(cc_.cwnd(), cc_.ssthresh()));
  in_recovery_ = rexmit_owed_ = false;
  dupacks_ = 0;
  recover_ = snd_max_;
  high_rxt_ = tcb_.snd_una;
  rtt_timing_ = false;  // Karn
  tcb_.snd_nxt = tcb_.snd_una;
}

// RFC 4821 §7.7 / Linux tcp_mtu_probing (net/ipv4/tcp_timer.c), called on a timeout after
// blackhole_after_rtos earlier ones: the first time the search is switched on with base_mss as its
// lower bound (the MSS in use drops to it if it was larger; if it was already smaller, nothing
// changes yet), unconditionally as in Linux; each later time the lower bound halves, bounded
// below by tcp_mtu_probe_floor / tcp_min_snd_mss (48 bytes of MSS). So a path narrower than the
// MSS in use is found whatever that MSS is (a peer MSS of 1000 through a 900-byte hop, a clamped
// frag-needed that still left the MSS too big).
void connection::detect_blackhole() {
  if (!cfg_.mtu_probing) return;
  const std::uint32_t old_mss = effective_mss();
  if (!mtup_enabled_) {
    mtup_enabled_ = true;
    // Linux tcp_mtup_init: the upper bound is the MSS clamp (the peer's MSS, capped by ours) plus
    // the headers, and never above the path MTU ICMP announced.
    const std::uint32_t clamp = std::min<std::uint32_t>(opts_.peer_mss, cfg_.mss) + ip_tcp_headers();
    mtup_high_ = static_cast<std::uint16_t>(std::min<std::uint32_t>(path_mtu(), clamp));
    mtup_low_ = static_cast<std::uint16_t>(mss_to_mtu(base_mss));
  } else {
    std::uint32_t mss = std::min(mtu_to_mss(mtup_low_) / 2, base_mss);
    mss = std::max(mss, min_send_mss);  // Linux tcp_mtu_probe_floor, tcp_min_snd_mss
    mtup_low_ = static_cast<std::uint16_t>(mss_to_mtu(mss));
  }
  // search_high stays at or below the path MTU even when search_low is above it (as in Linux):
  // no probes until the halving brings search_low under it.
  if (stats_.blackholes_detected < 0xffff) ++stats_.blackholes_detected;
  mss_changed(old_mss);
}

// A probe was lost (Linux tcp_mtup_probe_failed): the search's upper bound comes down below it.
void connection::mtu_probe_failed() {
  mtup_high_ = std::min(mtup_high_, static_cast<std::uint16_t>(probe_mtu_ - 1));
  probe_mtu_ = 0;
  if (stats_.mtu_probes_failed < 0xffff) ++stats_.mtu_probes_failed;
}

// --- timers --------------------------------------------------------------------------------------

void connection::on_timer(instant now) {
  if (timers_.expired(timer_kind::retransmit, now)) {
    timers_.disarm(timer_kind::retransmit);
    on_retransmit_timeout(now);
  }
  if (timers_.expired(timer_kind::persist, now)) on_persist_timeout(now);
  if (timers_.expired(timer_kind::delayed_ack, now)) {
    timers_.disarm(timer_kind::delayed_ack);
    ack_owed_ = true;
    ++stats_.delayed_acks;
  }
  if (timers_.expired(timer_kind::keepalive, now)) {
    timers_.disarm(timer_kind::keepalive);
    on_keepalive_timeout(now);
  }
  if (timers_.expired(timer_kind::fin_wait_2, now)) {
    timers_.disarm(timer_kind::fin_wait_2);
    if (state_ == state::fin_wait_2) finish();  // Linux: silently, no RST
  }
  if (timers_.expired(timer_kind::time_wait, now)) {
    timers_.disarm(timer_kind::time_wait);
    if (state_ == state::time_wait) finish();
  }
}

// TCP_USER_TIMEOUT: has the thing timed since `since` waited too long?
bool connection::user_timed_out(instant now, instant since) const {
  return cfg_.user_timeout > duration::zero() && now - since >= cfg_.user_timeout;
}

// The RTO timer (RFC 6298 §5.1), cut short so it fires when the user timeout runs out (Linux
// tcp_clamp_rto_to_user_timeout).
void connection::arm_retransmit(instant now) {
  const duration rto = rtt_.rto();
  instant at = now + rto;
  if (state_ == state::syn_sent && cfg_.coalesce_syn_timer) {
    // Round up to a multiple of the granularity (config::coalesce_syn_timer): the largest power
    // of two of milliseconds not above rto / 16, as Linux's timer wheel (at most 12.5 % late).
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(rto).count() / 16;
    if (ms >= 2) {
      const duration gran = std::chrono::milliseconds{std::bit_floor(static_cast<std::uint64_t>(ms))};
      const duration since = at.time_since_epoch();
      at = instant{(since + gran - duration{1}) / gran * gran};
    }
  }
  const bool handshake = state_ == state::syn_sent || state_ == state::syn_received;
  if (cfg_.user_timeout > duration::zero() && !handshake) at = std::min(at, std::max(now, una_since_ + cfg_.user_timeout));
  timers_.arm(timer_kind::retransmit, at);
}

void connection::on_retransmit_timeout(instant now) {
  const bool handshake = state_ == state::syn_sent || state_ == state::syn_received;
  if (!handshake && tcb_.snd_una == snd_max_) return;  // nothing outstanding
  ++stats_.rto_expirations;
  const unsigned limit = state_ == state::syn_sent       ? cfg_.syn_retries
                         : state_ == state::syn_received ? cfg_.synack_retries
                                                         : cfg_.data_retries;
  // With a user timeout, time decides instead of the retry count (Linux tcp_write_timeout).
  const bool give_up = !handshake && cfg_.user_timeout > duration::zero() ? user_timed_out(now, una_since_)
                                                                          : retries_ >= limit;
  if (give_up) {
    // A passive half-open connection is dropped back to LISTEN (Linux drops the request and the
    // listener lives on); everything else fails.
    if (state_ == state::syn_received && passive_)
      return_to_listen();
    else
      fail_timed_out();
    return;
  }
  if (!handshake) {
    // A probe at SND.UNA that timed out was too big (RFC 4821 §7.5); repeated timeouts of
    // full-sized segments suggest a black hole (RFC 4821 §7.7, Linux tcp_mtu_probing).
    if (probe_mtu_ != 0) {
      if (tcb_.snd_una >= probe_start())
        mtu_probe_failed();
      else
        probe_mtu_ = 0;  // earlier data timed out: the probe says nothing, it is resent as data
    }
    if (retries_ >= blackhole_after_rtos) detect_blackhole();
    // RFC 5681 §3.1 / RFC 9438 §4.8: ssthresh from the flight on the first expiry only, cwnd to
    // the loss window. RFC 6582 §4: no fast retransmit for duplicate ACKs below `recover`.
    // RFC 2018 §8: SACK information is not trusted after a timeout.
    cc_.on_rto(static_cast<std::uint32_t>(snd_max_ - tcb_.snd_una), retries_ == 0 || in_recovery_);
    in_recovery_ = rexmit_owed_ = false;
    dupacks_ = 0;
    scoreboard_.clear();
    recover_ = snd_max_;
    high_rxt_ = tcb_.snd_una;
  }
  if (retries_ < 0xffff) ++retries_;
  rtt_.backoff();     // RFC 6298 §5.5
  rtt_timing_ = false;   // Karn: no sample from anything sent before the retransmission
  // Go-back-N from the oldest unacknowledged sequence number, paced by the loss window and slow
  // start (RFC 5681 §3.1): one segment now, more as ACKs arrive.
  if (handshake) {
    tcb_.snd_nxt = tcb_.iss;
    syn_retransmitted_ = true;
  } else {
    tcb_.snd_nxt = tcb_.snd_una;
  }
  arm_retransmit(now);  // §5.6
}

duration connection::persist_interval() const {
  duration d = rtt_.rto();
  for (unsigned i = 0; i < persist_backoffs_ && d < cfg_.rto_max; ++i) d *= 2;
  return std::min(d, cfg_.rto_max);
}

// Persist timer: a zero window gets a probe; a small window that sender SWS avoidance would not
// use gets used anyway (RFC 9293 §3.8.6.2.1, the override timeout).
void connection::on_persist_timeout(instant now) {
  if (tcb_.snd_wnd != 0) {
    force_send_ = true;
    timers_.disarm(timer_kind::persist);
    return;
  }
  // Linux tcp_probe_timer: give up after data_retries unanswered probes (an answer resets the
  // count, so a live peer with a closed window is probed forever), or once the window has been
  // closed longer than the user timeout, answered or not.
  if (probes_out_ >= cfg_.data_retries || user_timed_out(now, probing_since_)) {
    fail_timed_out();
    return;
  }
  probe_owed_ = true;
  if (probes_out_ < 0xffff) ++probes_out_;
  ++stats_.zero_window_probes;
  if (persist_backoffs_ < 0xffff) ++persist_backoffs_;
  timers_.arm(timer_kind::persist, now + persist_interval());
}

// RFC 1122 §4.2.3.6 keepalive, as Linux does it: after `idle` without a segment from the peer, a
// probe (an old sequence number, which the peer must ACK) every `interval`; after `probes`
// unanswered ones (or the user timeout) a RST and timed_out.
void connection::arm_keepalive(instant now) {
  if (!cfg_.keepalive.enabled) return;
  switch (state_) {
    case state::established:
    case state::close_wait:
    case state::fin_wait_1:
    case state::fin_wait_2:
    case state::closing:
    case state::last_ack:
      timers_.arm(timer_kind::keepalive, now + cfg_.keepalive.idle);
      break;
    default:
      break;
  }
}

void connection::on_keepalive_timeout(instant now) {
  if (!cfg_.keepalive.enabled) return;
  // Data in flight or waiting: the retransmission and persist timers watch the peer instead.
  if (snd_max_ != tcb_.snd_una || send_buf_.size() > 0) {
    arm_keepalive(now);
    return;
  }
  const bool exhausted = cfg_.user_timeout > duration::zero()
                             ? keepalive_out_ > 0 && user_timed_out(now, last_rcv_)
                             : keepalive_out_ >= cfg_.keepalive.probes;
  if (exhausted) {
    // Linux tcp_keepalive_timer: tcp_send_active_reset, then the error.
    const seq rst_seq = snd_max_, rst_ack = tcb_.rcv_nxt;
    fail_timed_out();
    set_rst(rst_seq, rst_ack, true);
    return;
  }
  probe_owed_ = true;
  if (keepalive_out_ < 0xffff) ++keepalive_out_;
  ++stats_.keepalive_probes;
  timers_.arm(timer_kind::keepalive, now + cfg_.keepalive.interval);
}

// Nothing in flight, something to send, and the peer's window (zero, or too small to be worth a
// segment) holds it: the persist timer must run, or nothing ever would.
bool connection::window_blocked() const {
  switch (state_) {
    case state::established:
    case state::close_wait:
    case state::fin_wait_1:
    case state::closing:
    case state::last_ack:
      break;
    default:
      return false;
  }
  if (snd_max_ != tcb_.snd_una) return false;  // an ACK will come (or the RTO fires)
  return plan_new(false).why == send_plan::hold::window;
}

void connection::update_persist_timer_blocked(instant now) {
  if (window_blocked()) {
    if (!timers_.armed(timer_kind::persist)) {
      if (persist_backoffs_ == 0) probing_since_ = now;
      timers_.arm(timer_kind::persist, now + persist_interval());
    }
  } else {
    stop_persist();
  }
}

congestion_info connection::congestion() const {
  congestion_info c;
  c.algorithm = cc_.algorithm();
  c.cwnd = cc_.cwnd();
  c.ssthresh = cc_.ssthresh();
  c.in_flight = in_flight();
  c.in_recovery = in_recovery_;
  c.sacked = scoreboard_.sacked_bytes();
  return c;
}

// --- events and inspection -----------------------------------------------------------------------

state connection::current_state() const { return state_; }
const wire::four_tuple& connection::tuple() const { return tuple_; }
const connection_stats& connection::stats() const { return stats_; }
std::error_code connection::error() const {
  return error_ ? std::make_error_code(static_cast<std::errc>(error_)) : std::error_code{};
}
std::optional<duration> connection::srtt() const { return rtt_.srtt(); }
duration connection::rto() const { return rtt_.rto(); }

}  // namespace synack::tcp
