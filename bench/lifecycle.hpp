// One tcp::connection (active open) through complete handshake + close lifecycles against
// pre-built peer segments: shared by bench/core_handshake.cpp (callgrind) and the micro-benchmarks.
// See core_handshake.cpp for the script and what it counts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "synack/tcp/connection.hpp"

namespace synack::bench {

// Every call the driver makes into the TCP core goes through one of these, never inlined, so
// callgrind can add up the core's inclusive cost (bench/callgrind_core.sh sums the calls from
// run_once() to synack::bench::core::*) whatever the compiler inlines from the headers (poll_event,
// next_deadline): each call is counted with its call overhead, as the engine pays it.
namespace core {
[[gnu::noinline]] inline void connect(tcp::connection& c, tcp::instant now) { c.connect(now); }
[[gnu::noinline]] inline void on_segment(tcp::connection& c, tcp::instant now, const tcp::segment& s) {
  c.on_segment(now, s);
}
[[gnu::noinline]] inline void on_timer(tcp::connection& c, tcp::instant now) { c.on_timer(now); }
[[gnu::noinline]] inline void close(tcp::connection& c) { c.close(); }
[[gnu::noinline]] inline std::optional<tcp::segment> poll_transmit(tcp::connection& c, tcp::instant now) {
  return c.poll_transmit(now);
}
[[gnu::noinline]] inline std::optional<tcp::event> poll_event(tcp::connection& c) { return c.poll_event(); }
[[gnu::noinline]] inline std::optional<tcp::instant> next_deadline(const tcp::connection& c) {
  return c.next_deadline();
}
[[gnu::noinline]] inline tcp::state current_state(const tcp::connection& c) { return c.current_state(); }
}  // namespace core

class lifecycle_driver {
public:
  lifecycle_driver() : isns_(key()), c_(tcp::config{}, isns_, tuple()) {
    using namespace std::chrono_literals;
    // The peer's segments, built once. Its ISN and timestamps are fixed; the fields that echo
    // ours (ACK = ISS + 1 or + 2, TSecr) are patched per lifecycle.
    syn_ack_.seq_num = tcp::seq{irs};
    syn_ack_.ack_num = tcp::seq{0};
    syn_ack_.syn = true;
    syn_ack_.window = 65160;
    syn_ack_.options.mss = 1460;
    syn_ack_.options.sack_permitted = true;
    syn_ack_.options.timestamps = wire::tcp_timestamps{1000, 0};
    syn_ack_.options.window_scale = 7;
    ack_of_fin_.seq_num = tcp::seq{irs + 1};
    ack_of_fin_.ack_num = tcp::seq{0};
    ack_of_fin_.window = 509;
    ack_of_fin_.options.timestamps = wire::tcp_timestamps{1001, 0};
    fin_ = ack_of_fin_;
    fin_.fin = true;
    fin_.options.timestamps = wire::tcp_timestamps{1002, 0};
    now_ = tcp::instant{1h};
  }

  // One lifecycle; nullptr when it went as scripted, else what went wrong. Never inlined:
  // bench/callgrind_core.sh sums the inclusive cost of the core:: calls made from here.
  [[gnu::noinline]] const char* run_once() {
    using namespace std::chrono_literals;
    constexpr auto rtt = 50us;
    core::connect(c_, now_);
    std::optional<tcp::segment> out;
    drain(&out);
    if (!out || !out->syn) return "no SYN";
    const tcp::seq iss = out->seq_num;
    const std::uint32_t tsval = out->options.timestamps ? out->options.timestamps->tsval : 0;

    now_ += rtt;
    syn_ack_.ack_num = iss + 1;
    syn_ack_.options.timestamps->tsecr = tsval;
    core::on_segment(c_, now_, syn_ack_);
    drain();
    if (core::current_state(c_) != tcp::state::established) return "not ESTABLISHED";

    core::close(c_);
    out.reset();
    drain(&out);
    if (!out || !out->fin) return "no FIN";

    now_ += rtt;
    ack_of_fin_.ack_num = iss + 2;
    ack_of_fin_.options.timestamps->tsecr = tsval;
    core::on_segment(c_, now_, ack_of_fin_);
    drain();
    if (core::current_state(c_) != tcp::state::fin_wait_2) return "not FIN_WAIT_2";

    fin_.ack_num = iss + 2;
    fin_.options.timestamps->tsecr = tsval;
    core::on_segment(c_, now_, fin_);
    drain();
    if (core::current_state(c_) != tcp::state::time_wait) return "not TIME_WAIT";

    const std::optional<tcp::instant> deadline = core::next_deadline(c_);
    if (!deadline) return "no TIME_WAIT timer";
    now_ = *deadline;
    core::on_timer(c_, now_);
    drain();
    if (core::current_state(c_) != tcp::state::closed) return "not CLOSED";
    now_ += 1s;  // the next incarnation of the tuple: a later ISN (RFC 6528's M)
    return nullptr;
  }

  std::uint64_t sum = 0;  // of what came out, so the work is observable
  unsigned segments = 0;
  unsigned events = 0;

private:
  static constexpr std::uint32_t irs = 0x10000000;

  static tcp::siphash_key key() {
    tcp::siphash_key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(i);
    return k;
  }
  static wire::four_tuple tuple() {
    return {wire::ipv4_addr::from_octets(10, 0, 0, 1), 40000, wire::ipv4_addr::from_octets(10, 0, 0, 2), 80};
  }

  // As the engine does after every call: every segment, every event, the next deadline.
  void drain(std::optional<tcp::segment>* last = nullptr) {
    while (auto s = core::poll_transmit(c_, now_)) {
      sum += s->seq_num.value() + s->window;
      ++segments;
      if (last) *last = s;
    }
    while (auto e = core::poll_event(c_)) {
      sum += static_cast<std::uint64_t>(e->what);
      ++events;
    }
    if (auto d = core::next_deadline(c_)) sum += static_cast<std::uint64_t>(d->time_since_epoch().count());
  }

  tcp::isn_generator isns_;
  tcp::connection c_;
  tcp::segment syn_ack_;
  tcp::segment ack_of_fin_;
  tcp::segment fin_;
  tcp::instant now_{};
};

}  // namespace synack::bench
