// One TCP connection (RFC 9293), sans-I/O. Segments and the current time go in; segments to send,
// the next timer deadline and user events come out. It never reads a clock, never touches a socket
// and never calls user code: events are queued and drained by the owner after each call.
//
// The engine relies on every public member below keeping its meaning.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

#include "synack/tcp/byte_ring.hpp"
#include "synack/tcp/config.hpp"
#include "synack/tcp/congestion_control.hpp"
#include "synack/tcp/isn.hpp"
#include "synack/tcp/reassembly.hpp"
#include "synack/tcp/rtt.hpp"
#include "synack/tcp/sack_scoreboard.hpp"
#include "synack/tcp/segment.hpp"
#include "synack/tcp/state.hpp"
#include "synack/tcp/time.hpp"
#include "synack/tcp/timers.hpp"
#include "synack/wire/address.hpp"

namespace synack::tcp {

// Who answered with an ICMP error (RFC 792): the router or host that sent it, and what it said.
struct icmp_origin {
  wire::ip_addr from;
  std::uint8_t type = 0;  // ICMPv4 (from is IPv4): 3 unreachable, 11 time exceeded, 12 param problem;
                          // ICMPv6: 1 unreachable, 2 packet too big, 3 time exceeded, 4 param problem
  std::uint8_t code = 0;
  friend bool operator==(const icmp_origin&, const icmp_origin&) = default;
};

// An ICMP error about one of our segments, as the owner (the engine) matched and classified it
// (Linux tcp_v4_err with icmp_err_convert). The core checks the quoted sequence number (RFC 5927)
// and decides what the error does in the current state.
struct icmp_report {
  seq quoted;          // the sequence number of the segment the error quotes
  std::errc error{};   // what a kernel socket reports for it (icmp_err_convert's errno)
  bool fatal = false;  // a hard error (icmp_err_convert's `fatal`: protocol/port unreachable, ...)
  // Linux tcp_req_err: the errors that drop a passive half-open connection (SYN_RCVD): net/host
  // unreachable, time exceeded, parameter problem. (Not the `fatal` ones: there is no socket to
  // report them to, and a transient routing problem is what the SYN-ACK cannot get past.)
  bool drops_request = false;
};

// What on_icmp_error()/on_path_mtu() did, for the owner's counters.
enum class icmp_verdict : std::uint8_t {
  taken,          // acted on: an error reported or remembered, the path MTU lowered
  out_of_window,  // the quoted sequence number is not one we have outstanding (RFC 5927 §4.1)
  ignored,        // nothing to do in this state (TIME_WAIT, CLOSED), or the MTU is not lower
};

struct event {
  enum class kind : std::uint8_t {
    state_changed,  // from -> to (every transition, in order)
    connected,      // handshake completed (ESTABLISHED reached from SYN_SENT/SYN_RCVD)
    readable,       // new in-order data can be received
    eof,            // the peer's FIN was received: no more data will arrive
    writable,       // send buffer space became available after being full
    error,          // the connection failed; `ec` says why; the state is now CLOSED
    closed,         // the connection reached CLOSED without error (orderly end or after TIME_WAIT)
  };
  kind what{};
  state from{};
  state to{};
  std::error_code ec{};  // std::errc::connection_refused, connection_reset, timed_out, ...
  // An `error` caused by an ICMP error (at once, or remembered and reported at a timeout): who
  // answered. Filled in by the engine, which matched the ICMP message (the core never sees one).
  std::optional<icmp_origin> icmp{};
};

struct connection_stats {
  std::uint32_t syn_retransmits = 0;  // SYNs and SYN-ACKs sent again
  std::uint32_t retransmits = 0;      // all retransmitted segments, SYNs included
  std::uint32_t rto_expirations = 0;  // retransmission timer expiries
  std::uint32_t challenge_acks = 0;   // RFC 5961 challenge ACKs sent (after rate limiting)
  std::uint64_t bytes_sent = 0;       // new payload bytes sent (retransmissions excluded)
  std::uint64_t bytes_received = 0;   // payload bytes accepted in order
  // Data path (issue 4).
  std::uint32_t fast_retransmits = 0;     // loss recoveries entered on duplicate ACKs / SACK
  std::uint32_t recovery_retransmits = 0; // segments resent inside a recovery (RFC 6675 / 6582)
  std::uint32_t dup_acks = 0;             // duplicate ACKs received
  std::uint32_t ooo_segments = 0;         // segments received out of order and kept
  std::uint32_t ooo_dropped = 0;          // out-of-order segments dropped (no range slot or room)
  std::uint32_t paws_rejected = 0;        // segments dropped by PAWS (RFC 7323 §5)
  std::uint32_t zero_window_probes = 0;   // persist probes sent
  std::uint32_t keepalive_probes = 0;     // keepalive probes sent
  std::uint32_t delayed_acks = 0;         // ACKs sent by the delayed-ACK timer
  std::uint32_t events_dropped = 0;       // events lost because the owner did not drain the queue
                                          // (here, not above: the 64-bit counters then need no padding)
  // Segments dropped by the RFC 9293 §3.10.7.4 checks, by reason (issue 8).
  std::uint32_t rst_out_of_window = 0;        // RSTs outside the window: ignored (RFC 5961 §3.2)
  std::uint32_t rst_in_window = 0;            // RSTs in the window but not at RCV.NXT: challenged (RFC 5961 §3.2)
  std::uint32_t syn_challenged = 0;           // SYNs on a synchronized connection: challenged (RFC 5961 §4)
  std::uint32_t out_of_window = 0;            // other segments outside the receive window: ACKed, dropped
  std::uint32_t bad_acks = 0;                 // ACKs of data never sent or too old: ACKed, dropped (RFC 5961 §5)
  std::uint32_t no_ack_dropped = 0;           // segments without the ACK bit in a synchronized state
  std::uint32_t challenge_acks_limited = 0;   // challenge ACKs not sent: over the per-second limit
  std::uint32_t invalid_acks_limited = 0;     // answers to unacceptable segments not sent (rate limit)
  std::uint64_t bytes_beyond_window = 0;      // payload bytes cut: past the receive buffer's room
  // Path MTU (issue 13). 16 bits each (saturating): a connection counts a handful, and four of
  // them fill what one 64-bit counter would take.
  std::uint16_t mtu_probes_sent = 0;       // RFC 4821 probes (segments larger than the MSS in use)
  std::uint16_t mtu_probes_succeeded = 0;  // ... acknowledged: the MSS grew to the probe's size
  std::uint16_t mtu_probes_failed = 0;     // ... lost: the search's upper bound came down
  std::uint16_t blackholes_detected = 0;   // full-sized segments timed out repeatedly: MSS lowered
};

// Congestion state, for inspection (bytes).
struct congestion_info {
  congestion_algorithm algorithm{};
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0;
  std::uint32_t in_flight = 0;   // FlightSize, or RFC 6675 pipe during SACK recovery
  bool in_recovery = false;      // fast recovery (RFC 6675 with SACK, RFC 6582 without)
  std::uint32_t sacked = 0;      // bytes on the SACK scoreboard
};

// The RFC 9293 §3.3.1 sequence variables, for inspection. Windows are in bytes (already scaled).
struct transmission_control_block {
  seq iss;               // initial send sequence number
  seq snd_una;           // oldest unacknowledged sequence number
  seq snd_nxt;           // next sequence number to send (rewound to SND.UNA on RTO: go-back-N)
  std::uint32_t snd_wnd = 0;  // peer's receive window
  seq snd_wl1;           // SEG.SEQ of the segment that last updated SND.WND
  seq snd_wl2;           // SEG.ACK of the segment that last updated SND.WND
  seq irs;               // peer's initial sequence number
  seq rcv_nxt;           // next sequence number expected
  std::uint32_t rcv_wnd = 0;  // free space in the receive buffer
};

// What the handshake settled.
struct negotiated_options {
  std::uint16_t peer_mss = 536;  // RFC 9293 §3.7.1 default when the peer sent none
  bool window_scaling = false;   // both sent window scale (RFC 7323 §2.2)
  std::uint8_t snd_wscale = 0;   // shift applied to the peer's windows
  std::uint8_t rcv_wscale = 0;   // shift applied to the windows we send
  bool timestamps = false;       // both sent TSopt (RFC 7323 §3.2)
  bool sack_permitted = false;   // both sent SACK-permitted (RFC 2018)
};

class connection {
public:
  // `isns` must outlive the connection. The tuple's remote half may be empty for listen().
  connection(const config& cfg, const isn_generator& isns, wire::four_tuple tuple);

