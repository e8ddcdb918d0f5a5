// Segment processing in tcp::connection, driven as the engine drives it (input, then
// poll_transmit until nothing, poll_event until nothing, next_deadline).
#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

#include "lifecycle.hpp"
#include "synack/tcp/connection.hpp"

namespace {

using namespace synack;
using namespace std::chrono_literals;

constexpr std::uint32_t irs = 0x10000000;
constexpr std::uint32_t iss = 0x20000000;

tcp::siphash_key key() { return tcp::siphash_key{}; }
const wire::four_tuple tuple{wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000,
                             wire::ipv4_addr::from_octets(10, 0, 0, 2), 80};

// Drains what the engine would after a call; returns the segments that came out.
unsigned drain(tcp::connection& c, tcp::instant now) {
  unsigned n = 0;
  while (auto s = c.poll_transmit(now)) {
    benchmark::DoNotOptimize(*s);
    ++n;
  }
  while (auto e = c.poll_event()) benchmark::DoNotOptimize(*e);
  auto d = c.next_deadline();
  benchmark::DoNotOptimize(d);
  return n;
}

// An ESTABLISHED connection (active open with timestamps, SACK, window scaling) at `now`.
void establish(tcp::connection& c, tcp::instant now) {
  c.connect(now, tcp::seq{iss});
  drain(c, now);
  tcp::segment sa;
  sa.seq_num = tcp::seq{irs};
  sa.ack_num = tcp::seq{iss + 1};
  sa.syn = true;
  sa.window = 65160;
  sa.options.mss = 1460;
  sa.options.sack_permitted = true;
  sa.options.window_scale = 7;
  sa.options.timestamps = wire::tcp_timestamps{1000, static_cast<std::uint32_t>(now.time_since_epoch() / 1ms)};
  c.on_segment(now, sa);
  drain(c, now);
}

// Receiver: an in-order 1448-byte data segment arrives, the ACK goes out (ACK every segment:
// delayed_ack = 0), the application reads the data.
void BM_conn_rx_data_ack(benchmark::State& state) {
  tcp::config cfg;
  cfg.delayed_ack = tcp::duration::zero();
  const tcp::isn_generator isns(key());
  tcp::connection c(cfg, isns, tuple);
  tcp::instant now{1h};
  establish(c, now);
  if (c.current_state() != tcp::state::established) state.SkipWithError("not established");
  const std::vector<std::byte> payload(1448, std::byte{0x5a});
  std::vector<std::byte> sink(4096);
  tcp::segment data;
  data.seq_num = tcp::seq{irs + 1};
  data.ack_num = tcp::seq{iss + 1};
  data.psh = true;
  data.window = 509;
  data.options.timestamps = wire::tcp_timestamps{1001, 0};
  data.payload = payload;
  unsigned acks = 0;
  for (auto _ : state) {
    now += 10us;
    c.on_segment(now, data);
    acks += drain(c, now);
    benchmark::DoNotOptimize(c.receive(sink));
    data.seq_num += static_cast<std::uint32_t>(payload.size());
  }
  if (acks != state.iterations()) state.SkipWithError("not one ACK per segment");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_conn_rx_data_ack);

// Sender: the application queues 1448 bytes, the data segment goes out, the peer's ACK for it
// arrives (window and cwnd never limit: one segment in flight).
void BM_conn_tx_data_ack(benchmark::State& state) {
  const tcp::isn_generator isns(key());
  tcp::connection c(tcp::config{}, isns, tuple);
  tcp::instant now{1h};
  establish(c, now);
  if (c.current_state() != tcp::state::established) state.SkipWithError("not established");
  const std::vector<std::byte> payload(1448, std::byte{0x5a});
  tcp::segment ack;
  ack.seq_num = tcp::seq{irs + 1};
  ack.ack_num = tcp::seq{iss + 1};
  ack.window = 509;
  ack.options.timestamps = wire::tcp_timestamps{1001, 0};
  unsigned sent = 0;
  for (auto _ : state) {
    now += 10us;
    c.send(payload);
    sent += drain(c, now);
    // Everything sent is acknowledged (where the send ring wraps, a segment goes in two parts).
    ack.ack_num = c.tcb().snd_nxt;
    ack.options.timestamps->tsecr = static_cast<std::uint32_t>(now.time_since_epoch() / 1ms);
    now += 10us;
    c.on_segment(now, ack);
    drain(c, now);
  }
  if (sent < state.iterations()) state.SkipWithError("data did not go out");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_conn_tx_data_ack);

// A whole active-open lifecycle: connect, SYN, SYN-ACK, ACK, close, FIN, ACK, FIN, ACK,
// TIME_WAIT expiry (bench/lifecycle.hpp; callgrind counts the same in bench/callgrind_core.sh).
void BM_conn_handshake_close(benchmark::State& state) {
  bench::lifecycle_driver d;
  for (auto _ : state)
    if (const char* bad = d.run_once()) state.SkipWithError(bad);
  benchmark::DoNotOptimize(d.sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_conn_handshake_close);

// Construction of an idle connection (what the engine pays per connect/accept besides its table).
void BM_conn_construct(benchmark::State& state) {
  const tcp::isn_generator isns(key());
  const tcp::config cfg;
  for (auto _ : state) {
    tcp::connection c(cfg, isns, tuple);
    benchmark::DoNotOptimize(c);
  }
  state.SetLabel("sizeof=" + std::to_string(sizeof(tcp::connection)));
}
BENCHMARK(BM_conn_construct);

}  // namespace
