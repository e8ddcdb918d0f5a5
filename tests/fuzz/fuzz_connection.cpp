// libFuzzer target: one TCP connection driven by a fuzzed sequence of segments, timer ticks and
// user calls. Each input byte stream is read as a script; segments are built relative to the
// connection's own sequence variables so the fuzzer reaches deep states quickly.
// Invariants checked after every step: SND.UNA <= SND.NXT, the receive side never holds more
// than its buffer, no event queue overflow, nothing emitted in CLOSED but a RST, and the state
// machine never throws or crashes (ASan/UBSan).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "synack/tcp/connection.hpp"

using namespace synack;
using namespace synack::tcp;

namespace {

struct reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
};

const isn_generator& isns() {
  static const isn_generator g{siphash_key{}};
  return g;
}

void check(const connection& c, const config& cfg) {
  const auto& t = c.tcb();
  if (c.current_state() != state::closed && c.current_state() != state::listen && t.snd_nxt < t.snd_una) std::abort();
  if (c.available() > cfg.recv_buffer) std::abort();
  if (c.stats().events_dropped != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader in{data, size};
  config cfg;
  cfg.recv_buffer = static_cast<std::uint32_t>(4096 + in.u8() * 64);
  cfg.send_buffer = static_cast<std::uint32_t>(4096 + in.u8() * 64);
  cfg.delayed_ack = std::chrono::milliseconds{in.u8() % 2 ? 40 : 0};
  cfg.timestamps = in.u8() % 2;
  cfg.sack_permitted = in.u8() % 2;
  wire::four_tuple tuple{wire::ipv4_addr{0x0a000001}, 40000, wire::ipv4_addr{0x0a000002}, 80};
  connection c(cfg, isns(), tuple);
  instant now{std::chrono::seconds{1}};
  bool passive = in.u8() % 2;
  if (passive) {
    c.listen();
  } else {
    c.connect(now, seq{in.u32()});
  }
  std::array<std::byte, 2048> payload{};
  std::array<std::byte, 4096> sink{};
  seq peer{in.u32()};  // the peer's ISN as the fuzzer imagines it
  while (!in.empty()) {
    std::uint8_t op = in.u8();
    switch (op % 8) {
      case 0:
      case 1:
      case 2: {  // a segment, numbers near what the connection expects
        segment s;
        std::uint8_t flags = in.u8();
        s.syn = flags & 1;
        s.fin = flags & 2;
        s.rst = flags & 4;
        s.psh = flags & 8;
        auto jitter = static_cast<std::int32_t>(static_cast<std::int16_t>(in.u16()));
        bool synced = is_synchronized(c.current_state());
        s.seq_num = (synced ? c.tcb().rcv_nxt : peer) + static_cast<std::uint32_t>(jitter);
        if (flags & 16) s.ack_num = c.tcb().snd_nxt + static_cast<std::uint32_t>(static_cast<std::int8_t>(in.u8()));
        s.window = in.u16();
        if (flags & 32) s.options.mss = static_cast<std::uint16_t>(in.u16() | 1);
        if (flags & 64) s.options.window_scale = static_cast<std::uint8_t>(in.u8() % 16);
        if (flags & 128) s.options.timestamps = wire::tcp_timestamps{in.u32(), in.u32()};
        std::size_t len = s.syn ? 0 : in.u16() % payload.size();
        s.payload = std::span<const std::byte>(payload.data(), len);
        if (c.current_state() == state::listen) c.set_remote(tuple.remote_addr, tuple.remote_port);
        c.on_segment(now, s);
        break;
      }
      case 3: now += std::chrono::milliseconds{in.u16()}; c.on_timer(now); break;
      case 4: {
        if (auto d = c.next_deadline()) {
          now = std::max(now, *d);
          c.on_timer(now);
        }
        break;
      }
      case 5: c.send(std::span<const std::byte>(payload.data(), in.u16() % payload.size())); break;
      case 6: c.receive(sink); break;
      case 7: (in.u8() % 4 == 0) ? c.abort() : c.close(); break;
    }
    while (auto s = c.poll_transmit(now)) {
      if (c.current_state() == state::closed && !s->rst && !s->syn) std::abort();
    }
    while (c.poll_event()) {
    }
    check(c, cfg);
  }
  return 0;
}