  // --- opening -----------------------------------------------------------------------------
  // Active open: CLOSED -> SYN_SENT; the SYN comes out of poll_transmit. The ISN comes from the
  // generator (RFC 6528) unless given.
  void connect(instant now);
  void connect(instant now, seq isn);
  // Passive open: CLOSED -> LISTEN. A SYN then moves it to SYN_RCVD; the owner must call
  // set_remote() with the SYN's source first (segments carry no addresses).
  void listen();
  void set_remote(wire::ip_addr addr, std::uint16_t port);
  // SYN cookie (syn_cookie.hpp): in LISTEN, rebuild the handshake a stateless SYN-ACK began.
  // `syn` is the peer's SYN as the cookie remembers it (SEQ = IRS, the MSS class, the options
  // read back from TSecr; its window is the ACK's), `iss` the cookie; then `ack` arrives as it
  // would in SYN_RCVD (normally -> ESTABLISHED). Nothing is sent for the SYN: it was answered.
  void accept_cookie(instant now, const segment& syn, seq iss, const segment& ack);

  // --- input -------------------------------------------------------------------------------
  // One arriving segment (already checksum-verified and addressed to this tuple).
  void on_segment(instant now, const segment& seg);
  // Fire every timer that is due at `now` (no-op if none is).
  void on_timer(instant now);

