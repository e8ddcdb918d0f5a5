// TCP option parsing and emitting (RFC 9293 §3.2, RFC 7323, RFC 2018).
#include <algorithm>

#include "synack/wire/tcp.hpp"

namespace synack::wire {

namespace {

namespace kind = tcp_option_kind;

constexpr std::size_t mss_len = 4;
constexpr std::size_t window_scale_len = 3;
constexpr std::size_t sack_permitted_len = 2;
constexpr std::size_t timestamps_len = 10;
constexpr std::size_t sack_block_len = 8;
constexpr std::size_t max_sack_blocks = 4;  // 2 + 4 * 8 = 34 bytes, the most that fits in 40

// Reads the body of one known option into `out`; false if its length is wrong for its kind.
bool read_option(std::uint8_t k, bytes option, tcp_options& out) {
  const std::size_t len = option.size();
  switch (k) {
    case kind::mss:
      if (len != mss_len) return false;
      out.mss = load_u16(option, 2);
      return true;
    case kind::window_scale:
      if (len != window_scale_len) return false;
      out.window_scale = load_u8(option, 2);
      return true;
    case kind::sack_permitted:
      if (len != sack_permitted_len) return false;
      out.sack_permitted = true;
      return true;
    case kind::sack: {
      const std::size_t body = len - 2;
      if (body == 0 || body % sack_block_len != 0 || body / sack_block_len > max_sack_blocks) return false;
      out.sack_count = static_cast<std::uint8_t>(body / sack_block_len);
      for (std::size_t i = 0; i < out.sack_count; ++i)
        out.sack[i] = {load_u32(option, 2 + i * sack_block_len), load_u32(option, 6 + i * sack_block_len)};
      return true;
    }
    case kind::timestamps:
      if (len != timestamps_len) return false;
      out.timestamps = tcp_timestamps{load_u32(option, 2), load_u32(option, 6)};
      return true;
    default:
      return true;  // unknown kind: skipped by its length
  }
}

struct layout {
  bool ts_with_sack_permitted;  // SACK-permitted rides in the two NOP slots before TS
  std::size_t sack_blocks;      // how many SACK blocks fit
  std::size_t fixed_len;        // everything but the SACK blocks option
};

layout plan(const tcp_options& o) {
  layout l{};
  l.ts_with_sack_permitted = o.sack_permitted && o.timestamps.has_value();
  if (o.mss) l.fixed_len += 4;
  if (o.timestamps) l.fixed_len += 12;
  if (o.window_scale) l.fixed_len += 4;
  if (o.sack_permitted && !o.timestamps) l.fixed_len += 4;
  const std::size_t room = tcp_max_options_len - l.fixed_len;
  const std::size_t fit = room >= 4 + sack_block_len ? (room - 4) / sack_block_len : 0;
  l.sack_blocks = std::min<std::size_t>({o.sack_count, fit, max_sack_blocks});
  return l;
}

}  // namespace

parse_result<tcp_options> parse_tcp_options(bytes area) {
  tcp_options out;
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t k = load_u8(area, i);
    if (k == kind::eol) break;  // RFC 9293 §3.2: end of the option list
    if (k == kind::nop) {
      ++i;
      continue;
    }
    if (i + 1 >= area.size()) return parse_error::option_past_header;  // no room for a length
    const std::size_t len = load_u8(area, i + 1);
    if (len == 0) return parse_error::option_length_zero;
    if (len == 1) return parse_error::option_length_one;
    if (len > area.size() - i) return parse_error::option_past_header;
    if (!read_option(k, area.subspan(i, len), out)) return parse_error::bad_option_length;
    i += len;  // len >= 2, so the loop always advances
  }
  return out;
}

std::size_t tcp_options_len(const tcp_options& options) {
  const layout l = plan(options);
  return l.fixed_len + (l.sack_blocks ? 4 + l.sack_blocks * sack_block_len : 0);
}

std::size_t emit_tcp_options(mutable_bytes out, const tcp_options& o) {
  const layout l = plan(o);
  std::size_t at = 0;
  auto put8 = [&](std::uint8_t v) { store_u8(out, at++, v); };
  auto put32 = [&](std::uint32_t v) { store_u32(out, at, v); at += 4; };

  if (o.mss) {
    put8(kind::mss), put8(mss_len);
    store_u16(out, at, *o.mss);
    at += 2;
  }
  if (o.timestamps) {
    if (l.ts_with_sack_permitted) put8(kind::sack_permitted), put8(sack_permitted_len);
    else put8(kind::nop), put8(kind::nop);
    put8(kind::timestamps), put8(timestamps_len);
    put32(o.timestamps->tsval), put32(o.timestamps->tsecr);
  }
  if (o.window_scale) put8(kind::nop), put8(kind::window_scale), put8(window_scale_len), put8(*o.window_scale);
  if (o.sack_permitted && !o.timestamps)
    put8(kind::nop), put8(kind::nop), put8(kind::sack_permitted), put8(sack_permitted_len);
  if (l.sack_blocks) {
    put8(kind::nop), put8(kind::nop), put8(kind::sack);
    put8(static_cast<std::uint8_t>(2 + l.sack_blocks * sack_block_len));
    for (std::size_t i = 0; i < l.sack_blocks; ++i) put32(o.sack[i].left), put32(o.sack[i].right);
  }
  return at;
}

}  // namespace synack::wire
