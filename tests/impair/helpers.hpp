// Test helpers: frames with a sequence number inside, a virtual clock, and a driver that feeds a
// channel at a fixed frame rate and collects what comes out, with times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "synack/impair/channel.hpp"

namespace synack::impair::test {

using namespace std::chrono_literals;

inline constexpr instant t0 = instant(std::chrono::seconds(1000));

// A frame: broadcast destination, the sequence number in the first four bytes of the source MAC
// (little endian; corruption never touches the Ethernet header), EtherType 0x88b5 (local
// experimental) and a fixed pattern after it.
inline std::vector<std::byte> make_frame(std::uint32_t seq, std::size_t size = 64) {
  std::vector<std::byte> f(size, std::byte{0});
  for (std::size_t i = 0; i < 12 && i < size; ++i) f[i] = std::byte{0xff};
  if (size >= 14) {
    std::memcpy(f.data() + 6, &seq, 4);
    f[12] = std::byte{0x88};
    f[13] = std::byte{0xb5};
  }
  for (std::size_t i = 14; i < size; ++i) f[i] = std::byte(i & 0xff);
  return f;
}

inline std::uint32_t seq_of(std::span<const std::byte> f) {
  std::uint32_t s = 0;
  std::memcpy(&s, f.data() + 6, 4);
  return s;
}

struct delivery {
  std::uint32_t seq;
  instant sent;      // when it was submitted
  instant released;  // when release_due handed it out
  std::vector<std::byte> bytes;
};

// Submits `count` frames, one every `gap`, polling the channel every `step` in between (as the tool
// would with a perfect clock), then drains. Returns every released frame in release order.
inline std::vector<delivery> drive(channel& ch, std::uint32_t count, duration gap, duration step = 10us,
                                   std::size_t size = 64, bool keep_bytes = false) {
  std::vector<delivery> out;
  std::vector<instant> sent_at(count);
  instant now = t0;
  instant next_send = t0;
  std::uint32_t next_seq = 0;
  auto collect = [&](instant at) {
    ch.release_due(at, [&](std::span<const std::byte> f) {
      std::uint32_t s = seq_of(f);
      out.push_back({s, sent_at.at(s), at, keep_bytes ? std::vector<std::byte>(f.begin(), f.end()) : std::vector<std::byte>{}});
    });
  };
  while (next_seq < count || ch.held() > 0) {
    while (next_seq < count && next_send <= now) {
      sent_at[next_seq] = now;
      auto f = make_frame(next_seq, size);
      ch.submit(now, f);
      ++next_seq;
      next_send += gap;
    }
    collect(now);
    now += step;
  }
  return out;
}

}  // namespace synack::impair::test