  // --- output ------------------------------------------------------------------------------
  // Produce the next segment to send, if any. The payload view points into the connection's
  // send buffer and stays valid until the next non-const call. Call until it returns nullopt.
  std::optional<segment> poll_transmit(instant now) {
    // Inline: the owner calls until nullopt, so every drain ends with a call that finds nothing
    // (no RST or ACK owed, nothing the state could send); that one costs a few instructions.
    if (!rst_pending_) {
      if (state_ == state::closed || state_ == state::listen) return std::nullopt;  // only RSTs
      if (!ack_owed_ && !probe_owed_ && nothing_to_send()) {
        stop_persist();  // nothing is held back: no persist timer
        return std::nullopt;
      }
    }
    return transmit(now);
  }
  // The earliest instant at which on_timer() has work, or nullopt if no timer is armed.
  std::optional<instant> next_deadline() const { return timers_.next(); }
  // Next queued user event, oldest first. (Inline: the owner calls it after every call until
  // nullopt, and most of those calls find the queue empty.)
  std::optional<event> poll_event() {
    stored_event e;
    if (!events_.pop(e)) return std::nullopt;
    if (e.what == event::kind::readable) readable_queued_ = false;
    // (The categories come from statics: std::error_code{} and std::make_error_code() call out.)
    return event{e.what, e.from, e.to, e.errc == 0 ? no_error_ : std::error_code{e.errc, errc_category_}};
  }

  // --- ICMP (the owner matched the message to this connection; RFC 5927 checks here) ----------
  // An error (destination unreachable other than fragmentation needed, time exceeded, parameter
  // problem). Counted only if report.quoted is within SND.UNA..SND.NXT (Linux tcp_v4_err; in a
  // passive SYN_RCVD: the ISS, tcp_req_err). SYN_SENT (and an active SYN_RCVD): the connection
  // fails at once with report.error. Passive SYN_RCVD: back to LISTEN if report.drops_request.
  // Synchronized: with config::icmp_hard_errors_abort and a fatal error, fails at once; otherwise
  // the error is remembered and a later timeout reports it instead of timed_out (cleared by any
  // acceptable ACK, as Linux clears sk_err_soft).
  icmp_verdict on_icmp_error(instant now, const icmp_report& report);
  // The RFC 5927 check both of them start with, O(1) and without side effects (the owner asks
  // before it spends anything on the message, its rate limit included): `ignored` in a state that
  // ignores ICMP (CLOSED, LISTEN, TIME_WAIT, as Linux drops TIME_WAIT's before any PMTU work),
  // `out_of_window` unless `quoted` is within SND.UNA..SND.NXT (a passive SYN_RCVD: the ISS; SYN_SENT
  // and a simultaneous-open SYN_RCVD: the ISS too, as that is all that is outstanding), else `taken`.
  icmp_verdict icmp_check(seq quoted) const;
  // Fragmentation needed (RFC 1191): the path now carries at most `mtu` bytes (the owner applied
  // its floor). Lower than the path MTU in use: the MSS follows (Linux tcp_sync_mss: MTU - 40 -
  // the options every segment carries) and everything outstanding is sent again at once at the
  // new size (tcp_simple_retransmit: no backoff, the congestion window keeps its segment count).
  // `below_floor`: the router asked for less than the floor, so the path may still be too narrow
  // (remembered as EMSGSIZE for a timeout, as tcp_v4_mtu_reduced does).
  icmp_verdict on_path_mtu(instant now, seq quoted, std::uint16_t mtu, bool below_floor = false);
  // The path MTU the connection sends for: learned from ICMP or by probing, else its MSS + 40.
  std::uint16_t path_mtu() const;
  // Whether the connection's error came from ICMP (at once, or remembered and reported at a
  // timeout): the owner attaches who answered.
  bool error_from_icmp() const { return error_from_icmp_; }
  // The RFC 4821 search (for inspection): whether black-hole probing is on, and its bounds (MTUs).
  bool mtu_probing_active() const { return mtup_enabled_; }
  std::uint16_t mtu_search_low() const { return mtup_low_; }
  std::uint16_t mtu_search_high() const { return mtup_high_; }

