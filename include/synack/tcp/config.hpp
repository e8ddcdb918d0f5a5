// Per-connection tunables of the TCP core. Defaults follow Linux where the RFCs leave a choice;
// each field says whose number it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/tcp/time.hpp"

namespace synack::tcp {

// RFC 5681/6582 NewReno or RFC 9438 CUBIC (congestion_control.hpp).
enum class congestion_algorithm : std::uint8_t { newreno, cubic };

// RFC 1122 §4.2.3.6 keepalive, with Linux's defaults (tcp_keepalive_time/intvl/probes). Off by
// default, as for a kernel socket until SO_KEEPALIVE; a failed peer ends in timed_out.
struct keepalive_config {
  bool enabled = false;
  duration idle = std::chrono::seconds{7200};     // quiet time before the first probe
  duration interval = std::chrono::seconds{75};   // between unanswered probes
  unsigned probes = 9;                            // unanswered probes before giving up
};

// The MSS to offer for an interface MTU (IPv4 and TCP headers without options: 40 bytes; IPv6:
// 60 bytes, and an IPv6 link has at least 1280, so never below 1220 there, RFC 8200 §5).
constexpr std::uint16_t mss_for_mtu(unsigned mtu, bool ipv6 = false) {
  const unsigned headers = ipv6 ? 60 : 40;
  if (ipv6 && mtu < 1280) mtu = 1280;
  return static_cast<std::uint16_t>(mtu > headers + 64 ? (mtu - headers > 0xffff ? 0xffff : mtu - headers) : 64);
}

struct config {
  // --- options we offer in our SYN / SYN-ACK ---------------------------------------------------
  // Our MSS (RFC 9293 §3.7.1): what we can receive; 1460 = 1500-byte Ethernet MTU - 40.
  std::uint16_t mss = 1460;
  // Window scale shift we offer (RFC 7323 §2); nullopt = do not offer. Capped at 14. Linux picks
  // the shift from the buffer size; 7 is what it ends up with for default buffers.
  std::optional<std::uint8_t> window_scale = 7;
  bool sack_permitted = true;  // RFC 2018: SACK blocks sent, RFC 6675 loss recovery when sending
  bool timestamps = true;      // RFC 7323 TSopt: RTT samples and PAWS

  // --- ICMP and path MTU (issue 13; here, in the padding after the flags above) ------------------
  // What an ICMP error does to a synchronized connection. false (Linux's default, tcp_v4_err without
  // IP_RECVERR): nothing at once; the error is remembered (sk_err_soft) and reported instead of
  // timed_out if the connection later times out. true (RFC 1122 §4.2.3.9, which allows treating
  // protocol and port unreachable as hard errors; icmp_err_convert's `fatal` codes here): such an
  // error aborts the connection at once. In SYN_SENT every ICMP error ends the handshake at once
  // either way (Linux tcp_v4_err: tcp_done_with_error).
  bool icmp_hard_errors_abort = false;
  // Packetization-layer path MTU discovery after a black hole (RFC 4821; Linux tcp_mtu_probing=1):
  // after mtu_probe_after_rtos consecutive timeouts of full-sized segments the MSS drops to
  // base_mss (1024) and probes search upward for the largest size that gets through.
  bool mtu_probing = true;

  // --- buffers (issue 16: they cost what they hold, and their limits grow with the load) --------
  // Each buffer's storage is allocated with its first byte, grows with what is queued and given
  // back when drained (byte_ring), so an idle connection holds none. Their *limits* start at the
  // initial values and are autotuned up to the maxima, as Linux's tcp_rmem / tcp_wmem [default,
  // max] are: the receive limit (= the window offered) from what the application read per round
  // trip (Linux tcp_rcv_space_adjust: 2 x that + 16 MSS, more while it grows), the send limit to
  // twice the congestion window (Linux tcp_sndbuf_expand). An initial value equal to its maximum
  // turns autotuning off for that side (what SO_RCVBUF / SO_SNDBUF do on Linux).
  // Maxima: 4 MiB each keeps ~1.6 Gbit/s going over a 20 ms round trip (Linux: 6 and 4 MiB).
  // Initial: a 64 KiB window (Linux offers about half of tcp_rmem[1] = 128 KiB: the other half is
  // its per-packet overhead, which this buffer does not have) and 16 KiB to send (tcp_wmem[1]).
  // (32 bits each: the limit is max_buffer, 1 GiB; every connection holds a copy of the config.)
  std::uint32_t recv_buffer = 4 * 1024 * 1024;  // the most the receive window grows to
  std::uint32_t send_buffer = 4 * 1024 * 1024;  // the most unacknowledged + unsent data
  std::uint32_t recv_buffer_initial = 64 * 1024;
  std::uint32_t send_buffer_initial = 16 * 1024;
  static constexpr std::size_t max_buffer = std::size_t{1} << 30;  // RFC 7323 window limit

