// SYN cookies (RFC 4987 §3.6), laid out as Linux lays them out (net/ipv4/syncookies.c), so a
// listener whose half-open queue is full can still answer every SYN without keeping state, and
// rebuild the connection from the ACK that completes the handshake.
//
// The cookie is the ISS of the SYN-ACK:
//
//     ISS = H0(tuple) + SEG.SEQ + (count << 24) + ((H1(tuple, count) + mss_index) mod 2^24)
//
// H0 and H1 are SipHash-2-4 with the listener's secret over the four-tuple (and for H1 the time
// counter); `count` ticks every 64 s (Linux: 60 s in jiffies rounded to a power of two); the low
// 24 bits carry the MSS class (an index into mss_table, as Linux's msstab). The ACK's SEG.ACK - 1
// and SEG.SEQ - 1 give back the cookie and the peer's ISN; a cookie older than max_age ticks
// (two: 64 to 128 s) or with a bad hash is rejected.
//
// When the peer's SYN carried timestamps, the options that do not fit in the ISS ride in the low
// six bits of our SYN-ACK's TSval and come back in the ACK's TSecr (Linux cookie_init_timestamp):
// bits 0-3 the peer's window scale shift (0xf = none), bit 4 SACK-permitted. Without timestamps
// the rebuilt connection has no window scaling and no SACK (the peer's ACK carries no TSecr to
// read them from), as on Linux.
//
// Pure: no clock, no randomness; the owner passes the time and draws the secret once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "synack/tcp/segment.hpp"
#include "synack/tcp/seq.hpp"
#include "synack/tcp/siphash.hpp"
#include "synack/tcp/time.hpp"
#include "synack/wire/address.hpp"

namespace synack::tcp {

// Linux's msstab (syncookies.c): the MSS a cookie can remember, largest not above the peer's.
inline constexpr std::array<std::uint16_t, 4> syn_cookie_mss_table{536, 1300, 1440, 1460};
// Linux's msstab for IPv6 (net/ipv6/syncookies.c): MTUs 1280, 1480, 1500 and 9000 minus 60.
inline constexpr std::array<std::uint16_t, 4> syn_cookie_mss_table_v6{1220, 1420, 1440, 8940};

// What a valid cookie ACK says about the peer's SYN.
struct syn_cookie_decoded {
  seq peer_isn;                             // the SYN's SEG.SEQ (IRS)
  seq iss;                                  // our ISS: the cookie
  std::uint16_t mss = 536;                  // the peer's MSS, rounded down to its class
  bool timestamps = false;                  // the peer uses timestamps (the ACK carried TSopt)
  std::optional<std::uint8_t> window_scale; // the peer's shift, if it offered window scaling
  bool sack_permitted = false;
};

class syn_cookie {
public:
  static constexpr std::chrono::seconds period{64};    // one tick of the counter
  static constexpr std::uint32_t max_age = 2;          // ticks a cookie stays valid (Linux MAX_SYNCOOKIE_AGE)
  static constexpr std::uint32_t ts_option_bits = 6;   // low TSval bits that carry options
  static constexpr std::uint32_t ts_option_mask = (1u << ts_option_bits) - 1;  // Linux TSMASK
  static constexpr std::uint32_t ts_wscale_none = 0xf;
  static constexpr std::uint32_t ts_sack_bit = 1u << 4;

  explicit syn_cookie(const siphash_key& secret) : secret_(secret) {}

  // The 64-second counter at `now`.
  static std::uint32_t counter(instant now);
  // Index into syn_cookie_mss_table (or, for an IPv6 tuple, syn_cookie_mss_table_v6) for a peer's
  // MSS: the largest entry not above it; 0 below the smallest.
  static std::uint8_t mss_index(std::uint16_t peer_mss, bool ipv6 = false);
  static const std::array<std::uint16_t, 4>& mss_table(bool ipv6) {
    return ipv6 ? syn_cookie_mss_table_v6 : syn_cookie_mss_table;
  }

  // The cookie ISS for a SYN with sequence number `peer_isn` from the tuple's remote end.
  seq make(const wire::four_tuple& t, seq peer_isn, std::uint16_t peer_mss, instant now) const;
  // The MSS class if `cookie` is ours for this tuple and ISN and not older than max_age.
  std::optional<std::uint16_t> check(const wire::four_tuple& t, seq peer_isn, seq cookie, instant now) const;

  // TSval for the cookie SYN-ACK: `ms_clock` (our millisecond timestamp clock) with its low bits
  // replaced by the options, never ahead of ms_clock (Linux: it steps back 64 ms if it would be).
  static std::uint32_t make_tsval(std::uint32_t ms_clock, std::optional<std::uint8_t> peer_wscale, bool sack);
  // The options back from a TSecr; nullopt if they cannot be ours (a shift above 14: with four
  // bits and 0xf meaning none, every value decodes today; the check guards a wider field).
  struct ts_options {
    std::optional<std::uint8_t> window_scale;
    bool sack_permitted = false;
  };
  static std::optional<ts_options> read_tsecr(std::uint32_t tsecr);

  // The whole check of a segment arriving for a listening port with no connection: it must be
  // a bare ACK (no SYN, no RST) whose SEG.ACK - 1 is a valid cookie for SEG.SEQ - 1, and whose
  // TSecr (if any) decodes. nullopt: drop it.
  std::optional<syn_cookie_decoded> validate(const wire::four_tuple& t, const segment& ack, instant now) const;

private:
  std::uint32_t hash(const wire::four_tuple& t, std::uint32_t count, std::uint8_t which) const;
  siphash_key secret_;
};

}  // namespace synack::tcp
