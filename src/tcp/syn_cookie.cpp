#include "synack/tcp/syn_cookie.hpp"

#include <array>
#include <cstring>

#include "synack/wire/bytes.hpp"

namespace synack::tcp {

namespace {
constexpr std::uint32_t low24 = 0x00ffffff;
constexpr std::uint8_t max_window_shift = 14;  // RFC 7323 §2.3
}  // namespace

std::uint32_t syn_cookie::counter(instant now) {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(now.time_since_epoch() / period));
}

std::uint8_t syn_cookie::mss_index(std::uint16_t peer_mss, bool ipv6) {
  const auto& table = mss_table(ipv6);
  std::uint8_t i = static_cast<std::uint8_t>(table.size() - 1);
  while (i > 0 && table[i] > peer_mss) --i;
  return i;
}

// SipHash-2-4 over (local addr, local port, remote addr, remote port, count, which): `which`
// separates Linux's two hashes (cookie_hash(..., 0, 0) and cookie_hash(..., count, 1)).
std::uint32_t syn_cookie::hash(const wire::four_tuple& t, std::uint32_t count, std::uint8_t which) const {
  if (t.local_addr.is_v4() && t.remote_addr.is_v4()) {
    std::array<std::byte, 17> msg{};
    wire::store_u32(msg, 0, t.local_addr.v4().value);
    wire::store_u16(msg, 4, t.local_port);
    wire::store_u32(msg, 6, t.remote_addr.v4().value);
    wire::store_u16(msg, 10, t.remote_port);
    wire::store_u32(msg, 12, count);
    msg[16] = std::byte{which};
    return static_cast<std::uint32_t>(siphash_2_4(secret_, msg));
  }
  std::array<std::byte, 41> msg{};  // IPv6: the full addresses (Linux cookie_hash over saddr/daddr)
  std::memcpy(msg.data(), t.local_addr.raw.octets.data(), 16);
  wire::store_u16(msg, 16, t.local_port);
  std::memcpy(msg.data() + 18, t.remote_addr.raw.octets.data(), 16);
  wire::store_u16(msg, 34, t.remote_port);
  wire::store_u32(msg, 36, count);
  msg[40] = std::byte{which};
  return static_cast<std::uint32_t>(siphash_2_4(secret_, msg));
}

seq syn_cookie::make(const wire::four_tuple& t, seq peer_isn, std::uint16_t peer_mss, instant now) const {
  const std::uint32_t count = counter(now);
  const std::uint32_t data = mss_index(peer_mss, t.remote_addr.is_v6());
  return seq{hash(t, 0, 0) + peer_isn.value() + (count << 24) + ((hash(t, count, 1) + data) & low24)};
}

std::optional<std::uint16_t> syn_cookie::check(const wire::four_tuple& t, seq peer_isn, seq cookie,
                                               instant now) const {
  const std::uint32_t count = counter(now);
  const std::uint32_t c = cookie.value() - hash(t, 0, 0) - peer_isn.value();
  // The top 8 bits are the counter when the cookie was made (mod 256).
  const std::uint32_t age = (count - (c >> 24)) & 0xff;
  if (age >= max_age) return std::nullopt;
  const std::uint32_t data = (c - hash(t, count - age, 1)) & low24;
  const auto& table = mss_table(t.remote_addr.is_v6());
  if (data >= table.size()) return std::nullopt;
  return table[data];
}

std::uint32_t syn_cookie::make_tsval(std::uint32_t ms_clock, std::optional<std::uint8_t> peer_wscale, bool sack) {
  std::uint32_t options = peer_wscale ? std::min<std::uint32_t>(*peer_wscale, max_window_shift) : ts_wscale_none;
  if (sack) options |= ts_sack_bit;
  std::uint32_t ts = (ms_clock & ~ts_option_mask) | options;
  // Never ahead of the clock: the peer's PAWS would see our later TSvals go backwards.
  if ((ms_clock & ts_option_mask) < options) ts -= ts_option_mask + 1;
  return ts;
}

std::optional<syn_cookie::ts_options> syn_cookie::read_tsecr(std::uint32_t tsecr) {
  ts_options o;
  const std::uint32_t ws = tsecr & ts_wscale_none;
  if (ws != ts_wscale_none) {
    if (ws > max_window_shift) return std::nullopt;  // not something make_tsval wrote
    o.window_scale = static_cast<std::uint8_t>(ws);
  }
  o.sack_permitted = (tsecr & ts_sack_bit) != 0;
  return o;
}

std::optional<syn_cookie_decoded> syn_cookie::validate(const wire::four_tuple& t, const segment& ack,
                                                       instant now) const {
  if (ack.syn || ack.rst || !ack.ack_num) return std::nullopt;
  syn_cookie_decoded d;
  d.peer_isn = ack.seq_num - 1u;
  d.iss = *ack.ack_num - 1u;
  const auto mss = check(t, d.peer_isn, d.iss, now);
  if (!mss) return std::nullopt;
  d.mss = *mss;
  if (ack.options.timestamps) {
    const auto o = read_tsecr(ack.options.timestamps->tsecr);
    if (!o) return std::nullopt;
    d.timestamps = true;
    d.window_scale = o->window_scale;
    d.sack_permitted = o->sack_permitted;
  }
  return d;
}

}  // namespace synack::tcp