  // --- user calls ----------------------------------------------------------------------------
  // Queue data to send; returns how many bytes fit in the send buffer (0 if closed for sending).
  // Data may be queued in SYN_SENT/SYN_RCVD; it goes out once ESTABLISHED.
  std::size_t send(std::span<const std::byte> data);
  // Copy received in-order data out; returns the number of bytes copied.
  std::size_t receive(std::span<std::byte> out);
  std::size_t available() const;
  // Free space in the send buffer (0 once closed for sending).
  std::size_t send_space() const;
  // Bytes in the send buffer: queued but not yet sent, or sent and not yet acknowledged (what
  // SIOCOUTQ reports for a kernel socket).
  std::size_t send_queued() const { return send_buf_.size(); }
  // Bytes of buffer storage the connection holds now (send + receive): what it costs, as opposed
  // to its limits (issue 16).
  std::size_t buffer_memory() const { return send_buf_.memory() + recv_buf_.memory(); }
  // Graceful close of our sending direction: FIN after queued data (half-close; receiving goes
  // on). In LISTEN or SYN_SENT: straight to CLOSED. In SYN_RCVD the FIN waits for ESTABLISHED.
  void close();
  // The owner will read no more (a kernel socket's close(), as opposed to shutdown(SHUT_WR)):
  // only then does FIN_WAIT_2 time out (Linux: tcp_fin_timeout applies to orphaned sockets, a
  // half-closed socket waits for the peer's FIN as long as the peer keeps the connection up).
  // Without it a half-closed connection whose peer goes quiet for a minute (retransmissions
  // backing off) would end silently with the peer's unsent bytes lost.
  void orphan(instant now);
  bool orphaned() const { return orphaned_; }
  // Abort: RST to the peer if synchronized, then CLOSED at once (event closed, no error).
  void abort();

  // --- per-socket options (the Asio front end maps socket options to these) ----------------
  void set_nodelay(bool on);                          // TCP_NODELAY
  void set_keepalive(const keepalive_config& k);      // SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT
  void set_user_timeout(duration d);                  // TCP_USER_TIMEOUT; 0 = off
  void set_congestion_control(congestion_algorithm a);  // TCP_CONGESTION; keeps cwnd/ssthresh
  const config& settings() const { return cfg_; }

  // --- inspection ----------------------------------------------------------------------------
  state current_state() const;
  const wire::four_tuple& tuple() const;
  const connection_stats& stats() const;
  std::error_code error() const;       // why it failed, if it did
  std::optional<duration> srtt() const;  // smoothed RTT once measured
  duration rto() const;                   // current retransmission timeout, backoff included
  const transmission_control_block& tcb() const { return tcb_; }
  const negotiated_options& negotiated() const { return opts_; }
  std::optional<instant> timer_deadline(timer_kind k) const { return timers_.deadline(k); }
  congestion_info congestion() const;
  std::size_t ooo_ranges() const { return ooo_.size(); }  // out-of-order ranges held

private:
  // A queued event as stored: the error as its errno value (every error is a std::errc).
  struct stored_event {
    event::kind what{};
    state from{};
    state to{};
    std::uint8_t errc = 0;  // 0: no error
  };
  // The events one call can queue (the most is accept_cookie(): about eight) with room to spare;
  // the owner drains after every call (stats().events_dropped counts overflow).
  static constexpr std::size_t event_capacity = 12;
  static inline const std::error_code no_error_{};
  static inline const std::error_category& errc_category_ = std::generic_category();  // std::errc's
  // A RST waiting to go out (abort, keepalive give-up, reply to a stray segment).
  // (Whether one waits, and whether it carries an ACK, are rst_pending_ and rst_with_ack_ among
  // the flags at the end, where they take no padding.)
  struct rst_reply {
    seq seq_num;
    seq ack_num;
  };
  void set_rst(seq seq_num, seq ack_num, bool with_ack) {
    pending_rst_ = {seq_num, ack_num};
    rst_with_ack_ = with_ack;
    rst_pending_ = true;
  }

