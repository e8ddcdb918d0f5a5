// Per-connection tunables of the TCP core. Defaults follow Linux where the RFCs leave a choice;
// each field says whose number it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/tcp/time.hpp"

namespace synack::tcp {

struct config {
  // --- options we offer in our SYN / SYN-ACK ---------------------------------------------------
  // Our MSS (RFC 9293 §3.7.1): what we can receive; 1460 = 1500-byte Ethernet MTU - 40.
  std::uint16_t mss = 1460;
  // Window scale shift we offer (RFC 7323 §2); nullopt = do not offer. Capped at 14. Linux picks
  // the shift from the buffer size; 7 is what it ends up with for default buffers.
  std::optional<std::uint8_t> window_scale = 7;
  bool sack_permitted = true;  // RFC 2018; we only record the peer's flag for now
  bool timestamps = true;      // RFC 7323 TSopt

  // --- buffers (each allocated once, on first use; the connection's memory is bounded by them) --
  std::size_t recv_buffer = 64 * 1024;  // receive window = free space in this buffer
  std::size_t send_buffer = 64 * 1024;  // unacknowledged + unsent data
  static constexpr std::size_t max_buffer = std::size_t{1} << 30;  // RFC 7323 window limit

  // --- retransmission (RFC 6298 with Linux's bounds) ------------------------------------------------
  duration rto_initial = std::chrono::seconds{1};          // RFC 6298 §2.1
  duration rto_min = std::chrono::milliseconds{200};           // Linux TCP_RTO_MIN (RFC 6298 says 1 s)
  duration rto_max = std::chrono::seconds{120};            // Linux TCP_RTO_MAX
  duration clock_granularity = std::chrono::milliseconds{1};   // G of RFC 6298 §2; our timestamps tick in ms
  unsigned syn_retries = 6;           // Linux tcp_syn_retries: 1+2+4+8+16+32+64 = 127 s
  unsigned synack_retries = 5;        // Linux tcp_synack_retries
  unsigned data_retries = 15;         // Linux tcp_retries2 (≈ 924 s with rto_min 200 ms)

  // --- closing ---------------------------------------------------------------------------------
  duration msl = std::chrono::seconds{30};                 // TIME_WAIT lasts 2*msl = 60 s, Linux TCP_TIMEWAIT_LEN
  duration fin_wait_2_timeout = std::chrono::seconds{60};  // Linux tcp_fin_timeout

  // --- RFC 5961 ------------------------------------------------------------------------------------
  // Challenge ACKs allowed per second (RFC 5961 §7); smoltcp uses 1. 0 = unlimited.
  unsigned challenge_ack_limit_per_s = 1;
  // At most one ACK per interval answers unacceptable empty segments (Linux tcp_invalid_ratelimit),
  // which breaks ACK loops between two ends that disagree about the window.
  duration invalid_ack_interval = std::chrono::milliseconds{500};

  // --- delayed ACK hook (RFC 9293 §3.8.6.3) ------------------------------------------------------
  // 0 = ACK every segment at once (the default for now). Otherwise an ACK for in-order data may
  // wait this long, and at most until a second full-sized segment arrives.
  duration delayed_ack = std::chrono::milliseconds{0};
};

}  // namespace synack::tcp
