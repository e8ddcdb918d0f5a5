// Uses each installed library: wire (addresses, emit), tcp (a connection's SYN), link (port ranges),
// engine (a symbol that must link). Needs no privileges.
#include <cstdio>
#include <vector>

#include "synack/engine/engine.hpp"

int main() {
  using namespace synack;
  auto dst = wire::ipv4_addr::parse("192.168.1.123");
  auto src = wire::ipv4_addr::parse("192.168.1.116");
  if (!dst || !src) return 1;
  tcp::isn_generator isns{tcp::siphash_key{}};
  tcp::connection c(tcp::config{}, isns, wire::four_tuple{*src, 3337, *dst, 7788});
  c.connect(tcp::instant{}, tcp::seq{3626544836u});
  auto syn = c.poll_transmit(tcp::instant{});
  if (!syn || !syn->syn) return 1;
  link::port_range r = link::parse_port_range("61000-65535");
  void (engine::engine::*run)(std::chrono::nanoseconds) = &engine::engine::run_once;
  std::printf("consumer: SYN seq %u from %s, ports %u-%u, engine linked: %s\n", syn->seq_num.value(),
              src->to_string().c_str(), r.lo, r.hi, run != nullptr ? "yes" : "no");
  return 0;
}