  // --- retransmission (RFC 6298 with Linux's bounds) ------------------------------------------------
  duration rto_initial = std::chrono::seconds{1};          // RFC 6298 §2.1
  duration rto_min = std::chrono::milliseconds{200};           // Linux TCP_RTO_MIN (RFC 6298 says 1 s)
  duration rto_max = std::chrono::seconds{120};            // Linux TCP_RTO_MAX
  duration clock_granularity = std::chrono::milliseconds{1};   // G of RFC 6298 §2; our timestamps tick in ms
  unsigned syn_retries = 6;           // Linux tcp_syn_retries: 1+2+4+8+16+32+64 = 127 s
  // (coalesce_syn_timer, below with the other flags: SYN retransmissions coalesced as Linux's.)
  unsigned synack_retries = 5;        // Linux tcp_synack_retries
  unsigned data_retries = 15;         // Linux tcp_retries2 (≈ 924 s with rto_min 200 ms)
  // Challenge ACKs allowed per second (RFC 5961 §7); smoltcp uses 1. 0 = unlimited. (Here, beside
  // the other counts, so the config packs without padding: every connection holds a copy.)
  unsigned challenge_ack_limit_per_s = 1;

  // --- closing ---------------------------------------------------------------------------------
  duration msl = std::chrono::seconds{30};                 // TIME_WAIT lasts 2*msl = 60 s, Linux TCP_TIMEWAIT_LEN
  duration fin_wait_2_timeout = std::chrono::seconds{60};  // Linux tcp_fin_timeout

  // --- RFC 5961 ------------------------------------------------------------------------------------
  // (challenge_ack_limit_per_s, the challenge ACKs allowed per second, sits with the retry counts.)
  // At most one ACK per interval answers unacceptable empty segments (Linux tcp_invalid_ratelimit),
  // which breaks ACK loops between two ends that disagree about the window.
  duration invalid_ack_interval = std::chrono::milliseconds{500};

  // --- delayed ACK (RFC 9293 §3.8.6.3, RFC 5681 §4.2) ---------------------------------------------
  // An ACK for in-order data may wait this long (Linux's TCP_DELACK_MIN, 40 ms), and at most until
  // more than one full-sized segment is unacknowledged. Out-of-order data, data filling a hole, a
  // FIN, the handshake's ACK and window updates are ACKed at once. 0 = ACK every segment at once.
  duration delayed_ack = std::chrono::milliseconds{40};

  // --- sending -----------------------------------------------------------------------------------
  // TCP_NODELAY: no Nagle algorithm (RFC 9293 §3.7.4). Off by default, as for a kernel socket.
  bool nodelay = false;
  // Linux's default is CUBIC; it behaves like Reno on short round trips (its Reno-friendly
  // region) and grows faster on long fat paths.
  congestion_algorithm congestion_control = congestion_algorithm::cubic;
  // SYN retransmissions are coalesced as Linux's timer wheel coalesces its timers: the deadline
  // is rounded up to a multiple (counted from the clock's epoch) of a power-of-two number of
  // milliseconds between 1/16 and 1/8 of the timeout (32 ms for the first 1 s, 64 ms for 2 s), so
  // SYNs sent within the same few milliseconds are retransmitted together, in one burst, as the
  // kernel's are. Against a listener whose accept queue is full this matters: a burst of SYNs
  // reaches it before any of their handshakes' ACKs fill the queue again and all are answered;
  // SYNs retransmitted one by one, in between other connections' ACKs, are dropped again (issue
  // 12 (2)). false: each SYN retransmission at its exact deadline.
  // (Here, in the padding after the two fields above: every connection holds a copy.)
  bool coalesce_syn_timer = true;
  unsigned initial_window = 10;  // segments (RFC 6928, Linux TCP_INIT_CWND)

  // --- liveness ----------------------------------------------------------------------------------
  keepalive_config keepalive;
  // TCP_USER_TIMEOUT (RFC 5482 / Linux): how long sent data may stay unacknowledged (or a zero
  // window stay closed, or keepalive probes go unanswered) before the connection fails with
  // timed_out. 0 = off (data_retries decide instead).
  duration user_timeout = duration::zero();
};

}  // namespace synack::tcp