  // --- state and events (connection.cpp) ---
  // (Both inline: every transition and most events go through them.)
  void set_state(state to) {  // the one place the state changes
    if (to == state_) return;
    push_event({event::kind::state_changed, state_, to, {}});
    state_ = to;
  }
  void push_event(stored_event e) {
    if (e.what == event::kind::readable) {
      if (readable_queued_) return;  // one pending "readable" is enough
      readable_queued_ = true;
    }
    if (!events_.push(e)) ++stats_.events_dropped;
  }
  void fail(std::errc why);                   // -> CLOSED with an error event
  void finish();                               // -> CLOSED with a closed event
  void reset_for_open();
  void enter_time_wait(instant now);
  void enter_fin_wait_2(instant now);
  void enter_established(instant now);
  void return_to_listen();                     // RFC 9293: a passive SYN_RCVD reset goes back
  void begin_close();                          // queue our FIN and move on from ESTABLISHED/CLOSE_WAIT
  // RCV.WND: what is left of the window we advertised (RFC 9293 §3.3.1).
  void update_rcv_wnd() {
    tcb_.rcv_wnd = tcb_.rcv_nxt < rcv_adv_ ? static_cast<std::uint32_t>(rcv_adv_ - tcb_.rcv_nxt) : 0;
  }
  void update_persist_timer(instant now) {
    if (nothing_to_send())  // (inline: the usual answer) nothing to send, so nothing blocked
      stop_persist();
    else
      update_persist_timer_blocked(now);
  }
  void update_persist_timer_blocked(instant now);  // something to send: is the window holding it?
  void stop_persist() {
    timers_.disarm(timer_kind::persist);
    persist_backoffs_ = 0;
    probes_out_ = 0;
  }
  void on_retransmit_timeout(instant now);
  void on_persist_timeout(instant now);
  void on_keepalive_timeout(instant now);
  void arm_keepalive(instant now);
  void arm_retransmit(instant now);
  bool user_timed_out(instant now, instant since) const;
  duration persist_interval() const;
  std::uint32_t sws_step() const {        // receiver SWS: min(half the buffer, one MSS)
    return static_cast<std::uint32_t>(std::min<std::size_t>(recv_buf_.capacity() / 2, cfg_.mss));
  }
  bool window_blocked() const;
  bool fin_acked() const { return fin_seq_ && *fin_seq_ < tcb_.snd_una; }

  // --- segment arrival by RFC 9293 §3.10.7 step (connection_input.cpp) ---
  // (Here and in the output section, the helpers marked inline are called from their own file
  // only, where they are defined, so that the per-segment path is a few calls rather than dozens.)
  void arrive_closed(const segment& seg);
  void arrive_listen(instant now, const segment& seg);
  inline void arrive_syn_sent(instant now, const segment& seg);
  inline void arrive_synchronized(instant now, const segment& seg);
  void process_synchronized(instant now, const segment& seg);
  bool time_wait_fin_retransmitted(instant now, const segment& seg);
  bool syn_received_duplicate_syn(segment& seg);
  inline bool check_sequence(instant now, const segment& seg, bool& ack_only);  // step 1
  inline bool check_rst(instant now, const segment& seg);                 // step 2
  inline bool check_syn(instant now, const segment& seg);                 // step 4
  inline bool check_paws(instant now, const segment& seg);                // RFC 7323 §5.3 R1
  bool process_ack(instant now, const segment& seg);                      // step 5
  void process_text(instant now, const segment& seg);                     // step 7
  inline void process_fin(instant now, const segment& seg);               // step 8
  inline void take_fin(instant now);
  inline void detect_loss(instant now, const segment& seg, std::uint32_t newly_sacked, bool dup);
  void enter_recovery(instant now);
  void on_recovery_ack(instant now, std::uint32_t acked);
  bool rate_limit_invalid_ack(instant now, const segment& seg);
  inline void take_peer_syn(instant now, const segment& seg);
  void acknowledge_new_data(instant now, seq ack, std::optional<std::uint32_t> echoed);
  inline std::optional<std::uint32_t> echoed_timestamp(const segment& seg) const;
  inline void update_send_window(const segment& seg);
  inline void update_ts_recent(const segment& seg);
  void challenge_ack(instant now);
  void owe_ack(instant now, std::uint32_t n);
  void queue_rst_reply(const segment& seg);

