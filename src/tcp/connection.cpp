// The connection's lifecycle: opening, user calls, state changes, events and timers. Segment
// arrival is in connection_input.cpp, segment output in connection_output.cpp.
#include <algorithm>

#include "synack/tcp/connection.hpp"

namespace synack::tcp {

namespace {

config sanitize(config c) {
  c.recv_buffer = std::clamp<std::size_t>(c.recv_buffer, 1, config::max_buffer);
  c.send_buffer = std::clamp<std::size_t>(c.send_buffer, 1, config::max_buffer);
  if (c.window_scale) c.window_scale = std::min<std::uint8_t>(*c.window_scale, 14);  // RFC 7323 §2.3
  c.mss = std::max<std::uint16_t>(c.mss, 64);
  return c;
}

}  // namespace

connection::connection(const config& cfg, const isn_generator& isns, wire::four_tuple tuple)
    : cfg_(sanitize(cfg)),
      isns_(&isns),
      tuple_(tuple),
      rtt_({cfg_.rto_initial, cfg_.rto_min, cfg_.rto_max, cfg_.clock_granularity}),
      send_buf_(cfg_.send_buffer),
      recv_buf_(cfg_.recv_buffer) {
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

void connection::set_remote(wire::ipv4_addr addr, std::uint16_t port) {
  tuple_.remote_addr = addr;
  tuple_.remote_port = port;
}

void connection::reset_for_open() {
  const connection_stats keep = stats_;
  const isn_generator* isns = isns_;
  const wire::four_tuple tuple = tuple_;
  const config cfg = cfg_;
  // Everything else back to a fresh connection; buffers keep their storage.
  send_buf_.clear();
  recv_buf_.clear();
  tcb_ = {};
  snd_max_ = {};
  max_snd_wnd_ = 0;
  opts_ = {};
  fin_seq_.reset();
  close_pending_ = peer_fin_ = passive_ = false;
  ts_recent_ = 0;
  last_ack_sent_ = {};
  ack_owed_ = probe_owed_ = false;
  pending_rst_.reset();
  segments_unacked_ = 0;
  rtt_ = rtt_estimator({cfg.rto_initial, cfg.rto_min, cfg.rto_max, cfg.clock_granularity});
  retries_ = persist_backoffs_ = 0;
  syn_retransmitted_ = false;
  rtt_seq_.reset();
  challenge_count_ = 0;
  invalid_ack_sent_ = false;
  send_was_full_ = readable_queued_ = false;
  timers_.disarm_all();
  error_ = {};
  stats_ = keep;
  isns_ = isns;
  tuple_ = tuple;
  update_rcv_wnd();
  last_window_advertised_ = tcb_.rcv_wnd;
}

// --- state and events ----------------------------------------------------------------------------

void connection::set_state(state to) {
  if (to == state_) return;
  push_event({event::kind::state_changed, state_, to, {}});
  state_ = to;
}

void connection::push_event(event e) {
  if (e.what == event::kind::readable) {
    if (readable_queued_) return;  // one pending "readable" is enough
    readable_queued_ = true;
  }
  if (!events_.push(e)) ++stats_.events_dropped;
}

void connection::fail(std::errc why) {
  error_ = std::make_error_code(why);
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

void connection::enter_established() {
  set_state(state::established);
  push_event({event::kind::connected, state_, state_, {}});
  retries_ = 0;
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
}

void connection::enter_fin_wait_2(instant now) {
  set_state(state::fin_wait_2);
  timers_.disarm(timer_kind::retransmit);
  timers_.disarm(timer_kind::persist);
  timers_.arm(timer_kind::fin_wait_2, now + cfg_.fin_wait_2_timeout);
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

void connection::update_rcv_wnd() {
  const std::size_t most = std::size_t{0xffff} << opts_.rcv_wscale;
  tcb_.rcv_wnd = static_cast<std::uint32_t>(std::min(recv_buf_.free(), most));
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
  update_rcv_wnd();
  // Window update once the window has opened by a useful amount (RFC 9293 §3.8.6.2.2, receiver
  // side SWS avoidance: min(half the buffer, one MSS)), so a sender stalled on a small window
  // restarts without waiting for its persist timer.
  const bool receiving =
      state_ == state::established || state_ == state::fin_wait_1 || state_ == state::fin_wait_2;
  const std::uint32_t step = static_cast<std::uint32_t>(std::min<std::size_t>(recv_buf_.capacity() / 2, cfg_.mss));
  if (receiving && tcb_.rcv_wnd >= last_window_advertised_ + step) ack_owed_ = true;
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
    segment rst;
    rst.seq_num = snd_max_;
    rst.ack_num = tcb_.rcv_nxt;
    rst.rst = true;
    pending_rst_ = rst;
  }
  send_buf_.clear();
  fin_seq_.reset();
  finish();
}

// --- timers --------------------------------------------------------------------------------------

std::optional<instant> connection::next_deadline() const { return timers_.next(); }

void connection::on_timer(instant now) {
  if (timers_.expired(timer_kind::retransmit, now)) {
    timers_.disarm(timer_kind::retransmit);
    on_retransmit_timeout(now);
  }
  if (timers_.expired(timer_kind::persist, now)) on_persist_timeout(now);
  if (timers_.expired(timer_kind::delayed_ack, now)) {
    timers_.disarm(timer_kind::delayed_ack);
    ack_owed_ = true;
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

void connection::on_retransmit_timeout(instant now) {
  const bool handshake = state_ == state::syn_sent || state_ == state::syn_received;
  if (!handshake && tcb_.snd_una == snd_max_) return;  // nothing outstanding
  ++stats_.rto_expirations;
  const unsigned limit = state_ == state::syn_sent       ? cfg_.syn_retries
                         : state_ == state::syn_received ? cfg_.synack_retries
                                                         : cfg_.data_retries;
  if (retries_ >= limit) {
    // A passive half-open connection is dropped back to LISTEN (Linux drops the request and the
    // listener lives on); everything else fails.
    if (state_ == state::syn_received && passive_)
      return_to_listen();
    else
      fail(std::errc::timed_out);
    return;
  }
  ++retries_;
  rtt_.backoff();     // RFC 6298 §5.5
  rtt_seq_.reset();   // Karn: no sample from anything sent before the retransmission
  // Go-back-N from the oldest unacknowledged sequence number (RFC 6298 §5.4 asks only for the
  // earliest segment; resending the rest is allowed and keeps the core simple).
  if (handshake) {
    tcb_.snd_nxt = tcb_.iss;
    syn_retransmitted_ = true;
  } else {
    tcb_.snd_nxt = tcb_.snd_una;
  }
  timers_.arm(timer_kind::retransmit, now + rtt_.rto());  // §5.6
}

duration connection::persist_interval() const {
  duration d = rtt_.rto();
  for (unsigned i = 0; i < persist_backoffs_ && d < cfg_.rto_max; ++i) d *= 2;
  return std::min(d, cfg_.rto_max);
}

void connection::on_persist_timeout(instant now) {
  probe_owed_ = true;
  ++persist_backoffs_;
  timers_.arm(timer_kind::persist, now + persist_interval());
}

bool connection::zero_window_blocked() const {
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
  if (tcb_.snd_wnd != 0 || snd_max_ != tcb_.snd_una) return false;  // open, or data in flight
  const bool data_waiting = send_buf_.size() > static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una);
  const bool fin_waiting = fin_seq_ && tcb_.snd_nxt <= *fin_seq_;
  return data_waiting || fin_waiting;
}

void connection::update_persist_timer(instant now) {
  if (zero_window_blocked()) {
    if (!timers_.armed(timer_kind::persist)) timers_.arm(timer_kind::persist, now + persist_interval());
  } else {
    timers_.disarm(timer_kind::persist);
    persist_backoffs_ = 0;
  }
}

// --- events and inspection -----------------------------------------------------------------------

std::optional<event> connection::poll_event() {
  event e;
  if (!events_.pop(e)) return std::nullopt;
  if (e.what == event::kind::readable) readable_queued_ = false;
  return e;
}

state connection::current_state() const { return state_; }
const wire::four_tuple& connection::tuple() const { return tuple_; }
const connection_stats& connection::stats() const { return stats_; }
std::error_code connection::error() const { return error_; }
std::optional<duration> connection::srtt() const { return rtt_.srtt(); }
duration connection::rto() const { return rtt_.rto(); }

}  // namespace synack::tcp
