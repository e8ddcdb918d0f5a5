// Buffers that cost what they hold (issue 16): the byte ring's storage follows its contents, and a
// connection's limits (the receive window, the send buffer's room) grow with the load from
// Linux-like initial values, as tcp_rcv_space_adjust and tcp_sndbuf_expand grow them.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <deque>
#include <queue>
#include <random>
#include <vector>

#include "synack/tcp/byte_ring.hpp"
#include "synack/tcp/connection.hpp"
#include "tcp/script.hpp"

namespace synack::tcp::test {

namespace {

std::vector<std::byte> pattern(std::size_t n, std::uint64_t from) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((from + i) * 131 % 251);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(autotune)

BOOST_AUTO_TEST_CASE(ring_storage_follows_what_it_holds) {
  byte_ring r(1 << 20);
  BOOST_TEST(r.memory() == 0u);
  BOOST_TEST(r.write(pattern(100, 0)) == 100u);
  BOOST_TEST(r.memory() == 2048u);  // the smallest storage
  BOOST_TEST(r.write(pattern(100'000, 100)) == 100'000u);
  BOOST_TEST(r.memory() == 131072u);  // the next power of two
  std::vector<std::byte> out(100'100);
  BOOST_TEST(r.read(out) == 100'100u);
  BOOST_TEST((out == pattern(100'100, 0)));
  r.trim(r.size());
  BOOST_TEST(r.memory() == 0u);  // drained: given back
  // The next burst gets the size the last one needed at once (no doubling, no copies).
  r.write(pattern(10, 0));
  BOOST_TEST(r.memory() == 131072u);
  r.release();
  r.write(pattern(10, 0));
  BOOST_TEST(r.memory() == 2048u);  // release() forgets the size
}

BOOST_AUTO_TEST_CASE(ring_shrinks_when_mostly_drained_and_keeps_its_bytes) {
  byte_ring r(1 << 20);
  r.write(pattern(60'000, 0));
  BOOST_TEST(r.memory() == 65536u);
  r.consume(57'000);  // 3,000 left: at most an eighth
  r.trim(r.size());
  BOOST_TEST(r.memory() == 8192u);  // a power of two holding twice what is left
  std::vector<std::byte> out(3000);
  BOOST_TEST(r.read(out) == 3000u);
  BOOST_TEST((out == pattern(3000, 57'000)));
  // More than an eighth held: kept (a ring that fills and drains does not copy back and forth).
  r.write(pattern(2000, 0));
  r.trim(r.size());
  BOOST_TEST(r.memory() == 8192u);
}

BOOST_AUTO_TEST_CASE(ring_wraps_and_peek_stops_at_the_wrap) {
  byte_ring r(4096);
  r.write(pattern(1500, 0));
  r.consume(1000);
  r.write(pattern(1000, 1500));  // 1,500 bytes in a 2 KiB storage, front at 1,000: wraps
  BOOST_TEST(r.memory() == 2048u);
  const auto first = r.peek(0, 2000);
  BOOST_TEST(first.size() == 1048u);  // up to the end of the storage
  const auto second = r.peek(1048, 2000);
  BOOST_TEST(second.size() == 452u);
}

// A model check: random writes, out-of-order writes taken in later, reads, trims and limit
// changes against a plain deque. Every failure names its seed.
BOOST_AUTO_TEST_CASE(ring_matches_a_model_under_random_operations) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); };
    std::size_t cap = pick(100, 300'000);
    byte_ring r(cap);
    std::deque<std::byte> model;
    std::uint64_t written = 0;  // stream position of the next in-order byte
    std::size_t ooo_len = 0;    // bytes stored past the end (write_at at offset 0 onwards)
    bool ok = true;
    for (int step = 0; step < 300 && ok; ++step) {
      switch (pick(0, 5)) {
        case 0: {  // in order (drops what was stored past the end: it is overwritten)
          const auto data = pattern(pick(0, 40'000), written);
          const std::size_t n = r.write(data);
          ok = ok && n == std::min(data.size(), cap - model.size());
          model.insert(model.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
          written += n;
          ooo_len = ooo_len > n ? ooo_len - n : 0;
          break;
        }
        case 1: {  // out of order: a run past what is already stored there, then taken in
          const std::size_t len = pick(1, 40'000);
          const auto data = pattern(len, written + ooo_len);
          const std::size_t n = r.write_at(ooo_len, data);
          ooo_len += n;
          if (pick(0, 1) == 1) {
            r.commit(ooo_len);
            const auto in = pattern(ooo_len, written);
            model.insert(model.end(), in.begin(), in.end());
            written += ooo_len;
            ooo_len = 0;
          }
          break;
        }
        case 2: {  // read
          std::vector<std::byte> out(50'000);
          const std::size_t got = r.read(std::span(out).first(pick(0, out.size())));
          for (std::size_t i = 0; i < got; ++i) {
            ok = ok && !model.empty() && model.front() == out[i];
            if (!model.empty()) model.pop_front();
          }
          break;
        }
        case 3:
          r.trim(r.size() + ooo_len);
          break;
        case 4:
          cap = std::max(cap, pick(100, 300'000));
          r.set_capacity(cap);
          break;
        default: {  // peek somewhere
          if (model.empty()) break;
          const std::size_t off = pick(0, model.size() - 1);
          const auto part = r.peek(off, pick(1, 10'000));
          for (std::size_t i = 0; i < part.size(); ++i) ok = ok && part[i] == model[off + i];
          break;
        }
      }
      ok = ok && r.size() == model.size() && r.memory() <= std::max<std::size_t>(2048, 2 * (cap + 1));
    }
    // What was committed comes out whole.
    std::vector<std::byte> rest(r.size());
    r.read(rest);
    ok = ok && std::equal(rest.begin(), rest.end(), model.begin(), model.end());
    BOOST_TEST_CONTEXT("seed " << seed) { BOOST_TEST(ok); }
  }
}

namespace {

// Two connections over a lossless link with a fixed one-way delay and a virtual clock; the
// receiver reads everything as it arrives unless told not to.
struct pair_link {
  static constexpr wire::four_tuple a_tuple{wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000,
                                            wire::ipv4_addr::from_octets(10, 0, 0, 2), 80};
  static constexpr wire::four_tuple b_tuple{wire::ipv4_addr::from_octets(10, 0, 0, 2), 80,
                                            wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000};
  struct flight {
    instant at;
    std::uint64_t order;
    bool to_b;
    segment seg;
    std::vector<std::byte> payload;
    bool operator>(const flight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  explicit pair_link(const config& cfg, duration one_way)
      : isns(test_key()), a(cfg, isns, a_tuple), b(cfg, isns, b_tuple), delay(one_way) {
    b.listen();
    a.connect(now, seq{1000});
  }

  void pump() {  // every segment each side owes now, onto the link
    for (int side = 0; side < 2; ++side) {
      connection& c = side == 0 ? a : b;
      while (auto s = c.poll_transmit(now)) {
        if (!s->payload.empty() && side == 0) max_window_seen_by_a = std::max(max_window_seen_by_a, window_of_b);
        if (side == 1) window_of_b = std::uint32_t{s->window} << (s->syn ? 0 : wscale_b);
        // A 1 Gbit/s bottleneck each way: segments leave one after another (8 ns a byte), so the
        // receiver sees them spaced and ACKs them as they come, as on a real path.
        instant& free_at = side == 0 ? a_link_free : b_link_free;
        free_at = std::max(free_at, now) + std::chrono::nanoseconds{8 * (s->payload.size() + 52)};
        q.push(flight{free_at + delay, order++, side == 0, *s, {s->payload.begin(), s->payload.end()}});
      }
    }
  }

  // Runs until `done` or `until`; steps of at most 100 us between arrivals and timers.
  template <class Done>
  void run(instant until, Done done) {
    std::vector<std::byte> buf(1 << 20);
    while (now < until && !done()) {
      pump();
      instant next = until;
      if (!q.empty()) next = std::min(next, q.top().at);
      for (connection* c : {&a, &b})
        if (auto d = c->next_deadline()) next = std::min(next, *d);
      now = std::max(now, next);
      while (!q.empty() && q.top().at <= now) {  // one at a time, each answered at once
        flight f = q.top();
        q.pop();
        f.seg.payload = f.payload;
        (f.to_b ? b : a).on_segment(now, f.seg);
        pump();
      }
      for (connection* c : {&a, &b})
        while (auto d = c->next_deadline()) {
          if (*d > now) break;
          c->on_timer(*d);
        }
      while (a.poll_event()) {
      }
      while (b.poll_event()) {
      }
      if (reader) {
        const std::size_t n = b.receive(buf);
        received += n;
        max_recv_memory = std::max(max_recv_memory, b.buffer_memory());
      }
      if (sending && a.current_state() == state::established) {
        while (to_send > 0) {
          const auto chunk = pattern(std::min<std::size_t>(to_send, 65536), 0);
          const std::size_t n = a.send(chunk);
          to_send -= n;
          if (n < chunk.size()) break;
        }
        max_send_space = std::max(max_send_space, a.send_space() + a.send_queued());
      }
      if (std::getenv("AT_TRACE") && now - last_trace >= 20ms) {
        last_trace = now;
        const auto ci = a.congestion();
        BOOST_TEST_MESSAGE("t=" << std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()
                           << " cwnd=" << ci.cwnd << " ssthresh=" << ci.ssthresh << " flight=" << ci.in_flight
                           << " sndwnd=" << a.tcb().snd_wnd << " room=" << a.send_space() + a.send_queued()
                           << " queued=" << a.send_queued() << " rcvd=" << received);
      }
    }
  }

  isn_generator isns;
  connection a, b;
  duration delay;
  instant now{};
  std::uint64_t order = 0;
  std::priority_queue<flight, std::vector<flight>, std::greater<>> q;
  instant last_trace{};
  instant a_link_free{}, b_link_free{};
  bool reader = true;
  bool sending = true;
  std::size_t to_send = 0;
  std::size_t received = 0;
  std::size_t max_recv_memory = 0;
  std::size_t max_send_space = 0;
  std::uint32_t window_of_b = 0;
  std::uint32_t max_window_seen_by_a = 0;
  unsigned wscale_b = 7;
};

config linux_like() {
  config c;  // the defaults: 64 KiB / 16 KiB initial, 4 MiB maxima
  c.delayed_ack = duration::zero();
  return c;
}

}  // namespace

// A reader that keeps up over a 20 ms round trip: the window starts at 64 KiB and grows towards
// the bandwidth-delay product the sender's rate needs; the sender's room grows with its cwnd.
BOOST_AUTO_TEST_CASE(window_and_send_room_grow_with_a_fast_reader) {
  pair_link p(linux_like(), 10ms);
  p.to_send = 32 << 20;
  const std::size_t total = p.to_send;
  p.run(instant{} + 60s, [&] { return p.received == total && p.a.send_queued() == 0; });
  BOOST_TEST(p.received == total);
  BOOST_TEST_MESSAGE("32 MiB over a 20 ms RTT in " << std::chrono::duration_cast<std::chrono::milliseconds>(p.now.time_since_epoch()).count()
                     << " ms; largest window " << p.max_window_seen_by_a << ", send room " << p.max_send_space
                     << ", receive memory at most " << p.max_recv_memory);
  BOOST_TEST(p.max_window_seen_by_a > 1'000'000u);  // grew far past the initial 64 KiB
  BOOST_TEST(p.max_window_seen_by_a <= 4u * 1024 * 1024 + 128);
  BOOST_TEST(p.max_send_space > 1'000'000u);  // twice a cwnd that grew in slow start
  // 1 Gbit/s x 20 ms needs a 2.5 MB window: 32 MiB then take ~0.3 s plus slow start; a window
  // stuck at 64 KiB would take 32 MiB / 64 KiB x 20 ms = 10 s.
  BOOST_TEST((p.now - instant{} < 1500ms));
  // A reader that keeps up holds next to nothing, and nothing once drained.
  BOOST_TEST(p.b.buffer_memory() == 0u);
  BOOST_TEST(p.a.buffer_memory() == 0u);
}

// A reader that reads nothing: the window is never grown past the initial 64 KiB (autotuning
// measures what the application reads, not what arrives), so the receive memory stays 64 KiB.
BOOST_AUTO_TEST_CASE(window_does_not_grow_for_a_reader_that_does_not_read) {
  pair_link p(linux_like(), 1ms);
  p.reader = false;
  p.to_send = 8 << 20;
  p.run(instant{} + 5s, [] { return false; });
  BOOST_TEST(p.b.available() == 65536u);
  BOOST_TEST(p.b.buffer_memory() == 65536u);
  BOOST_TEST(p.max_window_seen_by_a <= 65536u);
}

// A size set by the application (initial = maximum, what SO_RCVBUF / SO_SNDBUF do) is fixed.
BOOST_AUTO_TEST_CASE(fixed_sizes_do_not_autotune) {
  config c = linux_like();
  c.recv_buffer = c.recv_buffer_initial = 100'000;
  c.send_buffer = c.send_buffer_initial = 50'000;
  pair_link p(c, 5ms);
  p.to_send = 4 << 20;
  p.run(instant{} + 60s, [&] { return p.received == (4u << 20); });
  BOOST_TEST(p.received == (4u << 20));
  BOOST_TEST(p.max_window_seen_by_a <= 100'000u);
  BOOST_TEST(p.max_send_space <= 50'000u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::tcp::test