  // --- output (connection_output.cpp) ---
  // Each fills a freshly constructed segment and says whether it made one.
  // True when neither the SYN/SYN-ACK nor data, a FIN or a retransmission could go now, whatever
  // the windows say: poll_transmit() then only owes a pure ACK, if that.
  bool nothing_to_send() const {
    switch (state_) {
      case state::syn_sent:
      case state::syn_received:
        return tcb_.snd_nxt != tcb_.iss;
      case state::established:
      case state::close_wait:
      case state::fin_wait_1:
      case state::closing:
      case state::last_ack:
        // SND.NXT rewound below SND.MAX (a timeout) always leaves something to resend.
        return !in_recovery_ && static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una) >= send_buf_.size() &&
               !(fin_seq_ && tcb_.snd_nxt <= *fin_seq_) && !(tcb_.snd_nxt < snd_max_);
      default:
        return true;  // FIN_WAIT_2, TIME_WAIT: our FIN is acknowledged
    }
  }
  std::optional<segment> transmit(instant now);  // poll_transmit() beyond its quick "nothing"
  inline bool transmit_syn(instant now, segment& s);
  inline bool transmit_data(instant now, segment& s);
  bool transmit_retransmission(instant now, segment& s);
  inline bool transmit_new(instant now, segment& s);
  struct send_plan {
    enum class hold : std::uint8_t { none, nothing, window, cwnd, nagle };
    std::size_t len = 0;
    bool fin = false;
    hold why = hold::nothing;
  };
  send_plan plan_new(bool force) const;
  void data_segment(instant now, seq at, std::size_t len, bool fin, segment& s);
  inline void make_segment(instant now, seq seq_num, segment& s) const;
  inline void after_transmit(instant now, const segment& seg);
  std::uint16_t window_field() const;
  // SEG.WND in a SYN: the free buffer, unscaled (RFC 7323 §2.2).
  std::uint16_t syn_window() const {
    return static_cast<std::uint16_t>(std::min<std::size_t>(recv_buf_.free(), 0xffff));
  }
  // Eff.snd.MSS (RFC 9293 §3.7.1): the peer's MSS, capped by ours, minus option space we always
  // use; without SACK blocks (the congestion-control SMSS).
  // The path MTU (ICMP, RFC 1191) and the RFC 4821 search's lower bound (after a black hole) cap it
  // too (Linux tcp_mtu_to_mss: MTU - 40 (IPv6: 60), capped by the MSS clamp, minus the options).
  std::uint32_t effective_mss() const {
    std::uint32_t m = std::min<std::uint32_t>(opts_.peer_mss, cfg_.mss);
    if (pmtu_ != 0) m = std::min<std::uint32_t>(m, pmtu_ - ip_tcp_headers());
    if (mtup_enabled_) m = std::min<std::uint32_t>(m, mtup_low_ - ip_tcp_headers());
    if (opts_.timestamps) m -= std::min(m, timestamp_option_space);
    return std::max(m, min_send_mss);
  }
  // IP + TCP headers without options: 40 for IPv4, 60 for IPv6 (Linux icsk_af_ops->net_header_len).
  std::uint32_t ip_tcp_headers() const { return tuple_.remote_addr.is_v6() ? 60 : 40; }
  // The smallest MTU a path may have: IPv4 68 (RFC 791), IPv6 1280 (RFC 8200 §5).
  std::uint16_t min_path_mtu() const { return tuple_.remote_addr.is_v6() ? 1280 : 68; }
  // RFC 4821 / Linux: tcp_base_mss (the MSS a black hole falls back to), tcp_probe_threshold (the
  // search stops when its bounds are closer than this), tcp_retries1 (timeouts before a black hole
  // is suspected).
  static constexpr std::uint32_t base_mss = 1024;
  static constexpr std::uint32_t mtu_probe_threshold = 8;
  static constexpr unsigned blackhole_after_rtos = 3;
  // MSS <-> MTU for this connection (options every segment carries included: Linux tcp_mss_to_mtu).
  std::uint32_t option_space() const { return opts_.timestamps ? timestamp_option_space : 0; }
  std::uint32_t mtu_to_mss(std::uint32_t mtu) const {
    return mtu > ip_tcp_headers() + option_space() ? mtu - ip_tcp_headers() - option_space() : 0;
  }
  std::uint32_t mss_to_mtu(std::uint32_t mss) const { return mss + ip_tcp_headers() + option_space(); }
  bool quoted_in_flight(seq quoted) const { return in_range_closed(tcb_.snd_una, quoted, snd_max_); }
  void fail_icmp(std::errc why) {
    error_from_icmp_ = true;
    fail(why);
  }
  // A timeout: the remembered ICMP error if there is one (Linux tcp_write_err: sk_err_soft or
  // ETIMEDOUT).
  void fail_timed_out() {
    if (soft_error_ != 0)
      fail_icmp(static_cast<std::errc>(soft_error_));
    else
      fail(std::errc::timed_out);
  }
  void retransmit_smaller(instant now);   // Linux tcp_simple_retransmit
  void mss_changed(std::uint32_t old_mss);
  void detect_blackhole();                 // on a timeout: RFC 4821 / Linux tcp_mtu_probing
  inline bool transmit_mtu_probe(instant now, segment& s);
  void mtu_probe_failed();
  seq probe_start() const { return probe_end_ - mtu_to_mss(probe_mtu_); }
  static constexpr std::uint32_t timestamp_option_space = 12;  // TSopt (10) + 2 NOPs, as Linux lays it out
  static constexpr std::uint32_t min_send_mss = 48;            // Linux TCP_MIN_SND_MSS
  inline std::uint32_t send_mss() const;   // what fits beside the SACK blocks we would send now
  inline void tune_send_buffer();          // autotuning (issue 16): the limits grow with the load
  inline void tune_receive_buffer(instant now);
  inline std::size_t sack_option_blocks() const;
  // Bytes in flight: RFC 6675 pipe during SACK recovery, else SND.NXT - SND.UNA (after a timeout's
  // rewind, only what has been resent counts: the rest is presumed lost).
  std::uint32_t in_flight() const {
    if (sack_recovery()) return scoreboard_.pipe(tcb_.snd_una, snd_max_, high_rxt_, cc_.smss());
    return tcb_.snd_una < tcb_.snd_nxt ? static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una) : 0;
  }
  bool sack_recovery() const { return in_recovery_ && opts_.sack_permitted; }
  // TSval clock: milliseconds of the caller's clock, modulo 2^32 (RFC 7323 §5.4 allows 1 ms..1 s).
  static std::uint32_t ms_clock(instant now) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms));
  }

  // The members, largest alignment first and the flags packed at the end, so an idle connection
  // is small (tests/tcp/primitives_test.cpp bounds sizeof(connection)): buffers and range arrays
  // are allocated on first use, events and timers are compact values.

  config cfg_;
  const isn_generator* isns_;

  // RFC 7323 timestamps, liveness, RTT timing and rate limits: when things happened.
  instant ts_recent_at_{};          // when TS.Recent was last set (PAWS: invalid after 24 days)
  instant una_since_{};             // when SND.UNA last moved or data became outstanding
  instant last_rcv_{};              // last acceptable segment from the peer
  instant probing_since_{};         // first zero-window probe of this closed window
  instant rtt_start_{};
  // RFC 5961 §7 rate limit, and Linux's limit on ACKs answering unacceptable empty segments.
  instant challenge_window_start_{};
  instant last_invalid_ack_{};

  rtt_estimator rtt_;
  congestion_control cc_;           // send side: congestion control
  sack_scoreboard scoreboard_;      // and loss recovery
  reassembly ooo_;                  // receive side: out-of-order queue
  byte_ring send_buf_;
  byte_ring recv_buf_;
  timer_set timers_;
  connection_stats stats_;

  wire::four_tuple tuple_;
  transmission_control_block tcb_;
  seq snd_max_;                     // one past the highest sequence number ever sent
  std::uint32_t max_snd_wnd_ = 0;   // MAX.SND.WND of RFC 5961 §5
  std::optional<seq> fin_seq_;      // sequence number of our FIN once close() queued it
  seq peer_fin_seq_;                // the peer's FIN, received ahead of missing data (if peer_fin_known_)
  seq rtt_seq_;                     // timed segment (Karn): sample when this is acknowledged (if rtt_timing_)
  std::uint32_t ts_recent_ = 0;     // RFC 7323 TS.Recent
  seq last_ack_sent_;
  seq rcv_adv_;                     // RCV.NXT + RCV.WND as last advertised (never moves left)
  std::uint32_t rcv_unacked_ = 0;   // in-order bytes not yet ACKed (delayed ACK)
  std::uint32_t rcv_mss_ = 536;     // largest segment seen: "full-sized" for delayed ACKs
  // Receive autotuning (Linux rcvq_space): bytes read in the last measured round trip (0: not
  // measuring yet), where it started (RCV.NXT minus the unread bytes) and when (ms clock).
  std::uint32_t rcvq_space_ = 0;
  seq rcvq_seq_;
  std::uint32_t rcvq_stamp_ = 0;
  seq recover_;                     // RFC 6582 "recover": SND.MAX when recovery / the RTO began
  seq high_rxt_;                    // RFC 6675 HighRxt
  // (16 bits: the limits they are compared with are clamped to 65,535 by the config's sanitizer,
  // and the bytes saved pay for the path MTU state below.)
  std::uint16_t dupacks_ = 0;       // (saturating)
  std::uint16_t keepalive_out_ = 0; // unanswered keepalive probes
  std::uint16_t probes_out_ = 0;    // unanswered zero-window probes
  std::uint16_t retries_ = 0;       // consecutive RTO expiries without progress
  std::uint16_t persist_backoffs_ = 0;  // (saturating)
  std::uint16_t challenge_count_ = 0;
  std::uint32_t last_window_advertised_ = 0;  // bytes
  rst_reply pending_rst_;
  bounded_queue<stored_event, event_capacity> events_;
  negotiated_options opts_;         // (7 bytes: after the queue's 50 and before the flags, no padding)

  // Path MTU (issue 13): learned from ICMP fragmentation-needed (0: none, the MSS decides), and the
  // RFC 4821 search after a black hole (MTUs; a probe is out while probe_mtu_ != 0, ending at
  // probe_end_ and starting probe_mtu_ - 40 - options bytes before it).
  std::uint16_t pmtu_ = 0;
  std::uint16_t mtup_low_ = 0;
  std::uint16_t mtup_high_ = 0;
  std::uint16_t probe_mtu_ = 0;
  seq probe_end_;

  state state_ = state::closed;
  std::uint8_t error_ = 0;          // why it failed: a std::errc value, 0 if it did not
  std::uint8_t soft_error_ = 0;     // an ICMP error remembered for a timeout (Linux sk_err_soft)
  // The flags, one bit each (an idle connection is paid for per byte: tests/tcp/footprint_test).
  bool passive_ : 1 = false;            // this handshake began in LISTEN
  bool close_pending_ : 1 = false;      // close() in SYN_RCVD: FIN after the handshake
  bool peer_fin_ : 1 = false;           // the peer's FIN was accepted
  bool in_recovery_ : 1 = false;
  bool rexmit_owed_ : 1 = false;        // fast retransmit / NewReno partial ACK: resend at SND.UNA
  bool cwnd_limited_ : 1 = false;       // a send was held by cwnd since the last ACK
  bool force_send_ : 1 = false;         // persist expiry with a small window: sender SWS override
  bool ack_owed_ : 1 = false;           // output obligations
  bool probe_owed_ : 1 = false;
  bool syn_retransmitted_ : 1 = false;
  bool invalid_ack_sent_ : 1 = false;
  bool send_was_full_ : 1 = false;
  bool readable_queued_ : 1 = false;
  bool rst_pending_ : 1 = false;        // pending_rst_ is to go out
  bool rst_with_ack_ : 1 = false;       // with the ACK bit
  bool orphaned_ : 1 = false;           // orphan(): FIN_WAIT_2 may time out
  bool error_from_icmp_ : 1 = false;    // error_ came from ICMP (at once or at a timeout)
  bool mtup_enabled_ : 1 = false;       // RFC 4821 search on (a black hole was detected)
  // (Validity bits of two sequence numbers above: 8 bytes less than two std::optionals.)
  bool peer_fin_known_ : 1 = false;     // peer_fin_seq_ holds a FIN that came ahead of a hole
  bool rtt_timing_ : 1 = false;         // rtt_seq_ is being timed
};

}  // namespace synack::tcp
